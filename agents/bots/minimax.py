"""Negamax with alpha-beta pruning (Knuth & Moore 1975, "An analysis of alpha-beta pruning") and a
transposition table, over any ``Game``.

* Small games (``max_game_length <= 16``, e.g. tic-tac-toe) are solved exactly: the search runs to the
  end of the game, so the player never loses a won or drawn position.
* Larger games (Connect Four) are searched ``depth`` plies deep (default 4) and the frontier is scored by
  a heuristic: ``connect_four_heuristic`` for arena's ``connect4``, zero otherwise.

Scores are integers from the point of view of the player to move. A win is worth ``WIN`` minus the
number of plies until it happens, so the search prefers faster wins and slower losses; heuristic scores
stay well below ``WIN_THRESHOLD``. The distance is counted from the node, not the root, so transposition
table entries (keyed by ``state.key()``) are valid wherever the position recurs.

Equally good root moves are found exactly (each root move is searched with a window just below the best
score so far) and one is picked uniformly at random with a seeded generator, so games against the
minimax player vary and tests against it mean something.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import numpy as np

from envs.games.base import Game, GameState

WIN = 100_000
WIN_THRESHOLD = 50_000
INF = 10**9
EXACT, LOWER, UPPER = 0, 1, 2
DEFAULT_DEPTH = 4
EXACT_MAX_LENGTH = 16

Heuristic = Callable[[GameState], int]


def _decay(value: int) -> int:
    """Move a win/loss score one ply further away (toward 0); heuristic scores pass unchanged."""
    if value > WIN_THRESHOLD:
        return value - 1
    if value < -WIN_THRESHOLD:
        return value + 1
    return value


def zero_heuristic(state: GameState) -> int:
    """No knowledge: every unfinished position is a draw."""
    return 0


def _windows(height: int, width: int, length: int = 4) -> np.ndarray:
    """Flat indices ``[num_windows, length]`` of every horizontal, vertical and diagonal line of ``length`` cells."""
    lines = []
    for r in range(height):
        for c in range(width):
            for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
                cells = [(r + k * dr, c + k * dc) for k in range(length)]
                if all(0 <= rr < height and 0 <= cc < width for rr, cc in cells):
                    lines.append([rr * width + cc for rr, cc in cells])
    return np.asarray(lines, dtype=np.int64).reshape(-1, length)


class ConnectFourHeuristic:
    """Score a position for the player to move from its canonical observation planes.

    Planes 0 and 1 of ``observation()`` are the mover's and the opponent's stones (``[H, W]`` each).
    Every line of four cells that holds stones of only one side counts: three stones ``THREE`` points,
    two stones ``TWO`` points, positive for the mover and negative for the opponent; each stone in the
    centre column adds (mover) or subtracts (opponent) ``CENTRE``. Lines are symmetric under flipping
    the board, so the orientation of the planes' rows does not matter.
    """

    THREE, TWO, CENTRE = 50, 5, 3

    def __init__(self, height: int = 6, width: int = 7) -> None:
        self.windows = _windows(height, width)  # [69, 4] for 6x7
        self.centre = width // 2
        # Score of a window by (mover stones, opponent stones), 0 where both sides have stones.
        table = np.zeros((5, 5), dtype=np.int64)
        table[3, 0], table[2, 0] = self.THREE, self.TWO
        table[0, 3], table[0, 2] = -self.THREE, -self.TWO
        self.table = table

    def __call__(self, state: GameState) -> int:
        obs = state.observation()
        mine, theirs = obs[0] > 0.5, obs[1] > 0.5  # [H, W]
        m = mine.ravel()[self.windows].sum(axis=1)  # [num_windows]
        t = theirs.ravel()[self.windows].sum(axis=1)
        centre = int(mine[:, self.centre].sum()) - int(theirs[:, self.centre].sum())
        return int(self.table[m, t].sum()) + self.CENTRE * centre


connect_four_heuristic = ConnectFourHeuristic()


def default_heuristic(game: Game) -> Heuristic:
    """The Connect Four heuristic for arena's ``connect4`` (whose planes it knows), zero for other games."""
    return connect_four_heuristic if game.name == "connect4" else zero_heuristic


