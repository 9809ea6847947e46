"""Named configurations as plain functions: grep finds every value.

Published hyperparameters, with sources:
- ``dqn-atari``: Mnih et al. 2015 (Nature), Extended Data Table 1.
- ``rainbow-atari``: Hessel et al. 2018, Table 1.
- ``dqn-minatar``: Young & Tian 2019 (MinAtar), section 4.
- ``rainbow-minatar``: Obando-Ceron & Castro 2021 ("Revisiting Rainbow"), MinAtar settings.
- the policy-gradient presets (``reinforce-cartpole``, ``ppo-*``): ``runners/families/pg_presets.py``.
CartPole presets are tuned here to solve CartPole-v1 (eval mean >= 475) within 50,000 env steps;
they stop as soon as an evaluation reaches 475 (``--runner.target-return``), so the saved model
is the one that solved it. They use one torch thread: small MLPs gain nothing from more, and the
same thread count on every machine keeps runs reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from agents.dqn.config import DQNConfig
from agents.torsos import TorsoConfig
from runners.families.common import ENV_RESUME_FIXED, EnvConfig
from runners.families.dqn import ReplayConfig, RunnerConfig, TrainConfig
from runners.families.family import Family


def _cartpole(name: str, agent: DQNConfig) -> TrainConfig:
    return TrainConfig(
        preset=name,
        env=EnvConfig(id="CartPole-v1", num_envs=1),
        agent=agent,
        torso=TorsoConfig(kind="mlp", hidden=(128, 128)),
        replay=ReplayConfig(capacity=50_000, learning_starts=1_000),
        runner=RunnerConfig(total_steps=50_000, train_every=2, eval_every=2_500, eval_episodes=10,
                            target_return=475.0, checkpoint_every=10_000, torch_threads=1),
    )


# Batch 128 and an evaluation every 2,500 steps: with batch 64 and evaluations every 5,000, 4 of 30 runs (5 seeds
# x 2 CPU kernel sets x these three presets) missed 475 within 50,000 steps (Double+Dueling reached 361 on one
# seed, Rainbow 140 on another); benchmarks/results/learning_robustness.md has the runs of these settings.
_CARTPOLE_DQN = DQNConfig(lr=1e-3, optimizer_eps=1e-8, batch_size=128, gamma=0.99, loss="huber",
                          max_grad_norm=10.0, target_update_period=1, tau=0.01,
                          epsilon_start=1.0, epsilon_end=0.04, epsilon_decay_steps=8_000)


def dqn_cartpole() -> TrainConfig:
    """DQN on CartPole-v1: MLP 128x128, Adam, soft target updates; a minute or two on 2 CPU cores."""
    return _cartpole("dqn-cartpole", _CARTPOLE_DQN)


def double_dueling_cartpole() -> TrainConfig:
    """Double DQN with a dueling head (mean aggregation) on CartPole-v1."""
    return _cartpole("double-dueling-cartpole", replace(_CARTPOLE_DQN, double=True, dueling=True))


def rainbow_cartpole() -> TrainConfig:
    """Rainbow (double, dueling, PER, 3-step, noisy, C51) on CartPole-v1."""
    agent = replace(_CARTPOLE_DQN, double=True, dueling=True, prioritized=True, n_step=3, noisy=True,
                    distributional=True, num_atoms=51, v_min=0.0, v_max=100.0, epsilon_start=0.5,
                    epsilon_end=0.0, epsilon_decay_steps=5_000)
    return _cartpole("rainbow-cartpole", agent)


def r2d2_cartpole_masked() -> TrainConfig:
    """R2D2-style recurrent DQN (LSTM, sequence replay with burn-in) on CartPole with the velocities hidden.

    Observations are normalised by statistics frozen when learning starts: the pole angle moves by ~0.01 a step,
    and the LSTM must difference successive angles to recover the hidden velocities. 3-step returns (R2D2 uses
    5): with 1-step targets two of five seeds peaked at 393 and 395 within 300,000 steps; with 3 steps seeds 0-7
    reached 400 within 20,000-60,000 (benchmarks/results/learning_robustness.md).
    """
    agent = replace(_CARTPOLE_DQN, double=True, n_step=3, lr=1e-3, batch_size=32, burn_in=4, sequence_length=12,
                    sequence_period=6, obs_norm=True, epsilon_decay_steps=20_000, epsilon_end=0.02)
    return TrainConfig(
        preset="r2d2-cartpole-masked",
        env=EnvConfig(id="arena/CartPoleMasked-v1", num_envs=4),
        agent=agent,
        torso=TorsoConfig(kind="mlp", hidden=(64,), core="lstm", core_hidden=64),
        replay=ReplayConfig(capacity=100_000, learning_starts=2_000),
        runner=RunnerConfig(total_steps=300_000, train_every=4, eval_every=10_000, eval_episodes=10,
                            target_return=475.0, checkpoint_every=50_000, torch_threads=1),
    )


def _minatar(name: str, agent: DQNConfig, train_every: int) -> TrainConfig:
    return TrainConfig(
        preset=name,
        env=EnvConfig(id="minatar:breakout", num_envs=1),
        agent=agent,
        torso=TorsoConfig(kind="small_cnn", fc=128),
        replay=ReplayConfig(capacity=100_000, learning_starts=5_000),
        runner=RunnerConfig(total_steps=5_000_000, train_every=train_every, eval_every=100_000,
                            eval_episodes=10,
                            checkpoint_every=100_000),
    )


def dqn_minatar() -> TrainConfig:
    """DQN on a MinAtar game (pick it with --env.id minatar:GAME), the MinAtar paper's settings."""
    agent = DQNConfig(optimizer="rmsprop", lr=2.5e-4, optimizer_eps=0.01, batch_size=32, gamma=0.99,
                      loss="huber", max_grad_norm=0.0, target_update_period=1_000, tau=1.0,
                      epsilon_start=1.0, epsilon_end=0.1, epsilon_decay_steps=100_000)
    return _minatar("dqn-minatar", agent, train_every=1)


