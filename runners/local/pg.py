"""The on-policy trainer: collect ``[T, N]`` rollouts from a vector env, update, evaluate, checkpoint.

``PGTrainer`` fits ``runners.local.loop.run`` (which checkpoints, evaluates, stops on a target return or a
signal): its ``env_step`` collects one whole rollout with the current policy and its ``learn`` consumes it.
Rollouts are never carried across a checkpoint, so N steps + resume + N steps equal 2N steps straight.

Recurrent policies (``--torso.core lstm | gru | attention``, PPO and REINFORCE): the actor carries a per-env
state and the trainer the per-env reset flags (an observation is the first of an episode after the previous
step's ``terminated | truncated``, and at the start); each rollout stores its start state, the ``[T, N]``
reset flags and the bootstrap values computed while acting (``replay.types.Rollout``; without a value head
they are zeros). Both the state and the flags travel with checkpoints. A REINFORCE rollout starts from
freshly reset sub-envs, so its start state is the initial state and its first row is all resets.

- PPO: fixed-length rollouts of ``rollout_length`` steps per sub-env; episodes continue across rollouts.
- REINFORCE: whole episodes. Every rollout starts from freshly reset sub-envs and runs until the episodes
  that finished hold ``batch_steps`` steps; each sub-env's unfinished episode is then dropped (masked out
  of the rollout, its steps still counted) and the envs are reset, so every update sees only complete
  episodes from the current policy.

A reward model (GAIL's discriminator, ``agents.base.RewardModel``) can replace env rewards for learning:
before each update the trainer calls ``reward_model.update(rollout)`` and then learns from
``reward_model.reward(obs, action, next_obs)``; episode returns logged and evaluated stay the env's.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.actor_critic import ActOutput, PolicyActor, build_actor_critic, map_state
from agents.base import RewardModel
from agents.errors import ConfigError
from agents.params import ParamsClient
from agents.ppo import PPOLearner
from agents.reinforce import ReinforceLearner
from envs.base import BatchedEnv, EnvSpec, StepResult
from replay.rollout import RolloutStorage
from replay.types import Rollout
from runners.families.pg import PGTrainConfig
from runners.local.envs import open_env, resolve_device
from runners.local.evaluate import evaluate_policy
from runners.local.logging import Logger
from runners.local.loop import EnvTrainer


def validate_pg(cfg: PGTrainConfig, spec: EnvSpec) -> None:
    """Reject combinations that cannot work, with a message that says what to change."""
    if cfg.torso.core != "none":
        if cfg.imitation == "bc":
            raise ConfigError(f"--torso.core {cfg.torso.core}: behaviour cloning learns from shuffled single steps, "
                              "so it cannot train a memory core; use --torso.core none")
        if cfg.algo == "ppo" and cfg.ppo.num_minibatches > cfg.env.num_envs:
            raise ConfigError(f"recurrent PPO's minibatches are sets of whole env columns: --ppo.num-minibatches "
                              f"{cfg.ppo.num_minibatches} cannot exceed --env.num-envs {cfg.env.num_envs}")
    if "atari" in cfg.preset and spec.kind != "atari":
        raise ConfigError(f"preset '{cfg.preset}' is for Atari games, but '{spec.env_id}' is not an Atari env; "
                          "use --env.id ale:GAME")
    if "pendulum" in cfg.preset and not spec.continuous:
        raise ConfigError(f"preset '{cfg.preset}' is for continuous actions, but '{spec.env_id}' has discrete ones; "
                          "use ppo-cartpole or --env.id with a Box action space")
    if cfg.algo == "reinforce" and spec.kind == "atari":
        raise ConfigError(f"REINFORCE learns from whole episodes, and an Atari episode ({spec.env_id}) can last "
                          "27,000 steps of 4 stacked frames per sub-env; use --algo ppo")
    if cfg.env.num_envs < 1:
        raise ConfigError("--env.num-envs must be >= 1")
    p, r = cfg.ppo, cfg.reinforce
    if cfg.algo == "ppo":
        if p.rollout_length < 1 or p.epochs < 1 or p.num_minibatches < 1:
            raise ConfigError("--ppo.rollout-length, --ppo.epochs and --ppo.num-minibatches must be >= 1")
        if p.num_minibatches > p.rollout_length * cfg.env.num_envs:
            raise ConfigError("--ppo.num-minibatches cannot exceed the rollout size (rollout-length x num-envs)")
        if not 0.0 <= p.gae_lambda <= 1.0 or not 0.0 < p.gamma <= 1.0:
            raise ConfigError("--ppo.gae-lambda must be in [0, 1] and --ppo.gamma in (0, 1]")
        if p.clip <= 0:
            raise ConfigError("--ppo.clip must be > 0")
    else:
        if r.batch_steps < 1 or r.max_rollout_length < 1:
            raise ConfigError("--reinforce.batch-steps and --reinforce.max-rollout-length must be >= 1")
        if not 0.0 < r.gamma <= 1.0:
            raise ConfigError("--reinforce.gamma must be in (0, 1]")
        if r.baseline == "value" and cfg.net.shared and r.value_coef <= 0:
            raise ConfigError("a shared torso needs --reinforce.value-coef > 0 to train the value baseline")


class PGTrainer(EnvTrainer):
    """Every piece of a policy-gradient run; ``state_dict``/``load_state_dict`` make resume exact."""

    def __init__(self, cfg: PGTrainConfig, logger: Logger, video_dir: Path | None = None,
                 reward_model: RewardModel | None = None,
                 policy_init: dict[str, torch.Tensor] | None = None) -> None:
        """Build envs, network, learner and actor (validating the config first).

        Args:
            cfg: the run's config.
            logger: where episodes, metrics and evaluations go.
            video_dir: record an evaluation episode here at every evaluation (None: no videos).
            reward_model: learned rewards replace env rewards for learning (GAIL); see the module docstring.
            policy_init: ``ActorCritic.policy_state_dict`` weights to start from (e.g. behaviour cloning);
                the critic keeps its fresh initialisation. A resumed run's checkpoint overrides them.
        """
        self.cfg, self.logger, self.video_dir = cfg, logger, video_dir
        self.reward_model = reward_model
        seed = cfg.runner.seed
        self.env: BatchedEnv = open_env(cfg, validate_pg)
        self.spec = self.env.spec
        torch.manual_seed(seed)  # network initialisation only; everything later uses explicit generators
        self.device = resolve_device(cfg.runner.device)
        n = cfg.env.num_envs
        value = cfg.algo == "ppo" or cfg.reinforce.baseline == "value"
        network = build_actor_critic(cfg.net, cfg.torso, self.spec, value=value).to(self.device)
        self.learner: PPOLearner | ReinforceLearner
        if cfg.algo == "ppo":
            per_rollout = cfg.ppo.rollout_length * n
            self.learner = PPOLearner(network, cfg.ppo, n, math.ceil(cfg.runner.total_steps / per_rollout),
                                      self.device, seed=seed + 1)
            capacity = cfg.ppo.rollout_length
        else:
            self.learner = ReinforceLearner(network, cfg.reinforce, self.device)
            capacity = max(cfg.reinforce.batch_steps // n, 16)
        if policy_init is not None:
            self.learner.network.load_policy_state_dict(policy_init)
        self.actor = PolicyActor(self.learner.network, seed=seed + 2)
        # One process: the actor acts with the learner's own module, so the client never copies.
        self.params = ParamsClient(self.actor, self.learner.get_params, shared=True)
        self.storage = RolloutStorage(n, self.spec.obs_shape, self.spec.obs_dtype, self.spec.action_shape, capacity)
        self.start_env_loop()
        self.recurrent = self.learner.network.is_recurrent
        self.first = np.ones(n, dtype=bool)  # [N] recurrent only: self.obs starts an episode
        self.resets: list[np.ndarray] = []  # recurrent only: the current rollout's reset flags, [N] per step
        self.final_values: list[np.ndarray] = []  # recurrent only: V(next_obs) at truncations, [N] per step
        self.rollout: Rollout | None = None
        self.metrics: dict[str, float] = {}

    # --- collection -----------------------------------------------------------------------------
    def _env_step(self, obs: np.ndarray) -> StepResult:
        if self.recurrent:
            return self._env_step_recurrent(obs)
        out = self.actor.step(obs)
        res = self.env.step(out.action)
        return self._record(obs, out, res)

    def _env_step_recurrent(self, obs: np.ndarray) -> StepResult:
        """``_env_step`` carrying the state, recording reset flags and truncated episodes' bootstrap values."""
        self.resets.append(self.first)
        out = self.actor.step(obs, self.first)
        res = self.env.step(out.action)
        final = np.zeros(self.env.num_envs, dtype=np.float32)
        idx = np.flatnonzero(res.truncated)
        # V(final obs) with the state after this step, before the next step resets the row (no critic: zeros).
        if len(idx) and self.learner.network.has_value:
            state = self.actor.state
            self.actor.state = map_state(lambda t: t[torch.as_tensor(idx, device=t.device)], state)
            final[idx] = self.actor.value(res.next_obs[idx])
            self.actor.state = state
        self.final_values.append(final)
        self.first = res.terminated | res.truncated
        return self._record(obs, out, res)

    def _record(self, obs: np.ndarray, out: ActOutput, res: StepResult) -> StepResult:
        self.storage.add(obs, out.action, res.reward, res.next_obs, res.terminated, res.truncated, out.log_prob,
                         out.value)
        self.step += self.env.num_envs
        # episode_length > 0 marks a real episode end (an Atari life loss may set terminated alone).
        for i in np.flatnonzero(res.episode_length > 0):
            self.recent_returns.append(float(res.episode_return[i]))
            self.episodes += 1
            self.logger.episode(self.step, float(res.episode_return[i]), int(res.episode_length[i]))
        return res

    def collect_fixed(self, length: int) -> Rollout:
        """``length`` steps of every sub-env, continuing the episodes in progress."""
        if self.recurrent:
            return self._collect_recurrent(length)
        obs = self.obs
        for _ in range(length):
            obs = self._env_step(obs).obs
        self.obs = obs
        return self.storage.finish(obs)

    def _collect_recurrent(self, length: int) -> Rollout:
        """``collect_fixed`` for a recurrent policy: the rollout also holds its start state and reset flags."""
        if self.actor.state is None:
            self.actor.state = self.learner.network.initial_state(self.env.num_envs)
        start = map_state(lambda t: t.detach().clone(), self.actor.state)
        self.resets, self.final_values = [], []
        obs = self.obs
        for _ in range(length):
            obs = self._env_step(obs).obs
        self.obs = obs
        rollout = self.storage.finish(obs)
        return replace(rollout, initial_state=start, reset=np.stack(self.resets),
                       last_value=self.actor.value(obs, self.first), final_value=np.stack(self.final_values))

    def collect_episodes(self) -> Rollout:
        """Whole episodes from freshly reset sub-envs until they hold ``batch_steps`` steps (see module doc)."""
        r = self.cfg.reinforce
        n = self.env.num_envs
        start = None
        if self.recurrent:  # fresh sub-envs: every row starts from the initial state, step 0 is all resets
            self.actor.state = self.learner.network.initial_state(n)
            start = map_state(lambda t: t.detach().clone(), self.actor.state)
            self.first = np.ones(n, dtype=bool)
            self.resets, self.final_values = [], []
        obs = self.obs
        covered = np.zeros(self.env.num_envs, dtype=np.int64)  # [N] steps of each column in finished episodes
        t = 0
        while True:
            res = self._env_step(obs)
            t += 1
            covered[res.terminated | res.truncated] = t
            obs = res.obs
            if covered.sum() >= r.batch_steps or t >= r.max_rollout_length:
                break
        mask = np.arange(t)[:, None] < covered[None, :]  # [T, N]
        rollout = self.storage.finish(obs, mask)
        if self.recurrent:
            # V(last_obs) only matters to a step cut by the rollout's end, always a dropped one: kept for the
            # Rollout contract (and zeros without a critic).
            last = self.actor.value(obs, self.first) if self.learner.network.has_value else np.zeros(n, np.float32)
            rollout = replace(rollout, initial_state=start, reset=np.stack(self.resets), last_value=last,
                              final_value=np.stack(self.final_values))
        self.obs = self.env.reset()  # drop the unfinished episodes: the next rollout starts fresh
        self.first = np.ones(n, dtype=bool)
        return rollout

    def env_step(self) -> None:
        """Collect one rollout with the current policy (``learn`` consumes it)."""
        if self.cfg.algo == "ppo":
            self.rollout = self.collect_fixed(self.cfg.ppo.rollout_length)
        else:
            self.rollout = self.collect_episodes()

    def learn(self) -> None:
        """Update the reward model (if any), then the policy, on the collected rollout."""
        rollout, self.rollout = self.rollout, None
        if rollout is None or not rollout.mask.any():
            return
        metrics: dict[str, float] = {}
        reward = None
        if self.reward_model is not None:
            metrics.update(self.reward_model.update(rollout))
            reward = np.asarray(self.reward_model.reward(rollout.obs, rollout.action, rollout.next_obs), np.float32)
            metrics["model_reward_mean"] = float(reward[rollout.mask].mean())
        out = self.learner.update(rollout, reward)
        metrics.update(out.metrics)
        self.metrics = {k: v for k, v in metrics.items() if math.isfinite(v)}
        self.params.update(self.learner.updates)

    def maybe_evaluate(self, force: bool = False) -> None:
        episodes = self.cfg.runner.eval_episodes
        self.evaluate_if_due(force, partial(evaluate_policy, self.learner.network, self.cfg, episodes))

    # --- state ----------------------------------------------------------------------------------
    def state_dict(self, with_replay: bool = False) -> dict[str, Any]:
        """Everything needed to resume exactly (``with_replay`` is accepted for the checkpoint API)."""
        return {**self.env_loop_state(), "action_shape": list(self.spec.action_shape),
                "reward_model": self.reward_model.state_dict() if self.reward_model is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.load_env_loop_state(state)
        if self.reward_model is not None and state.get("reward_model") is not None:
            self.reward_model.load_state_dict(state["reward_model"])

    def close(self) -> None:
        self.env.close()
