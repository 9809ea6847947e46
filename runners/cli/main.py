"""The ``arena`` command line: train, eval, presets, plot.

Every user mistake ends in a one-line ``arena: error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

from runners import signals

# When this module is the program (``arena``, ``python -m runners.cli``), a SIGINT/SIGTERM during the imports
# below (tyro, and torch through runners.checkpoint: seconds) ends it in one line with 130/143, not with -15
# and nothing said; main() then takes over.
if __name__ == "__main__" or Path(sys.argv[0]).name == "arena":
    signals.install_startup()

import tyro

from agents.constraints import MAX_COUNT, MAX_SEED, Interval, MinLen
from agents.errors import ConfigError, RunAbortedError
from envs import EnvIdError, UnsupportedEnvError
from envs.games.base import GameError
from replay.demos import DemosError
from runners.checkpoint import CheckpointError
from runners.plot import PlotError
from runners.validation import validate_config

T = TypeVar("T")
USAGE = """usage: arena COMMAND [ARGS]

commands:
  train [PRESET] [overrides]   train an agent (default preset: dqn-cartpole); --resume RUN_DIR continues a run
  eval CHECKPOINT              evaluate a checkpoint (run directory or .pt file)
  presets                      list the presets
  plot RUN_DIR...              plot learning curves of one or more runs to a PNG
  selfplay [PRESET] [overrides]  AlphaZero self-play (default: alphazero-tictactoe); --resume RUN_DIR continues
  tournament --game G PLAYER...  round robin between bots and checkpoints, Elo ratings with 95% CIs
  play --game G PLAYER         play a bot in the terminal
  record CHECKPOINT --out NAME record expert episodes as a local Minari dataset (for --demos)

`arena COMMAND --help` shows the options of a command."""


class UsageError(ValueError):
    pass


def parse(cls: Callable[..., T], args: Sequence[str], prog: str, default: Any = None,
          description: str | None = None) -> T:
    """tyro parsing whose errors become a UsageError carrying tyro's one-line reason; the parsed dataclass is
    then checked against its fields' declared ranges (``runners.validation``), so every command refuses a bad
    value in one line before it builds or creates anything."""
    err = io.StringIO()
    kwargs: dict[str, Any] = {"args": list(args), "prog": prog, "description": description}
    if default is not None:
        kwargs["default"] = default
    try:
        with contextlib.redirect_stderr(err):
            parsed = tyro.cli(cls, **kwargs)
    except SystemExit as e:
        if e.code in (0, None):
            raise
        raise UsageError(_one_line(err.getvalue()) + f" (see {prog} --help)") from None
    validate_config(parsed)
    return parsed


def _one_line(text: str) -> str:
    """The reason line of tyro's error box (drawn with unicode, ASCII or no borders at all).

    The box title (``Value error``, ``Unrecognized options``) is skipped in favour of the first
    line that carries a reason (``Error parsing --agent.lr: ...``).
    """
    lines = []
    for line in text.splitlines():
        clean = line.strip().strip("│|╭╮╰╯").strip()
        if clean and not set(clean) <= set("─-+ ") and not clean.startswith("usage"):
            lines.append(re.sub(r"\s+", " ", clean))
    reasons = [line for line in lines if ":" in line and "helptext" not in line]
    return reasons[0] if reasons else (lines[0] if lines else "invalid arguments")


@dataclass(frozen=True)
class EvalArgs:
    """Evaluate a checkpoint on fresh, seeded episodes."""

    checkpoint: tyro.conf.Positional[str]
    """Run directory or checkpoint file."""
    episodes: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 10
    """Number of episodes."""
    epsilon: Annotated[float, Interval(ge=0, le=1)] = 0.0
    """Exploration epsilon (0: greedy)."""
    seed: Annotated[int, Interval(ge=0, le=MAX_SEED)] = 12345
    """Seed of the evaluation episodes."""
    video: bool = False
    """Also record one episode as an mp4 next to the checkpoint."""
    env_id: str | None = None
    """Evaluate on this env id instead of the one in the checkpoint (must match its spaces)."""
    max_steps: int | None = None
    """Cut an episode after this many agent steps and count it as truncated (default: the run's
    --runner.eval-max-steps, 27,000 unless set)."""
    progress: bool = True
    """Show the episodes and steps done so far on stderr."""


@dataclass(frozen=True)
class PlotArgs:
    """Plot learning curves (training returns smoothed, evaluation mean ± std) to a PNG."""

    run_dirs: tyro.conf.Positional[Annotated[tuple[str, ...], MinLen(1)]]
    """One or more run directories."""
    out: Annotated[str, MinLen(1)] = "learning_curves.png"
    """Output PNG path (its directory must exist)."""
    title: str | None = None
    """Plot title."""
    window: Annotated[int, Interval(ge=1, le=MAX_COUNT)] = 20
    """Smoothing window (episodes) for training returns."""


def cmd_presets(args: Sequence[str]) -> int:
    from runners.presets import DEFAULT_PRESET, PRESETS, describe
    from runners.selfplay_config import DEFAULT_SELFPLAY_PRESET, SELFPLAY_PRESETS

    if args:
        raise UsageError("arena presets takes no arguments")
    width = max(map(len, [*PRESETS, *SELFPLAY_PRESETS]))
    print("arena train PRESET:")
    for name in PRESETS:
        mark = " (default)" if name == DEFAULT_PRESET else ""
        print(f"  {name:<{width}}  {describe(name)}{mark}")
    print("arena selfplay PRESET:")
    for name, fn in SELFPLAY_PRESETS.items():
        mark = " (default)" if name == DEFAULT_SELFPLAY_PRESET else ""
        print(f"  {name:<{width}}  {(fn.__doc__ or '').strip().splitlines()[0]}{mark}")
    return 0


def _split_resume(args: list[str]) -> tuple[str | None, list[str]]:
    for i, a in enumerate(args):
        if a == "--resume":
            if i + 1 >= len(args):
                raise UsageError("--resume needs a run directory")
            return args[i + 1], args[:i] + args[i + 2:]
        if a.startswith("--resume="):
            return a.split("=", 1)[1], args[:i] + args[i + 1:]
    return None, args


# The spelling of the Ray runner's main flags, as shorthands for their --distributed.* fields
# (``--runner.*`` stays the nested RunnerConfig; a bare ``--runner`` is free).
_RUNNER_FLAGS = {"--runner": "--distributed.kind", "--num-workers": "--distributed.num-workers",
                 "--ray-address": "--distributed.ray-address"}


def _translate_runner_flags(args: list[str]) -> list[str]:
    """``--runner ray``, ``--num-workers N``, ``--ray-address X`` (also ``--flag=value``) to tyro's spelling."""
    out = []
    for a in args:
        flag, eq, value = a.partition("=")
        out.append(_RUNNER_FLAGS[flag] + eq + value if flag in _RUNNER_FLAGS else a)
    return out


