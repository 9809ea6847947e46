"""``validate_config``: every config checked in one place, before anything is built, downloaded or created.

Ranges are declared once, beside each field, as ``typing.Annotated`` constraints (``agents.constraints``);
this module walks a (nested) config dataclass, checks each value's type against its annotation (a resumed
``config.json`` may hold ``"batch_size": "abc"``) and its constraints, and raises a one-line ``ConfigError``
naming the command-line flag (``--agent.lr must be > 0 (got -1.0)``). A few rules that need more than one
field, or the machine, follow: the torch device, Atari/MinAtar-only env options, Ray workers against the local
CPUs, self-play and league anchors, the league's opponent mix, and (``check_replay_memory``, once the env's
observation shape is known) replay RAM.
Cross-field rules that need a built env stay with their runners (``runners.local.dqn.validate_dqn``, ...).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from agents.constraints import check_fields
from agents.errors import ConfigError
from runners.families.dqn import TrainConfig
from runners.families.league import LeagueConfig
from runners.families.pg import PGTrainConfig
from runners.families.selfplay import SelfPlayConfig

# Fields the CLI also spells as shorthands (runners/cli/runs.py ``RUNNER_FLAGS``): errors use the shorthand.
_ALIASES = {"--distributed.kind": "--runner", "--distributed.num-workers": "--num-workers",
            "--distributed.ray-address": "--ray-address"}


def validate_config(cfg: Any) -> None:
    """Refuse ``cfg`` (any config or CLI-arguments dataclass, nested or not) in one line if a value is bad.

    Raises:
        ConfigError: the first bad value, naming its flag, the valid range and the value given.
    """
    check_fields(cfg, aliases=_ALIASES)
    if isinstance(cfg, TrainConfig | PGTrainConfig):
        # A Ray cluster's learner may have the GPU this machine lacks: only the device name is checked then.
        d = cfg.distributed
        _check_device(cfg.runner.device, here=d.kind == "local" or d.ray_address is None)
        _check_env_options(cfg)
    if isinstance(cfg, TrainConfig | PGTrainConfig | SelfPlayConfig | LeagueConfig):
        _check_workers(cfg)
    if isinstance(cfg, SelfPlayConfig | LeagueConfig):
        _check_anchors(cfg)
    if isinstance(cfg, LeagueConfig):
        _check_league(cfg)


# --- rules that need more than one field, or the machine -------------------------------------------------------
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def _check_device(device: str, here: bool) -> None:
    """An unknown torch device, or (``here``: the learner runs on this machine) CUDA on a machine without it,
    fails here rather than deep in torch."""
    if not _DEVICE.fullmatch(device):
        raise ConfigError(f"--runner.device must be auto, cpu, cuda, cuda:N or mps (got {device!r})")
    if not here:
        return
    import torch

    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--runner.device {device}: this machine has no CUDA device torch can use "
                              "(use --runner.device cpu or auto)")
        index = int(device.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise ConfigError(f"--runner.device {device}: this machine has {torch.cuda.device_count()} CUDA "
                              f"device(s), numbered from 0")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("--runner.device mps: this machine has no Apple MPS device (use cpu or auto)")


def _check_env_options(cfg: Any) -> None:
    """Options only one env family reads must not be set, silently unused, on another."""
    from envs.atari import atari_game

    e, default = cfg.env, type(cfg.env)()
    if atari_game(e.id) is None:
        for name in ("repeat_action_probability", "terminal_on_life_loss", "full_action_space"):
            if getattr(e, name) != getattr(default, name):
                raise ConfigError(f"--env.{name.replace('_', '-')} is an Atari option, and {e.id} is not an Atari "
                                  "env (ale:GAME, ALE/Game-v5, GameNoFrameskip-v4)")
    if e.frame_stack != default.frame_stack and not e.id.lower().startswith("minatar"):
        raise ConfigError(f"--env.frame-stack is a MinAtar option (Atari stacks its own 4 frames), and {e.id} is "
                          "not a MinAtar env")


def _check_workers(cfg: Any) -> None:
    """More Ray workers than local CPUs only oversubscribe this machine; a cluster (--ray-address) may have them."""
    d = cfg.distributed
    cpus = max(os.cpu_count() or 1, d.num_cpus or 0)  # an explicit --distributed.num-cpus is the user's call
    if d.kind == "ray" and d.ray_address is None and d.num_workers > cpus:
        raise ConfigError(f"--num-workers {d.num_workers} is more than this machine's {cpus} CPUs; use at most "
                          f"{cpus}, or join a cluster with --ray-address")


def _check_anchors(cfg: Any) -> None:
    """Self-play anchors (and the ladder of grown ones) are built at the first evaluation (or hours later): a bad
    spec must fail before the run starts."""
    from agents.bots import make_player
    from envs.games import make_game
    from runners.selfplay.anchors import check_ladder

    game = make_game(cfg.game)
    for spec in cfg.selfplay.anchors:
        make_player(spec, game, 0)  # GameError names the valid forms
    if cfg.selfplay.grow_anchors:
        check_ladder(cfg.selfplay.grow_anchors, game, cfg.selfplay.grow_start)


def _check_league(cfg: LeagueConfig) -> None:
    """The main agents' opponent mix is a distribution; a league has no gating (its pool replaces it)."""
    lg = cfg.league
    mix = (lg.main_pfsp, lg.main_selfplay, lg.main_vs_exploiters, lg.main_vs_fixed)
    if abs(sum(mix) - 1.0) > 1e-9:
        raise ConfigError(f"--league.main-pfsp + --league.main-selfplay + --league.main-vs-exploiters + "
                          f"--league.main-vs-fixed must sum to 1 (got {' + '.join(map(str, mix))} = {sum(mix):g})")
    if lg.main_vs_fixed > 0 and not lg.fixed_opponents:
        raise ConfigError("--league.main-vs-fixed needs --league.fixed-opponents (the bots to play)")
    if lg.fixed_opponents:
        if lg.agent != "ppo":
            raise ConfigError("--league.fixed-opponents takes PPO leagues only (--league.agent ppo): AlphaZero "
                              "learners play searching networks")
        if len(set(lg.fixed_opponents)) != len(lg.fixed_opponents):
            raise ConfigError(f"--league.fixed-opponents names a bot twice: {' '.join(lg.fixed_opponents)}")
        from agents.bots import make_player
        from envs.games import make_game

        game = make_game(cfg.game)
        for spec in lg.fixed_opponents:
            if spec.startswith(("alphazero:", "ppo:")):
                raise ConfigError(f"--league.fixed-opponents {spec}: bots only (random, minimax, mcts:N, ...)")
            make_player(spec, game, 0)  # GameError names the valid forms
    if cfg.selfplay.gating:
        raise ConfigError("--selfplay.gating is not used by leagues: their pool of snapshots replaces it")


def check_creatable_dir(path: Path, flag: str) -> None:
    """Refuse a directory that cannot be created (or written), without creating it.

    The nearest existing ancestor must be a directory where a file can be made: probed with a temporary
    directory removed at once, since ``os.access`` says yes to root even under /proc.
    """
    ancestor = path.absolute()
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{flag} {path}: not a directory")
    try:
        if not ancestor.is_dir():
            raise NotADirectoryError(f"{ancestor} is not a directory")
        os.rmdir(tempfile.mkdtemp(prefix=".arena-probe-", dir=ancestor))
    except OSError as e:
        raise ConfigError(f"{flag} {path}: cannot create or write it ({e.strerror or e})") from None


def check_replay_memory(capacity: int, nbytes: int) -> None:
    """Refuse a replay buffer of ``nbytes`` that cannot fit this machine's available memory.

    Called by the runners once the env's observation shape (and so ``nbytes``) is known, before allocating.
    """
    available = _available_bytes()
    if available is not None and nbytes > available:
        raise ConfigError(f"--replay.capacity {capacity:,} needs about {nbytes / 1e9:.1f} GB of memory, and this "
                          f"machine has {available / 1e9:.1f} GB available; lower --replay.capacity")


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