def rainbow_minatar() -> TrainConfig:
    """Rainbow on a MinAtar game (pick it with --env.id minatar:GAME), "Revisiting Rainbow" settings."""
    agent = DQNConfig(double=True, dueling=True, prioritized=True, n_step=3, noisy=True, distributional=True,
                      num_atoms=51, v_min=-10.0, v_max=100.0, optimizer="adam", lr=1e-4, optimizer_eps=3.125e-4,
                      batch_size=32, gamma=0.99, max_grad_norm=10.0, target_update_period=1_000, tau=1.0,
                      epsilon_start=1.0, epsilon_end=0.01, epsilon_decay_steps=250_000)
    return _minatar("rainbow-minatar", agent, train_every=4)


def rainbow_lstm_minatar() -> TrainConfig:
    """Rainbow with an LSTM core and R2D2 sequence replay on a MinAtar game (pick it with --env.id minatar:GAME).

    Same replay ratio as rainbow-minatar (8 learned steps per env step): 16 sequences of 20 learned steps
    (after a 10-step burn-in) every 40 env steps.
    """
    base = rainbow_minatar()
    agent = replace(base.agent, batch_size=16, burn_in=10, sequence_length=20, sequence_period=10,
                    priority_exponent=0.9, priority_eta=0.9, beta_start=0.6, lr=2.5e-4)
    return replace(base, preset="rainbow-lstm-minatar", agent=agent,
                   torso=TorsoConfig(kind="small_cnn", fc=128, core="lstm", core_hidden=128),
                   runner=replace(base.runner, train_every=40))


def _atari(name: str, agent: DQNConfig, torso: TorsoConfig, learning_starts: int) -> TrainConfig:
    return TrainConfig(
        preset=name,
        env=EnvConfig(id="ale:pong", num_envs=4),
        agent=agent,
        torso=torso,
        replay=ReplayConfig(capacity=1_000_000, learning_starts=learning_starts),
        runner=RunnerConfig(total_steps=10_000_000, train_every=4, eval_every=250_000, eval_episodes=10,
                            eval_epsilon=0.05, checkpoint_every=250_000),
    )


def dqn_atari() -> TrainConfig:
    """Nature DQN on an Atari game (pick it with --env.id ale:GAME): RMSprop 2.5e-4, 1M replay, Huber."""
    agent = DQNConfig(optimizer="rmsprop", lr=2.5e-4, optimizer_eps=0.01, batch_size=32, gamma=0.99,
                      loss="huber", max_grad_norm=0.0, target_update_period=10_000, tau=1.0,
                      epsilon_start=1.0, epsilon_end=0.1, epsilon_decay_steps=1_000_000, reward_clip=True)
    return _atari("dqn-atari", agent, TorsoConfig(kind="nature_cnn", fc=512), learning_starts=50_000)


def rainbow_atari() -> TrainConfig:
    """Rainbow on an Atari game (pick it with --env.id ale:GAME): the paper's Table 1 settings."""
    agent = DQNConfig(double=True, dueling=True, prioritized=True, priority_exponent=0.5, beta_start=0.4,
                      n_step=3, noisy=True, noisy_sigma0=0.5, distributional=True, num_atoms=51, v_min=-10.0,
                      v_max=10.0, head_hidden=512, optimizer="adam", lr=6.25e-5, optimizer_eps=1.5e-4,
                      batch_size=32, gamma=0.99, max_grad_norm=10.0, target_update_period=2_000, tau=1.0,
                      epsilon_start=0.0, epsilon_end=0.0, epsilon_decay_steps=1, reward_clip=True)
    return _atari("rainbow-atari", agent, TorsoConfig(kind="nature_cnn", fc=0), learning_starts=20_000)


DQN_PRESETS: dict[str, Callable[[], TrainConfig]] = {
    "dqn-cartpole": dqn_cartpole,
    "double-dueling-cartpole": double_dueling_cartpole,
    "rainbow-cartpole": rainbow_cartpole,
    "r2d2-cartpole-masked": r2d2_cartpole_masked,
    "dqn-minatar": dqn_minatar,
    "rainbow-minatar": rainbow_minatar,
    "rainbow-lstm-minatar": rainbow_lstm_minatar,
    "dqn-atari": dqn_atari,
    "rainbow-atari": rainbow_atari,
}

# The network (its layers' shapes and what they compute: torso, heads, normaliser), the replay buffer (its
# ring sizes, and the n-step returns and priorities stored in it), the optimiser (its saved moments).
RESUME_FIXED = ("preset", "torso.", "agent.dueling", "agent.dueling_aggregation", "agent.distributional",
                "agent.num_atoms", "agent.noisy", "agent.head_hidden", "agent.obs_norm", "agent.optimizer",
                "replay.capacity", "agent.n_step", "agent.gamma", "agent.prioritized", "agent.priority_exponent",
                "agent.priority_eps", "agent.weight_form", "agent.burn_in", "agent.sequence_length",
                "agent.sequence_period", *ENV_RESUME_FIXED)

FAMILY = Family(name="dqn", title="DQN-family", command="train", config=TrainConfig, presets=DQN_PRESETS,
                trainer="runners.local.train:train_dqn", ray_trainer="runners.distributed.train:train_distributed",
                resume_fixed=RESUME_FIXED,
                accepts_saved=lambda data: not {"algo", "game", "selfplay"} & set(data))
