"""Anchors that grow with the agent: a ladder of ever stronger search bots for the Elo evaluation.

Fixed anchors measure an agent only while it still loses or draws some games against them: once it wins every
game, the Bradley-Terry fit (``runners.selfplay.elo``) only knows the agent is "much" stronger, and its rating
is a lower bound with an interval of several hundred Elo. A ladder (``--selfplay.grow-anchors 'mcts:{n}'``) adds
the next rung, ``{n}`` = ``grow_start * grow_factor ** k`` simulations (or depth), after any evaluation in which
the agent scored at least ``grow_margin`` against the strongest anchor (highest rated). The new anchor plays the
others once, like the fixed anchors (``anchor_elo``'s cache), so every rating stays on the one scale, the first
fixed anchor at 0. The grown anchors are a plain ``list[str]`` that travels in the trainers' checkpoints.

This module knows no trainer: the self-play and league trainers call ``grow`` after each evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from string import Formatter
from typing import Any

from agents.bots import make_player
from agents.errors import ConfigError
from envs.games.base import Game, GameError
from runners.families.selfplay import SelfPlayRunConfig

FLAG = "--selfplay.grow-anchors"


def rung_spec(ladder: str, n: int) -> str:
    """The player spec of the rung with ``n`` simulations (or depth): ``ladder`` with ``{n}`` filled in."""
    return ladder.strip().replace("{n}", str(n))


def check_ladder(ladder: str, game: Game, start: int) -> None:
    """Refuse a ladder spec in one line (``ConfigError``) unless it names exactly one ``{n}`` and its first rung is a
    player ``make_player`` builds (``mcts:{n}``, ``openspiel-mcts:{n}``, ``minimax:{n}``).

    Checked before the run starts: the ladder is only read after an evaluation, maybe hours in.
    """
    try:
        fields = [name for _, name, _, _ in Formatter().parse(ladder) if name is not None]
    except ValueError:  # an unmatched brace
        fields = ["?"]
    if fields != ["n"]:
        raise ConfigError(f"{FLAG} {ladder!r}: a ladder names its strength once as {{n}}, as in 'mcts:{{n}}' or "
                          "'openspiel-mcts:{n}'")
    if ladder.strip().startswith("alphazero"):
        raise ConfigError(f"{FLAG} {ladder!r}: a ladder is a search bot (mcts:{{n}}, openspiel-mcts:{{n}}, "
                          "minimax:{n}), not a network")
    try:
        make_player(rung_spec(ladder, start), game, 0)
    except GameError as e:
        raise ConfigError(f"{FLAG} {ladder!r}: {e}") from None


def rungs(start: int, factor: float) -> Iterator[int]:
    """``start, start * factor, start * factor ** 2, ...`` rounded, each at least one more than the last (a factor
    near 1 still climbs)."""
    n = start
    while True:
        yield n
        n = max(n + 1, round(n * factor))


def score(wdl: Sequence[int]) -> float:
    """Points per game (win 1, draw 1/2) of ``[wins, draws, losses]``; 0 for no games."""
    w, d, lo = wdl
    return (w + 0.5 * d) / max(w + d + lo, 1)


def strongest(entry: dict[str, Any]) -> str:
    """The highest rated anchor of an Elo ``entry`` (``anchor_elo``'s); the later one on a tie (the newer rung)."""
    ratings = entry["anchor_elo"]
    return max(reversed(list(ratings)), key=lambda name: ratings[name])


def next_rung(entries: Sequence[dict[str, Any]], ladder: str, start: int, factor: float, margin: float,
              anchors: Sequence[str]) -> str | None:
    """The anchor to add after one evaluation, or None.

    Args:
        entries: the evaluation's Elo entries (one per evaluated agent: a league has several main agents).
        ladder: the ladder spec (``""``: no ladder, never grows).
        start, factor: the rungs' strengths (``rungs``).
        margin: score against the strongest anchor that earns the next rung (0 adds one after every evaluation).
        anchors: every anchor now, fixed and grown.

    Returns:
        The first rung stronger than every anchor already on the ladder, when some entry scored at least
        ``margin`` against its strongest anchor.
    """
    if not ladder or not any(score(e["vs"][strongest(e)]) >= margin for e in entries):
        return None
    top = max((n for n in (rung_strength(ladder, a) for a in anchors) if n is not None), default=0)
    return rung_spec(ladder, next(n for n in rungs(start, factor) if n > top))


def rung_strength(ladder: str, anchor: str) -> int | None:
    """``n`` when ``anchor`` is the ladder's rung ``n`` (``mcts:400`` on ``mcts:{n}``: 400), else None.

    Read from the anchors themselves, not from a counter, so a fixed anchor on the ladder (``mcts:200`` among
    ``--selfplay.anchors``) is climbed past, and a ladder changed on resume continues above what is there.
    """
    prefix, _, suffix = ladder.strip().partition("{n}")
    anchor = anchor.strip()
    middle = anchor[len(prefix):len(anchor) - len(suffix)] if len(anchor) > len(prefix) + len(suffix) else ""
    if anchor.startswith(prefix) and anchor.endswith(suffix) and middle.isdigit():
        return int(middle)
    return None


def grow(run: SelfPlayRunConfig, entries: Sequence[dict[str, Any]], grown: list[str]) -> str | None:
    """After an evaluation: when ``entries`` earned the next rung of ``run``'s ladder, append it to ``grown``, mark
    the entry that scored best against its strongest anchor with ``added_anchor`` (for the logs) and return it."""
    rung = next_rung(entries, run.grow_anchors, run.grow_start, run.grow_factor, run.grow_margin,
                     [*run.anchors, *grown])
    if rung is not None:
        grown.append(rung)
        max(entries, key=lambda e: score(e["vs"][strongest(e)]))["added_anchor"] = rung
    return rung


def added_message(entry: dict[str, Any]) -> str:
    """The console line of an entry marked by ``grow``."""
    top = strongest(entry)
    return (f"anchors: added {entry['added_anchor']} ({entry.get('player', 'the agent')} scored "
            f"{score(entry['vs'][top]):.2f} against {top}, the strongest anchor); it plays from the next evaluation")
