"""PPO on two-player board games: masked acting, games that record one side's moves, and a ``Player``.

The policy-gradient counterpart of AlphaZero's self-play (``agents.alphazero``): no search, the network's
categorical policy over ``game.num_actions`` is restricted to ``legal_mask()`` (illegal moves get probability
exactly 0, ``agents.distributions.MASKED_LOGIT``), and PPO-clip (Schulman et al. 2017) learns from whole games.

Recording (``play_recorded``): many games run in parallel, and each turn costs one batched forward per network
that is to move somewhere. Only the learner's own moves are recorded, each as one step of a ``Rollout`` column
(one column per game and recorded seat; in self-play both seats of a game are columns of their own). A game is
an episode of the learner's moves alone: the opponent's replies are part of the environment, the reward is 0
on every move but the learner's last, which gets the game's result for its seat (+1 / 0 / -1), and that move
is ``terminated``. So GAE's gamma and lambda run over the learner's own moves only. Columns are padded to the
longest one with steps whose ``mask`` is False (they never reach the loss) and ``terminated`` True (nothing
flows back through them).

Memory cores are refused: board games are fully observed, and the recurrent PPO update has no padding mask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.actor_critic import ActorCritic, ActorCriticConfig, build_actor_critic
from agents.alphazero.network import board_spec
from agents.base import LearnerOutput
from agents.bots.base import Player
from agents.errors import ConfigError
from agents.ppo.agent import PPOLearner
from agents.ppo.config import PPOConfig
from agents.torsos import TorsoConfig
from envs.games.base import Game, GameState
from replay.types import Rollout


def build_game_network(game: Game, net: ActorCriticConfig, torso: TorsoConfig) -> ActorCritic:
    """An actor-critic over ``game``'s canonical planes ``[C, H, W]`` with ``game.num_actions`` logits.

    Raises:
        ConfigError: a memory core (``--torso.core``), which game PPO does not support.
    """
    if torso.core != "none":
        raise ConfigError(f"PPO on board games takes feed-forward torsos only, not --torso.core {torso.core}")
    return build_actor_critic(net, torso, board_spec(game))


def observe(states: Sequence[GameState]) -> tuple[np.ndarray, np.ndarray]:
    """``(obs [B, C, H, W] float32, legal [B, A] bool)`` of ``states`` from each mover's point of view."""
    return (np.stack([s.observation() for s in states]).astype(np.float32, copy=False),
            np.stack([s.legal_mask() for s in states]).astype(bool, copy=False))


