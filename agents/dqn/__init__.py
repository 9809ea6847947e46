"""The DQN family, from DQN to Rainbow, as one configurable agent."""

from agents.dqn.agent import DQNActor, DQNLearner
from agents.dqn.config import DQNConfig
from agents.dqn.network import QNetwork, build_q_network

__all__ = ["DQNActor", "DQNConfig", "DQNLearner", "QNetwork", "build_q_network"]