class MinimaxPlayer:
    """Alpha-beta negamax; exact for small games, depth-limited with a heuristic otherwise.

    Args:
        game: the game to play.
        depth: plies to search; ``None`` means the whole game when ``game.max_game_length <= 16``
            (tic-tac-toe: perfect play) and ``DEFAULT_DEPTH`` otherwise.
        seed: seed of the tie-breaking generator.
        heuristic: score of an unfinished frontier position for its player to move (integers, below
            ``WIN_THRESHOLD`` in size); default ``default_heuristic(game)``.
        name: the name tournaments show; default ``minimax`` or ``minimax:DEPTH``.
    """

    def __init__(self, game: Game, depth: int | None = None, seed: int = 0, heuristic: Heuristic | None = None,
                 name: str | None = None) -> None:
        if depth is not None and depth < 1:
            raise ValueError(f"minimax depth must be at least 1, got {depth}")
        self.exact = depth is None and game.max_game_length <= EXACT_MAX_LENGTH
        self.depth = game.max_game_length if self.exact else (depth or DEFAULT_DEPTH)
        self.name = name or ("minimax" if depth is None else f"minimax:{depth}")
        self.heuristic = heuristic or default_heuristic(game)
        self.rng = np.random.default_rng(seed)
        self.mid = (game.num_actions - 1) / 2
        # key -> (depth searched, score, EXACT | LOWER | UPPER). Exact-solve entries stay valid forever;
        # depth-limited ones are cleared when the table grows large.
        self.table: dict[Hashable, tuple[int, int, int]] = {}
        self.nodes = 0

    def reseed(self, seed: int) -> None:
        """Restart the tie-breaking stream (the transposition table is kept: it does not depend on the seed)."""
        self.rng = np.random.default_rng(seed)

    def act(self, states: Sequence[GameState]) -> list[int]:
        """The best move of each state, ties broken uniformly at random."""
        return [self.best_move(s) for s in states]

    def best_move(self, state: GameState) -> int:
        scores = self.root_scores(state)
        best = max(scores.values())
        ties = [a for a, v in scores.items() if v == best]
        return int(self.rng.choice(ties))

    def root_scores(self, state: GameState) -> dict[int, int]:
        """Score of each root move; exact for moves that tie the best, an upper bound below it for the rest."""
        if not self.exact and len(self.table) > 2_000_000:
            self.table.clear()
        player = state.current_player()
        scores: dict[int, int] = {}
        best = -INF
        for a in state.legal_actions():
            # Window (best - 1, inf): a score >= best comes back exact, a worse one as an upper bound.
            v = self._child(state, player, a, self.depth, best - 1, INF)
            scores[a] = v
            best = max(best, v)
        return scores

    def _child(self, state: GameState, player: int, action: int, depth: int, alpha: int, beta: int) -> int:
        """Score for ``player`` of playing ``action`` in ``state`` (fail-soft within ``(alpha, beta)``)."""
        child = state.clone()
        child.apply(action)
        self.nodes += 1
        if child.is_terminal():
            return int(round(float(child.returns()[player]))) * WIN
        # The child's window is widened by one on each side because _decay can shift a score by one:
        # a bound the child returns then still lies outside (alpha, beta) after decay.
        return _decay(-self._negamax(child, depth - 1, -beta - 1, -alpha + 1))

    def _negamax(self, state: GameState, depth: int, alpha: int, beta: int) -> int:
        """Fail-soft alpha-beta score of non-terminal ``state`` for its player to move."""
        if depth <= 0:
            return self.heuristic(state)
        key = state.key()
        entry = self.table.get(key)
        if entry is not None and entry[0] >= depth:
            _, value, flag = entry
            if flag == EXACT or (flag == LOWER and value >= beta) or (flag == UPPER and value <= alpha):
                return value
        alpha0, best = alpha, -INF
        player = state.current_player()
        for a in self._ordered(state):
            v = self._child(state, player, a, depth, alpha, beta)
            if v > best:
                best = v
                if v > alpha:
                    alpha = v
                    if alpha >= beta:
                        break
        flag = UPPER if best <= alpha0 else LOWER if best >= beta else EXACT
        self.table[key] = (depth, best, flag)
        return best

    def _ordered(self, state: GameState) -> list[int]:
        """Legal actions, central ones first (for Connect Four columns this prunes far more)."""
        return sorted(state.legal_actions(), key=lambda a: abs(a - self.mid))
