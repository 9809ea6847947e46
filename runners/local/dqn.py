"""The DQN family's single-process trainer: act, store, learn on a fixed cadence, evaluate.

It only wires together the pieces a distributed runner hosts unchanged: a ``BatchedEnv``, a
``DQNActor``, a ``ReplayBuffer``, a ``DQNLearner`` and a params client (here the actor shares the
learner's network module, the zero-copy local case). ``runners.local.loop.run`` drives it.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.dqn import DQNActor, DQNLearner, build_q_network
from agents.dqn.recurrent import RecurrentDQNLearner
from agents.errors import ConfigError
from agents.params import ParamsClient
from agents.schedules import LinearSchedule
from agents.torsos import RecurrentState
from agents.torsos.recurrent import flatten_state, unflatten_state
from envs.base import BatchedEnv, EnvSpec
from replay import ReplayBuffer
from replay.sequence import SequenceReplay
from replay.types import Transition
from runners.families.dqn import TrainConfig
from runners.local.envs import open_env, resolve_device
from runners.local.evaluate import evaluate
from runners.local.logging import Logger
from runners.local.loop import EnvTrainer
from runners.local.validation import check_replay_memory


def validate_dqn(cfg: TrainConfig, spec: EnvSpec) -> None:
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


class DQNTrainer(EnvTrainer):
    """Holds every piece of a run; ``state_dict``/``load_state_dict`` make resume exact."""

    def __init__(self, cfg: TrainConfig, logger: Logger, video_dir: Path | None = None) -> None:
        self.cfg, self.logger, self.video_dir = cfg, logger, video_dir
        seed = cfg.runner.seed
        self.env: BatchedEnv = open_env(cfg, validate_dqn)
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
        self.start_env_loop()
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
        self.evaluate_if_due(force, partial(evaluate, self.learner.online, self.cfg, r.eval_episodes, r.eval_epsilon))

    # --- state ----------------------------------------------------------------------------------
    def state_dict(self, with_replay: bool) -> dict[str, Any]:
        state = self.env_loop_state()
        if self.rnn_state is not None:
            state["rnn_state"] = [t.detach().cpu().clone() for t in flatten_state(self.rnn_state)]
        if with_replay:
            state["replay"] = self.buffer.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.load_env_loop_state(state)
        if "rnn_state" in state:
            like = self.learner.online.initial_state(self.env.num_envs)
            self.rnn_state = unflatten_state([t.to(self.device) for t in state["rnn_state"]], like)
        if "replay" in state:
            self.buffer.load_state_dict(state["replay"])

    def close(self) -> None:
        self.env.close()
