"""League bookkeeping: PFSP probabilities, the payoff matrix, Elo from it, AlphaStar's role rules."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import numpy as np
import pytest
import torch

from runners.league.payoff import PayoffMatrix
from runners.league.pfsp import hard, pfsp_probabilities, sample_opponent, uniform, variance
from runners.league.roles import (
    Choice,
    LeagueExploiter,
    LeagueExploiterConfig,
    MainAgent,
    MainAgentConfig,
    MainExploiter,
    MainExploiterConfig,
    Roster,
    SnapshotRule,
    forgotten_prefix,
    role_from_state_dict,
)

ROSTER = Roster(main_agents=("m",), main_exploiters=("x",), league_exploiters=("le",),
                snapshots=(("m@0", "m"), ("m@1", "m"), ("x@0", "x")))


def league(results: list[tuple[str, str, int, int, int]], prior_games: float = 0.0) -> PayoffMatrix:
    """A payoff matrix over ROSTER's players with the given ``(a, b, wins, draws, losses)`` recorded."""
    payoff = PayoffMatrix(prior_games=prior_games)
    for name in ("m", "x", "le", "m@0", "m@1", "x@0"):
        payoff.add_player(name)
    for a, b, w, d, l in results:
        payoff.record(a, b, w, d, l)
    return payoff


