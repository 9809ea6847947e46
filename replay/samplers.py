"""Samplers over the slots of a transition ring: uniform and proportional prioritized.

Prioritized replay follows Schaul et al. (2016), "Prioritized Experience Replay" (ICLR), proportional
variant:

* priority ``p_i = (|delta_i| + eps)^alpha``; new transitions enter at the largest priority seen so far,
  so every transition is replayed at least once soon after it arrives;
* sampling probability ``P(i) = p_i / sum_k p_k``, drawn stratified: the total mass is cut into ``B``
  equal segments and one prefix sum is drawn uniformly in each, then looked up in a sum tree
  (``sum_tree.py``);
* importance-sampling weights, two forms:

  - ``weight_form="paper"`` (default): ``w_i = (N P(i))^-beta / max_j w_j`` with the max over the sampled
    batch, as in the paper (Algorithm 1, line 10), so weights only scale updates down;
  - ``weight_form="seed"``: the project's seed notes, which write the priority exponent as ``zeta`` (our
    ``alpha``) and the weights as ``w_i = (N P(i))^-beta`` with no max normalisation. With ``beta = 1``
    this is the exact, unbiased correction ``sum_i P(i) w_i f_i = mean_i f_i``.

  ``N`` is the number of sampleable transitions. ``beta`` comes from the caller, which anneals it to 1.

Slots that hold no valid transition (empty, or whose frames were overwritten) have priority 0 and are
never drawn; the uniform sampler rejects them instead. Both samplers take an explicit
``np.random.Generator`` and never touch global random state. This storage/sampler split follows
Dopamine (Castro et al. 2018).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from replay.sum_tree import SumTree

WEIGHT_FORMS = ("paper", "seed")


def importance_weights(
    prob: np.ndarray, num_items: int, beta: float, weight_form: str = "paper"
) -> np.ndarray:
    """Importance-sampling weights for sampled probabilities ``prob`` (``[B]``), as ``[B]`` float32.

    Args:
        prob: sampling probability ``P(i)`` of each sampled item.
        num_items: ``N``, the number of items that could have been sampled.
        beta: correction exponent; 1 fully corrects the non-uniform sampling.
        weight_form: ``"paper"`` (divide by the batch max) or ``"seed"`` (unnormalised).
    """
    if weight_form not in WEIGHT_FORMS:
        raise ValueError(f"weight_form must be one of {WEIGHT_FORMS}, got {weight_form!r}")
    w = (num_items * np.asarray(prob, dtype=np.float64)) ** (-beta)
    if weight_form == "paper":
        w = w / w.max()
    return w.astype(np.float32)


class UniformSampler:
    """Uniform sampling over valid slots, by rejection.

    Args:
        capacity: number of slots.
        rng: the generator all draws come from.
    """

    def __init__(self, capacity: int, rng: np.random.Generator) -> None:
        self.capacity = int(capacity)
        self.rng = rng

    @staticmethod
    def estimate_nbytes(capacity: int) -> int:
        """Bytes held (none: uniform sampling needs no per-slot state)."""
        return 0

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return 0

    def on_add(self, slots: np.ndarray) -> None:
        """Nothing to do: any valid slot is equally likely."""

    def on_invalidate(self, slots: np.ndarray) -> None:
        """Nothing to do: invalid slots are rejected at sample time."""

    def sample(
        self, batch_size: int, valid: np.ndarray, size: int, num_valid: int, beta: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``batch_size`` valid slots uniformly with replacement from ``[0, size)``.

        Args:
            batch_size: ``B``.
            valid: ``[capacity]`` bool, which slots hold a sampleable transition.
            size: slots ``[0, size)`` have been written.
            num_valid: ``valid.sum()``, kept by the caller.
            beta: unused (weights are ones).

        Returns:
            ``[B]`` int64 slots and ``[B]`` float32 weights (ones).
        """
        idx = self.rng.integers(0, size, batch_size)
        bad = ~valid[idx]
        tries = 0
        while bad.any():
            # Invalid slots are rare (a few percent at most), so a handful of redraws suffices; the
            # fallback keeps a pathological buffer from spinning.
            if tries == 16:
                idx[bad] = self.rng.choice(np.flatnonzero(valid[:size]), int(bad.sum()))
                break
            idx[bad] = self.rng.integers(0, size, int(bad.sum()))
            bad = ~valid[idx]
            tries += 1
        return idx.astype(np.int64), np.ones(batch_size, dtype=np.float32)

    def update(self, index: np.ndarray, priorities: np.ndarray, valid: np.ndarray) -> None:
        """Ignored: uniform replay has no priorities."""

    def state_dict(self, size: int) -> dict[str, Any]:
        """No state of its own (the generator is saved by the buffer)."""
        return {}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """No state of its own."""


