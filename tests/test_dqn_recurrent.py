"""R2D2-style recurrent DQN: n-step targets inside sequences, burn-in without gradient, the loss against a
step-by-step recomputation, every Rainbow flag with a memory torso, and the trainer end to end."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from agents.dqn import DQNConfig, build_q_network
from agents.dqn.recurrent import RecurrentDQNLearner, sequence_targets
from agents.torsos import TorsoConfig
from agents.torsos.recurrent import flatten_state
from envs.base import EnvSpec
from replay.sequence import SequenceReplay, sequence_priority
from replay.types import SequenceBatch

SPEC = EnvSpec(env_id="test", obs_shape=(3,), obs_dtype="float32", kind="vector", num_actions=2)


def _learner(core: str = "lstm", **agent: object) -> RecurrentDQNLearner:
    torch.manual_seed(0)
    cfg = replace(DQNConfig(gamma=0.9, lr=1e-3, target_update_period=1000), **agent)  # type: ignore[arg-type]
    torso = TorsoConfig(kind="mlp", hidden=(8,), core=core, core_hidden=8, attention_heads=2,  # type: ignore[arg-type]
                        attention_layers=1, attention_memory=4)
    return RecurrentDQNLearner(build_q_network(cfg, torso, SPEC), cfg, seed=0)


def _batch(learner: RecurrentDQNLearner, b: int = 3, burn_in: int = 2, length: int = 5, seed: int = 0) -> SequenceBatch:
    """Random sequences through a real ``SequenceReplay`` (so padding and resets are as in training)."""
    rng = np.random.default_rng(seed)
    shapes = [t.shape[1:] for t in flatten_state(learner.online.initial_state(1))]
    replay = SequenceReplay(100, (3,), "float32", 2, shapes, burn_in, length, 2, seed=seed)
    state = [rng.normal(size=(2, *s)).astype(np.float32) for s in shapes]
    for t in range(40):
        obs = rng.normal(size=(2, 3)).astype(np.float32)
        end = np.array([t % 7 == 6, t % 11 == 10])
        replay.add(obs, rng.integers(0, 2, 2), rng.normal(size=2).astype(np.float32), obs + 1, end & (t < 20),
                   end & (t >= 20), state)
    return replay.sample(b)


def test_sequence_targets_by_hand() -> None:
    # positions 0-1 burn-in padding, real steps 2..4, terminal at 4, padding at 5.
    reward = torch.ones(6, 1)
    mask = torch.tensor([0, 0, 1, 1, 1, 0]).bool()[:, None]
    term = torch.tensor([0, 0, 0, 0, 1, 0]).bool()[:, None]
    ret, disc, boot = sequence_targets(reward, term, mask, burn_in=2, n_step=3, gamma=0.5)
    np.testing.assert_allclose(ret[:3, 0], [1.75, 1.5, 1.0])
    np.testing.assert_allclose(disc[:3, 0], [0.0, 0.0, 0.0])  # the episode terminated within the n steps
    assert boot[:3, 0].tolist() == [5, 5, 5]
    # the same steps, truncated instead: bootstrap from the final observation with gamma^k
    ret, disc, boot = sequence_targets(reward, torch.zeros_like(term), mask, 2, 3, 0.5)
    np.testing.assert_allclose(disc[:3, 0], [0.125, 0.25, 0.5])
    # a full window (no end inside): n-step everywhere except near the sequence's end
    ret, disc, boot = sequence_targets(torch.ones(6, 1), torch.zeros(6, 1).bool(), torch.ones(6, 1).bool(), 2, 3, 0.5)
    assert boot[:, 0].tolist() == [5, 6, 6, 6] and disc[:, 0].tolist() == [0.125, 0.125, 0.25, 0.5]


def _manual_loss(learner: RecurrentDQNLearner, batch: SequenceBatch) -> torch.Tensor:
    """The 1-step TD loss recomputed by streaming each sequence one step at a time from its stored state."""
    cfg = learner.cfg
    losses = []
    for i in range(len(batch)):
        st = learner._state(tuple(a[i: i + 1] for a in batch.state))
        tst = copy.deepcopy(st)
        qs, qt = [], []
        for j in range(batch.obs.shape[1]):
            o = torch.as_tensor(batch.obs[i: i + 1, j])
            r = torch.as_tensor(batch.reset[i: i + 1, j])
            with torch.set_grad_enabled(j >= batch.burn_in):
                q, st = learner.online(o, st, r)
            with torch.no_grad():
                q_t, tst = learner.target(o, tst, r)
            qs.append(q[0, :, 0])
            qt.append(q_t[0, :, 0])
        for j in range(batch.burn_in, batch.action.shape[1]):
            if not batch.mask[i, j]:
                continue
            end_here = j + 1 == batch.mask.shape[1] or not batch.mask[i, j + 1]
            discount = 0.0 if (batch.terminated[i, j] and end_here) else cfg.gamma
            target = batch.reward[i, j] + discount * qt[j + 1].max()
            losses.append(torch.nn.functional.huber_loss(qs[j][batch.action[i, j]], target))
    return torch.stack(losses).mean()


@pytest.mark.parametrize("core", ["lstm", "gru", "attention"])
def test_loss_equals_a_streaming_recomputation(core: str) -> None:
    learner = _learner(core, n_step=1, max_grad_norm=0.0)
    batch = _batch(learner)
    expected = _manual_loss(learner, batch)
    before = [p.detach().clone() for p in learner.online.parameters()]
    lr = learner.cfg.lr
    learner.optimizer = torch.optim.SGD(learner.online.parameters(), lr=lr)
    out = learner.step(batch)
    assert out.metrics["loss"] == pytest.approx(expected.item(), rel=1e-5)
    # gradients reached the torso: its first layer moved
    first = next(learner.online.torso.parameters())
    assert not torch.equal(first.detach(), before[0])


def test_burn_in_runs_without_gradient_and_has_no_loss() -> None:
    learner = _learner("lstm")
    batch = _batch(learner, burn_in=3)
    calls: list[tuple[int, bool]] = []
    torso = learner.online.torso
    original = torso.forward_sequence

    def spy(obs: torch.Tensor, state: object = None, reset: torch.Tensor | None = None) -> object:
        calls.append((obs.shape[0], torch.is_grad_enabled()))
        return original(obs, state, reset)

    torso.forward_sequence = spy  # type: ignore[method-assign]
    learner.step(batch)
    assert calls == [(3, False), (batch.obs.shape[1] - 3, True)]
    # rewards and actions inside the burn-in never enter the loss; its observations do (they refresh the state)
    torso.forward_sequence = original  # type: ignore[method-assign]
    fresh = _learner("lstm")
    base = fresh.step(batch).metrics["loss"]
    changed = replace(batch, reward=batch.reward.copy(), action=batch.action.copy())
    changed.reward[:, :3] += 5.0
    changed.action[:, :3] = 1 - changed.action[:, :3]
    assert _learner("lstm").step(changed).metrics["loss"] == pytest.approx(base, rel=1e-6)
    moved = replace(batch, obs=batch.obs.copy(), reset=np.zeros_like(batch.reset))
    moved.obs[:, :3] += 3.0
    assert _learner("lstm").step(moved).metrics["loss"] != pytest.approx(base, rel=1e-6)


@pytest.mark.parametrize("flags", [
    {},
    {"double": True, "dueling": True},
    {"double": True, "dueling": True, "prioritized": True, "n_step": 3, "noisy": True, "distributional": True,
     "num_atoms": 11, "v_min": -5.0, "v_max": 5.0},
])
def test_every_flag_trains_on_sequences(flags: dict[str, object]) -> None:
    learner = _learner("lstm", **flags)
    batch = _batch(learner, b=4)
    out = learner.step(batch)
    assert np.isfinite(out.metrics["loss"]) and out.priorities is not None and out.priorities.shape == (4,)
    assert (out.priorities >= 0).all()


def test_priorities_are_the_r2d2_mix_of_max_and_mean() -> None:
    learner = _learner("gru", n_step=1, priority_eta=0.7)
    batch = _batch(learner)
    out = learner.step(batch)
    # recompute |delta| with the parameters before the update: rebuild the learner from the same seed
    twin = _learner("gru", n_step=1, priority_eta=0.7)
    obs = torch.as_tensor(batch.obs).transpose(0, 1)
    reset = torch.as_tensor(batch.reset).transpose(0, 1)
    state = torch.as_tensor(batch.state[0])
    with torch.no_grad():
        q, _ = twin.online.forward_sequence(obs, state, reset)
        qt, _ = twin.target.forward_sequence(obs, state, reset)
    q, qt = q[..., 0], qt[..., 0]  # [S+1, B, A]
    ret, disc, boot = sequence_targets(torch.as_tensor(batch.reward).T, torch.as_tensor(batch.terminated).T,
                                       torch.as_tensor(batch.mask).T, batch.burn_in, 1, twin.cfg.gamma)
    a = torch.as_tensor(batch.action).T[batch.burn_in:]
    q_sa = q[batch.burn_in:-1].gather(2, a[..., None])[..., 0]
    boot_q = qt.max(-1).values.gather(0, boot)
    td = (ret + disc * boot_q - q_sa).abs().T.numpy()
    expected = sequence_priority(td, batch.mask[:, batch.burn_in:], 0.7)
    np.testing.assert_allclose(out.priorities, expected, rtol=1e-4, atol=1e-6)


def test_trainer_freezes_obs_norm_when_learning_starts_and_learns_from_sequences(tmp_path: object) -> None:
    from runners.families.dqn_presets import r2d2_cartpole_masked
    from runners.local.dqn import DQNTrainer
    from runners.local.logging import NullLogger

    base = r2d2_cartpole_masked()
    cfg = replace(base, replay=replace(base.replay, learning_starts=200, capacity=2_000),
                  runner=replace(base.runner, total_steps=600))
    trainer = DQNTrainer(cfg, NullLogger())
    try:
        assert isinstance(trainer.buffer, SequenceReplay) and isinstance(trainer.learner, RecurrentDQNLearner)
        while trainer.step < 600:
            trainer.env_step()
            trainer.learn()
        norm = trainer.learner.online.obs_norm
        assert norm is not None and float(norm.count) == 200  # statistics of the steps before learning only
        target_norm = trainer.learner.target.obs_norm
        assert target_norm is not None and torch.equal(norm.mean, target_norm.mean)
        assert trainer.learner.updates == (600 - 200) // cfg.runner.train_every + 1
        assert len(trainer.buffer) > 0 and trainer.rnn_state is not None
    finally:
        trainer.close()
