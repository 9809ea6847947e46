"""The ALE-backed Atari env: shapes, protocol, episode ends, seeding, resume, life loss.

Seeded ALE resets reload the ROM (~0.2 s each), so these tests use 2 to 4 sub-envs and short
frame limits.
"""

from __future__ import annotations

import numpy as np
import pytest

from envs import StepResult, make, spec_for
from envs.atari import AtariEnv


def run(env: AtariEnv, steps: int, seed: int = 0) -> tuple[list[np.ndarray], list[StepResult]]:
    rng = np.random.default_rng(seed)
    actions = [rng.integers(0, env.spec.num_actions, env.num_envs) for _ in range(steps)]
    return actions, [env.step(a) for a in actions]


def test_pong_shapes_dtypes_and_render() -> None:
    env = make("ale:pong", num_envs=2, seed=0)
    obs = env.reset()
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
    assert not obs[:, :3].any() and obs[:, 3].any()  # zero-padded stack at reset, oldest first
    _, results = run(env, 200)  # type: ignore[arg-type]
    out = results[-1]
    assert out.next_obs.shape == out.obs.shape == (2, 4, 84, 84) and out.obs.dtype == np.uint8
    assert out.reward.dtype == np.float32 and out.terminated.dtype == np.bool_
    # Consecutive stacks share frames: the newest frame moves one slot back.
    np.testing.assert_array_equal(results[-1].next_obs[:, :3], results[-2].obs[:, 1:])
    frame = env.render(1)
    assert frame is not None and frame.shape == (168, 168, 3) and frame.dtype == np.uint8
    env.close()


def test_protocol_is_recorded() -> None:
    spec = spec_for("ALE/Pong-v5")
    assert (spec.kind, spec.frame_stack, spec.obs_shape, spec.num_actions) == ("atari", 4, (4, 84, 84), 6)
    p = spec.protocol
    assert p["game"] == "pong" and p["frame_skip"] == 4 and p["noop_max"] == 30
    assert p["repeat_action_probability"] == 0.0 and p["reward_clipping"] is False
    assert p["max_frames_per_episode"] == 108_000 and p["max_steps_per_episode"] == 27_000
    assert p["terminal_on_life_loss"] is False and p["full_action_space"] is False
    assert p["num_threads"] == 1 and p["exact_resume"] is True and p["reseed_every"] == 10_000
    sticky = spec_for("PongNoFrameskip-v4", repeat_action_probability=0.25, full_action_space=True)
    assert sticky.protocol["repeat_action_probability"] == 0.25 and sticky.num_actions == 18


def test_truncation_and_termination_with_final_obs() -> None:
    # 800 frames = 200 agent steps: some random Breakout games are over before that, some not.
    env = make("ale:breakout", num_envs=2, seed=1, max_frames_per_episode=800)
    env.reset()
    _, results = run(env, 500)  # type: ignore[arg-type]
    kinds = set()
    for out in results:
        for i in np.flatnonzero(out.episode_length):
            kinds.add("terminated" if out.terminated[i] else "truncated")
            assert out.terminated[i] != out.truncated[i]
            assert out.episode_length[i] <= 200
            assert not out.obs[i, :3].any()  # the next episode's first stack
            assert out.next_obs[i, :3].any()  # the final stack of a finished episode
        assert (out.truncated <= (out.episode_length == 200)).all()
    assert kinds == {"terminated", "truncated"}
    env.close()


def test_rewards_are_not_clipped() -> None:
    env = make("ale:space_invaders", num_envs=2, seed=0)
    env.reset()
    _, results = run(env, 300)  # type: ignore[arg-type]
    assert max(r.reward.max() for r in results) > 1.0
    env.close()