class PrioritizedSampler:
    """Proportional prioritized sampling (Schaul et al. 2016) over a sum tree.

    Args:
        capacity: number of slots.
        rng: the generator all draws come from.
        alpha: priority exponent (``zeta`` in the seed notes); 0 is uniform.
        eps: added to ``|delta|`` so no transition gets probability 0.
        weight_form: ``"paper"`` (default, max-normalised weights) or ``"seed"`` (unnormalised).
        use_numba: passed to the sum tree.
    """

    def __init__(
        self,
        capacity: int,
        rng: np.random.Generator,
        alpha: float = 0.5,
        eps: float = 1e-6,
        weight_form: str = "paper",
        use_numba: bool = True,
    ) -> None:
        if weight_form not in WEIGHT_FORMS:
            raise ValueError(f"weight_form must be one of {WEIGHT_FORMS}, got {weight_form!r}")
        if alpha < 0 or eps < 0:
            raise ValueError(f"alpha and eps must be >= 0, got {alpha}, {eps}")
        self.capacity = int(capacity)
        self.rng = rng
        self.alpha = float(alpha)
        self.eps = float(eps)
        self.weight_form = weight_form
        self.tree = SumTree(capacity, use_numba=use_numba)
        self.max_priority = 1.0  # in p-space (after eps and alpha); only ever grows

    @staticmethod
    def estimate_nbytes(capacity: int) -> int:
        """Bytes the sum tree holds, without allocating it."""
        return SumTree.estimate_nbytes(capacity)

    @property
    def nbytes(self) -> int:
        """Bytes held by the sum tree."""
        return self.tree.nbytes

    def priority(self, td_abs: np.ndarray) -> np.ndarray:
        """``(|delta| + eps)^alpha`` for raw TD errors ``[B]``, as float64."""
        return (np.abs(np.asarray(td_abs, dtype=np.float64)) + self.eps) ** self.alpha

    def on_add(self, slots: np.ndarray) -> None:
        """New transitions enter at the maximal priority seen so far."""
        self.tree.set(slots, np.full(len(slots), self.max_priority))

    def on_invalidate(self, slots: np.ndarray) -> None:
        """Invalid transitions get priority 0 and so are never drawn."""
        self.tree.set(slots, np.zeros(len(slots)))

    def sample(
        self, batch_size: int, valid: np.ndarray, size: int, num_valid: int, beta: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Stratified proportional sampling.

        Args:
            batch_size: ``B``.
            valid: ``[capacity]`` bool (unused: invalid slots already have priority 0).
            size: slots written so far (unused, same reason).
            num_valid: ``N`` in the weights ``(N P(i))^-beta``.
            beta: importance-sampling exponent.

        Returns:
            ``[B]`` int64 slots and ``[B]`` float32 importance weights.
        """
        total = self.tree.total()
        # One uniform draw inside each of B equal slices of the mass: [B] prefix sums in [0, total).
        u = (np.arange(batch_size) + self.rng.random(batch_size)) * (total / batch_size)
        idx = self.tree.find(u)
        prob = self.tree.get(idx) / total
        return idx, importance_weights(prob, num_valid, beta, self.weight_form)

    def update(self, index: np.ndarray, priorities: np.ndarray, valid: np.ndarray) -> None:
        """Set ``p = (|priorities| + eps)^alpha`` at ``index``, skipping slots no longer valid.

        Args:
            index: ``[B]`` slots from a ``Batch``.
            priorities: ``[B]`` raw TD errors (sign ignored).
            valid: ``[capacity]`` bool; invalid slots keep priority 0.
        """
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        p = self.priority(priorities).reshape(-1)
        if index.shape != p.shape:
            raise ValueError(f"index {index.shape} and priorities {p.shape} differ in shape")
        keep = valid[index]
        if not keep.all():
            index, p = index[keep], p[keep]
        if p.size:
            self.max_priority = max(self.max_priority, float(p.max()))
            self.tree.set(index, p)

    def state_dict(self, size: int) -> dict[str, Any]:
        """Leaf priorities of the ``size`` written slots and the running max."""
        return {"priorities": self.tree.leaves()[:size].copy(), "max_priority": self.max_priority}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore leaves and rebuild the tree; bit-identical because every node is left + right."""
        p = np.asarray(d["priorities"], dtype=np.float64)
        leaves = self.tree.leaves()
        leaves[:] = 0.0
        leaves[: p.shape[0]] = p
        self.tree.rebuild()
        self.max_priority = float(d["max_priority"])
