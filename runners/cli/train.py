"""``arena train [PRESET] [overrides]`` and ``arena train --resume RUN_DIR [overrides]``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

from runners.api import train
from runners.cli.parse import parse
from runners.cli.runs import fresh_run, new_run_dir, preset_config, runner_flags, split_resume
from runners.families.registry import DEFAULT_PRESET, PRESETS, AnyTrainConfig
from runners.local import signals
from runners.local.checkpoint import CheckpointError
from runners.local.resume import saved_run_config
from runners.local.train import default_run_dir


def cmd_train(argv: Sequence[str]) -> int:
    args = runner_flags(list(argv))
    resume, args = split_resume(args)
    if resume is not None:
        run_dir = Path(resume)
        # config.json checked against the checkpoint's own config; train() refuses overrides of the network.
        saved = saved_run_config(run_dir)
        resumed = cast(AnyTrainConfig, parse(type(saved), args, "arena train --resume RUN_DIR", default=saved))
        if resumed.env.id != saved.env.id:
            raise CheckpointError(f"run {run_dir} was trained on {saved.env.id}; it cannot resume on "
                                  f"{resumed.env.id}")
        return signals.exit_code(train(resumed, run_dir, resume=True).signum)
    cfg = cast(AnyTrainConfig, preset_config(args, PRESETS, DEFAULT_PRESET, "train", "preset",
                                             "Train with preset '{}'; every option below overrides it."))
    run_dir = new_run_dir(Path(cfg.log.run_dir) if cfg.log.run_dir else default_run_dir(cfg))
    return fresh_run(run_dir, lambda: train(cfg, run_dir).signum)
