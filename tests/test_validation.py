"""Every bad value of the fuzzed command lines is refused in one line (exit 2), before a run directory exists.

The values come from a fuzz of 227 command lines that gave tracebacks or were silently accepted; ranges are
declared on the config fields (``agents.constraints``) and checked by ``runners.local.validation.validate_config``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest
import torch

from agents.constraints import AllowInf, Ge, Interval, MinLen
from agents.errors import ConfigError
from runners.cli.main import main
from runners.families.registry import PRESETS
from runners.families.selfplay import SELFPLAY_PRESETS, alphazero_tictactoe
from runners.local.validation import check_fields, validate_config

NO_BOX2D = importlib.util.find_spec("Box2D") is None


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``arena ARGV``; assert exit code 2 and exactly one ``arena: error:`` line on stderr."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("arena: error:") and err.count("\n") == 1, err
    return err


TRAIN = [
    (["--env.num-envs", "0"], "--env.num-envs must be in [1, 4096] (got 0)"),
    (["--env.num-envs", "-2"], "--env.num-envs"),
    (["--env.num-envs", "100000"], "--env.num-envs"),
    (["--replay.capacity", "0"], "--replay.capacity"),
    (["--replay.capacity", "-100"], "--replay.capacity"),
    (["--replay.capacity", "1e14"], "--replay.capacity"),
    (["--replay.capacity", "100000000000000"], "--replay.capacity must be in [1, 1e9]"),
    (["--agent.lr", "-1"], "--agent.lr must be > 0 (got -1.0)"),
    (["--agent.lr", "nan"], "--agent.lr must be a finite number (got nan)"),
    (["--agent.lr", "0"], "--agent.lr must be > 0"),
    (["--agent.lr", "inf"], "--agent.lr must be a finite number"),
    (["--agent.gamma", "1.5"], "--agent.gamma must be in [0, 1]"),
    (["--agent.gamma", "-0.1"], "--agent.gamma"),
    (["--agent.gamma", "nan"], "--agent.gamma"),
    (["--agent.target-update-period", "0"], "--agent.target-update-period"),
    (["--agent.priority-exponent", "-1"], "--agent.priority-exponent must be >= 0"),
    (["--agent.beta-start", "nan"], "--agent.beta-start"),
    (["--torso.hidden", "-5"], "--torso.hidden"),
    (["--torso.hidden", "0"], "--torso.hidden"),
    (["--torso.hidden", "64", "0"], "--torso.hidden"),
    (["--runner.device", "tpu"], "--runner.device must be auto, cpu, cuda, cuda:N or mps"),
    (["--agent.epsilon-start", "-0.5"], "--agent.epsilon-start"),
    (["--agent.epsilon-end", "1.5"], "--agent.epsilon-end"),
    (["--runner.eval-epsilon", "2"], "--runner.eval-epsilon"),
    (["--agent.max-grad-norm", "-1"], "--agent.max-grad-norm"),
    (["--agent.noisy-sigma0", "-1"], "--agent.noisy-sigma0"),
    (["--replay.checkpoint-budget-gb", "-1"], "--replay.checkpoint-budget-gb"),
    (["--replay.checkpoint-budget-gb", "nan"], "--replay.checkpoint-budget-gb"),
    (["--runner.checkpoint-every", "-5"], "--runner.checkpoint-every"),
    (["--runner.total-steps", "-100"], "--runner.total-steps"),
    (["--runner.total-steps", "1e23"], "--runner.total-steps"),
    (["--runner.total-steps", str(10**23)], "--runner.total-steps"),
    (["--runner.torch-threads", "-1"], "--runner.torch-threads"),
    (["--runner.target-return", "nan"], "--runner.target-return"),
    (["--runner.seed", "-1"], "--runner.seed"),
    (["--log.log-every", "0"], "--log.log-every"),
    (["--env.frame-stack", "0"], "--env.frame-stack"),
    (["--env.frame-stack", "4"], "--env.frame-stack is a MinAtar option"),
    (["--env.repeat-action-probability", "1.5"], "--env.repeat-action-probability"),
    (["--env.repeat-action-probability", "0.25"], "is an Atari option"),
    (["--env.full-action-space"], "is an Atari option"),
    (["--runner", "ray", "--distributed.learner-cpus", "-1"], "--distributed.learner-cpus must be > 0"),
    (["ppo-cartpole", "--net.log-std-init", "nan"], "--net.log-std-init"),
    (["ppo-cartpole", "--ppo.clip", "0"], "--ppo.clip"),
    (["ppo-cartpole", "--runner.checkpoint-every", "-1"], "--runner.checkpoint-every"),
    (["reinforce-cartpole", "--reinforce.gamma", "2"], "--reinforce.gamma"),
]


@pytest.mark.parametrize("args,message", TRAIN, ids=[" ".join(a) for a, _ in TRAIN])
def test_train_refuses_in_one_line(args: list[str], message: str, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    err = one_line_error(capsys, ["train", *args, "--log.run-dir", str(run), "--log.wandb", "off"])
    assert message in err
    assert not run.exists()


def test_cuda_without_cuda(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    err = one_line_error(capsys, ["train", "--runner.device", "cuda", "--log.run-dir", str(tmp_path / "run")])
    assert "no CUDA device" in err and not (tmp_path / "run").exists()


@pytest.mark.skipif((os.cpu_count() or 1) >= 500, reason="this machine has 500 CPUs")
def test_more_ray_workers_than_cpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = one_line_error(capsys, ["train", "--runner", "ray", "--num-workers", "500",
                                  "--log.run-dir", str(tmp_path / "run")])
    assert "--num-workers 500 is more than this machine's" in err and not (tmp_path / "run").exists()


@pytest.mark.skipif(not NO_BOX2D, reason="Box2D is installed")
@pytest.mark.parametrize("env_id", ["LunarLander-v3", "CarRacing-v3"])
def test_box2d_envs_name_the_pip_extra(env_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = one_line_error(capsys, ["train", "--env.id", env_id, "--log.run-dir", str(tmp_path / "run"),
                                  "--log.wandb", "off"])
    assert "pip install 'gymnasium[box2d]'" in err and not (tmp_path / "run").exists()


def test_replay_that_cannot_fit_memory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 1e9 MinAtar transitions (10x10x4 bytes, stored twice) need about 450 GB.
    err = one_line_error(capsys, ["train", "dqn-minatar", "--replay.capacity", "1000000000",
                                  "--log.run-dir", str(tmp_path / "run"), "--log.wandb", "off"])
    assert "--replay.capacity 1,000,000,000 needs about" in err and not (tmp_path / "run").exists()


SELFPLAY = [
    (["--selfplay.games-per-iteration", "0"], "--selfplay.games-per-iteration"),
    (["--selfplay.replay-window", "0"], "--selfplay.replay-window"),
    (["--agent.lr", "-1"], "--agent.lr must be > 0"),
    (["--mcts.c-puct", "nan"], "--mcts.c-puct"),
    (["--mcts.num-simulations", "0"], "--mcts.num-simulations"),
    (["--selfplay.anchors", "mcts:abc"], "bad player 'mcts:abc'"),
    (["--selfplay.anchors", "nobody"], "unknown player 'nobody'"),
    (["--selfplay.seed", "-1"], "--selfplay.seed"),
    (["--selfplay.gate-win-rate", "1.5"], "--selfplay.gate-win-rate"),
]


@pytest.mark.parametrize("args,message", SELFPLAY, ids=[" ".join(a) for a, _ in SELFPLAY])
def test_selfplay_refuses_in_one_line(args: list[str], message: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    err = one_line_error(capsys, ["selfplay", *args, "--log.run-dir", str(run), "--log.wandb", "off"])
    assert message in err
    assert not run.exists()


OTHERS = [
    (["eval", "ckpt", "--epsilon", "2"], "--epsilon must be in [0, 1] (got 2.0)"),
    (["eval", "ckpt", "--epsilon", "nan"], "--epsilon must be a finite number"),
    (["eval", "ckpt", "--episodes", "0"], "--episodes"),
    (["plot"], "RUN_DIRS must not be empty"),
    (["plot", "run", "--window", "0"], "--window"),
    (["plot", "run", "--window", "-5"], "--window"),
    (["record", "ckpt", "--out", ""], "--out must not be empty"),
    (["record", "ckpt", "--out", "x", "--root", "/proc/nope"], "--root /proc/nope: cannot create"),
    (["tournament", "--game", "tictactoe", "random", "minimax", "--seed", "-1"], "--seed"),
    (["tournament", "--game", "tictactoe", "random", "minimax", "--anchor", "nobody"], "--anchor nobody"),
    (["tournament", "--game", "tictactoe", "random", "minimax", "--games-per-pair", "0"], "--games-per-pair"),
    (["play", "--game", "tictactoe", "random", "--seed", "-3"], "--seed"),
]


@pytest.mark.parametrize("args", [a for a, _ in OTHERS], ids=[" ".join(a) for a, _ in OTHERS])
def test_other_commands_refuse_in_one_line(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    message = dict((tuple(a), m) for a, m in OTHERS)[tuple(args)]
    assert message in one_line_error(capsys, args)
    assert list(tmp_path.iterdir()) == []  # no run, tournament, dataset or plot was created


def test_plot_refuses_a_missing_output_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "nonexistent" / "dir" / "x.png"
    err = one_line_error(capsys, ["plot", str(tmp_path), "--out", str(out)])
    assert "does not exist" in err and not (tmp_path / "nonexistent").exists()


def test_plot_refuses_a_selfplay_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = [{"kind": "iteration", "iteration": 1, "games": 64, "time": 0.1},
               {"kind": "eval", "iteration": 1, "elo": 0.0, "time": 0.2}]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    err = one_line_error(capsys, ["plot", str(tmp_path), "--out", str(tmp_path / "x.png")])
    assert "is a self-play run" in err and "elo_curve.png" in err and not (tmp_path / "x.png").exists()


def test_play_with_stdin_closed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", None)
    assert "stdin, which is closed" in one_line_error(capsys, ["play", "--game", "tictactoe", "random"])


# --- the Python API and resumes go through the same check ------------------------------------------------------
def test_train_and_run_selfplay_validate_first(tmp_path: Path) -> None:
    from runners.api import run_selfplay, train

    cfg = PRESETS["dqn-cartpole"]()
    with pytest.raises(ConfigError, match="--agent.lr"):
        train(dataclasses.replace(cfg, agent=dataclasses.replace(cfg.agent, lr=float("nan"))), tmp_path / "a")
    sp = alphazero_tictactoe()
    with pytest.raises(ConfigError, match="--selfplay.replay-window"):
        run_selfplay(dataclasses.replace(sp, selfplay=dataclasses.replace(sp.selfplay, replay_window=0)),
                     tmp_path / "b")
    assert list(tmp_path.iterdir()) == []


def test_types_are_checked_as_well_as_ranges() -> None:
    cfg = PRESETS["dqn-cartpole"]()
    bad: dict[str, Any] = {"batch_size": "abc"}
    with pytest.raises(ConfigError, match=r"--agent.batch-size must be an integer \(got 'abc'\)"):
        validate_config(dataclasses.replace(cfg, agent=dataclasses.replace(cfg.agent, **bad)))
    with pytest.raises(ConfigError, match="--agent.double must be true or false"):
        validate_config(dataclasses.replace(cfg, agent=dataclasses.replace(cfg.agent, double=1)))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="--agent.loss must be one of 'huber', 'mse'"):
        validate_config(dataclasses.replace(cfg, agent=dataclasses.replace(cfg.agent, loss="l1")))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="--torso.hidden must be a list of integers"):
        validate_config(dataclasses.replace(cfg, torso=dataclasses.replace(cfg.torso, hidden=[64])))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="--runner.target-return must be a number or None"):
        validate_config(dataclasses.replace(cfg, runner=dataclasses.replace(cfg.runner, target_return="x")))  # type: ignore[arg-type]
    # JSON writes 2.0 as 2: an int is a fine float.
    validate_config(dataclasses.replace(cfg, agent=dataclasses.replace(cfg.agent, gamma=1)))


def test_a_resumed_config_json_is_type_checked() -> None:
    from runners.families.common import from_dict, to_dict
    from runners.families.dqn import TrainConfig

    data = to_dict(PRESETS["dqn-cartpole"]())
    data["agent"]["batch_size"] = "abc"
    with pytest.raises(ConfigError, match="--agent.batch-size must be an integer"):
        validate_config(from_dict(TrainConfig, json.loads(json.dumps(data))))


@dataclasses.dataclass(frozen=True)
class _Markers:
    timeout: Annotated[float, Ge(0), AllowInf] = 1.0
    names: Annotated[tuple[str, ...], MinLen(1)] = ("a",)
    rate: Annotated[float, Interval(gt=0, lt=1)] | None = None


def test_markers() -> None:
    check_fields(_Markers(timeout=math.inf))
    check_fields(_Markers(rate=0.5))
    for bad, message in [(_Markers(timeout=math.nan), "--timeout must be a finite number"),
                         (_Markers(timeout=-math.inf), "--timeout must be >= 0"),
                         (_Markers(names=()), "--names must not be empty"),
                         (_Markers(rate=1.0), r"--rate must be in \(0, 1\) \(got 1.0\)")]:
        with pytest.raises(ConfigError, match=message):
            check_fields(bad)


def test_every_preset_validates() -> None:
    for name, preset in {**PRESETS, **SELFPLAY_PRESETS}.items():
        try:
            validate_config(preset())
        except ConfigError as e:  # a preset outside the declared ranges means a range is wrong
            raise AssertionError(f"preset {name}: {e}") from None


def test_tyro_still_shows_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["train", "--help"])
    assert e.value.code == 0 and "--agent.lr FLOAT" in capsys.readouterr().out

