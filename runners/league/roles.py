"""AlphaStar's league roles as pure rules: whom a learner plays next, when it is snapshotted, whether it resets.

Source: Vinyals et al. 2019, "Grandmaster level in StarCraft II using multi-agent reinforcement learning"
(Nature 575), Methods "League composition" and the ``MainPlayer`` / ``MainExploiter`` / ``LeagueExploiter``
classes of its supplementary pseudocode. Written anew; the numbers are the paper's defaults, all configurable.

* ``MainAgent``: with probability ``pfsp`` (0.5) PFSP (``hard``, p = 2) over the whole pool of snapshots; with
  probability ``fixed`` (0; not AlphaStar's) a fixed bot of the league drawn uniformly; otherwise one current
  main agent M is drawn uniformly (possibly itself) and
  - with probability ``exploiters`` (0.15), *verification*: if some main-exploiter snapshot is beaten less than
    ``exploiter_threshold`` (0.3) of the time, PFSP (``hard``) over the main-exploiter snapshots; else, if
    the learner has *forgotten* how to beat M's older snapshots (see ``forgotten_prefix``) and one of those is
    beaten less than ``forgetting_threshold`` (0.7), PFSP (``hard``) over them; else fall through to
  - *self-play* (the remaining 0.35): M itself if the learner beats M more than ``selfplay_min_win_rate`` (0.3),
    else PFSP (``variance``) over M's snapshots as a curriculum.
* ``MainExploiter``: plays only the current main agents (one drawn uniformly); when it beats that main at most
  ``curriculum_below`` (0.1) of the time it has no signal to learn from, so it plays PFSP (``variance``) over the
  main's snapshots instead: those it beats about half the time weigh most.
* ``LeagueExploiter``: PFSP over the whole pool. AlphaStar weights with ``min(0.5, 1 - x)``; the default here
  is the nearest of our weightings, ``hard`` with p = 1 (``1 - x``).

Snapshots and resets (``SnapshotRule``): a learner is ready to be snapshotted once at least ``min_steps`` steps
have passed since its last snapshot and either it beats every target more than ``win_rate`` (0.7) of the time
or ``max_steps`` steps have passed. Targets: the whole pool (main agent, league exploiter) or the current main
agents (main exploiter). On a snapshot a main exploiter always resets to its initial weights, a league exploiter
with probability ``reset_probability`` (0.25), a main agent never. AlphaStar's steps were 2e9 (min) and 4e9
(timeout) agent steps; here a step is whatever the trainer counts (learner updates), defaults 0 and 10,000.

The trainer's loop: ``choose_opponent(rng, roster, payoff)`` per match; after updates, if
``ready_to_snapshot(step, roster, payoff)``, freeze a snapshot (add it to the payoff and the roster) and call
``on_snapshot(step, rng)``, which says whether to reset the learner's weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from runners.league.payoff import PayoffMatrix
from runners.league.pfsp import pfsp_probabilities, sample_opponent, weighting_fn


@dataclass(frozen=True)
class Roster:
    """Who is in the league now; names are those of the payoff matrix."""

    main_agents: tuple[str, ...] = ()
    main_exploiters: tuple[str, ...] = ()
    league_exploiters: tuple[str, ...] = ()
    snapshots: tuple[tuple[str, str], ...] = ()
    """``(snapshot name, parent learner name)``, oldest first."""
    fixed: tuple[str, ...] = ()
    """Bots that stay in the league unchanged (player specs); only the main agents' ``fixed`` branch plays them."""

    def pool(self) -> list[str]:
        """Every frozen snapshot, oldest first."""
        return [s for s, _ in self.snapshots]

    def snapshots_of(self, parents: Iterable[str]) -> list[str]:
        """The snapshots of the learners ``parents``, oldest first."""
        ps = set(parents)
        return [s for s, p in self.snapshots if p in ps]

    def to_dict(self) -> dict[str, Any]:
        """Plain types (lists of strings)."""
        return {"main_agents": list(self.main_agents), "main_exploiters": list(self.main_exploiters),
                "league_exploiters": list(self.league_exploiters), "snapshots": [list(s) for s in self.snapshots],
                "fixed": list(self.fixed)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Roster:
        return cls(tuple(d["main_agents"]), tuple(d["main_exploiters"]), tuple(d["league_exploiters"]),
                   tuple((str(s), str(p)) for s, p in d["snapshots"]), tuple(d.get("fixed", ())))


@dataclass(frozen=True)
class Choice:
    """An opponent and the rule that picked it (for logs and tests)."""

    opponent: str
    branch: str
    """``pfsp``, ``fixed``, ``selfplay``, ``curriculum``, ``exploiter``, ``forgetting``, ``main`` or ``league``."""


@dataclass(frozen=True)
class SnapshotRule:
    """When a learner is snapshotted (module docstring)."""

    win_rate: float = 0.7
    """Snapshot once the learner beats every target more often than this."""
    min_steps: int = 0
    """Steps since the last snapshot before any snapshot (AlphaStar: 2e9 agent steps)."""
    max_steps: int = 10_000
    """Snapshot anyway after this many steps since the last one (AlphaStar: 4e9 agent steps)."""

    def ready(self, steps_since: int, win_rates: np.ndarray) -> bool:
        """Ready after ``steps_since`` steps with these win rates ``[T]`` against the targets (none: timeout only)."""
        if steps_since < self.min_steps:
            return False
        return steps_since >= self.max_steps or (win_rates.size > 0 and float(win_rates.min()) > self.win_rate)


@dataclass(frozen=True)
class RoleConfig:
    """What every role's config holds."""

    snapshot: SnapshotRule = field(default_factory=SnapshotRule)
    """When the learner is snapshotted."""


@dataclass(frozen=True)
class MainAgentConfig(RoleConfig):
    """``MainAgent``'s opponent mix and thresholds (module docstring); the mix must sum to 1."""

    pfsp: float = 0.5
    """Probability of PFSP over the whole pool."""
    exploiters: float = 0.15
    """Probability of the verification branch (main-exploiter snapshots, then forgotten snapshots)."""
    selfplay: float = 0.35
    """Probability of self-play against a current main agent."""
    fixed: float = 0.0
    """Probability of a fixed opponent (a bot of ``Roster.fixed``, uniformly); not AlphaStar's."""
    weighting: str = "hard"
    """PFSP weighting of the pool, exploiter and forgetting branches."""
    p: float = 2.0
    """Exponent of ``hard``."""
    selfplay_min_win_rate: float = 0.3
    """Self-play only against a main beaten more often than this; else a curriculum of its snapshots."""
    exploiter_threshold: float = 0.3
    """Verify against main-exploiter snapshots when one of them is beaten less often than this."""
    forgetting_threshold: float = 0.7
    """Replay a forgotten snapshot of the main when one is beaten less often than this."""

    def __post_init__(self) -> None:
        mix = (self.pfsp, self.exploiters, self.selfplay, self.fixed)
        if min(mix) < 0 or abs(sum(mix) - 1.0) > 1e-9:
            raise ValueError(f"main agent: pfsp + exploiters + selfplay + fixed must be 1 (each >= 0), got {mix}")
        weighting_fn(self.weighting, self.p)


@dataclass(frozen=True)
class MainExploiterConfig(RoleConfig):
    """``MainExploiter``'s threshold (module docstring)."""

    curriculum_below: float = 0.1
    """Play the main's snapshots (PFSP ``variance``) while beating the main at most this often."""


@dataclass(frozen=True)
class LeagueExploiterConfig(RoleConfig):
    """``LeagueExploiter``'s PFSP weighting and reset chance (module docstring)."""

    weighting: str = "hard"
    """PFSP weighting over the pool."""
    p: float = 1.0
    """Exponent of ``hard`` (1: AlphaStar's ``1 - x``, without its cap at 0.5)."""
    reset_probability: float = 0.25
    """Chance of resetting to the initial weights at each snapshot."""

    def __post_init__(self) -> None:
        weighting_fn(self.weighting, self.p)
        if not 0.0 <= self.reset_probability <= 1.0:
            raise ValueError(f"league exploiter: reset_probability must lie in [0, 1], got {self.reset_probability}")


def forgotten_prefix(win_rates: Sequence[float] | np.ndarray) -> int:
    """How many of a learner's win rates ``[N]`` against its opponent's snapshots (oldest first) to check for
    forgetting: all up to the last place where an older snapshot is beaten less than the next newer one.

    Opponents improve, so win rates should fall (weakly) from the oldest snapshot to the newest; that falling
    tail is expected and dropped. 0 when the whole sequence falls (AlphaStar's ``remove_monotonic_suffix``).
    """
    x = np.asarray(win_rates, np.float64)
    for i in range(len(x) - 1, 0, -1):
        if x[i - 1] < x[i]:
            return i + 1
    return 0


def _uniform(rng: np.random.Generator, names: Sequence[str], what: str) -> str:
    if not names:
        raise ValueError(f"league: no {what} to play against")
    return names[int(rng.integers(len(names)))]


def _pfsp(rng: np.random.Generator, names: Sequence[str], win_rates: np.ndarray, weighting: str, p: float) -> str:
    return names[int(rng.choice(len(names), p=pfsp_probabilities(win_rates, weighting, p)))]


C = TypeVar("C", bound=RoleConfig)


class Role(Generic[C]):
    """A learner's role: opponent choice, snapshot timing and reset rule, with counters in ``state_dict``."""

    kind: ClassVar[str] = ""
    reset_probability: ClassVar[float] = 0.0

    def __init__(self, name: str, config: C) -> None:
        self.name = name
        self.config = config
        self.last_snapshot_step = 0
        self.num_snapshots = 0
        self.num_resets = 0

    def choose_opponent(self, rng: np.random.Generator, roster: Roster, payoff: PayoffMatrix) -> Choice:
        raise NotImplementedError

    def snapshot_targets(self, roster: Roster) -> list[str]:
        """Whom the learner must beat to be snapshotted early: the whole pool unless a role says otherwise."""
        return roster.pool()

    def ready_to_snapshot(self, step: int, roster: Roster, payoff: PayoffMatrix) -> bool:
        """``SnapshotRule.ready`` at learner step ``step`` against ``snapshot_targets``."""
        targets = self.snapshot_targets(roster)
        return self.config.snapshot.ready(step - self.last_snapshot_step, payoff.win_rates(self.name, targets))

    def _reset_chance(self) -> float:
        return self.reset_probability

    def on_snapshot(self, step: int, rng: np.random.Generator) -> bool:
        """Note a snapshot taken at ``step``; True if the learner must now reset to its initial weights."""
        self.last_snapshot_step = step
        self.num_snapshots += 1
        chance = self._reset_chance()
        reset = chance >= 1.0 or (chance > 0.0 and float(rng.random()) < chance)
        self.num_resets += int(reset)
        return reset

    def state_dict(self) -> dict[str, Any]:
        """Plain types only: name, config and counters."""
        return {"kind": self.kind, "name": self.name, "config": asdict(self.config),
                "last_snapshot_step": self.last_snapshot_step, "num_snapshots": self.num_snapshots,
                "num_resets": self.num_resets}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["kind"] != self.kind:
            raise ValueError(f"league: a {state['kind']!r} state cannot load into a {self.kind!r} role")
        cfg = dict(state["config"])
        cfg["snapshot"] = SnapshotRule(**cfg["snapshot"])
        self.name = str(state["name"])
        self.config = type(self.config)(**cfg)
        self.last_snapshot_step = int(state["last_snapshot_step"])
        self.num_snapshots = int(state["num_snapshots"])
        self.num_resets = int(state["num_resets"])


class MainAgent(Role[MainAgentConfig]):
    """AlphaStar's main agent: PFSP, verification against exploiters and forgetting, self-play."""

    kind = "main_agent"

    def __init__(self, name: str, config: MainAgentConfig | None = None) -> None:
        super().__init__(name, config or MainAgentConfig())

    def choose_opponent(self, rng: np.random.Generator, roster: Roster, payoff: PayoffMatrix) -> Choice:
        c = self.config
        r = float(rng.random())
        pool = roster.pool()
        if r < c.pfsp and pool:
            return Choice(sample_opponent(rng, self.name, pool, payoff, c.weighting, c.p), "pfsp")
        if c.pfsp <= r < c.pfsp + c.fixed and roster.fixed:
            return Choice(_uniform(rng, roster.fixed, "fixed opponent"), "fixed")
        main = _uniform(rng, roster.main_agents, "main agent")
        if r < c.pfsp + c.fixed + c.exploiters:
            choice = self._verification(rng, main, roster, payoff)
            if choice is not None:
                return choice
        if payoff.win_rate(self.name, main) > c.selfplay_min_win_rate:
            return Choice(main, "selfplay")
        own = roster.snapshots_of([main])
        if not own:
            return Choice(main, "selfplay")
        return Choice(sample_opponent(rng, self.name, own, payoff, "variance"), "curriculum")

    def _verification(self, rng: np.random.Generator, main: str, roster: Roster, payoff: PayoffMatrix
                      ) -> Choice | None:
        """Main-exploiter snapshots that still beat the learner, else ``main``'s forgotten snapshots, else None."""
        c = self.config
        exploiters = roster.snapshots_of(roster.main_exploiters)
        x = payoff.win_rates(self.name, exploiters)  # [E]
        if x.size and float(x.min()) < c.exploiter_threshold:
            return Choice(_pfsp(rng, exploiters, x, c.weighting, c.p), "exploiter")
        own = roster.snapshots_of([main])
        y = payoff.win_rates(self.name, own)  # [S]
        k = forgotten_prefix(y)
        if k and float(y[:k].min()) < c.forgetting_threshold:
            return Choice(_pfsp(rng, own[:k], y[:k], c.weighting, c.p), "forgetting")
        return None


class MainExploiter(Role[MainExploiterConfig]):
    """AlphaStar's main exploiter: plays the current main agents only; resets at every snapshot."""

    kind = "main_exploiter"
    reset_probability = 1.0

    def __init__(self, name: str, config: MainExploiterConfig | None = None) -> None:
        super().__init__(name, config or MainExploiterConfig())

    def choose_opponent(self, rng: np.random.Generator, roster: Roster, payoff: PayoffMatrix) -> Choice:
        main = _uniform(rng, roster.main_agents, "main agent")
        own = roster.snapshots_of([main])
        if payoff.win_rate(self.name, main) > self.config.curriculum_below or not own:
            return Choice(main, "main")
        return Choice(sample_opponent(rng, self.name, own, payoff, "variance"), "curriculum")

    def snapshot_targets(self, roster: Roster) -> list[str]:
        """The current main agents."""
        return list(roster.main_agents)


class LeagueExploiter(Role[LeagueExploiterConfig]):
    """AlphaStar's league exploiter: PFSP over the whole pool; resets with probability 0.25 at a snapshot."""

    kind = "league_exploiter"

    def __init__(self, name: str, config: LeagueExploiterConfig | None = None) -> None:
        super().__init__(name, config or LeagueExploiterConfig())

    def choose_opponent(self, rng: np.random.Generator, roster: Roster, payoff: PayoffMatrix) -> Choice:
        pool = roster.pool()
        if not pool:  # nothing frozen yet: a main agent stands in
            return Choice(_uniform(rng, roster.main_agents, "snapshot or main agent"), "main")
        c = self.config
        return Choice(sample_opponent(rng, self.name, pool, payoff, c.weighting, c.p), "league")

    def _reset_chance(self) -> float:
        return self.config.reset_probability


ROLES: dict[str, type[MainAgent] | type[MainExploiter] | type[LeagueExploiter]] = {
    r.kind: r for r in (MainAgent, MainExploiter, LeagueExploiter)}


def role_from_state_dict(state: dict[str, Any]) -> MainAgent | MainExploiter | LeagueExploiter:
    """Rebuild any role from its ``state_dict()``."""
    if state.get("kind") not in ROLES:
        raise ValueError(f"league: unknown role {state.get('kind')!r}; known: {', '.join(ROLES)}")
    role = ROLES[state["kind"]](str(state["name"]))
    role.load_state_dict(state)
    return role
