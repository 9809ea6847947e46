"""A trained AlphaZero network as a tournament / ``arena play`` player: MCTS over the network, greedy."""

from __future__ import annotations

from pathlib import Path

from agents.alphazero.evaluator import NetworkEvaluator
from agents.alphazero.network import build_policy_value_net
from agents.bots.mcts_bot import MCTSPlayer
from envs.games.base import Game, GameError
from runners.checkpoint import CheckpointError
from runners.config import from_dict
from runners.selfplay_config import SelfPlayConfig
from runners.selfplay_run import load_selfplay_checkpoint


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