def test_same_seed_same_trajectories() -> None:
    runs = []
    for seed in (3, 3, 4):
        env = make("ale:breakout", num_envs=1, seed=seed, max_frames_per_episode=200)
        first = env.reset()
        _, results = run(env, 120)  # type: ignore[arg-type]
        runs.append((first, results))
        env.close()
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(a.next_obs, b.next_obs)
        np.testing.assert_array_equal(a.obs, b.obs)
        np.testing.assert_array_equal(a.reward, b.reward)
        np.testing.assert_array_equal(a.terminated | a.truncated, b.terminated | b.truncated)
    assert any(
        not np.array_equal(a.next_obs, c.next_obs) for a, c in zip(runs[0][1], runs[2][1], strict=True)
    )


@pytest.mark.parametrize("reseed_every", [0, 70])
def test_exact_resume(reseed_every: int) -> None:
    # 30-step episodes; with reseed_every=70 the replayed segment spans two ALE autoresets.
    options = {"max_frames_per_episode": 120, "reseed_every": reseed_every, "repeat_action_probability": 0.25}
    env = make("ale:breakout", num_envs=2, seed=5, **options)
    env.reset()
    run(env, 70, seed=1)  # type: ignore[arg-type]
    state = env.get_state()
    assert (state["episode"] == 2).all() and (state["episode_length"] == 10).all()
    expected_segment = 10 if reseed_every == 0 else 70  # seeded at step 60, or only at reset()
    assert [len(a) for a in state["actions"]] == [expected_segment] * 2
    actions, expected = run(env, 30, seed=2)  # type: ignore[arg-type]
    assert any(r.episode_length.any() for r in expected)  # episodes end after the snapshot too
    env.close()
    fresh = make("ale:breakout", num_envs=2, seed=0, **options)
    assert fresh.spec.protocol["exact_resume"] is True
    fresh.set_state(state)
    for a, want in zip(actions, expected, strict=True):
        got = fresh.step(a)
        np.testing.assert_array_equal(got.next_obs, want.next_obs)
        np.testing.assert_array_equal(got.obs, want.obs)
        np.testing.assert_array_equal(got.reward, want.reward)
        np.testing.assert_array_equal(got.terminated, want.terminated)
        np.testing.assert_array_equal(got.truncated, want.truncated)
        np.testing.assert_array_equal(got.episode_return, want.episode_return)
    fresh.close()


def test_resume_without_history_starts_fresh_seeded_episodes() -> None:
    env = make("ale:pong", num_envs=1, seed=2, exact_resume=False)
    env.reset()
    run(env, 20)  # type: ignore[arg-type]
    state = env.get_state()
    assert len(state["actions"][0]) == 0  # no history kept
    env.close()
    starts = []
    for _ in range(2):
        fresh = make("ale:pong", num_envs=1, seed=0, exact_resume=False)
        assert fresh.spec.protocol["exact_resume"] is False
        obs = fresh.set_state(state)
        assert not obs[:, :3].any()  # new episodes
        after = fresh.get_state()
        np.testing.assert_array_equal(after["episode"], state["episode"] + 1)
        assert (after["episode_length"] == 0).all()
        starts.append(obs)
        fresh.close()
    np.testing.assert_array_equal(starts[0], starts[1])


def test_terminal_on_life_loss_keeps_the_game_going() -> None:
    env = make("ale:breakout", num_envs=1, seed=0, terminal_on_life_loss=True)
    env.reset()
    _, results = run(env, 300)  # type: ignore[arg-type]
    life_losses = game_overs = 0
    for out in results:
        for i in np.flatnonzero(out.terminated):
            if out.episode_length[i]:
                game_overs += 1
            else:  # a lost life: terminal for learning, but no reset
                life_losses += 1
                np.testing.assert_array_equal(out.obs[i], out.next_obs[i])
                assert np.isnan(out.episode_return[i])
    assert life_losses >= 4 and game_overs >= 1
    env.close()


def test_unknown_game() -> None:
    with pytest.raises(ValueError, match="ale:pong"):
        make("ale:pongg")