def _runner_flags(args: list[str]) -> list[str]:
    """``_translate_runner_flags`` for ``arena train``, which points self-play presets to ``arena selfplay``."""
    out = _translate_runner_flags(args)
    if out and not out[0].startswith("-") and any(a.startswith("--distributed.kind") for a in out):
        from runners.selfplay_config import SELFPLAY_PRESETS

        if out[0] in SELFPLAY_PRESETS:
            raise ConfigError(f"'{out[0]}' is an AlphaZero self-play preset, and self-play does not run on Ray "
                              f"through arena train: use arena selfplay {out[0]} --runner ray")
    return out


def cmd_train(argv: Sequence[str]) -> int:
    from runners.presets import DEFAULT_PRESET, PRESETS, AnyTrainConfig
    from runners.resume import saved_run_config
    from runners.train import default_run_dir, train

    args = _runner_flags(list(argv))
    resume, args = _split_resume(args)
    if resume is not None:
        run_dir = Path(resume)
        # config.json checked against the checkpoint's own config; train() refuses overrides of the network.
        saved = saved_run_config(run_dir)
        resumed = cast(AnyTrainConfig, parse(type(saved), args, "arena train --resume RUN_DIR", default=saved))
        if resumed.env.id != saved.env.id:
            raise CheckpointError(f"run {run_dir} was trained on {saved.env.id}; it cannot resume on "
                                  f"{resumed.env.id}")
        return signals.exit_code(train(resumed, run_dir, resume=True).signum)
    preset = DEFAULT_PRESET
    if args and not args[0].startswith("-"):
        preset = args.pop(0)
    if preset not in PRESETS:
        close = difflib.get_close_matches(preset, PRESETS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see arena presets"
        raise UsageError(f"unknown preset '{preset}'{hint}")
    default: AnyTrainConfig = PRESETS[preset]()
    # Each family parses with its own config class, so --help lists exactly the preset's options.
    cfg = cast(AnyTrainConfig, parse(type(default), args, f"arena train {preset}", default=default,
                                     description=f"Train with preset '{preset}'; every option below overrides it."))
    if cfg.preset != preset:
        raise UsageError("--preset cannot be overridden; give the preset name as the first argument")
    run_dir = Path(cfg.log.run_dir) if cfg.log.run_dir else default_run_dir(cfg)
    if (run_dir / "checkpoints").exists():
        raise UsageError(f"{run_dir} already holds a run; use --resume {run_dir} or another --log.run-dir")
    return _fresh_run(run_dir, lambda: train(cfg, run_dir).signum)


def cmd_eval(argv: Sequence[str]) -> int:
    from runners.evaluate_cli import evaluate_checkpoint

    a = parse(EvalArgs, argv, "arena eval")
    return evaluate_checkpoint(Path(a.checkpoint), a.episodes, a.epsilon, a.seed, a.video, a.env_id,
                               max_steps=a.max_steps, progress=a.progress)


def cmd_plot(argv: Sequence[str]) -> int:
    from runners.plot import plot_runs

    a = parse(PlotArgs, argv, "arena plot")
    if not Path(a.out).parent.is_dir():  # a typo'd path must not leave new directories behind
        raise UsageError(f"--out {a.out}: directory {Path(a.out).parent} does not exist")
    out = plot_runs([Path(d) for d in a.run_dirs], Path(a.out), a.title, a.window)
    print(out)
    return 0


def cmd_selfplay(argv: Sequence[str]) -> int:
    from runners.config import to_dict
    from runners.resume import check_unchanged, saved_run_config
    from runners.selfplay_config import DEFAULT_SELFPLAY_PRESET, SELFPLAY_PRESETS, SelfPlayConfig
    from runners.selfplay_run import run_selfplay

    args = _translate_runner_flags(list(argv))  # --runner ray, --num-workers N, --ray-address X as in train
    resume, args = _split_resume(args)
    if resume is not None:
        run_dir = Path(resume)
        if not (run_dir / "checkpoints" / "latest.pt").is_file() and (run_dir / "config.json").is_file():
            raise CheckpointError(f"{run_dir} holds no checkpoint to resume from")
        saved = saved_run_config(run_dir, selfplay=True)  # config.json checked against the checkpoint's config
        cfg = parse(SelfPlayConfig, args, "arena selfplay --resume RUN_DIR", default=saved)
        if cfg.game != saved.game:
            raise CheckpointError(f"run {run_dir} was trained on {saved.game}; it cannot resume on {cfg.game}")
        check_unchanged(cfg, to_dict(saved))  # before Ray workers start: the network's shape cannot change
        return signals.exit_code(run_selfplay(cfg, run_dir, resume=True).signum)
    preset = DEFAULT_SELFPLAY_PRESET
    if args and not args[0].startswith("-"):
        preset = args.pop(0)
    if preset not in SELFPLAY_PRESETS:
        close = difflib.get_close_matches(preset, SELFPLAY_PRESETS, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see arena presets"
        raise UsageError(f"unknown self-play preset '{preset}'{hint}")
    cfg = parse(SelfPlayConfig, args, f"arena selfplay {preset}", default=SELFPLAY_PRESETS[preset](),
                description=f"AlphaZero self-play with preset '{preset}'; every option below overrides it.")
    if cfg.preset != preset:
        raise UsageError("--preset cannot be overridden; give the preset name as the first argument")
    game = cfg.game.replace(":", "-").replace("(", "").replace(")", "").replace(",", "-").replace("=", "")
    run_dir = Path(cfg.log.run_dir) if cfg.log.run_dir else \
        Path("runs") / f"{cfg.preset}-{game}-seed{cfg.selfplay.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    if (run_dir / "checkpoints").exists():
        raise UsageError(f"{run_dir} already holds a run; use --resume {run_dir} or another --log.run-dir")
    return _fresh_run(run_dir, lambda: run_selfplay(cfg, run_dir).signum)


def _fresh_run(run_dir: Path, go: Callable[[], int | None]) -> int:
    """Exit code of a new run (``go`` returns the signal that stopped it); a signal before its first checkpoint
    (while Ray, wandb or the envs start) leaves no half-made run directory behind."""
    created = not run_dir.exists()
    try:
        return signals.exit_code(go())
    except KeyboardInterrupt:
        if created:
            signals.discard_unsaved(run_dir)
        raise


def cmd_tournament(argv: Sequence[str]) -> int:
    from runners.tournament import cmd_tournament as run

    return run(argv)


def cmd_record(argv: Sequence[str]) -> int:
    from runners.record import cmd_record as run

    return run(argv)


def cmd_play(argv: Sequence[str]) -> int:
    from runners.play import cmd_play as run

    return run(argv)


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "train": cmd_train, "eval": cmd_eval, "presets": cmd_presets, "plot": cmd_plot,
    "selfplay": cmd_selfplay, "tournament": cmd_tournament, "play": cmd_play, "record": cmd_record,
}


def main(argv: Sequence[str] | None = None) -> int:
    signals.install()  # a signal raises SignalExit (130 / 143 below) until a run loop defers it to a checkpoint
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    cmd, rest = args[0], args[1:]
    try:
        if cmd not in COMMANDS:
            close = difflib.get_close_matches(cmd, COMMANDS, n=1)
            raise UsageError(f"unknown command '{cmd}'" + (f"; did you mean {close[0]}?" if close else "")
                             + "; see arena --help")
        return COMMANDS[cmd](rest)
    except (UsageError, ConfigError, EnvIdError, UnsupportedEnvError, CheckpointError, PlotError, GameError,
            DemosError) as e:
        print(f"arena: error: {e}", file=sys.stderr)
        return 2
    except RunAbortedError as e:
        print(f"arena: error: {e}", file=sys.stderr)
        return 1
    except signals.SignalExit as e:  # before a run loop (nothing saved) or after its checkpoint
        print(f"arena: stopped by {signals.name(e.signum)}", file=sys.stderr)
        return signals.exit_code(e.signum)
    except KeyboardInterrupt:
        print("arena: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
