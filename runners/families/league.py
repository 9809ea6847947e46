"""``LeagueConfig`` for leagues (AlphaStar's roles and PFSP over AlphaZero or PPO learners) and its presets.

A league is self-play's sections (game, network, search, loop) plus ``league``: how many learners of each role,
how often they are frozen into the pool, and the roles' opponent mix and thresholds. The numbers are
AlphaStar's (Vinyals et al. 2019, Methods "League composition"; ``runners.league.roles`` has the rules), the
network and search sizes the self-play presets'. Nothing here imports the league's code: the trainer builds its
role objects from these plain values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Annotated, Literal

from agents.actor_critic import ActorCriticConfig
from agents.alphazero.config import AlphaZeroConfig
from agents.alphazero.mcts import MCTSConfig
from agents.constraints import MAX_STEPS, Ge, Interval
from agents.ppo.config import PPOConfig
from agents.torsos import TorsoConfig
from runners.families.common import LogConfig
from runners.families.distributed import OnPolicyRayConfig
from runners.families.family import Family
from runners.families.selfplay import SelfPlayRunConfig, alphazero_connect4, alphazero_tictactoe

MAX_LEARNERS = 64  # learners of one role; each holds a network, an optimiser and a position window


@dataclass(frozen=True)
class LeagueOptions:
    """Who is in the league, when learners are frozen into the pool, and how each role picks its opponents."""

    agent: Literal["alphazero", "ppo"] = "alphazero"
    """Learners: alphazero (MCTS self-play targets; --agent.*, --mcts.*) or ppo (a masked policy-gradient agent
    learning from its own moves with the game result as reward; --ppo.*, --net.*)."""
    main_agents: Annotated[int, Interval(ge=1, le=MAX_LEARNERS)] = 1
    """Main agents: the league's product; never reset."""
    main_exploiters: Annotated[int, Interval(ge=0, le=MAX_LEARNERS)] = 1
    """Main exploiters: play the current main agents only; reset at every snapshot."""
    league_exploiters: Annotated[int, Interval(ge=0, le=MAX_LEARNERS)] = 1
    """League exploiters: PFSP over the whole pool; reset with probability reset_probability at a snapshot."""
    snapshot_every: Annotated[int, Interval(ge=1, le=MAX_STEPS)] = 10
    """Iterations between snapshots: every learner adds a frozen copy of its network to the pool."""
    weighting: Literal["hard", "variance", "uniform"] = "hard"
    """PFSP weighting of the main agents' pool games: hard (1 - x)^p, variance x (1 - x), or uniform."""
    p: Annotated[float, Ge(0)] = 2.0
    """Exponent of the hard weighting (AlphaStar: 2)."""
    main_pfsp: Annotated[float, Interval(ge=0, le=1)] = 0.5
    """Main agents: share of games against the pool by PFSP (AlphaStar: 0.5)."""
    main_selfplay: Annotated[float, Interval(ge=0, le=1)] = 0.35
    """Main agents: share of self-play games against a current main agent (AlphaStar: 0.35)."""
    main_vs_exploiters: Annotated[float, Interval(ge=0, le=1)] = 0.15
    """Main agents: share of games verifying against main-exploiter snapshots, then forgotten own snapshots
    (AlphaStar: 0.15); the shares must sum to 1."""
    main_vs_fixed: Annotated[float, Interval(ge=0, le=1)] = 0.0
    """Main agents: share of games against a fixed opponent (one of --league.fixed-opponents, drawn uniformly);
    the four shares must sum to 1. Not AlphaStar's: 0 by default."""
    fixed_opponents: tuple[str, ...] = ()
    """Bots that stay in the league unchanged (player specs: random, minimax, mcts:N, ...): the main agents play
    them --league.main-vs-fixed of the time, so they also learn to punish weak play. PPO leagues only."""
    selfplay_min_win_rate: Annotated[float, Interval(ge=0, le=1)] = 0.3
    """Main agents: self-play only against a main beaten more often than this; else a curriculum of its snapshots."""
    exploiter_threshold: Annotated[float, Interval(ge=0, le=1)] = 0.3
    """Main agents: verify against main-exploiter snapshots while one of them is beaten less often than this."""
    forgetting_threshold: Annotated[float, Interval(ge=0, le=1)] = 0.7
    """Main agents: replay a forgotten snapshot of the main while one is beaten less often than this."""
    curriculum_below: Annotated[float, Interval(ge=0, le=1)] = 0.1
    """Main exploiters: play the main's snapshots instead of the main while beating it at most this often."""
    exploiter_win_rate: Annotated[float, Interval(ge=0, le=1)] = 0.7
    """Exploiters: snapshot (and reset by the role's rule) early once beating every target more often than this
    (main exploiters: the current mains; league exploiters: the pool)."""
    exploiter_min_steps: Annotated[int, Interval(ge=0, le=MAX_STEPS)] = 0
    """Exploiters: gradient steps since their last snapshot before an early one."""
    exploiter_max_steps: Annotated[int, Interval(ge=1, le=MAX_STEPS)] = 10_000
    """Exploiters: budget of gradient steps since their last snapshot; past it they snapshot (and reset) anyway."""
    league_exploiter_p: Annotated[float, Ge(0)] = 1.0
    """League exploiters: exponent of their hard PFSP weighting (1: AlphaStar's 1 - x, uncapped)."""
    reset_probability: Annotated[float, Interval(ge=0, le=1)] = 0.25
    """League exploiters: chance of a reset to the initial weights at each snapshot (AlphaStar: 0.25)."""
    elo_every: Annotated[int, Interval(ge=0, le=MAX_STEPS)] = 1
    """Iterations between the league's own Elo fits over the payoff matrix (logged; 0: none)."""


