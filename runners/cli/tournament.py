"""``arena tournament``: a round robin between bots and checkpoints, Elo ratings with 95% CIs."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Literal

import tyro
from rich.console import Console

from agents.constraints import MAX_COUNT, MAX_SEED, Interval
from agents.errors import ConfigError
from envs.games import make_game
from runners.cli.parse import UsageError, parse
from runners.local.logging import init_wandb
from runners.selfplay.match import match_seeds
from runners.selfplay.players import resolve_player
from runners.selfplay.report import log_to_wandb, print_results, write_outputs
from runners.selfplay.tournament import round_robin


@dataclass(frozen=True)
class TournamentArgs:
    """Round robin between players on one game; prints the results and writes JSON and a PNG."""

    players: tyro.conf.Positional[Annotated[tuple[str, ...], tyro.conf.arg(metavar="PLAYER [PLAYER ...]")]]
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
    a = parse(TournamentArgs, argv, "arena tournament")
    if len(a.players) < 2:
        raise UsageError("a tournament needs at least two players")
    if len(set(a.players)) != len(a.players):
        raise UsageError("each player may appear only once")
    if a.anchor != TournamentArgs.anchor and a.anchor not in a.players:
        raise ConfigError(f"--anchor {a.anchor} is not one of the players ({', '.join(a.players)})")
    game = make_game(a.game)
    players = {spec: resolve_player(spec, game, match_seeds(a.seed, 1000 + k, n=1)[0])
               for k, spec in enumerate(a.players)}
    out_dir = Path(a.out) if a.out else default_out_dir(a.game)
    console = Console()
    result = round_robin(game, players, a.games_per_pair, a.seed, progress=a.progress, anchor=a.anchor)
    result = replace(result, config={"game": a.game, "players": list(a.players), "games_per_pair": a.games_per_pair,
                                     "seed": a.seed, "anchor": a.anchor, "out": str(out_dir)})
    print_results(result, console)
    files = write_outputs(result, out_dir)
    if a.wandb != "off":
        run = init_wandb(out_dir, result.config, a.wandb, "arena")
        log_to_wandb(result, run, png=files[1])
        run.finish()
    for f in files:
        console.print(f"wrote {f}")
    return 0
