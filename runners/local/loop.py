"""The single-process training loop every family's trainer runs in: step, learn, evaluate, checkpoint, stop.

A trainer (``runners.local.dqn.DQNTrainer``, ``runners.local.pg.PGTrainer``) only has to fit ``LoopTrainer``;
``run`` owns the cadence of checkpoints, the target return and the SIGINT/SIGTERM handling.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from envs.base import BatchedEnv, EnvSpec
from runners.local.evaluate import EvalResult, due_evaluation
from runners.local.logging import Logger
from runners.local.signals import StopFlag


@dataclass
class RunResult:
    steps: int
    updates: int
    last_eval: EvalResult | None
    interrupted: bool
    seconds: float
    signum: int | None = None
    """SIGINT / SIGTERM that stopped the run (or its final evaluation); the CLI exits with 128 + signum."""


class LoopTrainer(Protocol):
    """What ``run`` drives: ``runners.local.dqn.DQNTrainer``, ``runners.local.pg.PGTrainer`` and the Ray drivers.

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
    spec: Any

    def env_step(self) -> None: ...
    def learn(self) -> None: ...
    def maybe_evaluate(self, force: bool = False) -> None: ...
    def close(self) -> None: ...


class EnvTrainer:
    """What the single-process trainers that step envs share (``DQNTrainer``, ``PGTrainer``): the loop's
    counters, their saved state and the evaluation cadence. Subclasses set the attributes annotated here."""

    cfg: Any
    env: BatchedEnv
    spec: EnvSpec
    logger: Logger
    learner: Any
    actor: Any
    video_dir: Path | None
    step: int
    evals_done: int
    episodes: int
    recent_returns: deque[float]
    last_eval: EvalResult | None
    obs: np.ndarray
    first: np.ndarray
    """[N] which sub-envs' current observation starts an episode (memory torsos reset their state there)."""

    def start_env_loop(self) -> None:
        """A fresh trainer's counters (env steps, evaluations, episodes, the last 100 returns) and first observation."""
        self.step = 0
        self.evals_done = 0
        self.recent_returns = deque(maxlen=100)
        self.episodes = 0
        self.last_eval = None
        self.obs = self.env.reset()


    def env_loop_state(self) -> dict[str, Any]:
        """The state every single-process trainer saves: counters, recent returns, learner, actor, the envs (and
        their spec, to refuse another env on resume) and which sub-envs start an episode."""
        return {"step": self.step, "evals_done": self.evals_done, "episodes": self.episodes,
                "recent_returns": list(self.recent_returns),
                "learner": self.learner.state_dict(), "actor": self.actor.state_dict(),
                "env": self.env.get_state(), "env_id": self.spec.env_id,
                "obs_shape": list(self.spec.obs_shape), "num_actions": self.spec.num_actions,
                "first": self.first.copy()}


    def load_env_loop_state(self, state: dict[str, Any]) -> None:
        """``env_loop_state``'s inverse (checkpoints from before ``first`` was saved start every episode fresh)."""
        self.step = int(state["step"])
        self.evals_done = int(state["evals_done"])
        self.episodes = int(state["episodes"])
        self.recent_returns.extend(state["recent_returns"])
        self.learner.load_state_dict(state["learner"])
        self.actor.load_state_dict(state["actor"])
        self.obs = self.env.set_state(state["env"])
        if "first" in state:
            self.first = np.asarray(state["first"], dtype=bool).copy()


    def evaluate_if_due(self, force: bool, play: Callable[..., EvalResult]) -> None:
        """Run the evaluation due at ``self.step`` (or now, when ``force``): ``play(seed=..., video_dir=..., step=...,
        progress=...)`` plays it; the result becomes ``self.last_eval`` and is logged."""
        due = due_evaluation(self.cfg.runner, self.step, self.evals_done, force)
        if due is None:
            return
        self.evals_done, seed = due
        self.last_eval = play(seed=seed, video_dir=self.video_dir, step=self.step,
                              progress=getattr(self.logger, "eval_progress", None))
        self.logger.evaluation(self.step, self.last_eval)


def run(trainer: LoopTrainer, save: Any, stop_at: int | None = None) -> RunResult:
    """Train until ``total_steps`` (or ``stop_at``, or a signal); ``save(trainer, final)`` checkpoints."""
    cfg = trainer.cfg
    r = cfg.runner
    end = r.total_steps if stop_at is None else min(stop_at, r.total_steps)
    next_ckpt = (trainer.step // r.checkpoint_every + 1) * r.checkpoint_every if r.checkpoint_every > 0 else None
    start_time = time.perf_counter()
    interrupted = False
    with StopFlag() as stop:
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
