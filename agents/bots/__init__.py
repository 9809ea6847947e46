"""Players for tournaments, ``arena play`` and Elo evaluation: bots and the ``make_player`` spec parser.

Specs: ``random``, ``minimax``, ``minimax:DEPTH``, ``mcts:N`` (arena MCTS, random rollouts),
``openspiel-mcts:N`` (OpenSpiel's MCTSBot). ``alphazero:CHECKPOINT[:SIMS]`` and ``ppo:CHECKPOINT[:sample]``
name trained networks; they are resolved by ``runners.selfplay.players.resolve_player`` so that ``agents``
never imports ``runners``.
"""

from __future__ import annotations

import numpy as np

from agents.bots.base import Player
from agents.bots.minimax import MinimaxPlayer
from agents.bots.random_bot import RandomPlayer
from envs.games.base import Game, GameError

SPEC_FORMS = ("random, minimax, minimax:DEPTH, mcts:N, openspiel-mcts:N, alphazero:CHECKPOINT[:SIMS], "
              "ppo:CHECKPOINT[:sample]")


def _count(spec: str, text: str, what: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise GameError(f"bad player '{spec}': {what} must be a positive integer; valid players: {SPEC_FORMS}")
    return int(text)


def make_player(spec: str, game: Game, seed: int) -> Player:
    """Build the bot that ``spec`` names (see the module docstring) for ``game``, seeded with ``seed``.

    Raises:
        GameError: an unknown or malformed spec (one line, listing the valid forms), or an
            ``alphazero:`` spec, which only ``runners.selfplay.players.resolve_player`` can load.
    """
    kind, _, arg = spec.strip().partition(":")
    if kind == "random" and not arg:
        return RandomPlayer(seed)
    if kind == "minimax":
        return MinimaxPlayer(game, _count(spec, arg, "the depth") if arg else None, seed)
    if kind == "mcts":
        from agents.alphazero.rollout import RandomRolloutEvaluator
        from agents.bots.mcts_bot import MCTSPlayer

        n = _count(spec, arg, "the number of simulations")
        return MCTSPlayer(game, n, RandomRolloutEvaluator(np.random.default_rng([seed, 1])), seed)
    if kind == "openspiel-mcts":
        from agents.bots.openspiel_bot import OpenSpielMCTSPlayer

        return OpenSpielMCTSPlayer(game, _count(spec, arg, "the number of simulations"), seed)
    if kind in ("alphazero", "ppo") and arg:
        raise GameError(f"'{spec}': {kind} players are loaded by runners.selfplay.players.resolve_player")
    raise GameError(f"unknown player '{spec}'; valid players: {SPEC_FORMS}")


__all__ = ["SPEC_FORMS", "MinimaxPlayer", "Player", "RandomPlayer", "make_player"]