def round_trip(obj: Any) -> Any:
    """``obj`` through ``torch.save`` and ``torch.load(weights_only=True)``."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def frequencies(choose: Any, n: int = 20_000, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    counts = Counter(choose(rng).opponent for _ in range(n))
    return {k: v / n for k, v in counts.items()}


def branches(choose: Any, n: int = 4000, seed: int = 0) -> Counter[str]:
    rng = np.random.default_rng(seed)
    return Counter(choose(rng).branch for _ in range(n))


# --- PFSP -------------------------------------------------------------------------------------------------

WIN_RATES = [0.2, 0.5, 0.9]


def test_weightings() -> None:
    np.testing.assert_allclose(hard(np.array(WIN_RATES), 2.0), [0.64, 0.25, 0.01])
    np.testing.assert_allclose(hard(np.array(WIN_RATES), 1.0), [0.8, 0.5, 0.1])
    np.testing.assert_allclose(variance(np.array(WIN_RATES)), [0.16, 0.25, 0.09])
    np.testing.assert_allclose(uniform(np.array(WIN_RATES)), [1.0, 1.0, 1.0])


def test_pfsp_probabilities_exact() -> None:
    np.testing.assert_allclose(pfsp_probabilities(WIN_RATES, "hard"), [32 / 45, 5 / 18, 1 / 90])  # /0.9
    np.testing.assert_allclose(pfsp_probabilities(WIN_RATES, "hard", p=1.0), [8 / 14, 5 / 14, 1 / 14])
    np.testing.assert_allclose(pfsp_probabilities(WIN_RATES, "variance"), [0.32, 0.5, 0.18])  # /0.5
    np.testing.assert_allclose(pfsp_probabilities(WIN_RATES, "uniform"), [1 / 3, 1 / 3, 1 / 3])


def test_pfsp_all_zero_weights_fall_back_to_uniform() -> None:
    np.testing.assert_allclose(pfsp_probabilities([1.0, 1.0], "hard"), [0.5, 0.5])
    np.testing.assert_allclose(pfsp_probabilities([0.0, 1.0, 1.0], "variance"), [1 / 3, 1 / 3, 1 / 3])


def test_pfsp_rejects_bad_input() -> None:
    for bad in ([], [1.5]):
        with pytest.raises(ValueError):
            pfsp_probabilities(bad)
    with pytest.raises(ValueError, match="unknown weighting"):
        pfsp_probabilities([0.5], "squared")


def test_sample_opponent_frequencies() -> None:
    payoff = PayoffMatrix(prior_games=0)
    for name in ("L", "A", "B", "C"):
        payoff.add_player(name)
    payoff.record("L", "A", 2, 0, 8)  # 0.2
    payoff.record("L", "B", 4, 2, 4)  # 0.5
    payoff.record("C", "L", 1, 0, 9)  # L beats C 0.9
    rng = np.random.default_rng(0)
    n = 20_000
    counts = Counter(sample_opponent(rng, "L", ["A", "B", "C"], payoff, "hard") for _ in range(n))
    np.testing.assert_allclose([counts[k] / n for k in "ABC"], [32 / 45, 5 / 18, 1 / 90], atol=0.012)


# --- payoff matrix ----------------------------------------------------------------------------------------

def test_counts_are_mirrored() -> None:
    p = PayoffMatrix()
    p.add_player("a")
    p.add_player("b")
    p.record("a", "b", 3, 1, 2)
    assert p.counts("a", "b") == (3, 1, 2) and p.counts("b", "a") == (2, 1, 3)
    p.record("b", "a", 1, 0, 0)
    assert p.counts("a", "b") == (3, 1, 3) and p.counts("b", "a") == (3, 1, 3)
    assert p.games("a", "b") == p.games("b", "a") == 7
    p.record("a", "a", 5)  # a player against itself: ignored
    assert p.win_rate("a", "a") == 0.5 and p.games("a", "b") == 7
    with pytest.raises(KeyError):
        p.record("a", "c", 1)
    with pytest.raises(ValueError):
        p.add_player("a")


def test_win_rate_prior() -> None:
    p = PayoffMatrix()  # one pseudo-game at 0.5
    p.add_player("a")
    p.add_player("b")
    assert p.win_rate("a", "b") == 0.5
    p.record("a", "b", 1)
    assert p.win_rate("a", "b") == pytest.approx(0.75) and p.win_rate("b", "a") == pytest.approx(0.25)
    p.record("a", "b", 0, 2, 1)  # 1 win, 2 draws, 1 loss: (1 + 1 + 0.5) / 5
    assert p.win_rate("a", "b") == pytest.approx(0.5)
    q = PayoffMatrix(prior_games=0, prior_win_rate=0.3)  # AlphaStar's plain ratio; the prior answers no games
    q.add_player("a")
    q.add_player("b")
    assert q.win_rate("a", "b") == pytest.approx(0.3)
    q.record("b", "a", 1)
    assert q.win_rate("a", "b") == 0.0 and q.win_rate("b", "a") == 1.0


def test_decay() -> None:
    p = PayoffMatrix(prior_games=0, decay=0.5)
    p.add_player("a")
    p.add_player("b")
    p.record("a", "b", 1)
    assert p.counts("a", "b") == (1.0, 0.0, 0.0)
    p.record("b", "a", 1)  # one game: old counts x 0.5, then a's loss
    assert p.counts("a", "b") == (0.5, 0.0, 1.0)
    p.record("a", "b", 0, 2, 0)  # two games: old counts x 0.25
    assert p.counts("a", "b") == (0.125, 2.0, 0.25)
    assert p.win_rate("a", "b") == pytest.approx((0.125 + 1.0) / 2.375)
    off = PayoffMatrix(prior_games=0)  # the default: no decay
    off.add_player("a")
    off.add_player("b")
    for _ in range(3):
        off.record("a", "b", 1, 1, 1)
    assert off.counts("a", "b") == (3.0, 3.0, 3.0)


def test_state_round_trip_through_weights_only_torch_load() -> None:
    p = PayoffMatrix(prior_games=2.0, prior_win_rate=0.4, decay=0.9)
    for name in ("a", "b", "c"):
        p.add_player(name)
    p.record("a", "b", 3, 1, 2)
    p.record("c", "a", 1, 0, 4)
    q = PayoffMatrix.from_state_dict(round_trip({"payoff": p.state_dict()})["payoff"])
    assert q.players == p.players and (q.prior_games, q.prior_win_rate, q.decay) == (2.0, 0.4, 0.9)
    for a in p.players:
        for b in p.players:
            assert q.counts(a, b) == pytest.approx(p.counts(a, b))
            assert q.win_rate(a, b) == pytest.approx(p.win_rate(a, b))


def test_elo_orders_a_hand_made_league() -> None:
    p = PayoffMatrix()
    for name in ("c", "b", "a"):
        p.add_player(name)
    p.record("a", "b", 8, 0, 2)
    p.record("b", "c", 7, 2, 1)
    p.record("a", "c", 9, 1, 0)
    r = p.elo()
    assert r.anchor == "c" and r.ratings[0] == 0.0
    assert [r.names[i] for i in r.order()] == ["a", "b", "c"]
    assert (r.ci95[1:] > 0).all()
    assert p.elo(anchor="a").ratings[2] == 0.0


# --- roles ------------------------------------------------------------------------------------------------

def test_main_agent_mix() -> None:
    # m beats m@0 0.8, m@1 0.6 and x@0 only 0.2: the verification branch plays x@0.
    payoff = league([("m", "m@0", 8, 0, 2), ("m", "m@1", 6, 0, 4), ("m", "x@0", 2, 0, 8)])
    agent = MainAgent("m")
    f = frequencies(lambda rng: agent.choose_opponent(rng, ROSTER, payoff))
    pool = pfsp_probabilities([0.8, 0.6, 0.2], "hard")  # [1, 4, 16] / 21
    expected = {"m@0": 0.5 * pool[0], "m@1": 0.5 * pool[1], "x@0": 0.5 * pool[2] + 0.15, "m": 0.35}
    for k, v in expected.items():
        assert f.get(k, 0.0) == pytest.approx(v, abs=0.015), (k, f)


def test_main_agent_falls_back_to_self_play_when_exploiters_are_beaten() -> None:
    # x@0 is beaten 0.8 and the win rates against m's snapshots fall toward the newest: nothing to verify.
    payoff = league([("m", "m@0", 8, 0, 2), ("m", "m@1", 6, 0, 4), ("m", "x@0", 8, 0, 2)])
    agent = MainAgent("m")
    b = branches(lambda rng: agent.choose_opponent(rng, ROSTER, payoff))
    assert set(b) == {"pfsp", "selfplay"} and b["selfplay"] / 4000 == pytest.approx(0.5, abs=0.03)
    # Forgetting: m beats the older m@0 (0.4) less than the newer m@1 (0.9).
    payoff = league([("m", "m@0", 4, 0, 6), ("m", "m@1", 9, 0, 1), ("m", "x@0", 8, 0, 2)])
    b = branches(lambda rng: agent.choose_opponent(rng, ROSTER, payoff))
    assert b["forgetting"] / 4000 == pytest.approx(0.15, abs=0.025)
    assert forgotten_prefix([0.4, 0.9]) == 2 and forgotten_prefix([0.9, 0.8, 0.8]) == 0
    assert forgotten_prefix([0.5, 0.9, 0.7, 0.6]) == 2


def test_main_agent_curriculum_against_a_stronger_main() -> None:
    roster = Roster(main_agents=("m", "m2"), snapshots=(("m2@0", "m2"), ("m2@1", "m2")))
    payoff = PayoffMatrix(prior_games=0)
    for name in ("m", "m2", "m2@0", "m2@1"):
        payoff.add_player(name)
    payoff.record("m", "m2", 1, 0, 9)  # 0.1 <= 0.3: too strong, play its snapshots by variance
    payoff.record("m", "m2@0", 5, 0, 5)
    payoff.record("m", "m2@1", 1, 0, 9)
    agent = MainAgent("m", MainAgentConfig(pfsp=0.0, exploiters=0.0, selfplay=1.0))
    f = frequencies(lambda rng: agent.choose_opponent(rng, roster, payoff))
    # Half the draws pick m itself (0.5 > 0.3: self-play); the other half m2's snapshots by 0.25 : 0.09.
    assert f["m"] == pytest.approx(0.5, abs=0.015)
    assert f["m2@0"] == pytest.approx(0.5 * 25 / 34, abs=0.015) and "m2" not in f
    with pytest.raises(ValueError, match="must be 1"):
        MainAgentConfig(pfsp=0.5, exploiters=0.5, selfplay=0.5)


def test_main_exploiter_opponents() -> None:
    exploiter = MainExploiter("x")
    payoff = league([("x", "m", 5, 0, 5)])
    assert {exploiter.choose_opponent(np.random.default_rng(s), ROSTER, payoff) for s in range(20)} == {
        Choice("m", "main")}
    payoff = league([("x", "m", 1, 0, 19), ("x", "m@0", 5, 0, 5), ("x", "m@1", 1, 0, 9)])  # main too strong
    f = frequencies(lambda rng: exploiter.choose_opponent(rng, ROSTER, payoff))
    assert f["m@0"] == pytest.approx(25 / 34, abs=0.015) and f["m@1"] == pytest.approx(9 / 34, abs=0.015)


def test_league_exploiter_opponents() -> None:
    payoff = league([("le", "m@0", 1, 0, 1), ("le", "m@1", 0, 2, 0), ("le", "x@0", 0, 0, 3)])
    f = frequencies(lambda rng: LeagueExploiter("le").choose_opponent(rng, ROSTER, payoff))
    np.testing.assert_allclose([f["m@0"], f["m@1"], f["x@0"]], [0.25, 0.25, 0.5], atol=0.015)  # 1 - x


def test_main_exploiter_reset_rule() -> None:
    rng = np.random.default_rng(0)
    x = MainExploiter("x", MainExploiterConfig(snapshot=SnapshotRule(win_rate=0.7, min_steps=50, max_steps=1000)))
    strong, even, edge = league([("x", "m", 8, 0, 2)]), league([("x", "m", 6, 0, 4)]), league([("x", "m", 7, 0, 3)])
    assert not x.ready_to_snapshot(10, ROSTER, strong)  # too early
    assert x.ready_to_snapshot(60, ROSTER, strong)  # beats the mains 0.8 > 0.7
    assert not x.ready_to_snapshot(60, ROSTER, even) and not x.ready_to_snapshot(60, ROSTER, edge)
    assert x.ready_to_snapshot(1000, ROSTER, even)  # the step budget
    assert x.on_snapshot(60, rng) and x.num_resets == 1  # a main exploiter always resets
    assert not x.ready_to_snapshot(100, ROSTER, strong)  # min_steps count from the last snapshot


def test_league_exploiter_reset_rule() -> None:
    le = LeagueExploiter("le")
    beats_all = league([("le", "m@0", 8, 0, 2), ("le", "m@1", 9, 0, 1), ("le", "x@0", 8, 0, 2)])
    one_short = league([("le", "m@0", 8, 0, 2), ("le", "m@1", 9, 0, 1), ("le", "x@0", 6, 0, 4)])
    assert le.ready_to_snapshot(1, ROSTER, beats_all) and not le.ready_to_snapshot(1, ROSTER, one_short)
    rng = np.random.default_rng(0)
    resets = sum(le.on_snapshot(i, rng) for i in range(4000))
    assert resets / 4000 == pytest.approx(0.25, abs=0.025) and le.num_resets == resets
    never = LeagueExploiter("le", LeagueExploiterConfig(reset_probability=0.0))
    assert not any(never.on_snapshot(i, rng) for i in range(100))
    main = MainAgent("m")
    assert not any(main.on_snapshot(i, rng) for i in range(100))  # main agents never reset


def test_role_and_roster_state_round_trip() -> None:
    cfg = LeagueExploiterConfig(snapshot=SnapshotRule(0.8, 5, 500), weighting="variance", reset_probability=0.5)
    main = MainAgent("m", MainAgentConfig(pfsp=0.6, exploiters=0.1, selfplay=0.3))
    roles: list[MainAgent | MainExploiter | LeagueExploiter] = [main, MainExploiter("x"), LeagueExploiter("le", cfg)]
    rng = np.random.default_rng(0)
    for i, r in enumerate(roles):
        r.on_snapshot(10 * (i + 1), rng)
    loaded = round_trip({"roles": [r.state_dict() for r in roles], "roster": ROSTER.to_dict()})
    assert Roster.from_dict(loaded["roster"]) == ROSTER
    for r, state in zip(roles, loaded["roles"], strict=True):
        back = role_from_state_dict(state)
        assert type(back) is type(r) and back.config == r.config and back.name == r.name
        assert (back.last_snapshot_step, back.num_snapshots, back.num_resets) == (
            r.last_snapshot_step, r.num_snapshots, r.num_resets)
    with pytest.raises(ValueError):
        MainAgent("m").load_state_dict(roles[1].state_dict())


def test_main_agent_fixed_branch_draws_bots_uniformly() -> None:
    roster = Roster(main_agents=("m",), snapshots=(("m@0", "m"),), fixed=("random", "mcts:5"))
    payoff = PayoffMatrix(prior_games=0)
    for name in ("m", "m@0", "random", "mcts:5"):
        payoff.add_player(name)
    agent = MainAgent("m", MainAgentConfig(pfsp=0.3, exploiters=0.15, selfplay=0.35, fixed=0.2))
    b = branches(lambda rng: agent.choose_opponent(rng, roster, payoff), n=8000)
    assert b["fixed"] / 8000 == pytest.approx(0.2, abs=0.02)
    f = frequencies(lambda rng: agent.choose_opponent(rng, roster, payoff))
    assert f["random"] == pytest.approx(0.1, abs=0.01) and f["mcts:5"] == pytest.approx(0.1, abs=0.01)
    # Without bots in the roster the share falls through to a current main agent, and with fixed = 0 the
    # choices are exactly AlphaStar's mix from the same random stream.
    bare = Roster(main_agents=("m",), snapshots=(("m@0", "m"),))
    assert "fixed" not in branches(lambda rng: agent.choose_opponent(rng, bare, payoff))
    plain, zero = MainAgent("m"), MainAgent("m", MainAgentConfig(fixed=0.0))
    assert [plain.choose_opponent(np.random.default_rng(s), roster, payoff) for s in range(50)] == \
        [zero.choose_opponent(np.random.default_rng(s), bare, payoff) for s in range(50)]
    assert Roster.from_dict(roster.to_dict()) == roster
    with pytest.raises(ValueError, match="must be 1"):
        MainAgentConfig(pfsp=0.5, exploiters=0.15, selfplay=0.35, fixed=0.1)
