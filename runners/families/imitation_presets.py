"""Imitation presets: behaviour cloning and GAIL from expert demonstrations (``--demos NAME``, a Minari dataset).

Both use the policy-gradient config (``PGTrainConfig`` with ``imitation`` set): GAIL's generator is the matching
PPO preset, and behaviour cloning trains the same actor-critic network by cross-entropy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from agents.gail.config import BCConfig, GAILConfig
from runners.families.family import Family
from runners.families.pg import PGTrainConfig
from runners.families.pg_presets import RESUME_FIXED, ppo_cartpole, ppo_pendulum


def bc_cartpole() -> PGTrainConfig:
    """Behaviour cloning on CartPole-v1 from --demos NAME: 2,000 cross-entropy steps, then a greedy evaluation."""
    return replace(ppo_cartpole(), preset="bc-cartpole", imitation="bc",
                   bc=BCConfig(steps=2_000, batch_size=64, lr=1e-3, entropy_weight=1e-3))


def gail_cartpole() -> PGTrainConfig:
    """GAIL on CartPole-v1 from --demos NAME: PPO generator (ppo-cartpole's settings), reward form by the demos."""
    base = ppo_cartpole()
    return replace(base, preset="gail-cartpole", imitation="gail",
                   gail=GAILConfig(reward_form="auto", disc_steps=1, disc_lr=3e-4, disc_batch_size=64,
                                   disc_hidden=(64, 64)),
                   runner=replace(base.runner, total_steps=200_000, eval_every=10_000))


def gail_pendulum() -> PGTrainConfig:
    """GAIL on Pendulum-v1 from --demos NAME: PPO generator (ppo-pendulum's settings), Gaussian policy."""
    base = ppo_pendulum()
    return replace(base, preset="gail-pendulum", imitation="gail",
                   gail=GAILConfig(reward_form="auto", disc_steps=1, disc_lr=3e-4, disc_batch_size=256,
                                   disc_hidden=(64, 64)),
                   runner=replace(base.runner, total_steps=400_000, target_return=None))


IMITATION_PRESETS: dict[str, Callable[[], PGTrainConfig]] = {
    "bc-cartpole": bc_cartpole,
    "gail-cartpole": gail_cartpole,
    "gail-pendulum": gail_pendulum,
}
"""Presets that need ``--demos``; their smoke tests build demonstrations first (tests/test_imitation.py)."""

FAMILY = Family(name="imitation", title="policy-gradient", command="train", config=PGTrainConfig,
                presets=IMITATION_PRESETS, trainer="runners.local.imitation:train_imitation",
                ray_trainer="runners.distributed.train:train_distributed", resume_fixed=RESUME_FIXED,
                accepts=lambda cfg: cfg.imitation != "none",
                accepts_saved=lambda data: "algo" in data and data.get("imitation", "none") != "none")