@dataclass(frozen=True)
class LeagueConfig:
    """A league of AlphaZero (or PPO) learners, in one process or on Ray. In the selfplay section
    games_per_iteration counts each learner's games per iteration; gating is not used (refused)."""

    preset: str = "league-tictactoe"
    """Name of the preset this config came from."""
    game: str = "tictactoe"
    """Game: tictactoe, connect4, or openspiel:NAME (any two-player zero-sum perfect-information game)."""
    agent: AlphaZeroConfig = field(default_factory=AlphaZeroConfig)
    mcts: MCTSConfig = field(default_factory=MCTSConfig)
    torso: TorsoConfig = field(default_factory=TorsoConfig)
    selfplay: SelfPlayRunConfig = field(default_factory=SelfPlayRunConfig)
    league: LeagueOptions = field(default_factory=LeagueOptions)
    log: LogConfig = field(default_factory=lambda: LogConfig(log_every=1))
    distributed: OnPolicyRayConfig = field(default_factory=OnPolicyRayConfig)
    """Where the league runs: --runner ray plays the games on --num-workers worker actors and trains the learners
    in a learner actor."""
    ppo: PPOConfig = field(default_factory=PPOConfig)
    """PPO learners (--league.agent ppo): each iteration is one PPO update on the learner's games."""
    net: ActorCriticConfig = field(default_factory=ActorCriticConfig)
    """PPO learners (--league.agent ppo): the actor-critic around the torso."""


def league_tictactoe() -> LeagueConfig:
    """League on tic-tac-toe: a main agent, a main exploiter and a league exploiter (a minute or two)."""
    # alphazero-tictactoe's network and search, with fewer games per learner: three learners share the time.
    base = alphazero_tictactoe()
    return LeagueConfig(
        preset="league-tictactoe", game="tictactoe", agent=base.agent, mcts=base.mcts, torso=base.torso,
        selfplay=replace(base.selfplay, iterations=40, games_per_iteration=32, train_steps_per_iteration=30,
                         min_positions=300, eval_every=10, eval_games=20, checkpoint_every=5,
                         grow_anchors="mcts:{n}", grow_start=200),  # climbs only without minimax (perfect here)
        league=LeagueOptions(snapshot_every=5))


def league_connect4() -> LeagueConfig:
    """League on Connect Four: ResNet 32x3, 64 simulations, three learners (hours on a CPU)."""
    base = alphazero_connect4()
    return LeagueConfig(
        preset="league-connect4", game="connect4", agent=base.agent, mcts=base.mcts, torso=base.torso,
        selfplay=replace(base.selfplay, games_per_iteration=32, grow_anchors="mcts:{n}", grow_start=400),
        league=LeagueOptions(snapshot_every=20))


def league_ppo_tictactoe() -> LeagueConfig:
    """PPO league on tic-tac-toe: three masked-PPO learners with MLP torsos (a minute or two)."""
    base = league_tictactoe()
    return replace(
        base, preset="league-ppo-tictactoe", torso=TorsoConfig(kind="mlp", hidden=(128, 128)),
        # gamma < 1 prefers quick wins; the entropy bonus keeps every learner's sampled play varied, so the main
        # agent meets weak lines too; PFSP by variance adds snapshots it beats about half the time (tried on seed
        # 0 against random: hard weighting, less entropy, 64 games or no annealing won 0.87-0.935, this 0.945).
        ppo=PPOConfig(lr=1e-3, anneal_lr=True, gamma=0.9, gae_lambda=0.95, epochs=8, num_minibatches=4,
                      ent_coef=0.03, max_grad_norm=0.5),
        net=ActorCriticConfig(shared=False),
        selfplay=replace(base.selfplay, iterations=300, games_per_iteration=128, eval_every=50, eval_games=20,
                         checkpoint_every=25),
        league=replace(base.league, agent="ppo", snapshot_every=10, weighting="variance", elo_every=10))


def league_ppo_connect4() -> LeagueConfig:
    """PPO league on Connect Four: three masked-PPO learners with small CNN torsos (an hour or more on a CPU)."""
    base = league_connect4()
    return replace(
        base, preset="league-ppo-connect4", torso=TorsoConfig(kind="small_cnn", fc=256),
        ppo=PPOConfig(lr=3e-4, gamma=1.0, gae_lambda=0.95, epochs=4, num_minibatches=4, ent_coef=0.01),
        net=ActorCriticConfig(shared=False),
        selfplay=replace(base.selfplay, iterations=2_000, games_per_iteration=128, eval_every=100, eval_games=20,
                         checkpoint_every=50),
        league=replace(base.league, agent="ppo", snapshot_every=50))


LEAGUE_PRESETS: dict[str, Callable[[], LeagueConfig]] = {
    "league-tictactoe": league_tictactoe,
    "league-connect4": league_connect4,
    "league-ppo-tictactoe": league_ppo_tictactoe,
    "league-ppo-connect4": league_ppo_connect4,
}
DEFAULT_LEAGUE_PRESET = "league-tictactoe"

FAMILY = Family(name="league", title="league", command="league", config=LeagueConfig, presets=LEAGUE_PRESETS,
                trainer="runners.league.run:run_league_local", ray_trainer="runners.distributed.league:run_league_ray",
                resume_fixed=("preset", "game", "torso.", "agent.value_hidden", "agent.optimizer", "league.agent",
                              "net.", "ppo.optimizer",
                              "league.main_agents", "league.main_exploiters", "league.league_exploiters"),
                accepts_saved=lambda data: "league" in data)
