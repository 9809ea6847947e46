"""Policy-gradient presets as plain functions: grep finds every value.

Sources:
- ``ppo-atari``: Schulman et al. 2017, Table 5 (horizon 128, 8 actors, gamma 0.99, lambda 0.95, Adam
  2.5e-4 annealed, clip 0.1, value coefficient, entropy 0.01) with CleanRL's ``ppo_atari.py`` choices
  (4 epochs of 4 minibatches, value clipping, gradient norm 0.5, Adam eps 1e-5, lives as episode ends,
  the clip range not annealed).
- ``ppo-pendulum``: rl-baselines3-zoo's Pendulum-v1 settings (4 envs, gamma 0.9, lambda 0.95, lr 1e-3, 10
  epochs of 64-sample minibatches) without gSDE, with observation normalisation and reward scaling instead,
  and 256-step rollouts instead of 1024 (here: eval mean -216 after 40,960 steps, -139 after 80,896, where
  1024-step rollouts needed 180,000 to pass -200).
- ``bc-cartpole``, ``gail-cartpole`` and ``gail-pendulum`` take their expert data from ``--demos``; GAIL's
  generator is the matching PPO preset.
- ``ppo-cartpole`` and ``reinforce-cartpole`` are tuned here to solve CartPole-v1 (eval mean >= 475 over 10
  episodes) within 50,000 and 200,000 env steps; like the DQN CartPole presets they stop at the first
  evaluation that reaches 475 and use one torch thread.
- ``ppo-lstm-cartpole-masked`` and ``ppo-attention-cartpole-masked``: recurrent PPO on CartPole with the
  velocities hidden (``arena/CartPoleMasked-v1``, no frame stack, so the policy must infer them from memory),
  after rl-baselines3-zoo's RecurrentPPO CartPoleNoVel-v1 settings (8 envs x 32 steps, lr 1e-3 annealed,
  gamma 0.99 here instead of 0.999, a 64-wide LSTM for actor and critic) with 10 epochs of 2 minibatches of
  4 env columns instead of 20 epochs of one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from agents.actor_critic import ActorCriticConfig
from agents.ppo.config import PPOConfig
from agents.reinforce.config import ReinforceConfig
from agents.torsos import TorsoConfig
from runners.families.common import ENV_RESUME_FIXED, EnvConfig
from runners.families.family import Family
from runners.families.pg import PGRunnerConfig, PGTrainConfig

_CARTPOLE_TORSO = TorsoConfig(kind="mlp", hidden=(64, 64), activation="tanh")


def reinforce_cartpole() -> PGTrainConfig:
    """REINFORCE with a learned value baseline on CartPole-v1: whole episodes, MLP 64x64 (~15 s on 2 cores)."""
    return PGTrainConfig(
        preset="reinforce-cartpole", algo="reinforce",
        env=EnvConfig(id="CartPole-v1", num_envs=4),
        reinforce=ReinforceConfig(baseline="value", gamma=0.99, lr=2e-3, value_lr=3e-3, value_steps=10,
                                  normalize_advantage=True, ent_coef=0.0, batch_steps=1_000),
        net=ActorCriticConfig(shared=False, ortho_init=True),
        torso=_CARTPOLE_TORSO,
        runner=PGRunnerConfig(total_steps=200_000, eval_every=10_000, eval_episodes=10, target_return=475.0,
                              checkpoint_every=50_000, torch_threads=1),
    )


def ppo_cartpole() -> PGTrainConfig:
    """PPO on CartPole-v1: 8 envs x 32 steps, GAE 0.8, 10 epochs, MLP 64x64 (~10 s on 2 cores)."""
    return PGTrainConfig(
        preset="ppo-cartpole", algo="ppo",
        env=EnvConfig(id="CartPole-v1", num_envs=8),
        ppo=PPOConfig(rollout_length=32, epochs=10, num_minibatches=4, gamma=0.98, gae_lambda=0.8, lr=1e-3,
                      anneal_lr=True, clip=0.2, value_clip=0.0, value_coef=0.5, ent_coef=0.0, max_grad_norm=0.5),
        net=ActorCriticConfig(shared=False, ortho_init=True),
        torso=_CARTPOLE_TORSO,
        runner=PGRunnerConfig(total_steps=50_000, eval_every=5_000, eval_episodes=10, target_return=475.0,
                              checkpoint_every=10_000, torch_threads=1),
    )


def ppo_lstm_cartpole_masked() -> PGTrainConfig:
    """Recurrent PPO (LSTM core) on CartPole with hidden velocities: 8 envs x 32 steps, MLP 64 -> LSTM 64."""
    base = ppo_cartpole()
    return replace(base, preset="ppo-lstm-cartpole-masked", env=replace(base.env, id="arena/CartPoleMasked-v1"),
                   ppo=replace(base.ppo, num_minibatches=2, gamma=0.99, gae_lambda=0.95),
                   torso=TorsoConfig(kind="mlp", hidden=(64,), activation="tanh", core="lstm", core_hidden=64),
                   runner=replace(base.runner, total_steps=200_000, eval_every=10_000, checkpoint_every=50_000))


def ppo_attention_cartpole_masked() -> PGTrainConfig:
    """Recurrent PPO with a GTrXL-style attention core (1 block, 16-step window) on CartPole with hidden
    velocities; otherwise ``ppo-lstm-cartpole-masked``."""
    base = ppo_lstm_cartpole_masked()
    return replace(base, preset="ppo-attention-cartpole-masked",
                   torso=TorsoConfig(kind="mlp", hidden=(64,), activation="tanh", core="attention", core_hidden=64,
                                     attention_heads=4, attention_layers=1, attention_memory=16))


def ppo_pendulum() -> PGTrainConfig:
    """PPO with a Gaussian policy on Pendulum-v1 (continuous actions): observation and reward normalisation."""
    return PGTrainConfig(
        preset="ppo-pendulum", algo="ppo",
        env=EnvConfig(id="Pendulum-v1", num_envs=4),
        ppo=PPOConfig(rollout_length=256, epochs=10, num_minibatches=16, gamma=0.9, gae_lambda=0.95, lr=1e-3,
                      anneal_lr=False, clip=0.2, value_clip=0.0, value_coef=0.5, ent_coef=0.0, max_grad_norm=0.5,
                      reward_scaling=True),
        net=ActorCriticConfig(shared=False, ortho_init=True, log_std_init=0.0, obs_norm=True),
        torso=TorsoConfig(kind="mlp", hidden=(64, 64), activation="tanh"),
        runner=PGRunnerConfig(total_steps=200_000, eval_every=20_000, eval_episodes=10, target_return=-200.0,
                              checkpoint_every=50_000, torch_threads=1),
    )


def ppo_atari() -> PGTrainConfig:
    """PPO on an Atari game (pick it with --env.id ale:GAME): Nature CNN shared by actor and critic, 10M steps."""
    return PGTrainConfig(
        preset="ppo-atari", algo="ppo",
        env=EnvConfig(id="ale:pong", num_envs=8, terminal_on_life_loss=True),
        ppo=PPOConfig(rollout_length=128, epochs=4, num_minibatches=4, gamma=0.99, gae_lambda=0.95, lr=2.5e-4,
                      anneal_lr=True, clip=0.1, anneal_clip=False, value_clip=0.1, value_coef=0.5, ent_coef=0.01,
                      max_grad_norm=0.5, optimizer_eps=1e-5, reward_clip=True),
        net=ActorCriticConfig(shared=True, ortho_init=True),
        torso=TorsoConfig(kind="nature_cnn", fc=512),
        runner=PGRunnerConfig(total_steps=10_000_000, eval_every=250_000, eval_episodes=10,
                              checkpoint_every=250_000),
    )


PG_PRESETS: dict[str, Callable[[], PGTrainConfig]] = {
    "reinforce-cartpole": reinforce_cartpole,
    "ppo-cartpole": ppo_cartpole,
    "ppo-lstm-cartpole-masked": ppo_lstm_cartpole_masked,
    "ppo-attention-cartpole-masked": ppo_attention_cartpole_masked,
    "ppo-pendulum": ppo_pendulum,
    "ppo-atari": ppo_atari,
}

RESUME_FIXED = ("preset", "torso.", "algo", "imitation", "net.shared", "net.obs_norm", "reinforce.baseline",
                "ppo.optimizer", "reinforce.optimizer", "gail.disc_hidden", "gail.spectral_norm", *ENV_RESUME_FIXED)

FAMILY = Family(name="pg", title="policy-gradient", command="train", config=PGTrainConfig, presets=PG_PRESETS,
                trainer="runners.local.train:train_pg", ray_trainer="runners.distributed.train:train_distributed",
                resume_fixed=RESUME_FIXED, accepts=lambda cfg: cfg.imitation == "none",
                accepts_saved=lambda data: "algo" in data and data.get("imitation", "none") == "none")
