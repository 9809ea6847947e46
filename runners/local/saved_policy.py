"""``arena eval``: load a checkpoint, check it fits the env, evaluate and report mean ± std.

Q-network checkpoints act epsilon-greedily (``--epsilon``); policy-gradient checkpoints act with the mode
of their action distribution. ``load_policy`` is the same loading step as a library call: it turns any
arena checkpoint into an ``obs -> action`` function (e.g. to record expert demonstrations).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agents.actor_critic import ActorCritic, PolicyActor, build_actor_critic
from agents.dqn import QNetwork, build_q_network
from agents.errors import ConfigError
from envs import make
from envs.base import EnvSpec
from runners.families.common import from_dict
from runners.families.dqn import TrainConfig
from runners.families.pg import PGTrainConfig
from runners.families.registry import family_of_saved
from runners.local import signals
from runners.local.checkpoint import CheckpointError, find_checkpoint, load, model_weights
from runners.local.envs import env_options
from runners.local.evaluate import ProgressFn, play_episodes, q_policy, record_policy_video
from runners.local.resume import SELFPLAY_FORMAT, one_line

MAX_EPISODES = 100_000  # more is a typo (--episodes 1e12 would run for ever), not a tighter estimate


@dataclass
class LoadedPolicy:
    """A checkpoint's network, ready to act.

    Attributes:
        cfg: the run's config (its env id replaced when loaded with ``env_id``).
        spec: the env's spec (checked against the checkpoint's).
        network: ``ActorCritic`` (REINFORCE / PPO) or ``QNetwork`` (DQN family), in eval mode on the CPU.
        act: ``obs [n, *obs_shape] -> actions [n]`` or ``[n, d]``.
        path: the checkpoint file.
    """

    cfg: TrainConfig | PGTrainConfig
    spec: EnvSpec
    network: ActorCritic | QNetwork
    act: Callable[[np.ndarray], np.ndarray]
    path: Path


def load_policy(path: Path, env_id: str | None = None, greedy: bool = True, epsilon: float = 0.0,
                seed: int = 0) -> LoadedPolicy:
    """Build the acting network of an arena checkpoint (run directory or ``.pt`` file).

    Args:
        path: run directory, its ``checkpoints/`` directory, or a checkpoint file.
        env_id: act in this env instead of the checkpoint's (its spaces must match).
        greedy: policy-gradient checkpoints: take the distribution's mode (True) or sample from it.
        epsilon: DQN checkpoints: exploration epsilon (policy-gradient checkpoints reject a non-zero one).
        seed: seed of the sampling (stochastic policies, epsilon).

    Raises:
        CheckpointError: missing, unreadable or mismatched checkpoint. ConfigError: epsilon for a PG policy.
    """
    ckpt_path = find_checkpoint(path)
    ckpt = load(ckpt_path)
    if isinstance(ckpt, dict) and ckpt.get("format") == SELFPLAY_FORMAT:
        raise CheckpointError(f"{ckpt_path} is a self-play (AlphaZero) checkpoint: play it with arena tournament or "
                              "arena play")
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("config"), dict):
        raise CheckpointError(f"{ckpt_path} is not an arena checkpoint")
    try:
        cfg: TrainConfig | PGTrainConfig = from_dict(family_of_saved(ckpt["config"]).config, ckpt["config"])
    except (ValueError, TypeError) as e:
        raise CheckpointError(f"{ckpt_path} holds a config arena cannot read ({e})") from None
    if isinstance(cfg, PGTrainConfig) and epsilon != 0.0:
        raise ConfigError("--epsilon applies to Q-network checkpoints; policy-gradient checkpoints are evaluated "
                          "with the mode of their action distribution")
    trained_on = cfg.env.id
    if env_id is not None:
        cfg = replace(cfg, env=replace(cfg.env, id=env_id))
    env = make(cfg.env.id, 1, seed, **env_options(cfg))
    spec = env.spec
    env.close()
    meta = ckpt.get("trainer", ckpt)
    if not isinstance(meta, dict) or "obs_shape" not in meta or "num_actions" not in meta:
        raise CheckpointError(f"{ckpt_path} does not record the env's observation and action spaces")
    action_shape = list(meta.get("action_shape", []))
    if list(spec.obs_shape) != list(meta["obs_shape"]) or spec.num_actions != meta["num_actions"] \
            or list(spec.action_shape) != action_shape:
        raise CheckpointError(f"checkpoint was trained on {trained_on} (obs {tuple(meta['obs_shape'])}, "
                              f"{_actions(meta['num_actions'], action_shape)}), not {cfg.env.id} "
                              f"(obs {spec.obs_shape}, {_actions(spec.num_actions, list(spec.action_shape))})")
    network: ActorCritic | QNetwork
    if isinstance(cfg, PGTrainConfig):
        network = build_actor_critic(cfg.net, cfg.torso, spec, value=cfg.algo == "ppo"
                                     or cfg.reinforce.baseline == "value")
    else:
        network = build_q_network(cfg.agent, cfg.torso, spec)
    try:
        network.load_state_dict(model_weights(ckpt))
    except (RuntimeError, KeyError, TypeError) as e:
        raise CheckpointError(f"{ckpt_path}: weights do not fit the network its config describes "
                              f"({one_line(e)})") from None
    network.eval()
    act = _act_fn(network, cfg, greedy, epsilon, seed)
    return LoadedPolicy(cfg, spec, network, act, ckpt_path)


def _act_fn(network: ActorCritic | QNetwork, cfg: TrainConfig | PGTrainConfig, greedy: bool, epsilon: float,
            seed: int) -> Callable[[np.ndarray], np.ndarray]:
    if isinstance(network, ActorCritic):
        actor: Any = PolicyActor(network, seed=seed, greedy=greedy)
        return lambda obs: actor.step(obs).action
    assert isinstance(cfg, TrainConfig)
    act, _ = q_policy(network, cfg, epsilon, seed)  # a memory torso's state is carried from call to call
    return act


def evaluate_checkpoint(path: Path, episodes: int, epsilon: float, seed: int, video: bool,
                        env_id: str | None = None, max_steps: int | None = None, progress: bool = False) -> int:
    """``arena eval``: print the mean return over ``episodes`` episodes; exit code 0, or 128 + signum when a
    SIGINT / SIGTERM stopped the evaluation early (the episodes so far are reported).

    ``max_steps`` (default: the run's ``eval_max_steps``) cuts longer episodes, counted as truncated;
    ``progress`` shows episodes and steps on stderr as they go.
    """
    if episodes < 1:
        raise CheckpointError("--episodes must be at least 1")
    if episodes > MAX_EPISODES:
        raise ConfigError(f"--episodes {episodes:,} is more than arena eval runs ({MAX_EPISODES:,}); "
                          "a few hundred episodes already give a tight mean")
    if max_steps is not None and max_steps < 1:
        raise ConfigError("--max-steps must be at least 1 (or None: the run's --runner.eval-max-steps)")
    policy = load_policy(path, env_id=env_id, greedy=True, epsilon=epsilon, seed=seed)
    cfg = policy.cfg
    cap = max_steps if max_steps is not None else cfg.runner.eval_max_steps
    options = env_options(cfg)
    current = [policy.act]

    def begin() -> None:  # a fresh actor per round: a recurrent policy must not carry state across episodes
        current[0] = _act_fn(policy.network, cfg, True, epsilon, seed)

    limit = f"at most {cap:,} steps each" if cap is not None else "no step cap"
    print(f"evaluating {policy.path} on {cfg.env.id}: {episodes:,} episodes, {limit}", file=sys.stderr, flush=True)
    with signals.deferred(), _console_progress(episodes, progress) as show:  # a signal stops the episodes early
        played = play_episodes(lambda obs: current[0](obs), cfg.env.id, options, episodes, seed, begin=begin,
                               max_steps=cap, progress=show)
        signum = signals.received()
    returns = np.asarray(played.returns)
    how = "greedy" if isinstance(cfg, PGTrainConfig) else f"epsilon {epsilon}"
    print(f"{cfg.preset} on {cfg.env.id}: return {returns.mean():.2f} ± {returns.std():.2f} "
          f"(min {returns.min():.2f}, max {returns.max():.2f}) over {len(returns)} episodes, {how}")
    if played.truncated:
        print(f"{played.truncated} of them truncated: cut at {cap:,} steps (--max-steps) or by the signal, "
              "their returns so far counted")
    if signum is not None:
        print(f"stopped early by {signals.name(signum)} after {len(returns)} of {episodes} episodes", file=sys.stderr)
        return signals.exit_code(signum)
    if video:  # a fresh actor: the video episode does not depend on how many episodes came before
        act = _act_fn(policy.network, cfg, True, epsilon, seed)
        with signals.deferred():
            out = record_policy_video(act, cfg.env.id, options, seed, policy.path.parent / f"eval-seed{seed}.mp4",
                                      max_steps=cap)
            signum = signals.received()
        if signum is not None:
            print(f"video stopped by {signals.name(signum)}", file=sys.stderr)
            return signals.exit_code(signum)
        print(f"video: {out}" if out else "this env cannot render a video")
    return 0


@contextmanager
def _console_progress(episodes: int, enabled: bool) -> Iterator[ProgressFn | None]:
    """A transient stderr bar (episodes done, agent steps, time) fed by ``play_episodes``; None when off."""
    if not enabled:
        yield None
        return
    bar = Progress(TextColumn("[bold]eval"), BarColumn(), MofNCompleteColumn(), TextColumn("episodes"),
                   TextColumn("{task.fields[steps]:,} steps"), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True)
    with bar:
        task = bar.add_task("eval", total=episodes, steps=0)
        yield lambda done, total, steps: bar.update(task, completed=done, steps=steps)


def _actions(num_actions: int, action_shape: list[int]) -> str:
    return f"continuous actions of shape {tuple(action_shape)}" if action_shape else f"{num_actions} actions"
