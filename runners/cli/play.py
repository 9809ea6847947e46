"""``arena play``: a person against a bot on the terminal.

The board is shown before every move; the person types a move (``b2`` or ``4`` in tic-tac-toe, a column
number in Connect Four). An illegal or unreadable move gets a one-line ``illegal move: ...`` and the
question again; end of input (Ctrl-D) or ``quit`` leaves the game.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, TextIO

import tyro

from agents.bots.base import Player
from agents.constraints import MAX_SEED, Interval
from agents.errors import ConfigError
from envs.games.base import Game, GameError, GameState

QUIT = {"q", "quit", "exit"}


@dataclass(frozen=True)
class PlayArgs:
    """Play a game against a bot or a trained network on the terminal."""

    player: tyro.conf.Positional[Annotated[str, tyro.conf.arg(metavar="PLAYER")]]
    """The opponent: random, minimax, minimax:DEPTH, mcts:N, openspiel-mcts:N, alphazero:CHECKPOINT[:SIMS]."""
    game: str
    """tictactoe, connect4 or openspiel:NAME."""
    human_first: bool = True
    """Whether you move first."""
    seed: Annotated[int, Interval(ge=0, le=MAX_SEED)] = 0
    """Seed of the bot."""


def _read_move(state: GameState, stdin: TextIO, stdout: TextIO) -> int | None:
    """Ask until the person types a legal move; None at end of input or on ``quit``."""
    legal = " ".join(state.action_to_string(a) for a in state.legal_actions())
    while True:
        stdout.write(f"your move ({legal}): ")
        stdout.flush()
        line = stdin.readline()
        if not line:
            stdout.write("\n")
            return None
        text = line.strip()
        if not text:
            continue
        if text.lower() in QUIT:
            return None
        try:
            action = state.string_to_action(text)
            if action not in state.legal_actions():
                raise GameError(f"{text!r} is not a legal move here")
        except GameError as e:  # IllegalMoveError included
            msg = str(e).replace("\n", " ")
            stdout.write((msg if msg.lower().startswith("illegal move") else f"illegal move: {msg}") + "\n")
            continue
        return action


def play_game(game: Game, bot: Player, human_first: bool, stdin: TextIO, stdout: TextIO) -> int | None:
    """One game of a person (on ``stdin`` / ``stdout``) against ``bot``.

    Returns:
        The person's result: 1 win, 0 draw, -1 loss; None when they quit before the end.
    """
    human = 0 if human_first else 1
    state = game.new_initial_state()
    stdout.write(f"{game.name}: you are player {human} ({'first' if human_first else 'second'}) against {bot.name}\n")
    while not state.is_terminal():
        stdout.write(state.render() + "\n")
        if state.current_player() == human:
            action = _read_move(state, stdin, stdout)
            if action is None:
                stdout.write("quit\n")
                return None
        else:
            action = int(bot.act([state])[0])
            stdout.write(f"{bot.name} plays {state.action_to_string(action)}\n")
        state.apply(action)
    stdout.write(state.render() + "\n")
    result = int(round(float(state.returns()[human])))
    stdout.write({1: "you win\n", 0: "draw\n", -1: f"{bot.name} wins\n"}[result])
    return result


def cmd_play(argv: Sequence[str]) -> int:
    """``arena play --game G PLAYER [--human-first/--no-human-first] [--seed S]``; exit code 0."""
    from envs.games import make_game
    from runners.cli.parse import parse
    from runners.selfplay.players import resolve_player

    a = parse(PlayArgs, argv, "arena play")
    if sys.stdin is None or sys.stdin.closed:  # started with stdin closed (``<&-``): nowhere to read moves from
        raise ConfigError("arena play reads your moves from stdin, which is closed; run it in a terminal")
    game = make_game(a.game)
    bot = resolve_player(a.player, game, a.seed)
    play_game(game, bot, a.human_first, sys.stdin, sys.stdout)
    return 0
