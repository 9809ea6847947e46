"""PPO leagues (``--league.agent ppo``): masked policies, recording only the learner's moves, the league's
checkpoints and exact resume, PPO players in matches and tournaments, and fixed opponents."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from agents.actor_critic import ActorCriticConfig
from agents.bots import RandomPlayer
from agents.distributions import Categorical
from agents.ppo.config import PPOConfig
from agents.ppo.games import PPOGameLearner, PPOPlayer, build_game_network
from agents.torsos import TorsoConfig
from envs.games import make_game
from runners.api import run_league
from runners.cli.main import main
from runners.families.common import LogConfig
from runners.families.league import LEAGUE_PRESETS, LeagueConfig
from runners.league.ppo_trainer import PPOLeagueTrainer
from runners.local.checkpoint import load
from runners.selfplay.match import play_match
from runners.selfplay.players import resolve_player


def tiny(run_dir: Path, iterations: int = 2, league: dict[str, Any] | None = None, **selfplay: Any) -> LeagueConfig:
    """league-ppo-tictactoe shrunk to seconds: few games, a short Elo evaluation against random."""
    cfg = LEAGUE_PRESETS["league-ppo-tictactoe"]()
    opts: dict[str, Any] = dict(iterations=iterations, games_per_iteration=8, eval_every=2, eval_games=4,
                                anchors=("random",), checkpoint_every=1)
    opts.update(selfplay)
    return replace(cfg, torso=replace(cfg.torso, hidden=(32,)), selfplay=replace(cfg.selfplay, **opts),
                   league=replace(cfg.league, **{"snapshot_every": 2, **(league or {})}),
                   log=LogConfig(run_dir=str(run_dir), wandb="off", progress=False))


def test_masked_probabilities_are_zero_on_illegal_moves_and_log_probs_finite() -> None:
    logits = torch.randn(4, 9, requires_grad=True)
    mask = torch.ones(4, 9, dtype=torch.bool)
    mask[0, :8] = False  # one legal move left
    mask[1, ::2] = False
    dist = Categorical(logits, mask)
    probs = dist.logits.exp()  # [4, 9]
    assert torch.all(probs[~mask] == 0)
    assert torch.allclose(probs.sum(-1), torch.ones(4)) and probs[0, 8] == 1
    assert torch.isfinite(dist.logits).all() and torch.isfinite(dist.entropy()).all()
    assert dist.entropy()[0] == 0
    gen = torch.Generator().manual_seed(0)
    samples = torch.stack([dist.sample(gen) for _ in range(200)])  # [200, 4]
    assert mask.gather(1, samples.T).all()
    assert mask[torch.arange(4), dist.mode()].all()
    loss = -(dist.log_prob(dist.mode()) + 0.01 * dist.entropy()).sum()
    loss.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()
    assert torch.all(logits.grad[~mask] == 0)  # an illegal move's logit learns nothing
    unmasked = Categorical(logits.detach())
    assert torch.equal(unmasked.logits, torch.log_softmax(logits.detach(), -1))  # no mask: the plain softmax


def test_only_the_learners_moves_are_recorded_with_the_result_on_its_last_move() -> None:
    game = make_game("tictactoe")
    torch.manual_seed(0)
    learner = PPOGameLearner(game, ActorCriticConfig(), TorsoConfig(kind="mlp", hidden=(16,)), PPOConfig(), 10, 0)
    seats = [0, 1] * 8
    played = learner.play_against(RandomPlayer(1), seats)
    r = played.rollout
    assert r.obs.shape[1] == len(seats) and r.legal_mask is not None
    for g, seat in enumerate(seats):
        moves = int(r.mask[:, g].sum())
        length = int(played.lengths[g])
        assert moves == (length + 1 - seat) // 2  # player 0 moves ceil(L / 2) times, player 1 floor(L / 2)
        assert r.mask[:moves, g].all() and not r.mask[moves:, g].any()  # padding after the last move only
        assert r.reward[moves - 1, g] == played.results[g, seat]
        assert np.count_nonzero(r.reward[:, g]) == int(played.results[g, seat] != 0)
        assert r.terminated[moves - 1, g] and not r.terminated[:moves - 1, g].any()
        legal = r.legal_mask[:moves, g]  # [moves, A]
        assert legal[np.arange(moves), r.action[:moves, g]].all()
        # Every recorded position is the learner's: it has as many own stones as the opponent's (or one fewer
        # as second player), seen from the mover's side.
        own, other = r.obs[:moves, g, 0].sum((1, 2)), r.obs[:moves, g, 1].sum((1, 2))
        assert np.array_equal(other - own, np.full(moves, seat, dtype=other.dtype))
    assert np.all(np.isfinite(r.log_prob[r.mask])) and np.all(r.log_prob[r.mask] <= 0)
    selfplay = learner.play_against(None, [0] * 4)  # both seats recorded: two columns per game
    assert selfplay.rollout.obs.shape[1] == 8 and int(selfplay.rollout.mask.sum()) == int(selfplay.lengths.sum())
    out = learner.train(played)
    assert np.isfinite(out.metrics["loss"]) and out.metrics["minibatch_updates"] > 0


def test_ppo_player_plays_legal_moves_in_play_match() -> None:
    game = make_game("connect4")
    torch.manual_seed(0)
    net = build_game_network(game, ActorCriticConfig(), TorsoConfig(kind="small_cnn", fc=32))
    for greedy in (True, False):
        w, d, lo = play_match(game, PPOPlayer(net, 0, greedy), RandomPlayer(1), 6, seed=3)  # illegal: raises
        assert w + d + lo == 6
        w, d, lo = play_match(game, RandomPlayer(2), PPOPlayer(net, 0, greedy), 6, seed=4)
        assert w + d + lo == 6


def test_ppo_league_runs_checkpoints_and_resumes_exactly(tmp_path: Path) -> None:
    straight, split = tmp_path / "straight", tmp_path / "split"
    run_league(tiny(straight, iterations=5), straight)
    cfg = tiny(split, iterations=5)
    assert run_league(cfg, split, stop_at=3).iterations == 3
    assert run_league(cfg, split, resume=True).iterations == 5
    raw = torch.load(split / "checkpoints" / "latest.pt", weights_only=True)  # no pickled code
    assert raw["format"] == "arena-league-1" and raw["trainer"]["agent"] == "ppo"
    a, b = load(straight / "checkpoints" / "latest.pt")["trainer"], load(split / "checkpoints" / "latest.pt")["trainer"]
    for la, lb in zip(a["learners"], b["learners"], strict=True):
        for k, v in la["agent"]["learner"]["network"].items():
            assert torch.equal(v, lb["agent"]["learner"]["network"][k]), (la["name"], k)
        assert la["role"] == lb["role"] and la["steps"] == lb["steps"] and la["steps"] > 0
    assert [n for n, _ in a["pool"]] == [n for n, _ in b["pool"]] and len(a["pool"]) == 6
    assert a["payoff"] == b["payoff"] and a["rng"] == b["rng"]
    rows = [json.loads(x) for x in (split / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows if r["kind"] == "iteration"] == [1, 2, 3, 4, 5]
    assert any(r["kind"] == "eval" for r in rows)
    # model.pt is the main agent as a player; latest.pt and the run directory load too.
    game = make_game("tictactoe")
    for spec in (f"ppo:{split}", f"ppo:{split / 'checkpoints' / 'latest.pt'}", f"ppo:{split}:sample"):
        w, d, lo = play_match(game, resolve_player(spec, game, 0), RandomPlayer(0), 4, seed=1)
        assert w + d + lo == 4


def test_exploiter_reset_restores_initial_weights(tmp_path: Path) -> None:
    cfg = tiny(tmp_path, eval_every=0, league={"exploiter_win_rate": 0.0, "snapshot_every": 1000,
                                               "league_exploiters": 0})
    trainer = PPOLeagueTrainer(cfg)
    exploiter = trainer.learners[1]
    rows = trainer.iterate()
    assert rows[1]["snapshot"] == "main_exploiter0@1" and rows[1]["reset"] is True
    for k, v in exploiter.net.state_dict().items():
        assert torch.equal(v, exploiter.initial[k]), k
    assert exploiter.agent.learner.updates == 0
    assert any(not torch.equal(v, exploiter.initial[k]) for k, v in trainer.pool["main_exploiter0@1"].items())


def test_cli_ppo_league_resume_refusal_and_tournament(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "cli"
    flags = ["--selfplay.games-per-iteration", "4", "--selfplay.eval-every", "0", "--league.snapshot-every", "1",
             "--torso.hidden", "16", "--log.wandb", "off", "--log.no-progress", "--log.run-dir", str(run)]
    assert main(["league", "league-tictactoe", "--league.agent", "ppo", "--selfplay.iterations", "2", *flags]) == 0
    assert main(["league", "--resume", str(run), "--selfplay.iterations", "3"]) == 0
    assert load(run / "checkpoints" / "latest.pt")["trainer"]["iteration"] == 3
    capsys.readouterr()
    assert main(["league", "--resume", str(run), "--league.agent", "alphazero"]) == 2
    assert "--league.agent cannot change on resume" in capsys.readouterr().err
    assert main(["tournament", "--game", "tictactoe", f"ppo:{run}", "random", "--games-per-pair", "2",
                 "--out", str(tmp_path / "t")]) == 0
    capsys.readouterr()
    assert main(["league", "league-ppo-tictactoe", "--torso.core", "lstm", *flags[:-2], "--log.run-dir",
                 str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("arena: error:") and "feed-forward torsos only" in err and "\n" not in err


def test_league_ppo_connect4_preset_runs(tmp_path: Path) -> None:
    cfg = LEAGUE_PRESETS["league-ppo-connect4"]()
    cfg = replace(cfg, selfplay=replace(cfg.selfplay, iterations=1, games_per_iteration=2, eval_every=0),
                  league=replace(cfg.league, snapshot_every=1),
                  log=LogConfig(run_dir=str(tmp_path), wandb="off", progress=False))
    result = run_league(cfg, tmp_path)
    assert result.iterations == 1 and result.pool == 3 and result.games == 6


def test_fixed_opponents_play_the_main_agent_and_resume_exactly(tmp_path: Path) -> None:
    fixed = {"fixed_opponents": ("random", "minimax:1"), "main_vs_fixed": 0.5, "main_pfsp": 0.0,
             "main_selfplay": 0.35}
    whole = PPOLeagueTrainer(tiny(tmp_path / "a", league=fixed))
    rows = [r for _ in range(6) for r in whole.iterate() if r["learner"] == "main0"]
    assert {r["opponent"] for r in rows if r["branch"] == "fixed"} <= {"random", "minimax:1"}
    assert any(r["branch"] == "fixed" for r in rows)
    played = [b for b in ("random", "minimax:1") if whole.payoff.games("main0", b) > 0]
    assert played and all(whole.payoff.games(b, "main_exploiter0") == 0 for b in ("random", "minimax:1"))
    assert not any(name in ("random", "minimax:1") for name in whole.pool)  # bots are never snapshotted
    split = PPOLeagueTrainer(tiny(tmp_path / "b", league=fixed))
    for _ in range(3):
        split.iterate()
    resumed = PPOLeagueTrainer(tiny(tmp_path / "b", league=fixed))
    resumed.load_state_dict(split.state_dict())
    for _ in range(3):
        resumed.iterate()
    assert resumed.payoff.state_dict() == whole.payoff.state_dict()
    assert all(torch.equal(v, whole.learners[0].net.state_dict()[k])
               for k, v in resumed.learners[0].net.state_dict().items())


@pytest.mark.parametrize(("flags", "needle"), [
    (["--league.main-vs-fixed", "0.3"], "must sum to 1"),
    (["--league.main-vs-fixed", "0.1", "--league.main-pfsp", "0.4"], "needs --league.fixed-opponents"),
    (["--league.fixed-opponents", "nobot"], "nobot"),
    (["--league.fixed-opponents", "random", "random"], "names a bot twice"),
    (["--league.fixed-opponents", "random", "--league.agent", "alphazero"], "PPO leagues only"),
])
def test_fixed_opponent_bad_input_is_one_line(flags: list[str], needle: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "bad"
    assert main(["league", "league-tictactoe", "--league.agent", "ppo", *flags, "--log.run-dir", str(run),
                 "--log.wandb", "off"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("arena: error:") and "\n" not in err and needle in err, err
    assert not (run / "checkpoints").exists()
