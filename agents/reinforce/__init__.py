"""REINFORCE (Williams 1992): whole-episode Monte-Carlo policy gradient with an optional baseline."""

from agents.reinforce.agent import ReinforceLearner
from agents.reinforce.config import ReinforceConfig

__all__ = ["ReinforceConfig", "ReinforceLearner"]