class GamePolicy:
    """An ``ActorCritic`` choosing moves: one forward for a batch of positions, sampled with its own generator."""

    def __init__(self, network: ActorCritic, seed: int = 0) -> None:
        self.network = network
        self.device = next(network.parameters()).device
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def act(self, obs: np.ndarray, legal: np.ndarray, greedy: bool = False,
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``obs [B, C, H, W]``, ``legal [B, A]`` -> ``(action [B] int64, log_prob [B], value [B])`` (float32)."""
        with torch.inference_mode():
            dist, value = self.network(torch.as_tensor(obs, device=self.device),
                                       torch.as_tensor(legal, device=self.device))
            action = dist.mode() if greedy else dist.sample(self.generator)
            log_prob = dist.log_prob(action)
        v = value.float().cpu().numpy() if value is not None else np.zeros(len(obs), np.float32)
        return action.cpu().numpy().astype(np.int64), log_prob.float().cpu().numpy(), v


class PPOPlayer:
    """A PPO network as a tournament / ``arena play`` / Elo player: the most likely legal move (``greedy``) or
    a sample of the masked policy."""

    def __init__(self, network: ActorCritic, seed: int = 0, greedy: bool = True, name: str = "ppo") -> None:
        self.name = name
        self.greedy = greedy
        self.policy = GamePolicy(network.eval(), seed)

    def reseed(self, seed: int) -> None:
        self.policy.generator.manual_seed(seed)

    def act(self, states: Sequence[GameState]) -> list[int]:
        if not states:
            return []
        obs, legal = observe(states)
        return [int(a) for a in self.policy.act(obs, legal, self.greedy)[0]]


Opponent = GamePolicy | Player


@dataclass(frozen=True)
class RecordedGames:
    """What ``play_recorded`` returns.

    Attributes:
        rollout: ``[T, N]`` the learner's moves, one column per (game, recorded seat), with ``legal_mask``.
        results: ``[G, 2]`` float32 ``returns()`` of every game (player 0, player 1).
        lengths: ``[G]`` plies of every game.
    """

    rollout: Rollout
    results: np.ndarray
    lengths: np.ndarray


def play_recorded(game: Game, learner: GamePolicy, opponent: Opponent | None, seats: Sequence[int],
                  ) -> RecordedGames:
    """Play ``len(seats)`` games in parallel, ``learner`` (sampling) in seat ``seats[g]`` of game ``g`` against
    ``opponent`` (a sampling ``GamePolicy`` or any ``Player``), or against itself when ``opponent`` is None
    (then both seats are recorded and ``seats`` only sets the number of games). Module docstring: what is
    recorded."""
    g_count = len(seats)
    states = [game.new_initial_state() for _ in range(g_count)]
    if opponent is None:
        columns = {(g, p): 2 * g + p for g in range(g_count) for p in (0, 1)}
    else:
        columns = {(g, int(seat)): g for g, seat in enumerate(seats)}
    n, t_max = len(columns), (game.max_game_length + 1) // 2
    c, h, w = game.obs_shape
    obs = np.zeros((t_max, n, c, h, w), np.float32)
    legal = np.ones((t_max, n, game.num_actions), bool)
    action = np.zeros((t_max, n), np.int64)
    log_prob, value = np.zeros((t_max, n), np.float32), np.zeros((t_max, n), np.float32)
    count = np.zeros(n, np.int64)  # moves recorded per column
    live = list(range(g_count))
    while live:
        mine = [g for g in live if (g, states[g].current_player()) in columns]
        theirs = [g for g in live if (g, states[g].current_player()) not in columns]
        moves: dict[int, int] = {}
        if mine:
            o, lm = observe([states[g] for g in mine])
            a, lp, v = learner.act(o, lm)
            cols = np.array([columns[(g, states[g].current_player())] for g in mine])
            t = count[cols]
            obs[t, cols], legal[t, cols], action[t, cols], log_prob[t, cols], value[t, cols] = o, lm, a, lp, v
            count[cols] += 1
            moves.update(zip(mine, a.tolist(), strict=True))
        if theirs:
            assert opponent is not None
            if isinstance(opponent, GamePolicy):
                picked = opponent.act(*observe([states[g] for g in theirs]))[0].tolist()
            else:
                picked = opponent.act([states[g] for g in theirs])
            moves.update(zip(theirs, picked, strict=True))
        for g, a_g in moves.items():
            states[g].apply(int(a_g))
        live = [g for g in live if not states[g].is_terminal()]
    results = np.stack([s.returns() for s in states]).astype(np.float32)  # [G, 2]
    t_len = max(int(count.max()), 1)
    step = np.arange(t_len)[:, None]  # [T, 1]
    valid = step < count[None]  # [T, N]
    last = step == (count[None] - 1)  # [T, N] the learner's last move in each column
    reward = np.zeros((t_len, n), np.float32)
    for (g, p), col in columns.items():
        reward[last[:, col], col] = results[g, p]
    terminated = ~valid | last  # padding steps are terminal too: nothing flows back through them
    o = obs[:t_len]
    rollout = Rollout(obs=o, action=action[:t_len], reward=reward, next_obs=np.zeros_like(o), terminated=terminated,
                      truncated=np.zeros_like(terminated), log_prob=log_prob[:t_len], value=value[:t_len],
                      last_obs=np.zeros_like(o[0]), mask=valid, legal_mask=legal[:t_len])
    lengths = np.array([s.move_number() for s in states], np.int64)
    return RecordedGames(rollout, results, lengths)


class PPOGameLearner:
    """One PPO agent on a game: its network, acting policy and PPO learner.

    ``play_against(opponent, seats)`` plays and records games, ``train(games)`` runs one PPO update on them;
    ``state_dict`` holds everything an exact resume needs (network, optimiser, both generators).
    """

    def __init__(self, game: Game, net: ActorCriticConfig, torso: TorsoConfig, cfg: PPOConfig, total_updates: int,
                 seed: int) -> None:
        if cfg.reward_scaling:
            raise ConfigError("--ppo.reward-scaling does not apply to board games (rewards are game results)")
        self.game, self.cfg, self.total_updates, self.seed = game, cfg, total_updates, seed
        self.network = build_game_network(game, net, torso)
        self.policy = GamePolicy(self.network, seed)
        self.learner = PPOLearner(self.network, cfg, num_envs=1, total_updates=total_updates, seed=seed + 1)

    def play_against(self, opponent: Opponent | None, seats: Sequence[int]) -> RecordedGames:
        """``play_recorded`` with this learner's policy (None: self-play)."""
        return play_recorded(self.game, self.policy, opponent, seats)

    def train(self, games: RecordedGames) -> LearnerOutput:
        """One PPO update (``epochs`` passes of minibatches) on the recorded moves."""
        return self.learner.update(games.rollout)

    def fresh_optimizer(self) -> None:
        """A new optimiser and update count (after the weights were reset): nothing of the old run carries."""
        self.learner = PPOLearner(self.network, self.cfg, num_envs=1, total_updates=self.total_updates,
                                  seed=self.seed + 1 + self.learner.updates)

    def state_dict(self) -> dict[str, Any]:
        return {"learner": self.learner.state_dict(), "generator": self.policy.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.learner.load_state_dict(state["learner"])
        self.policy.generator.set_state(state["generator"])
