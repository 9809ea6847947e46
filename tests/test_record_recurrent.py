"""``arena record`` of a recurrent policy: every episode starts from the initial state.

``record_dataset`` calls its ``begin`` hook after each episode's reset and before the policy's first call;
``runners.cli.record`` hooks the actor's ``begin_episodes`` there. The end-to-end test records a recurrent
(LSTM) checkpoint on the recall task and replays each recorded episode through a fresh actor: the actions
must match exactly, while one actor carrying its state across episodes (the old behaviour) must not.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from agents.actor_critic import ActorCritic, PolicyActor
from envs.make import spec_for
from replay.demos import load_demos, record_dataset
from runners.api import train
from runners.cli.record import cmd_record
from runners.local.checkpoint import CHECKPOINT_DIR, MODEL, atomic_save, load
from runners.local.saved_policy import load_policy
from tests.helpers import quick_pg


def test_begin_runs_at_every_episode_start(tmp_path: Path) -> None:
    events: list[str] = []

    def policy(obs: np.ndarray) -> np.ndarray:
        events.append("act")
        return np.zeros(1, dtype=np.int64)

    record_dataset(policy, "CartPole-v1", 3, 0, "hooked", {}, root=tmp_path, begin=lambda: events.append("begin"))
    starts = [i for i, e in enumerate(events) if e == "begin"]
    assert len(starts) == 3 and starts[0] == 0
    # Each begin is followed by a whole episode of acts (CartPole always lasts at least a few steps).
    assert all(events[i + 1] == "act" for i in starts)
    assert events.count("act") == len(events) - 3


def _episodes(actions: np.ndarray, obs: np.ndarray, done: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split flat demos into ``(obs [L, ...], actions [L])`` per episode."""
    ends = np.flatnonzero(done) + 1
    starts = np.concatenate([[0], ends[:-1]])
    return [(obs[s:e], actions[s:e]) for s, e in zip(starts, ends, strict=True)]


def test_record_resets_the_recurrent_state_each_episode(tmp_path: Path) -> None:
    base = quick_pg("ppo-lstm-cartpole-masked", tmp_path / "run", total_steps=256)
    cfg = replace(base, env=replace(base.env, id="arena/Recall-v0", num_envs=4))
    train(cfg, tmp_path / "run")
    # Blow the policy head up so greedy actions follow small changes of the LSTM state: the carried-over
    # state of a previous episode would then change actions (the check below proves it does).
    path = tmp_path / "run" / CHECKPOINT_DIR / MODEL
    ckpt = load(path)
    ckpt["model"]["head.linear.weight"] = ckpt["model"]["head.linear.weight"] * 1_000.0
    atomic_save(ckpt, path)

    root = tmp_path / "datasets"
    assert cmd_record([str(tmp_path / "run"), "--out", "recall-lstm", "--episodes", "6", "--root", str(root)]) == 0
    spec = spec_for("arena/Recall-v0")
    demos = load_demos("arena/recall-lstm-v0", spec, root=root)
    episodes = _episodes(demos.actions, demos.obs, demos.terminated | demos.truncated)
    assert len(episodes) == 6

    network = load_policy(tmp_path / "run").network
    assert isinstance(network, ActorCritic) and network.is_recurrent
    with torch.no_grad():
        carried = PolicyActor(network, greedy=True)  # one actor through all episodes: the old behaviour
        mismatch_if_carried = 0
        for obs, actions in episodes:
            fresh = PolicyActor(network, greedy=True)
            replay = np.concatenate([fresh.step(o[None]).action for o in obs])
            np.testing.assert_array_equal(replay, actions)
            leaked = np.concatenate([carried.step(o[None]).action for o in obs])
            mismatch_if_carried += int((leaked != actions).sum())
    assert mismatch_if_carried > 0, "the check cannot tell a carried state from a fresh one"
