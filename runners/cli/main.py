"""The ``arena`` command: dispatch to one module per command (runners/cli/<command>.py).

Every user mistake ends in a one-line ``arena: error: ...`` on stderr and exit code 2.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from runners.local import signals

# When this module is the program (``arena``, ``python -m runners.cli``), a SIGINT/SIGTERM during the imports
# below (tyro, and torch through runners.local.checkpoint: seconds) ends it in one line with 130/143, not with -15
# and nothing said; main() then takes over.
if __name__ == "__main__" or Path(sys.argv[0]).name == "arena":
    signals.install_startup()

import importlib  # noqa: E402

from agents.errors import ConfigError, RunAbortedError  # noqa: E402
from envs import EnvIdError, UnsupportedEnvError  # noqa: E402
from envs.games.base import GameError  # noqa: E402
from replay.demos import DemosError  # noqa: E402
from runners.cli.parse import UsageError  # noqa: E402
from runners.local.checkpoint import CheckpointError  # noqa: E402
from runners.local.plot import PlotError  # noqa: E402

USAGE = """usage: arena COMMAND [ARGS]

commands:
  train [PRESET] [overrides]   train an agent (default preset: dqn-cartpole); --resume RUN_DIR continues a run
  eval CHECKPOINT              evaluate a checkpoint (run directory or .pt file)
  presets                      list the presets
  plot RUN_DIR...              plot learning curves of one or more runs to a PNG
  selfplay [PRESET] [overrides]  AlphaZero self-play (default: alphazero-tictactoe); --resume RUN_DIR continues
  league [PRESET] [overrides]  an AlphaZero league, one process (default: league-tictactoe); --resume RUN_DIR
  exploit TARGET [PRESET]      train a fresh exploiter against a frozen agent; --resume RUN_DIR continues
  tournament --game G PLAYER...  round robin between bots and checkpoints, Elo ratings with 95% CIs
  play --game G PLAYER         play a bot in the terminal
  record CHECKPOINT --out NAME record expert episodes as a local Minari dataset (for --demos)

`arena COMMAND --help` shows the options of a command."""


def _command(module: str, name: str) -> Callable[[Sequence[str]], int]:
    """The command ``runners.cli.<module>.<name>``, imported when it runs (``arena --help`` stays fast)."""
    def run(argv: Sequence[str]) -> int:
        fn: Callable[[Sequence[str]], int] = getattr(importlib.import_module(f"runners.cli.{module}"), name)
        return fn(argv)
    return run


COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "train": _command("train", "cmd_train"), "eval": _command("evaluate", "cmd_eval"),
    "presets": _command("presets", "cmd_presets"), "plot": _command("plot", "cmd_plot"),
    "selfplay": _command("selfplay", "cmd_selfplay"), "league": _command("league", "cmd_league"),
    "exploit": _command("exploit", "cmd_exploit"), "tournament": _command("tournament", "cmd_tournament"),
    "play": _command("play", "cmd_play"), "record": _command("record", "cmd_record"),
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
        signals.answered()
        print(f"arena: stopped by {signals.name(e.signum)}", file=sys.stderr)
        return signals.exit_code(e.signum)
    except KeyboardInterrupt:
        print("arena: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
