"""Expert demonstrations as Minari datasets: record a policy's episodes, load them as flat arrays.

Used by GAIL (Ho & Ermon 2016, "Generative Adversarial Imitation Learning") and behaviour cloning.
Datasets are ordinary *local* Minari datasets (https://minari.farama.org), so Minari's own tools
(``minari list local``, ``minari.load_dataset``) read them too. Nothing here touches the network:
loading never downloads.

Where things are stored: Minari keeps datasets under ``$MINARI_DATASETS_PATH`` (default
``~/.minari/datasets``), a dataset ``arena/NAME-v0`` in ``<root>/arena/NAME-v0/data``. Both functions
take ``root`` to use another directory for one call.

What arena adds to Minari's metadata: one JSON object under the key ``"arena"`` in the dataset's
``data/metadata.json``, written with ``MinariStorage.update_metadata`` (Minari keeps unknown keys
and reads them back from ``dataset.storage.metadata``): the env id, the run seed, each episode's
seed and undiscounted return, and the caller's ``metadata`` (e.g. the expert checkpoint's sha256).

Episode ``k`` is reset with the seed arena's envs give episode ``k`` of sub-env 0
(``envs.seeded.episode_seed(seed, 0, k)``), so ``envs.make(env_id, 1, seed)`` stepped with the same
policy sees the same episodes. Only ``Box`` observations and ``Discrete`` or 1-D ``Box`` actions are
supported, stored as the env produced them (continuous actions after clipping to the box).
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import shutil
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import minari
import numpy as np
from minari.data_collector import EpisodeBuffer
from minari.dataset.minari_dataset import DATASET_ID_RE

if TYPE_CHECKING:  # replay stays a leaf at run time: the spec is only read, never built
    from envs.base import EnvSpec

ROOT_ENV_VAR = "MINARI_DATASETS_PATH"
NAMESPACE = "arena"
FORMAT = 1

Policy = Callable[[np.ndarray], np.ndarray]


class DemosError(ValueError):
    """A demonstration dataset that cannot be written, found, read or used with the given env."""


@dataclass(frozen=True)
class Demos:
    """Every transition of a dataset's episodes, concatenated in episode order.

    Attributes:
        obs: ``[T, *obs_shape]`` float32 observation acted from.
        actions: ``[T]`` int64 in ``[0, num_actions)``, or ``[T, d]`` float32 (as the env received them).
        rewards: ``[T]`` float32.
        next_obs: ``[T, *obs_shape]`` float32 observation the step produced (the final one at episode ends).
        terminated: ``[T]`` bool, true terminal states (do not bootstrap).
        truncated: ``[T]`` bool, time limits (bootstrap); never set together with ``terminated``.
        episode_returns: ``[E]`` float32 undiscounted return of each episode.
        env_id: the env the episodes come from.
        dataset_id: the Minari dataset id.
        metadata: the ``metadata`` given to ``record_dataset`` (``{}`` for datasets arena did not record).
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    episode_returns: np.ndarray
    env_id: str
    dataset_id: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        """Number of transitions ``T``."""
        return len(self.rewards)


