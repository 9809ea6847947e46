"""Round-robin tournaments between bots and trained players, with Elo ratings (``arena tournament``).

Games are played in parallel: each turn, a player's ``act`` is called once with every game where it is to
move, so a network player evaluates one batch per turn. Every pair plays both colours (half the games each
way, the first player getting the odd game), and each match reseeds the players that support it
(``reseed(seed)``) from the tournament seed, so a pair's results do not depend on which matches ran before.
Output: a rich table, ``results.json``, ``tournament.png`` and, when asked, a wandb run with the tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import tyro
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from agents.bots import SPEC_FORMS, make_player
from agents.bots.base import Player
from agents.constraints import MAX_COUNT, MAX_SEED, Interval
from agents.errors import ConfigError
from envs.games.base import Game, GameError
from runners.elo import EloResult, fit_wdl


def resolve_player(spec: str, game: Game, seed: int) -> Player:
    """``make_player`` plus ``alphazero:CHECKPOINT[:SIMS]`` (a trained network searching with MCTS).

    Raises:
        GameError: a bad spec, or a checkpoint that cannot play ``game``.
    """
    if spec.startswith("alphazero:"):
        rest = spec[len("alphazero:"):]
        path, sep, sims = rest.rpartition(":")
        if not (sep and sims.isdigit()):
            path, sims = rest, ""
        if not path:
            raise GameError(f"bad player '{spec}': give a checkpoint, alphazero:CHECKPOINT[:SIMS]; "
                            f"valid players: {SPEC_FORMS}")
        if sims and int(sims) < 1:
            raise GameError(f"bad player '{spec}': SIMS must be a positive integer")
        from runners.alphazero_player import load_player

        return load_player(Path(path), game, int(sims) if sims else None, seed)
    return make_player(spec, game, seed)


def _seeds(seed: int, *keys: int, n: int = 2) -> list[int]:
    """``n`` independent 32-bit seeds derived from ``seed`` and ``keys``."""
    return [int(s) for s in np.random.SeedSequence([seed, *keys]).generate_state(n)]


def play_match(game: Game, first: Player, second: Player, num_games: int, seed: int,
               on_game_end: Callable[[int], None] | None = None) -> tuple[int, int, int]:
    """Play ``num_games`` games in parallel, ``first`` as player 0 and ``second`` as player 1.

    Args:
        game: the game.
        first: moves first in every game.
        second: moves second.
        num_games: games to play.
        seed: players with a ``reseed`` method are reseeded from it before the first move.
        on_game_end: called with the number of games that just finished (progress bars).

    Returns:
        ``(wins, draws, losses)`` of ``first``.
    """
    players = (first, second)
    for k, (player, s) in enumerate(zip(players, _seeds(seed), strict=True)):
        reseed = getattr(player, "reseed", None)
        if callable(reseed) and (k == 0 or player is not first):
            reseed(s)
    states = [game.new_initial_state() for _ in range(num_games)]
    live = [i for i, s in enumerate(states) if not s.is_terminal()]
    while live:
        for p in (0, 1):
            idx = [i for i in live if states[i].current_player() == p]
            if not idx:
                continue
            actions = players[p].act([states[i] for i in idx])
            if len(actions) != len(idx):
                raise RuntimeError(f"{players[p].name} returned {len(actions)} actions for {len(idx)} states")
            for i, a in zip(idx, actions, strict=True):
                states[i].apply(int(a))
        still = [i for i in live if not states[i].is_terminal()]
        if on_game_end is not None and len(still) < len(live):
            on_game_end(len(live) - len(still))
        live = still
    r0 = np.array([s.returns()[0] for s in states])  # [num_games]
    return int((r0 > 0).sum()), int((r0 == 0).sum()), int((r0 < 0).sum())


@dataclass(frozen=True)
class TournamentResult:
    """Results of a round robin; ``i``, ``j`` index ``names``."""

    game: str
    names: tuple[str, ...]
    games_per_pair: int
    seed: int
    wins: np.ndarray  # int [K, K]: games i won against j, both colours
    draws: np.ndarray  # int [K, K], symmetric
    as_first: np.ndarray  # int [K, K, 3]: (wins, draws, losses) of i moving first against j
    elo: EloResult
    seconds: float
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def losses(self) -> np.ndarray:
        return self.wins.T

    def score_rate(self) -> np.ndarray:
        """float ``[K, K]``: (wins + draws / 2) / games of i against j; NaN on the diagonal."""
        games = self.wins + self.wins.T + self.draws
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = (self.wins + 0.5 * self.draws) / games
        np.fill_diagonal(rate, np.nan)
        return rate

    def to_dict(self) -> dict[str, Any]:
        names = list(self.names)
        return {
            "game": self.game,
            "players": names,
            "games_per_pair": self.games_per_pair,
            "seed": self.seed,
            "match_seeds": {f"{a} vs {b}": _seeds(self.seed, i, j, n=1)[0]
                            for i, a in enumerate(names) for j, b in enumerate(names) if i != j},
            "seconds": round(self.seconds, 2),
            "config": self.config,
            "matrix": {"rows_vs_columns": "wins / draws / losses of the row player against the column player",
                       "wins": self.wins.tolist(), "draws": self.draws.tolist(), "losses": self.losses.tolist()},
            "as_first": {a: {b: [int(x) for x in self.as_first[i, j]] for j, b in enumerate(names) if j != i}
                         for i, a in enumerate(names)},
            "elo": self.elo.to_dict(),
        }


def round_robin(game: Game, players: dict[str, Player], games_per_pair: int, seed: int, progress: bool = True,
                anchor: str = "random", console: Console | None = None) -> TournamentResult:
    """Every pair of ``players`` plays ``games_per_pair`` games, half with each moving first.

    Args:
        game: the game.
        players: players by the name the results use.
        games_per_pair: games per pair (the first-named player of a pair moves first in the odd one).
        seed: seeds every match (see ``play_match``).
        progress: show a progress bar over games.
        anchor: the player rated 0 (the first player if absent).
        console: where the progress bar goes (default stderr).
    """
    if games_per_pair < 1:
        raise ValueError("games_per_pair must be at least 1")
    names = tuple(players)
    k = len(names)
    wins = np.zeros((k, k), np.int64)
    draws = np.zeros((k, k), np.int64)
    as_first = np.zeros((k, k, 3), np.int64)
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    t0 = time.perf_counter()
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("games"),
                   TimeRemainingColumn(), console=console or Console(stderr=True), disable=not progress)
    with bar:
        task = bar.add_task("tournament", total=len(pairs) * games_per_pair)
        for i, j in pairs:
            for a, b, n in ((i, j, (games_per_pair + 1) // 2), (j, i, games_per_pair // 2)):
                if n == 0:
                    continue
                bar.update(task, description=f"{names[a]} vs {names[b]}")
                w, d, l = play_match(game, players[names[a]], players[names[b]], n, _seeds(seed, a, b, n=1)[0],
                                     on_game_end=lambda m: bar.advance(task, m))
                as_first[a, b] += (w, d, l)
                wins[a, b] += w
                wins[b, a] += l
                draws[a, b] += d
                draws[b, a] += d
    elo = fit_wdl(wins, draws, names, anchor)
    return TournamentResult(game=game.name, names=names, games_per_pair=games_per_pair, seed=seed, wins=wins,
                            draws=draws, as_first=as_first, elo=elo, seconds=time.perf_counter() - t0)


@dataclass(frozen=True)
class TournamentArgs:
    """Round robin between players on one game; prints the results and writes JSON and a PNG."""

    players: tyro.conf.Positional[tuple[str, ...]]
    """Two or more of: random, minimax, minimax:DEPTH, mcts:N, openspiel-mcts:N, alphazero:CHECKPOINT[:SIMS]."""
    game: str
    """tictactoe, connect4 or openspiel:NAME."""
    games_per_pair: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 20
    """Games each pair plays (half with each player moving first)."""
    seed: Annotated[int, Interval(ge=0, le=MAX_SEED)] = 0
    """Seed of the players and of every match."""
    out: str | None = None
    """Output directory (default runs/tournament-GAME-TIME)."""
    wandb: Literal["off", "offline", "online"] = "off"
    """Also log the tables to a wandb run."""
    anchor: str = "random"
    """Player rated 0 Elo: one of the players (the default, random, falls back to the first player when it is not
    playing)."""
    progress: bool = True
    """Show a progress bar over games."""


def default_out_dir(game: str) -> Path:
    return Path("runs") / f"tournament-{game.replace(':', '-')}-{time.strftime('%Y%m%d-%H%M%S')}"


def cmd_tournament(argv: Sequence[str]) -> int:
    """``arena tournament --game G PLAYER PLAYER... [--games-per-pair N] [--seed S] [--out DIR]``."""
    from envs.games import make_game
    from runners.cli import UsageError, parse
    from runners.tournament_report import log_to_wandb, print_results, write_outputs

    a = parse(TournamentArgs, argv, "arena tournament")
    if len(a.players) < 2:
        raise UsageError("a tournament needs at least two players")
    if len(set(a.players)) != len(a.players):
        raise UsageError("each player may appear only once")
    if a.anchor != TournamentArgs.anchor and a.anchor not in a.players:
        raise ConfigError(f"--anchor {a.anchor} is not one of the players ({', '.join(a.players)})")
    game = make_game(a.game)
    players = {spec: resolve_player(spec, game, _seeds(a.seed, 1000 + k, n=1)[0]) for k, spec in enumerate(a.players)}
    out_dir = Path(a.out) if a.out else default_out_dir(a.game)
    console = Console()
    result = round_robin(game, players, a.games_per_pair, a.seed, progress=a.progress, anchor=a.anchor)
    result = replace(result, config={"game": a.game, "players": list(a.players), "games_per_pair": a.games_per_pair,
                                     "seed": a.seed, "anchor": a.anchor, "out": str(out_dir)})
    print_results(result, console)
    files = write_outputs(result, out_dir)
    if a.wandb != "off":
        from runners.logging import _init_wandb

        run = _init_wandb(out_dir, result.config, a.wandb, "arena")
        log_to_wandb(result, run, png=files[1])
        run.finish()
    for f in files:
        console.print(f"wrote {f}")
    return 0
