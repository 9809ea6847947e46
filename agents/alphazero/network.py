"""Policy-value network: any torso + a policy head over all actions + a value head in [-1, 1]."""

from __future__ import annotations

import torch
from torch import nn

from agents.errors import ConfigError
from agents.torsos import Torso, TorsoConfig, build_torso
from envs.base import EnvSpec
from envs.games.base import Game


def board_spec(game: Game) -> EnvSpec:
    """The ``EnvSpec`` a torso needs for ``game``'s canonical board planes."""
    return EnvSpec(env_id=game.name, obs_shape=tuple(game.obs_shape), obs_dtype="float32",
                   num_actions=game.num_actions, kind="board")


class PolicyValueNet(nn.Module):
    """``obs [B, C, H, W] -> torso -> (policy logits [B, A], value [B] in [-1, 1])``.

    Illegal actions are not masked here: the evaluator and the loss mask them, so the net stays a plain
    function of the observation.
    """

    def __init__(self, torso: Torso, num_actions: int, value_hidden: int = 64) -> None:
        super().__init__()
        self.torso = torso
        self.policy = nn.Linear(torso.output_dim, num_actions)
        self.value = nn.Sequential(nn.Linear(torso.output_dim, value_hidden), nn.ReLU(), nn.Linear(value_hidden, 1))

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, _ = self.torso(obs)  # [B, F]
        return self.policy(features), torch.tanh(self.value(features)).squeeze(-1)  # [B, A], [B]


def build_policy_value_net(game: Game, torso: TorsoConfig | None = None, value_hidden: int = 64) -> PolicyValueNet:
    """The network for ``game``; ``torso`` defaults to the board ResNet (``kind="auto"`` on board planes)."""
    spec = board_spec(game)
    if torso is not None and torso.core != "none":
        raise ConfigError("AlphaZero networks are feed-forward: use --torso.core none (for attention over the "
                          "board, --torso.kind board_attention)")
    return PolicyValueNet(build_torso(torso or TorsoConfig(), spec), game.num_actions, value_hidden)
