"""Memory tasks (envs/memory_tasks.py): shapes, the cue only at step 0, scripted optimal and memoryless
returns, determinism and exact resume through ``envs.make``."""

from __future__ import annotations

import numpy as np

from envs import make

K, DELAY = 4, 5  # arena/Recall-v0's registered settings


def test_cartpole_masked_hides_velocities() -> None:
    env = make("arena/CartPoleMasked-v1", 3, seed=0)
    full = make("CartPole-v1", 3, seed=0)
    try:
        assert env.spec.obs_shape == (2,) and env.spec.num_actions == 2
        obs, ref = env.reset(), full.reset()
        np.testing.assert_array_equal(obs, ref[:, [0, 2]])  # same seeding as CartPole-v1, velocities dropped
        for _ in range(30):
            a = np.zeros(3, np.int64)
            res, ref_res = env.step(a), full.step(a)
            np.testing.assert_array_equal(res.obs, ref_res.obs[:, [0, 2]])
            np.testing.assert_array_equal(res.reward, ref_res.reward)
    finally:
        env.close()
        full.close()


def _recall_episodes(policy: str, n: int = 64, seed: int = 3) -> tuple[np.ndarray, list[np.ndarray]]:
    """Returns of one episode per sub-env of a scripted policy, and the observations it saw."""
    env = make("arena/Recall-v0", n, seed=seed)
    rng = np.random.default_rng(seed)
    obs = env.reset()
    seen = [obs]
    cue = obs[:, :K].argmax(1)
    returns = np.zeros(n)
    for _ in range(DELAY + 2):
        action = cue if policy == "optimal" else rng.integers(K, size=n)
        res = env.step(action)
        returns += res.reward
        assert (res.terminated == (res.episode_length > 0)).all()
        obs = res.obs
        seen.append(res.next_obs)
    assert res.terminated.all() and (res.episode_length == DELAY + 2).all()
    env.close()
    return returns, seen


def test_recall_shows_the_cue_only_at_step_zero() -> None:
    _, seen = _recall_episodes("optimal", n=8)
    assert seen[0].shape == (8, K + 1)
    assert (seen[0][:, :K].sum(1) == 1).all() and (seen[0][:, K] == 0).all()
    for t in range(1, DELAY + 1):
        assert (seen[t] == 0).all(), t
    assert (seen[DELAY + 1][:, :K] == 0).all() and (seen[DELAY + 1][:, K] == 1).all()  # the query


def test_recall_optimal_and_memoryless_returns() -> None:
    optimal, _ = _recall_episodes("optimal", n=64)
    assert (optimal == 1.0).all()
    guess, _ = _recall_episodes("memoryless", n=400)
    assert abs(guess.mean() - 1.0 / K) < 0.08


def test_memory_tasks_deterministic_and_resume_exact() -> None:
    for env_id in ("arena/CartPoleMasked-v1", "arena/Recall-v0"):
        rng = np.random.default_rng(0)
        actions = [rng.integers(2, size=4) for _ in range(40)]
        a, b = make(env_id, 4, seed=7), make(env_id, 4, seed=7)
        obs_a, obs_b = a.reset(), b.reset()
        np.testing.assert_array_equal(obs_a, obs_b)
        for act in actions[:20]:
            np.testing.assert_array_equal(a.step(act).obs, b.step(act).obs)
        resumed = make(env_id, 4, seed=7)
        resumed.set_state(a.get_state())
        for act in actions[20:]:
            ra, rr = a.step(act), resumed.step(act)
            np.testing.assert_array_equal(ra.obs, rr.obs)
            np.testing.assert_array_equal(ra.reward, rr.reward)
        for env in (a, b, resumed):
            env.close()
