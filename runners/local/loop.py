"""The single-process training loop: act, store, learn on a fixed cadence, evaluate, checkpoint.

It only wires together the pieces a distributed runner hosts unchanged: a ``BatchedEnv``, a
``DQNActor``, a ``ReplayBuffer``, a ``DQNLearner`` and a params client (here the actor shares the
learner's network module, the zero-copy local case).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from agents.dqn import DQNActor, DQNLearner, build_q_network
from agents.dqn.recurrent import RecurrentDQNLearner
from agents.errors import ConfigError
from agents.params import ParamsClient
from agents.schedules import LinearSchedule
from agents.torsos import RecurrentState
from agents.torsos.recurrent import flatten_state, unflatten_state
from envs import make
from envs.base import BatchedEnv, EnvSpec
from replay import ReplayBuffer
from replay.sequence import SequenceReplay
from replay.types import Transition
from runners import signals
from runners.config import TrainConfig
from runners.evaluate import EvalResult, due_evaluation, evaluate
from runners.logging import Logger
from runners.pg_config import PGTrainConfig
from runners.validation import check_replay_memory


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def env_options(cfg: TrainConfig | PGTrainConfig) -> dict[str, Any]:
    """Options forwarded to ``envs.make`` (only the Atari fast path reads them)."""
    e = cfg.env
    if e.id.lower().startswith("minatar") and e.frame_stack > 1:
        return {"frame_stack": e.frame_stack}
    if not _is_atari_id(e.id):
        return {}
    return {"repeat_action_probability": e.repeat_action_probability,
            "terminal_on_life_loss": e.terminal_on_life_loss, "full_action_space": e.full_action_space}


def _is_atari_id(env_id: str) -> bool:
    return env_id.startswith(("ale:", "ALE/")) or env_id.endswith(("NoFrameskip-v4", "Deterministic-v4"))


def validate(cfg: TrainConfig, spec: EnvSpec) -> None:
    """Reject combinations that cannot work, with a message that says what to change."""
    a = cfg.agent
    if cfg.torso.core != "none" and (a.sequence_length < 1 or a.burn_in < 0
                                     or not 1 <= a.sequence_period <= a.sequence_length):
        raise ConfigError("memory torsos replay sequences: need --agent.sequence-length >= 1, --agent.burn-in >= 0 "
                          "and 1 <= --agent.sequence-period <= --agent.sequence-length")
    if spec.continuous:
        raise ConfigError(f"DQN needs discrete actions; {spec.env_id} has continuous actions (Box shape "
                          f"{spec.action_shape}); try a policy-gradient preset such as ppo-pendulum")
    if "atari" in cfg.preset and spec.kind != "atari":
        raise ConfigError(f"preset '{cfg.preset}' is for Atari games, but '{spec.env_id}' is not an Atari env; "
                          "use --env.id ale:GAME")
    if "minatar" in cfg.preset and not spec.env_id.lower().startswith("minatar"):
        raise ConfigError(f"preset '{cfg.preset}' is for MinAtar games; use --env.id minatar:GAME")
    if a.n_step < 1:
        raise ConfigError("--agent.n-step must be >= 1")
    if a.distributional and (a.num_atoms < 2 or a.v_min >= a.v_max):
        raise ConfigError("C51 needs --agent.num-atoms >= 2 and --agent.v-min < --agent.v-max")
    if not 0.0 < a.tau <= 1.0:
        raise ConfigError("--agent.tau must be in (0, 1]")
    if cfg.env.num_envs < 1 or cfg.runner.train_every < 1 or a.batch_size < 1:
        raise ConfigError("num_envs, train_every and batch_size must be >= 1")
    if cfg.replay.learning_starts < a.batch_size:
        raise ConfigError("--replay.learning-starts must be at least --agent.batch-size")
    check_replay_memory(cfg.replay.capacity, ReplayBuffer.estimate_nbytes(  # before allocating it
        cfg.replay.capacity, spec.obs_shape, spec.obs_dtype, spec.frame_stack, cfg.env.num_envs, a.n_step,
        a.prioritized))


def open_env(cfg: Any, check: Callable[[Any, EnvSpec], None]) -> BatchedEnv:
    """Set torch's threads, make the run's env and validate the config against its spec with ``check``
    (the env is closed again when the config is rejected). Shared by every runner family."""
    if cfg.runner.torch_threads > 0:
        torch.set_num_threads(cfg.runner.torch_threads)
    env = make(cfg.env.id, cfg.env.num_envs, cfg.runner.seed, **env_options(cfg))
    try:
        check(cfg, env.spec)
    except ConfigError:
        env.close()
        raise
    return env


@dataclass
class RunResult:
    steps: int
    updates: int
    last_eval: EvalResult | None
    interrupted: bool
    seconds: float
    signum: int | None = None
    """SIGINT / SIGTERM that stopped the run (or its final evaluation); the CLI exits with 128 + signum."""


class Trainer:
    """Holds every piece of a run; ``state_dict``/``load_state_dict`` make resume exact."""

    def __init__(self, cfg: TrainConfig, logger: Logger, video_dir: Path | None = None) -> None:
        self.cfg, self.logger, self.video_dir = cfg, logger, video_dir
        seed = cfg.runner.seed
        self.env: BatchedEnv = open_env(cfg, validate)
        self.spec = self.env.spec
        torch.manual_seed(seed)  # network initialisation only; everything later uses explicit generators
        self.device = resolve_device(cfg.runner.device)
        network = build_q_network(cfg.agent, cfg.torso, self.spec)
        # A memory torso learns R2D2-style from replayed sequences with stored start states.
        self.recurrent = network.is_recurrent
        learner_cls = RecurrentDQNLearner if self.recurrent else DQNLearner
        self.learner = learner_cls(network, cfg.agent, self.device, seed=seed + 1)
        self.actor = DQNActor(self.learner.online, cfg.agent, seed=seed + 2)
        # One process: the actor acts with the learner's own module, so the client never copies.
        self.params = ParamsClient(self.actor, self.learner.get_params, shared=True)
        self.buffer: ReplayBuffer | SequenceReplay = self._build_replay(seed + 3)
        self.rnn_state: RecurrentState = None  # the actor's per-env state (memory torsos)
        self.first = np.ones(cfg.env.num_envs, dtype=bool)  # obs is an episode's first: the state starts fresh
        a = cfg.agent
        r = cfg.runner
        self.beta = LinearSchedule(a.beta_start, 1.0, max(r.total_steps - cfg.replay.learning_starts, 1),
                                   begin=cfg.replay.learning_starts)
        self.step = 0
        self.evals_done = 0
        self.recent_returns: deque[float] = deque(maxlen=100)
        self.episodes = 0
        self.last_eval: EvalResult | None = None
        self.obs = self.env.reset()
        self.metrics: dict[str, float] = {}

    def _build_replay(self, seed: int) -> ReplayBuffer | SequenceReplay:
        a, spec, n = self.cfg.agent, self.spec, self.cfg.env.num_envs
        if self.recurrent:
            shapes = [t.shape[1:] for t in flatten_state(self.learner.online.initial_state(1))]
            # capacity counts transitions; each step sits in ~sequence_length / period sequences' learned parts.
            return SequenceReplay(max(self.cfg.replay.capacity // a.sequence_period, 1), spec.obs_shape,
                                  spec.obs_dtype, n, shapes, a.burn_in, a.sequence_length, a.sequence_period,
                                  prioritized=a.prioritized, alpha=a.priority_exponent, eps=a.priority_eps,
                                  weight_form=a.weight_form, seed=seed)
        return ReplayBuffer(
            capacity=self.cfg.replay.capacity, obs_shape=spec.obs_shape, obs_dtype=spec.obs_dtype, num_envs=n,
            frame_stack=spec.frame_stack, n_step=a.n_step, gamma=a.gamma, prioritized=a.prioritized,
            alpha=a.priority_exponent, eps=a.priority_eps, weight_form=a.weight_form, seed=seed)

    # --- the loop -------------------------------------------------------------------------------
    def updates_owed(self) -> int:
        starts = self.cfg.replay.learning_starts
        if self.step < starts:
            return 0
        return (self.step - starts) // self.cfg.runner.train_every + 1

    def env_step(self) -> None:
        if self.cfg.agent.obs_norm and self.step < self.cfg.replay.learning_starts:
            for net in (self.learner.online, self.learner.target):  # frozen once learning starts
                if net.obs_norm is not None:
                    net.obs_norm.update(self.obs)
        state_in = self.rnn_state
        action, self.rnn_state = self.actor.act(self.obs, state_in, self.first if self.recurrent else None)
        res = self.env.step(action)
        reward = np.clip(res.reward, -1.0, 1.0) if self.cfg.agent.reward_clip else res.reward
        if isinstance(self.buffer, SequenceReplay):
            # The state given with obs (rows where self.first were zeroed by the network; replay stores zeros
            # for a sequence that starts an episode anyway).
            arrays = [t.cpu().numpy() for t in flatten_state(state_in)] if state_in is not None else \
                [t.cpu().numpy() for t in flatten_state(self.learner.online.initial_state(self.env.num_envs))]
            self.buffer.add(self.obs, action, reward.astype(np.float32), res.next_obs, res.terminated,
                            res.truncated, arrays)
        else:
            self.buffer.add(Transition(self.obs, action, reward.astype(np.float32), res.next_obs,
                                       res.terminated, res.truncated))
        self.first = res.terminated | res.truncated
        self.obs = res.obs
        self.step += self.env.num_envs
        done = res.terminated | res.truncated
        for i in np.flatnonzero(done):
            self.recent_returns.append(float(res.episode_return[i]))
            self.episodes += 1
            self.logger.episode(self.step, float(res.episode_return[i]), int(res.episode_length[i]))

    def learn(self) -> None:
        bs = self.cfg.agent.batch_size
        if len(self.buffer) == 0:
            return  # sequence replay: no window has closed yet
        while self.learner.updates < self.updates_owed():
            batch = self.buffer.sample(bs, beta=self.beta(self.step))
            out = self.learner.step(batch)  # type: ignore[arg-type]  # a RecurrentDQNLearner takes sequences
            if self.cfg.agent.prioritized and out.priorities is not None:
                self.buffer.update_priorities(batch.index, out.priorities)
            self.metrics = out.metrics
        self.params.update(self.learner.updates)

    def maybe_evaluate(self, force: bool = False) -> None:
        r = self.cfg.runner
        due = due_evaluation(r, self.step, self.evals_done, force)
        if due is None:
            return
        self.evals_done, seed = due
        self.last_eval = evaluate(self.learner.online, self.cfg, r.eval_episodes, r.eval_epsilon, seed=seed,
                                  video_dir=self.video_dir, step=self.step,
                                  progress=getattr(self.logger, "eval_progress", None))
        self.logger.evaluation(self.step, self.last_eval)

    # --- state ----------------------------------------------------------------------------------
    def state_dict(self, with_replay: bool) -> dict[str, Any]:
        state: dict[str, Any] = {
            "step": self.step, "evals_done": self.evals_done, "episodes": self.episodes,
            "recent_returns": list(self.recent_returns),
            "learner": self.learner.state_dict(), "actor": self.actor.state_dict(),
            "env": self.env.get_state(), "env_id": self.spec.env_id,
            "obs_shape": list(self.spec.obs_shape), "num_actions": self.spec.num_actions,
            "first": self.first.copy(),
        }
        if self.rnn_state is not None:
            state["rnn_state"] = [t.detach().cpu().clone() for t in flatten_state(self.rnn_state)]
        if with_replay:
            state["replay"] = self.buffer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.evals_done = int(state["evals_done"])
        self.episodes = int(state["episodes"])
        self.recent_returns.extend(state["recent_returns"])
        self.learner.load_state_dict(state["learner"])
        self.actor.load_state_dict(state["actor"])
        self.obs = self.env.set_state(state["env"])
        if "first" in state:
            self.first = np.asarray(state["first"], dtype=bool).copy()
        if "rnn_state" in state:
            like = self.learner.online.initial_state(self.env.num_envs)
            self.rnn_state = unflatten_state([t.to(self.device) for t in state["rnn_state"]], like)
        if "replay" in state:
            self.buffer.load_state_dict(state["replay"])

    def close(self) -> None:
        self.env.close()


class LoopTrainer(Protocol):
    """What ``run`` drives: ``Trainer`` (DQN family) and ``runners.onpolicy.PGTrainer`` both fit.

    ``env_step`` advances the envs (one step of every sub-env, or one whole rollout), ``learn`` does the
    updates that are due; a checkpoint may follow any ``learn``.
    """

    cfg: Any
    step: int
    logger: Logger
    metrics: dict[str, float]
    actor: Any
    learner: Any
    recent_returns: deque[float]
    last_eval: EvalResult | None

    def env_step(self) -> None: ...
    def learn(self) -> None: ...
    def maybe_evaluate(self, force: bool = False) -> None: ...


class _StopFlag:
    """The run loop's view of ``runners.signals.deferred``: SIGINT/SIGTERM become a flag (``signum``) so the
    loop can checkpoint before exiting; evaluations and checkpoint writes inside it see the same flag."""

    def __enter__(self) -> _StopFlag:
        self._region = signals.deferred()
        self._region.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._region.__exit__(*exc)

    @property
    def signum(self) -> int | None:
        return signals.received()

    @property
    def raised(self) -> str | None:
        signum = signals.received()
        return None if signum is None else signals.name(signum)


def run(trainer: LoopTrainer, save: Any, stop_at: int | None = None) -> RunResult:
    """Train until ``total_steps`` (or ``stop_at``, or a signal); ``save(trainer, final)`` checkpoints."""
    cfg = trainer.cfg
    r = cfg.runner
    end = r.total_steps if stop_at is None else min(stop_at, r.total_steps)
    next_ckpt = (trainer.step // r.checkpoint_every + 1) * r.checkpoint_every if r.checkpoint_every > 0 else None
    start_time = time.perf_counter()
    interrupted = False
    with _StopFlag() as stop:
        while trainer.step < end:
            trainer.env_step()
            trainer.learn()
            trainer.logger.progress(trainer.step, trainer.metrics, trainer.actor.epsilon,
                                    trainer.recent_returns)
            trainer.maybe_evaluate()
            if cfg.runner.target_return is not None and trainer.last_eval is not None \
                    and trainer.last_eval.mean >= cfg.runner.target_return:
                break
            if next_ckpt is not None and trainer.step >= next_ckpt:
                save(trainer, final=False)
                next_ckpt += r.checkpoint_every
            if stop.raised:
                interrupted = True
                break
        if not interrupted and trainer.step >= r.total_steps and (trainer.last_eval is None
                                                                 or trainer.last_eval.step != trainer.step):
            # A final evaluation can take minutes (an Atari episode runs up to 108k frames): save first, so
            # a signal (which stops the evaluation early) or a crash during it loses nothing.
            save(trainer, final=False)
            trainer.maybe_evaluate(force=True)
        save(trainer, final=not interrupted)  # still deferred: a signal here lets the atomic writes finish
    return RunResult(trainer.step, trainer.learner.updates, trainer.last_eval, stop.signum is not None,
                     time.perf_counter() - start_time, signum=stop.signum)
