"""``arena league [PRESET] [overrides]`` and ``arena league --resume RUN_DIR [overrides]``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from runners.api import run_league
from runners.cli.parse import parse
from runners.cli.runs import fresh_run, new_run_dir, preset_config, split_resume, translate_runner_flags
from runners.families.common import to_dict
from runners.families.league import DEFAULT_LEAGUE_PRESET, LEAGUE_PRESETS, LeagueConfig
from runners.local import signals
from runners.local.checkpoint import CheckpointError
from runners.local.resume import check_unchanged, saved_run_config


def cmd_league(argv: Sequence[str]) -> int:
    args = translate_runner_flags(list(argv))  # --runner ray is refused in one line by the family's Ray entry
    resume, args = split_resume(args)
    if resume is not None:
        run_dir = Path(resume)
        if not (run_dir / "checkpoints" / "latest.pt").is_file() and (run_dir / "config.json").is_file():
            raise CheckpointError(f"{run_dir} holds no checkpoint to resume from")
        saved = saved_run_config(run_dir, command="league")  # config.json checked against the checkpoint's
        cfg = parse(LeagueConfig, args, "arena league --resume RUN_DIR", default=saved)
        if cfg.game != saved.game:
            raise CheckpointError(f"run {run_dir} was trained on {saved.game}; it cannot resume on {cfg.game}")
        check_unchanged(cfg, to_dict(saved))  # the learners and their networks' shapes cannot change
        return signals.exit_code(run_league(cfg, run_dir, resume=True).signum)
    cfg = preset_config(args, LEAGUE_PRESETS, DEFAULT_LEAGUE_PRESET, "league", "league preset",
                        "A league of AlphaZero or PPO learners (AlphaStar roles, PFSP) with preset '{}'; every option "
                        "below overrides it.")
    game = cfg.game.replace(":", "-").replace("(", "").replace(")", "").replace(",", "-").replace("=", "")
    run_dir = Path(cfg.log.run_dir) if cfg.log.run_dir else \
        Path("runs") / f"{cfg.preset}-{game}-seed{cfg.selfplay.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    new_run_dir(run_dir)
    return fresh_run(run_dir, lambda: run_league(cfg, run_dir).signum)