def record_dataset(
    policy: Policy,
    env_id: str,
    episodes: int,
    seed: int,
    name: str,
    metadata: dict[str, Any],
    root: Path | None = None,
    begin: Callable[[], None] | None = None,
) -> Path:
    """Roll ``policy`` out for ``episodes`` episodes and save them as the local dataset ``arena/NAME-v0``.

    Args:
        policy: maps a batch of one observation ``[1, *obs_shape]`` to ``[1]`` integer actions
            (discrete) or ``[1, d]`` float actions (continuous; clipped to the action box before the
            env sees them, and stored clipped).
        env_id: a registered Gymnasium id (``gymnasium.make(env_id)``).
        episodes: number of complete episodes (>= 1).
        seed: run seed; episode ``k`` is reset with ``episode_seed(seed, 0, k)``.
        name: dataset name; the id is ``arena/{name}-v0`` (``name`` may carry its own ``-vN``).
        metadata: JSON-serialisable facts to keep with the dataset (e.g. ``{"checkpoint_sha256": ...}``);
            its ``"algorithm"`` entry, if any, also becomes Minari's ``algorithm_name``.
        root: datasets directory for this call instead of ``$MINARI_DATASETS_PATH`` / ``~/.minari/datasets``.
        begin: called at the start of every episode, after the env's reset and before the policy's first
            call (a recurrent policy forgets its state there, so no memory crosses an episode boundary).

    Returns:
        The dataset directory (``<root>/arena/NAME-v0``).

    Raises:
        DemosError: bad arguments, an existing dataset of that id, unsupported spaces, or a policy
            returning actions of the wrong shape or type.
    """
    if episodes < 1:
        raise DemosError(f"episodes must be >= 1, got {episodes}")
    if seed < 0:
        raise DemosError(f"seed must be >= 0, got {seed}")
    dataset_id = _dataset_id(name)
    try:
        json.dumps(metadata)
    except (TypeError, ValueError) as e:
        raise DemosError(f"metadata for {dataset_id} must be JSON-serialisable ({e})") from None
    target = _root_dir(root) / dataset_id
    if target.exists():
        raise DemosError(f"dataset {dataset_id} already exists at {target}; choose another name or delete it")
    env = gym.make(env_id)
    try:
        _check_spaces(env_id, env.observation_space, env.action_space)
        buffers, returns, seeds = [], [], []
        for k in range(episodes):
            episode_seed = _episode_seed(seed, k)
            buffer, ret = _rollout(policy, env, env_id, k, episode_seed, begin)
            buffers.append(buffer)
            returns.append(ret)
            seeds.append(episode_seed)
        arena_meta = {"format": FORMAT, "env_id": env_id, "seed": seed, "episode_seeds": seeds,
                      "episode_returns": returns, "metadata": metadata}
        with _datasets_root(root), warnings.catch_warnings():
            # Minari nags about optional provenance fields arena has no value for.
            warnings.filterwarnings("ignore", message=r"`(code_permalink|author_email)` is set to None")
            try:
                dataset = minari.create_dataset_from_buffers(
                    dataset_id, buffers, env=env, eval_env=env_id, author="arena",
                    algorithm_name=str(metadata.get("algorithm", "expert policy")),
                    description=f"{episodes} episodes of {env_id} recorded by arena from seed {seed}")
                dataset.storage.update_metadata({NAMESPACE: arena_meta})
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)  # never leave a half-written dataset behind
                raise
    finally:
        env.close()
    return target


def load_demos(name_or_path: str, spec: EnvSpec, root: Path | None = None) -> Demos:
    """Load every episode of a local Minari dataset as flat arrays, checked against ``spec``.

    Args:
        name_or_path: a dataset id (``arena/cartpole-expert-v0``) under the datasets directory, or a
            path to a dataset directory (the one holding ``data/``, or ``data/`` itself). An existing
            directory wins over an id of the same spelling.
        spec: the env the demonstrations will be used with.
        root: datasets directory for ids, instead of ``$MINARI_DATASETS_PATH`` / ``~/.minari/datasets``.

    Returns:
        The flattened ``Demos``.

    Raises:
        DemosError: unknown id, unreadable directory, unsupported spaces, or spaces that differ from
            ``spec`` (observation shape, discrete vs continuous, number of actions or action shape).
    """
    dataset = _open(name_or_path, root)
    ds_id = dataset.id
    obs_space, action_space = dataset.observation_space, dataset.action_space
    _check_spaces(f"dataset {ds_id}", obs_space, action_space)
    _check_against_spec(ds_id, obs_space, action_space, spec)
    start = int(action_space.start) if isinstance(action_space, gym.spaces.Discrete) else 0
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "next_obs", "actions", "rewards", "term", "trunc")}
    returns = []
    for ep in dataset.iterate_episodes():
        o = np.asarray(ep.observations, dtype=np.float32)  # [L + 1, *obs_shape]
        length = len(ep.rewards)
        if o.shape[0] != length + 1:
            raise DemosError(f"dataset {ds_id} episode {ep.id} has {o.shape[0]} observations for {length} steps")
        parts["obs"].append(o[:-1])
        parts["next_obs"].append(o[1:])
        if isinstance(action_space, gym.spaces.Discrete):
            parts["actions"].append(np.asarray(ep.actions, dtype=np.int64).reshape(length) - start)
        else:
            parts["actions"].append(np.asarray(ep.actions, dtype=np.float32).reshape(length, *action_space.shape))
        parts["rewards"].append(np.asarray(ep.rewards, dtype=np.float64))
        term = np.asarray(ep.terminations, dtype=bool)
        parts["term"].append(term)
        parts["trunc"].append(np.asarray(ep.truncations, dtype=bool) & ~term)  # terminated wins, as in envs
        returns.append(parts["rewards"][-1].sum())
    if not returns:
        raise DemosError(f"dataset {ds_id} has no episodes")
    arena_meta = dataset.storage.metadata.get(NAMESPACE, {})
    env_spec = dataset.env_spec
    env_id = arena_meta.get("env_id") or (env_spec.id if env_spec is not None else spec.env_id)
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    return Demos(
        obs=cat["obs"], actions=cat["actions"], rewards=cat["rewards"].astype(np.float32), next_obs=cat["next_obs"],
        terminated=cat["term"], truncated=cat["trunc"], episode_returns=np.asarray(returns, dtype=np.float32),
        env_id=str(env_id), dataset_id=ds_id, metadata=dict(arena_meta.get("metadata", {})),
    )


