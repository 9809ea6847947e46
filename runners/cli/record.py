"""``arena record``: roll out a trained agent and save its episodes as a local Minari dataset.

A recurrent policy (memory core) starts every episode from its initial state: ``record_dataset`` calls
the actor's ``begin_episodes`` at each episode start, so no memory leaks from one episode into the next.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import tyro

from agents.actor_critic import ActorCritic, PolicyActor
from agents.constraints import MAX_COUNT, MAX_SEED, Interval, MinLen
from agents.dqn import QNetwork
from replay.demos import record_dataset
from runners.families.dqn import TrainConfig
from runners.local.evaluate import q_policy


@dataclass(frozen=True)
class RecordArgs:
    """Record expert demonstrations from a checkpoint into a local Minari dataset (no network)."""

    checkpoint: tyro.conf.Positional[Annotated[str, tyro.conf.arg(metavar="CHECKPOINT")]]
    """Run directory or checkpoint file (any arena agent: DQN family, REINFORCE, PPO, BC, GAIL)."""
    out: Annotated[str, MinLen(1)]
    """Dataset name: the dataset id becomes arena/NAME-v0 (pass it to --demos)."""
    episodes: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 4
    """Number of complete episodes."""
    seed: Annotated[int, Interval(ge=0, le=MAX_SEED)] = 0
    """Seed of the episodes (and of action sampling with --no-greedy)."""
    greedy: bool = True
    """Act greedily (the distribution's mode, or the best Q-value); --no-greedy samples from the policy."""
    root: str | None = None
    """Datasets directory (default: $MINARI_DATASETS_PATH, else ~/.minari/datasets)."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def episode_policy(network: object, act: Callable[[np.ndarray], np.ndarray], greedy: bool, seed: int,
                   ) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[], None] | None]:
    """``(act, begin)`` for ``record_dataset``: ``begin`` resets a recurrent policy's state at an episode start.

    A policy-gradient network acts through its own ``PolicyActor`` (the same actor ``load_policy`` builds,
    so feed-forward actions and sampling are unchanged) whose ``begin_episodes`` is the hook; Q networks
    keep ``act`` with no hook (``cmd_record`` gives them ``runners.local.evaluate.q_policy``'s).
    """
    if not isinstance(network, ActorCritic):
        return act, None
    actor = PolicyActor(network, seed=seed, greedy=greedy)
    return (lambda obs: actor.step(obs).action), actor.begin_episodes


def cmd_record(argv: Sequence[str]) -> int:
    from runners.cli.parse import parse
    from runners.local.saved_policy import load_policy
    from runners.local.validation import check_creatable_dir

    a = parse(RecordArgs, argv, "arena record")
    if a.root:  # before the episodes are rolled out: Minari creates the directory only at the end
        check_creatable_dir(Path(a.root), "--root")
    policy = load_policy(Path(a.checkpoint), greedy=a.greedy, seed=a.seed)
    metadata = {"checkpoint": str(policy.path), "checkpoint_sha256": sha256(policy.path),
                "preset": policy.cfg.preset, "algorithm": f"arena {policy.cfg.preset}", "greedy": a.greedy}
    begin: Callable[[], None] | None
    if isinstance(policy.network, QNetwork) and isinstance(policy.cfg, TrainConfig):
        act, begin = q_policy(policy.network, policy.cfg, 0.0, a.seed)  # forgets a memory torso's state
    else:
        act, begin = episode_policy(policy.network, policy.act, a.greedy, a.seed)
    out = record_dataset(act, policy.cfg.env.id, a.episodes, a.seed, a.out, metadata,
                         root=Path(a.root) if a.root else None, begin=begin)
    from replay.demos import load_demos

    demos = load_demos(str(out), policy.spec)
    returns = np.asarray(demos.episode_returns)
    print(f"recorded {a.episodes} episodes of {policy.cfg.env.id} ({len(demos):,} steps, return "
          f"{returns.mean():.2f} ± {returns.std():.2f}) to {out}; use it with --demos {demos.dataset_id}")
    return 0
