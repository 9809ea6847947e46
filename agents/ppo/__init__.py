"""PPO-clip (Schulman et al. 2017) with GAE."""

from agents.ppo.agent import PPOLearner
from agents.ppo.config import PPOConfig

__all__ = ["PPOConfig", "PPOLearner"]