# --------------------------------------------------------------------------------------- helpers


def _dataset_id(name: str) -> str:
    """``arena/{name}-v0``; a name already ending in ``-vN`` keeps its version."""
    stem, _, version = name.rpartition("-v")
    dataset_id = f"{NAMESPACE}/{name}" if stem and version.isdigit() else f"{NAMESPACE}/{name}-v0"
    if "/" in name or not DATASET_ID_RE.fullmatch(dataset_id):
        raise DemosError(f"dataset name {name!r} must be letters, digits, '-' and '_' (it becomes {dataset_id!r})")
    return dataset_id


def _episode_seed(seed: int, episode: int) -> int:
    """``envs.seeded.episode_seed(seed, 0, episode)``, repeated so that replay stays an import leaf."""
    state = np.random.SeedSequence([seed, 0, episode]).generate_state(1)
    return 1 + int(state[0]) % (2**31 - 1)


def _root_dir(root: Path | None) -> Path:
    """The datasets directory Minari would use (without creating it, unlike Minari's own helper)."""
    if root is not None:
        return Path(root)
    env_root = os.environ.get(ROOT_ENV_VAR)
    return Path(env_root) if env_root is not None else Path.home() / ".minari" / "datasets"


@contextlib.contextmanager
def _datasets_root(root: Path | None) -> Iterator[None]:
    """Point Minari at ``root`` (it reads ``$MINARI_DATASETS_PATH`` on every call) and restore it after."""
    if root is None:
        yield
        return
    previous = os.environ.get(ROOT_ENV_VAR)
    os.environ[ROOT_ENV_VAR] = str(root)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(ROOT_ENV_VAR, None)
        else:
            os.environ[ROOT_ENV_VAR] = previous


def _rollout(policy: Policy, env: gym.Env, env_id: str, episode: int, seed: int,
             begin: Callable[[], None] | None = None) -> tuple[EpisodeBuffer, float]:
    """One seeded episode as a Minari buffer, and its undiscounted return (``begin`` runs after the reset)."""
    space = env.action_space
    obs, _ = env.reset(seed=seed)
    if begin is not None:
        begin()
    observations, actions, rewards, terminations, truncations = [obs], [], [], [], []
    while True:
        raw = np.asarray(policy(np.asarray(obs)[None]))
        action = _env_action(raw, space, env_id)
        obs, reward, terminated, truncated, _ = env.step(action)
        observations.append(obs)
        actions.append(action)
        rewards.append(float(reward))
        terminations.append(bool(terminated))
        truncations.append(bool(truncated) and not terminated)
        if terminated or truncated:
            break
    buffer = EpisodeBuffer(
        id=episode, seed=seed, observations=np.stack(observations), actions=np.stack(actions),
        rewards=rewards, terminations=terminations, truncations=truncations, infos={},
    )
    return buffer, float(np.sum(rewards))


