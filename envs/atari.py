"""Atari 2600 through the ALE's native C++ vector env, with the standard DQN preprocessing.

Protocol (Mnih et al., 2015, Nature; Machado et al., 2018, JAIR, for sticky actions): up to 30
no-op frames at reset, action repeat 4 with a max over the last two frames, 84x84 grayscale, 4
stacked frames (zero-padded at reset), episodes truncated at 108,000 frames (27,000 agent steps),
minimal action set, sticky actions off by default (0.25 is Machado et al.'s setting). Rewards are
*not* clipped here: the ALE clips by default, and arena turns that off so that the learner clips by
config and episode returns are game scores.

Seeding and resume. The ALE resets finished games itself inside ``step`` (``autoreset_mode=
"SameStep"``; its final observation is kept as ``next_obs``), and those autoresets are
deterministic. A *seeded* ALE reset reloads the ROM (about 0.2 s of one core), so arena seeds a
sub-env at ``reset()`` and then again only at the first episode end after ``reseed_every`` steps.
Exact resume replays everything since a sub-env's last seeded reset (at most ``reseed_every`` steps
plus one episode); ``reseed_every=0`` seeds every episode (exact, slowest), ``exact_resume=False``
never reseeds and keeps no history: ``set_state`` then starts a fresh, seeded episode in every
sub-env (``protocol["exact_resume"]`` is False). On 2 cores with random Breakout (~200-step
episodes), seeding every episode halved throughput; the default, one reload per sub-env per
10,000+ steps, should cost 2-3%; ``set_state`` replays at env speed (~1,500 agent steps/s here).

With ``terminal_on_life_loss=True`` a lost life sets ``terminated`` while the game goes on (no
reset: ``obs == next_obs`` for that sub-env, no ``episode_return`` reported). Only a game over or
the frame limit ends the episode; ``episode_length > 0`` marks where a new episode began.
"""

from __future__ import annotations

import os
import re
from typing import Any

import ale_py
import numpy as np
from ale_py import roms
from ale_py.vector_env import AtariVectorEnv
from gymnasium.spaces import Discrete

from envs.base import EnvSpec
from envs.errors import EnvIdError
from envs.seeded import SeededVectorEnv

FRAME_STACK = 4
FRAME_SIZE = 84
_RENDER_UPSCALE = 2  # 84x84 -> 168x168

# "ALE/MsPacman-v5" and "MsPacmanNoFrameskip-v4" / "Pong-v0" / "PongDeterministic-v4" style ids.
_ALE_V5 = re.compile(r"^ALE/(?P<name>[A-Za-z0-9]+)-v5$")
_LEGACY = re.compile(r"^(?P<name>[A-Z][A-Za-z0-9]*?)(NoFrameskip|Deterministic)?-v[04]$")


def game_names() -> list[str]:
    """Snake-case names of every ROM the installed ``ale_py`` ships (``"pong"``, ``"ms_pacman"``)."""
    return list(roms.get_all_rom_ids())


