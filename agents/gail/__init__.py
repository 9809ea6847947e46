"""Imitation: behaviour cloning and GAIL (generator = PPO by default, REINFORCE selectable)."""
