"""``SelfPlayConfig`` for AlphaZero runs and the self-play presets (plain functions, grep finds every value).

Sources: Silver et al. 2018 (AlphaZero) for the loss, PUCT constants, Dirichlet noise (alpha about
10 / average legal moves, epsilon 0.25) and the temperature schedule; the small-board sizes (network,
simulations, window) are chosen here to fit a 2-core CPU.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Annotated

from agents.alphazero.config import AlphaZeroConfig
from agents.alphazero.mcts import MCTSConfig
from agents.constraints import MAX_COUNT, MAX_SEED, MAX_STEPS, AllowInf, Ge, Interval, MinLen
from agents.torsos import TorsoConfig
from runners.families.common import LogConfig
from runners.families.distributed import OnPolicyRayConfig
from runners.families.family import Family


@dataclass(frozen=True)
class SelfPlayRunConfig:
    """The self-play loop: how many games, how much training per game, evaluation and checkpoints."""

    iterations: Annotated[int, Interval(ge=1, le=MAX_STEPS)] = 100
    """Iterations of (self-play games, training steps); the run ends after this many."""
    time_limit_s: Annotated[float, Ge(0), AllowInf] = 0.0
    """Stop after this many seconds of wall time (0: no limit); the run is checkpointed and resumable."""
    games_per_iteration: Annotated[int, Interval(ge=1, le=100_000)] = 64
    """Self-play games per iteration, all played at once (one batched network call per search round)."""
    train_steps_per_iteration: Annotated[int, Interval(ge=0, le=MAX_COUNT)] = 50
    """Gradient steps after each iteration's games."""
    min_positions: Annotated[int, Interval(ge=0, le=MAX_STEPS)] = 1_000
    """Positions in the window before training starts."""
    replay_window: Annotated[int, Interval(ge=1, le=10**9)] = 50_000
    """Positions kept (after symmetry augmentation); oldest out first."""
    augment: bool = True
    """Add every symmetric copy of each position (8 in tic-tac-toe, 2 in Connect Four)."""
    temperature_moves: Annotated[int, Interval(ge=0, le=MAX_COUNT)] = 4
    """Moves sampled in proportion to visit counts (temperature 1) at the start of a game; greedy after."""
    random_opening_moves: Annotated[int, Interval(ge=0, le=MAX_COUNT)] = 0
    """Moves drawn uniformly from the legal ones at the start of each self-play game (positions are still
    searched and learned), so openings the network would not choose itself are learned too."""
    gating: bool = False
    """Keep a best network; a new one replaces it only if it wins gate_win_rate of gate_games (AlphaGo Zero)."""
    gate_games: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 40
    """Games of a gating match (half with each colour)."""
    gate_win_rate: Annotated[float, Interval(ge=0, le=1)] = 0.55
    """Score (wins + draws/2) a new network needs to replace the best."""
    eval_every: Annotated[int, Interval(ge=0, le=MAX_STEPS)] = 10
    """Iterations between Elo evaluations against the anchors (0: none)."""
    eval_games: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 20
    """Games against each anchor per evaluation (half with each colour)."""
    eval_simulations: Annotated[int, Interval(ge=0, le=MAX_COUNT)] = 0
    """MCTS simulations per move when evaluating (0: the self-play number)."""
    anchors: Annotated[tuple[str, ...], MinLen(1)] = ("random", "minimax")
    """Fixed opponents for the Elo curve (player specs as in arena tournament); the first is rated 0."""
    grow_anchors: str = ""
    """Anchors that grow with the agent: a ladder of player specs with the strength as {n}, e.g. 'mcts:{n}' or
    'openspiel-mcts:{n}' (empty: off). After an evaluation scoring at least grow_margin against the strongest
    anchor, the next rung (grow_start, then times grow_factor, above any rung already an anchor) joins the anchors."""
    grow_start: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 100
    """Strength {n} of the ladder's first rung (simulations; depth for minimax:{n})."""
    grow_factor: Annotated[float, Interval(gt=1, le=1_000)] = 2.0
    """Each rung's strength over the previous one's."""
    grow_margin: Annotated[float, Interval(ge=0, le=1)] = 0.75
    """Score (wins + draws/2 per game) against the strongest anchor that adds the next rung."""
    checkpoint_every: Annotated[int, Interval(ge=0, le=MAX_STEPS)] = 10
    """Iterations between checkpoints (and on exit, SIGINT or SIGTERM)."""
    seed: Annotated[int, Interval(ge=0, le=MAX_SEED)] = 0
    """Seed of everything: search noise, move sampling, network init, minibatches."""
    torch_threads: Annotated[int, Interval(ge=0, le=4_096)] = 1
    """torch intra-op threads (0: torch's default). Small boards gain little from more."""


