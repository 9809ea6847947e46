"""Trained networks as tournament / ``arena play`` players: AlphaZero (MCTS over the network, greedy) and a PPO
league's main agent (its masked policy, greedy or sampled)."""

from __future__ import annotations

from pathlib import Path

from agents.alphazero.evaluator import NetworkEvaluator
from agents.alphazero.network import build_policy_value_net
from agents.bots import SPEC_FORMS, make_player
from agents.bots.base import Player
from agents.bots.mcts_bot import MCTSPlayer
from agents.ppo.games import PPOPlayer, build_game_network
from envs.games.base import Game, GameError
from runners.families.common import from_dict
from runners.families.league import LeagueConfig
from runners.families.selfplay import SelfPlayConfig
from runners.local.checkpoint import CHECKPOINT_DIR, LATEST, MODEL, CheckpointError, load
from runners.selfplay.checkpoint import load_selfplay_checkpoint


def load_player(path: Path, game: Game, simulations: int | None, seed: int) -> MCTSPlayer:
    """Load ``path`` (a self-play run directory or checkpoint) for ``game``, searching ``simulations`` per move
    (None: the run's evaluation simulations).

    Raises:
        GameError: the checkpoint was trained on another game.
        CheckpointError: no readable self-play checkpoint at ``path``.
    """
    ckpt = load_selfplay_checkpoint(path)
    cfg: SelfPlayConfig = from_dict(SelfPlayConfig, ckpt["config"])
    trained_on = ckpt.get("game") or ckpt["trainer"]["game"]
    if trained_on != game.name:
        raise GameError(f"checkpoint {path} was trained on {trained_on}, not {game.name}")
    net = build_policy_value_net(game, cfg.torso, cfg.agent.value_hidden)
    weights = ckpt["model"] if "model" in ckpt else ckpt["trainer"]["learner"]["network"]
    try:
        net.load_state_dict(weights)
    except RuntimeError:
        raise CheckpointError(f"{path}: weights do not fit the network its config describes") from None
    net.eval()
    # Greedy play searches as the run's evaluations did (--selfplay.eval-simulations), else as self-play did.
    sims = simulations or cfg.selfplay.eval_simulations or cfg.mcts.num_simulations
    return MCTSPlayer(game, sims, NetworkEvaluator(net), seed, name=f"alphazero:{Path(path).name}:{sims}")


PPO_MODEL_FORMAT = "arena-league-ppo-model-1"
"""A PPO league's ``model.pt``: the first main agent's actor-critic and the league config."""


def load_ppo_player(path: Path, game: Game, seed: int, greedy: bool = True) -> PPOPlayer:
    """Load the first main agent of the PPO league at ``path`` (run directory, ``model.pt`` or ``latest.pt``).

    Raises:
        GameError: the league played another game.
        CheckpointError: no readable PPO league checkpoint at ``path``.
    """
    candidates = [path / CHECKPOINT_DIR / MODEL, path / CHECKPOINT_DIR / LATEST] if path.is_dir() else [path]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise CheckpointError(f"no PPO league checkpoint found at {path}")
    ckpt = load(found)
    trainer = ckpt.get("trainer") if isinstance(ckpt, dict) else None
    if isinstance(ckpt, dict) and ckpt.get("format") == PPO_MODEL_FORMAT:
        weights, trained_on = ckpt["model"], ckpt["game"]
    elif isinstance(trainer, dict) and trainer.get("agent") == "ppo":  # latest.pt: the first learner is main0
        weights, trained_on = trainer["learners"][0]["agent"]["learner"]["network"], trainer["game"]
    else:
        raise CheckpointError(f"{found} is not a PPO league checkpoint")
    if trained_on != game.name:
        raise GameError(f"checkpoint {path} was trained on {trained_on}, not {game.name}")
    cfg: LeagueConfig = from_dict(LeagueConfig, ckpt["config"])
    net = build_game_network(game, cfg.net, cfg.torso)
    try:
        net.load_state_dict(weights)
    except RuntimeError:
        raise CheckpointError(f"{path}: weights do not fit the network its config describes") from None
    return PPOPlayer(net, seed, greedy, name=f"ppo:{Path(path).name}{'' if greedy else ':sample'}")


def resolve_player(spec: str, game: Game, seed: int) -> Player:
    """``make_player`` plus ``alphazero:CHECKPOINT[:SIMS]`` (a trained network searching with MCTS) and
    ``ppo:CHECKPOINT[:sample]`` (a PPO league's main agent: its most likely legal move, or sampled).

    Raises:
        GameError: a bad spec, or a checkpoint that cannot play ``game``.
    """
    if spec.startswith("ppo:"):
        path, sampled = spec[len("ppo:"):], False
        if path.endswith(":sample"):
            path, sampled = path[:-len(":sample")], True
        if not path:
            raise GameError(f"bad player '{spec}': give a checkpoint, ppo:CHECKPOINT[:sample]; "
                            f"valid players: {SPEC_FORMS}")
        return load_ppo_player(Path(path), game, seed, greedy=not sampled)
    if spec.startswith("alphazero:"):
        rest = spec[len("alphazero:"):]
        path, sep, sims = rest.rpartition(":")
        if not (sep and sims.isdigit()):
            path, sims = rest, ""
        if not path:
            raise GameError(f"bad player '{spec}': give a checkpoint, alphazero:CHECKPOINT[:SIMS]; "
                            f"valid players: {SPEC_FORMS}")
        if sims and int(sims) < 1:
            raise GameError(f"bad player '{spec}': SIMS must be a positive integer")
        return load_player(Path(path), game, int(sims) if sims else None, seed)
    return make_player(spec, game, seed)
