"""A trained AlphaZero network as a tournament / ``arena play`` player: MCTS over the network, greedy."""

from __future__ import annotations

from pathlib import Path

from agents.alphazero.evaluator import NetworkEvaluator
from agents.alphazero.network import build_policy_value_net
from agents.bots import SPEC_FORMS, make_player
from agents.bots.base import Player
from agents.bots.mcts_bot import MCTSPlayer
from envs.games.base import Game, GameError
from runners.families.common import from_dict
from runners.families.selfplay import SelfPlayConfig
from runners.local.checkpoint import CheckpointError
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


def resolve_player(spec: str, game: Game, seed: int) -> Player:
    """``make_player`` plus ``alphazero:CHECKPOINT[:SIMS]`` (a trained network searching with MCTS).

    Raises:
        GameError: a bad spec, or a checkpoint that cannot play ``game``.
    """
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