def _snake(name: str) -> str:
    """``"MsPacman"`` -> ``"ms_pacman"`` (ALE ROM ids are snake case)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def atari_game(env_id: str) -> str | None:
    """The ROM name an Atari-style id refers to, or ``None`` when ``env_id`` is not Atari-style.

    Args:
        env_id: ``"ale:pong"``, ``"ALE/Pong-v5"``, ``"PongNoFrameskip-v4"``, ...

    Returns:
        The snake-case game name, or ``None``.

    Raises:
        EnvIdError: an ``ale:`` id whose game the ALE does not have.
    """
    games = set(game_names())
    if env_id.startswith("ale:"):
        game = _snake(env_id[4:])
        if game not in games:
            import difflib

            close = difflib.get_close_matches(game, sorted(games), n=3)
            hint = f"; did you mean {', '.join('ale:' + g for g in close)}?" if close else ""
            raise EnvIdError(f"unknown Atari game {env_id!r}{hint}")
        return game
    match = _ALE_V5.match(env_id) or _LEGACY.match(env_id)
    if match is None:
        return None
    game = _snake(match.group("name"))
    return game if game in games else None


class AtariEnv(SeededVectorEnv):
    """``N`` Atari games stepped by ``ale_py.vector_env.AtariVectorEnv`` on ``num_threads`` threads.

    Observations are ``[4, 84, 84]`` uint8 (oldest frame first); rewards unclipped game scores.
    """

    def __init__(
        self,
        env_id: str,
        game: str,
        num_envs: int = 1,
        seed: int = 0,
        *,
        repeat_action_probability: float = 0.0,
        terminal_on_life_loss: bool = False,
        full_action_space: bool = False,
        noop_max: int = 30,
        frame_skip: int = 4,
        max_frames_per_episode: int = 108_000,
        fire_reset: bool = True,
        num_threads: int | None = None,
        exact_resume: bool = True,
        reseed_every: int = 10_000,
        render: bool = False,
    ) -> None:
        """Start the ALE vector env.

        Args:
            env_id: the id as the user wrote it.
            game: snake-case ROM name (see ``atari_game``).
            num_envs: number of sub-envs.
            seed: run seed.
            repeat_action_probability: sticky-action probability (0.25 in Machado et al.).
            terminal_on_life_loss: signal ``terminated`` on every lost life (the game goes on).
            full_action_space: all 18 actions instead of the game's minimal set.
            noop_max: at most this many no-op frames at reset.
            frame_skip: frames per agent step (max-pooled over the last two).
            max_frames_per_episode: truncate after this many emulator frames.
            fire_reset: press FIRE after reset in games that need it (the ALE's default).
            num_threads: ALE worker threads; default ``min(num_envs, cpu count)``.
            exact_resume: keep the action history ``set_state`` replays (see the module docstring).
            reseed_every: with ``exact_resume``, steps after which the next episode gets a seeded
                reset; bounds the replay on resume (0: seed every episode).
            render: unused; frames are always drawn from the observation.
        """
        threads = num_threads or min(num_envs, os.cpu_count() or 1)
        self._ale = AtariVectorEnv(
            game,
            num_envs,
            num_threads=threads,
            max_num_frames_per_episode=max_frames_per_episode,
            repeat_action_probability=repeat_action_probability,
            full_action_space=full_action_space,
            autoreset_mode="SameStep",
            img_height=FRAME_SIZE,
            img_width=FRAME_SIZE,
            grayscale=True,
            stack_num=FRAME_STACK,
            frameskip=frame_skip,
            maxpool=True,
            noop_max=noop_max,
            episodic_life=False,
            life_loss_info=False,  # lost lives are tracked here, from info["lives"]
            reward_clipping=False,
            use_fire_reset=fire_reset,
        )
        self._terminal_on_life_loss = terminal_on_life_loss
        self.autoresets = True
        self.keep_history = exact_resume
        self._reseed_every = reseed_every
        self._lives = np.zeros(num_envs, dtype=np.int64)  # [N] lives after the last step or reset
        action_space = self._ale.single_action_space
        assert isinstance(action_space, Discrete)
        spec = EnvSpec(
            env_id=env_id,
            obs_shape=(FRAME_STACK, FRAME_SIZE, FRAME_SIZE),
            obs_dtype="uint8",
            num_actions=int(action_space.n),
            kind="atari",
            frame_stack=FRAME_STACK,
            protocol={
                "backend": "ale_py.vector_env.AtariVectorEnv",
                "ale_py_version": ale_py.__version__,
                "game": game,
                "frame_skip": frame_skip,
                "max_pool": True,
                "noop_max": noop_max,
                "fire_reset": fire_reset,
                "repeat_action_probability": repeat_action_probability,
                "full_action_space": full_action_space,
                "max_frames_per_episode": max_frames_per_episode,
                "max_steps_per_episode": max_frames_per_episode // frame_skip,
                "terminal_on_life_loss": terminal_on_life_loss,
                "reward_clipping": False,
                "observation": "grayscale 84x84, 4 frames oldest first, zero-padded at reset",
                "num_threads": threads,
                "autoreset": "same-step, by the ALE; seeded resets by arena",
                "seeding": "SeedSequence([seed, env_index, episode]) at reset(), set_state() and "
                + (
                    f"the first episode end {reseed_every} steps after the last"
                    if exact_resume
                    else "never else"
                ),
                "reseed_every": reseed_every if exact_resume else None,
                "exact_resume": exact_resume,
            },
        )
        super().__init__(spec, num_envs, seed)

    def _raw_reset(self, seeds: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Seeded reset of the masked sub-envs; the ALE returns the whole ``[N, 4, 84, 84]`` batch."""
        obs: np.ndarray
        if mask is None:
            obs, info = self._ale.reset(seed=np.asarray(seeds, dtype=np.int64))
            self._lives[:] = info["lives"]
        else:
            mask = np.asarray(mask, dtype=bool)
            obs, info = self._ale.reset(
                seed=np.asarray(seeds, dtype=np.int64)[mask], options={"reset_mask": mask}
            )
            self._lives[mask] = info["lives"][mask]
        return obs

    def _raw_step(
        self, action: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Step all games; a game over or the frame limit ends the episode, a lost life may terminate."""
        obs, reward, terminated, truncated, info = self._ale.step(action)
        ended = terminated | truncated
        if ended.any():
            # The ALE already reset these rows; its final_obs is only valid in them.
            self._autoreset_obs = obs
            obs = obs.copy()
            obs[ended] = info["final_obs"][ended]
        lives = np.asarray(info["lives"], dtype=np.int64)  # after the autoreset where one happened
        if self._terminal_on_life_loss:
            terminated = terminated | ((lives < self._lives) & ~ended)
        self._lives = lives
        return obs, reward, terminated, truncated, ended

    def _reseed_mask(self, ended: np.ndarray) -> np.ndarray:
        """Seed the next episode of ``ended`` sub-envs whose segment is ``reseed_every`` steps old."""
        if not self.keep_history:
            return np.zeros_like(ended)
        return ended & (self._segment_length >= self._reseed_every)

    def set_state(self, state: dict[str, Any]) -> np.ndarray:
        """Restore a ``get_state`` result.

        Exact by default. With ``exact_resume=False`` the current episodes cannot be rebuilt:
        every sub-env starts its next episode, seeded from ``(seed, env_index, episode + 1)``, and the
        half-played episodes are dropped (their returns are never reported).

        Args:
            state: a dict from ``get_state``.

        Returns:
            ``[N, 4, 84, 84]`` the observation to act from next.
        """
        if self.keep_history:
            return super().set_state(state)
        self._check_state(state)
        self.seed = int(state["seed"])
        self._episode = np.asarray(state["episode"], dtype=np.int64).copy()
        return self.reset()

    def render(self, index: int = 0) -> np.ndarray | None:
        """The newest frame of sub-env ``index`` as ``[168, 168, 3]`` uint8 (gray, upscaled 2x)."""
        if self._obs is None:
            return None
        frame = self._obs[index, -1]  # [84, 84]
        frame = np.repeat(np.repeat(frame, _RENDER_UPSCALE, axis=0), _RENDER_UPSCALE, axis=1)
        return np.repeat(frame[..., None], 3, axis=2)

    def close(self) -> None:
        """Stop the ALE worker threads (``AtariVectorEnv.close`` alone leaves them running)."""
        ale = self.__dict__.pop("_ale", None)
        if ale is not None:
            ale.close()  # the threads end when the last reference to the ALE interface goes


def make_atari(env_id: str, game: str, num_envs: int, seed: int, **options: Any) -> AtariEnv:
    """Build an ``AtariEnv``; ``options`` are ``AtariEnv``'s keyword arguments.

    Raises:
        TypeError: an unknown option.
    """
    return AtariEnv(env_id, game, num_envs, seed, **options)
