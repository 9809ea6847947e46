"""League checkpoints: ``latest.pt`` (the whole league, to resume) and ``model.pt`` (the first main agent).

``model.pt`` is a self-play model checkpoint (``runners.selfplay.checkpoint``'s format, with the league's
game, network, search and loop sections as a ``SelfPlayConfig``), so ``arena tournament`` and ``arena play``
take the league's main agent as ``alphazero:RUN_DIR/checkpoints/model.pt`` like any self-play network. A PPO league's
``model.pt`` (``--league.agent ppo``) holds the main agent's actor-critic and the league config instead
(``PPO_MODEL_FORMAT``); players take it as ``ppo:RUN_DIR``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runners.families.common import to_dict
from runners.families.selfplay import SelfPlayConfig
from runners.league.ppo_trainer import AnyLeagueTrainer, PPOLeagueTrainer
from runners.league.trainer import LeagueTrainer
from runners.local.checkpoint import CHECKPOINT_DIR, LATEST, MODEL, atomic_save
from runners.selfplay.checkpoint import FORMAT as SELFPLAY_FORMAT
from runners.selfplay.players import PPO_MODEL_FORMAT

FORMAT = "arena-league-1"


def save_league(trainer: AnyLeagueTrainer, run_dir: Path, final: bool) -> None:
    """``latest.pt`` (everything to resume) and, on the final save, ``model.pt`` (the first main agent)."""
    ckpt_dir = run_dir / CHECKPOINT_DIR
    atomic_save({"format": FORMAT, "config": to_dict(trainer.cfg), "trainer": trainer.state_dict()},
                ckpt_dir / LATEST)
    if final:
        payload = (ppo_model_payload(trainer) if isinstance(trainer, PPOLeagueTrainer)
                   else main_model_payload(trainer))
        atomic_save(payload, ckpt_dir / MODEL)


def ppo_model_payload(trainer: PPOLeagueTrainer) -> dict[str, Any]:
    """The first main agent's actor-critic with the league's config: ``ppo:RUN_DIR`` players load it."""
    game, main = trainer.game, trainer.main_agents[0]
    return {"format": PPO_MODEL_FORMAT, "config": to_dict(trainer.cfg), "model": main.net.state_dict(),
            "game": game.name, "obs_shape": list(game.obs_shape), "num_actions": game.num_actions,
            "iteration": trainer.iteration, "league_player": main.name}


def main_model_payload(trainer: LeagueTrainer) -> dict[str, Any]:
    """The first main agent's network as a self-play ``model.pt``."""
    cfg, game = trainer.cfg, trainer.game
    as_selfplay = SelfPlayConfig(preset=cfg.preset, game=cfg.game, agent=cfg.agent, mcts=cfg.mcts, torso=cfg.torso,
                                 selfplay=cfg.selfplay, log=cfg.log)
    main = trainer.main_agents[0]
    return {"format": SELFPLAY_FORMAT, "config": to_dict(as_selfplay), "model": main.net.state_dict(),
            "game": game.name, "obs_shape": list(game.obs_shape), "num_actions": game.num_actions,
            "iteration": trainer.iteration, "league_player": main.name}