def _env_action(raw: np.ndarray, space: gym.Space[Any], env_id: str) -> Any:
    """The policy's ``[1]`` or ``[1, d]`` output as one env action (continuous: clipped to the box)."""
    if isinstance(space, gym.spaces.Discrete):
        if raw.shape != (1,) or not np.issubdtype(raw.dtype, np.integer):
            raise DemosError(f"policy for {env_id} must return [1] integer actions, got {raw.dtype} {raw.shape}")
        if not 0 <= int(raw[0]) < int(space.n):
            raise DemosError(f"policy for {env_id} returned action {int(raw[0])}, outside [0, {int(space.n)})")
        return np.int64(int(raw[0]) + int(space.start))
    assert isinstance(space, gym.spaces.Box)
    if raw.shape != (1, *space.shape) or not np.issubdtype(raw.dtype, np.floating):
        raise DemosError(f"policy for {env_id} must return [1, {space.shape[0]}] float actions, "
                         f"got {raw.dtype} {raw.shape}")
    return np.clip(raw[0].astype(space.dtype), space.low, space.high)


def _check_spaces(owner: str, obs_space: gym.Space[Any], action_space: gym.Space[Any]) -> None:
    """Refuse what ``Demos`` cannot hold: non-Box observations, actions other than Discrete or 1-D float Box."""
    obs_ok = isinstance(obs_space, gym.spaces.Box)
    action_ok = isinstance(action_space, gym.spaces.Discrete) or (
        isinstance(action_space, gym.spaces.Box)
        and len(action_space.shape) == 1
        and np.issubdtype(action_space.dtype, np.floating)
    )
    if not (obs_ok and action_ok):
        shown = " ".join(f"{obs_space} / {action_space}".split())
        raise DemosError(f"{owner} has spaces {shown}; demonstrations need Box observations and Discrete "
                         "or 1-D float Box actions")


def _check_against_spec(ds_id: str, obs_space: gym.Space[Any], action_space: gym.Space[Any], spec: EnvSpec) -> None:
    """``DemosError`` naming both sides unless observation shape and action kind and size agree."""
    discrete = isinstance(action_space, gym.spaces.Discrete)
    same_obs = tuple(obs_space.shape or ()) == tuple(spec.obs_shape)
    if discrete:
        assert isinstance(action_space, gym.spaces.Discrete)
        same_actions = not spec.continuous and int(action_space.n) == spec.num_actions
        theirs = f"{int(action_space.n)} discrete actions"
    else:
        same_actions = spec.continuous and tuple(action_space.shape or ()) == tuple(spec.action_shape)
        theirs = f"continuous actions {tuple(action_space.shape or ())}"
    if same_obs and same_actions:
        return
    ours = f"continuous actions {spec.action_shape}" if spec.continuous else f"{spec.num_actions} discrete actions"
    raise DemosError(f"dataset {ds_id} has observations of shape {tuple(obs_space.shape or ())} and {theirs}; "
                     f"{spec.env_id} has observations {tuple(spec.obs_shape)} and {ours}")


def _open(name_or_path: str, root: Path | None) -> minari.MinariDataset:
    """Open a dataset directory or a local dataset id, never downloading."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        data = path / "data" if (path / "data").is_dir() else path
        return _read(lambda: minari.MinariDataset(data), str(path))
    if os.path.isabs(name_or_path) or name_or_path.startswith((".", "~")):
        raise DemosError(f"no dataset directory at {name_or_path}")
    root_dir = _root_dir(root)
    if not (root_dir / name_or_path / "data").is_dir():
        known = _local_ids(root_dir)
        close = difflib.get_close_matches(name_or_path, known, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else f" ({len(known)} local datasets there)"
        raise DemosError(f"no local Minari dataset {name_or_path!r} under {root_dir} and no such directory{hint}")
    with _datasets_root(root):
        return _read(lambda: minari.load_dataset(name_or_path, download=False), name_or_path)


def _read(opener: Callable[[], minari.MinariDataset], shown: str) -> minari.MinariDataset:
    """Run ``opener``; any failure becomes a one-line ``DemosError``."""
    try:
        return opener()
    except Exception as e:  # Minari and h5py raise ValueError, KeyError, OSError, JSONDecodeError, ...
        reason = " ".join(str(e).split())[:200]
        raise DemosError(f"{shown} is not a readable Minari dataset ({type(e).__name__}: {reason})") from None


def _local_ids(root_dir: Path) -> list[str]:
    """Dataset ids under ``root_dir`` (directories holding ``data/``), for suggestions."""
    if not root_dir.is_dir():
        return []
    return sorted(str(p.parent.relative_to(root_dir)) for p in root_dir.glob("**/data") if p.is_dir())