@dataclass(frozen=True)
class SelfPlayConfig:
    """An AlphaZero self-play run."""

    preset: str = "alphazero-tictactoe"
    """Name of the preset this config came from."""
    game: str = "tictactoe"
    """Game: tictactoe, connect4, or openspiel:NAME (any two-player zero-sum perfect-information game)."""
    agent: AlphaZeroConfig = field(default_factory=AlphaZeroConfig)
    mcts: MCTSConfig = field(default_factory=MCTSConfig)
    torso: TorsoConfig = field(default_factory=TorsoConfig)
    selfplay: SelfPlayRunConfig = field(default_factory=SelfPlayRunConfig)
    log: LogConfig = field(default_factory=lambda: LogConfig(log_every=1))
    distributed: OnPolicyRayConfig = field(default_factory=OnPolicyRayConfig)
    """Where self-play runs: one process, or Ray game-generating workers and a learner actor
    (runners/distributed/selfplay.py)."""


def alphazero_tictactoe() -> SelfPlayConfig:
    """AlphaZero on tic-tac-toe: MLP 128x128, 50 simulations; plays perfectly after about a minute."""
    # Every move of a self-play game is sampled from the visit counts, and the first is uniform. With only the
    # first 3 moves sampled, the network rarely saw openings it would not play itself (an edge opening, then
    # a trap on X's second move) and lost to them as second player on 3 of 4 seeds tried with AVX-512 kernels;
    # benchmarks/results/learning_robustness.md has these settings on 5 seeds under two kernel sets.
    return SelfPlayConfig(
        preset="alphazero-tictactoe", game="tictactoe",
        agent=AlphaZeroConfig(lr=2e-3, batch_size=128, l2=1e-4),
        mcts=MCTSConfig(num_simulations=50, dirichlet_alpha=1.0, dirichlet_epsilon=0.25),
        torso=TorsoConfig(kind="mlp", hidden=(128, 128)),
        selfplay=SelfPlayRunConfig(iterations=60, games_per_iteration=64, train_steps_per_iteration=40,
                                   min_positions=500, replay_window=40_000, temperature_moves=9,
                                   random_opening_moves=1, eval_every=10, eval_games=20,
                                   anchors=("random", "minimax")),
    )


def alphazero_connect4() -> SelfPlayConfig:
    """AlphaZero on Connect Four: ResNet 32x3, 64 simulations, 64 games at once (hours on a CPU)."""
    # 32 channels cost about a fifth of 64 on one CPU thread (96 vs 500 us per position at batch 64),
    # which buys five times the self-play games in the same time.
    return SelfPlayConfig(
        preset="alphazero-connect4", game="connect4",
        agent=AlphaZeroConfig(lr=1e-3, batch_size=256, l2=1e-4),
        mcts=MCTSConfig(num_simulations=64, dirichlet_alpha=1.0, dirichlet_epsilon=0.25),
        torso=TorsoConfig(kind="resnet", channels=32, blocks=3),
        selfplay=SelfPlayRunConfig(iterations=1_000, games_per_iteration=64, train_steps_per_iteration=64,
                                   min_positions=2_000, replay_window=200_000, temperature_moves=10,
                                   eval_every=10, eval_games=20, anchors=("random", "mcts:200", "minimax")),
    )


def alphazero_othello() -> SelfPlayConfig:
    """AlphaZero on OpenSpiel's othello (8x8, the size OpenSpiel has): ResNet 64x4, 100 simulations."""
    # alphazero-connect4's schedule with a bigger network and search, half the games per iteration, and no
    # augmentation: the OpenSpiel adapter knows no symmetries (identity only).
    base = alphazero_connect4()
    return replace(base, preset="alphazero-othello", game="openspiel:othello",
                   mcts=replace(base.mcts, num_simulations=100, dirichlet_alpha=0.5),
                   torso=TorsoConfig(kind="resnet", channels=64, blocks=4),
                   selfplay=replace(base.selfplay, games_per_iteration=32, temperature_moves=15, augment=False,
                                    eval_games=10, anchors=("random", "mcts:100")))


SELFPLAY_PRESETS: dict[str, Callable[[], SelfPlayConfig]] = {
    "alphazero-tictactoe": alphazero_tictactoe,
    "alphazero-connect4": alphazero_connect4,
    "alphazero-othello": alphazero_othello,
}
DEFAULT_SELFPLAY_PRESET = "alphazero-tictactoe"

FAMILY = Family(name="selfplay", title="self-play", command="selfplay", config=SelfPlayConfig,
                presets=SELFPLAY_PRESETS, trainer="runners.selfplay.run:run_selfplay_local",
                ray_trainer="runners.distributed.selfplay:run_selfplay_ray",
                resume_fixed=("preset", "game", "torso.", "agent.value_hidden", "agent.optimizer"),
                accepts_saved=lambda data: ("game" in data or "selfplay" in data) and "league" not in data)
