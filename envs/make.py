"""``make(env_id, num_envs, seed)``: one entry point for every env family arena batches.

Ids, checked in this order:
- ``fake:chain``, ``fake:bandit``, ``fake:image``: tiny test envs (``envs.fakes``).
- ``minatar:breakout`` or ``MinAtar/Breakout-v1`` (``-v0``: full action set): MinAtar.
- ``ale:pong``, ``ALE/Pong-v5``, ``PongNoFrameskip-v4``: the ALE's native vector env with the DQN
  protocol (``envs.atari``). Every form gets the same protocol; options, not the id, set sticky
  actions (``ALE/...-v5`` does *not* imply 0.25 here).
- any other Gymnasium id with a ``Discrete`` or 1-D float ``Box`` action space (continuous actions,
  e.g. ``Pendulum-v1``; ``EnvSpec.continuous`` tells them apart), arena's memory tasks included
  (``arena/CartPoleMasked-v1``, ``arena/Recall-v0``: ``envs.memory_tasks``, registered on import of ``envs``).
"""

from __future__ import annotations

import difflib
import re
from typing import Any, NoReturn

import gymnasium as gym

from envs.atari import atari_game, game_names, make_atari
from envs.base import BatchedEnv, EnvSpec
from envs.errors import EnvIdError, UnsupportedEnvError
from envs.fakes import FAKE_ENVS, make_fake
from envs.gymnasium_env import make_gymnasium
from envs.minatar_env import GAMES as MINATAR_GAMES
from envs.minatar_env import make_minatar

_MINATAR_GYM = re.compile(r"^MinAtar/(?P<name>[A-Za-z]+)-v(?P<version>[01])$")


def _minatar_game(env_id: str) -> tuple[str, bool] | None:
    """``(game, full_action_space)`` for a MinAtar id, ``None`` for other ids."""
    if env_id.startswith("minatar:"):
        game = env_id[len("minatar:") :].lower()
        if game not in MINATAR_GAMES:
            _raise_unknown(env_id)
        return game, False
    match = _MINATAR_GYM.match(env_id)
    if match is None:
        return None
    by_title = {g.title().replace("_", ""): g for g in MINATAR_GAMES}
    titled = by_title.get(match.group("name"))
    if titled is None:
        _raise_unknown(env_id)
    return titled, match.group("version") == "0"


def known_ids() -> list[str]:
    """Every id ``make`` accepts in its canonical spellings (for suggestions)."""
    ids = list(FAKE_ENVS)
    ids += [f"minatar:{g}" for g in MINATAR_GAMES]
    ids += [f"ale:{g}" for g in game_names()]
    ids += [k for k in gym.registry if not k.startswith("MinAtar/")]
    return ids


def _raise_unknown(env_id: str) -> NoReturn:
    """Raise ``EnvIdError`` naming up to three close matches (case-insensitive)."""
    ids = known_ids()
    by_lower = {i.lower(): i for i in ids}
    close = difflib.get_close_matches(env_id.lower(), list(by_lower), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(by_lower[c]) for c in close)}?" if close else ""
    raise EnvIdError(f"unknown env id {env_id!r}{hint}")


def make(env_id: str, num_envs: int = 1, seed: int = 0, **options: Any) -> BatchedEnv:
    """Build ``num_envs`` copies of ``env_id`` stepped together, seeded per episode from ``seed``.

    Args:
        env_id: see the module docstring.
        num_envs: number of sub-envs ``N``.
        seed: run seed (>= 0); episode ``k`` of sub-env ``i`` is seeded from ``(seed, i, k)``.
        **options: family options. ``render=True`` for Gymnasium ids creates ``rgb_array``
            sub-envs. Atari (see ``envs.atari.AtariEnv``): ``repeat_action_probability``,
            ``terminal_on_life_loss``, ``full_action_space``, ``noop_max``, ``frame_skip``,
            ``max_frames_per_episode``, ``fire_reset``, ``num_threads``, ``exact_resume``,
            ``reseed_every``. MinAtar: ``sticky_action_prob``, ``difficulty_ramping``,
            ``full_action_space``, ``max_episode_steps``. Gymnasium: any ``gymnasium.make``
            keyword (e.g. ``max_episode_steps``). Fakes: their constructor's keywords.

    Returns:
        A ``BatchedEnv``; call ``reset()`` before ``step()``.

    Raises:
        EnvIdError: unknown id (the message suggests close matches).
        UnsupportedEnvError: the env's actions are neither ``Discrete`` nor a 1-D float ``Box``
            (MultiDiscrete, Dict, 2-D Box, ...), or its observations are unsupported, or it needs a
            package that is not installed (Box2D: the message names the pip extra).
    """
    if env_id in FAKE_ENVS:
        return make_fake(env_id, num_envs, seed, **options)
    if env_id.startswith("fake:"):
        _raise_unknown(env_id)
    minatar = _minatar_game(env_id)
    if minatar is not None:
        game, full = minatar
        options.setdefault("full_action_space", full)
        return make_minatar(env_id, game, num_envs, seed, **options)
    game_name = atari_game(env_id)
    if game_name is not None:
        return make_atari(env_id, game_name, num_envs, seed, **options)
    if env_id not in gym.registry:
        _raise_unknown(env_id)
    try:
        return make_gymnasium(env_id, num_envs, seed, **options)
    except gym.error.DependencyNotInstalled as e:
        raise UnsupportedEnvError(_missing_dependency(env_id, str(e))) from None


def _missing_dependency(env_id: str, message: str) -> str:
    """One line naming the pip extra to install (Gymnasium's message spans lines and says it in prose)."""
    extra = re.search(r"gymnasium\[([\w-]+)\]", message)
    if extra is None:
        return f"{env_id} needs a package that is not installed: " + " ".join(message.split())
    hint = " (Box2D builds with swig: pip install swig first)" if extra.group(1) == "box2d" else ""
    return (f"{env_id} needs Gymnasium's {extra.group(1)} extra, which is not installed: "
            f"pip install 'gymnasium[{extra.group(1)}]'{hint}")


def spec_for(env_id: str, **options: Any) -> EnvSpec:
    """The ``EnvSpec`` of ``make(env_id, **options)``, from a one-sub-env instance closed at once."""
    env = make(env_id, num_envs=1, seed=0, **options)
    try:
        return env.spec
    finally:
        env.close()
