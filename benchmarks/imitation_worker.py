"""One GAIL run of the ``imitation`` library (1.0.1, Stable-Baselines3 PPO generator), for imitation_gail.py.

Runs under the separate venv that ``benchmarks/imitation_gail.py`` creates (gymnasium 0.29, SB3 2.2.1,
imitation 1.0.1), never under arena's own: it imports nothing from arena. Everything it needs comes in
one JSON file of settings (``--settings``); it writes one JSON file of results (``--out``).

Demonstrations come from the ``.npz`` arena wrote next to its Minari dataset: ``obs`` (every episode's
observations including the final one, concatenated), ``acts``, ``lengths`` (steps per episode) and
``terminated`` (per episode). Each episode becomes an ``imitation.data.types.Trajectory`` (no infos;
``terminal=True``, imitation's convention for complete episodes).

Evaluation as arena does it: every ``eval_every`` env steps (at the first round boundary past each
multiple), ``eval_episodes`` deterministic episodes on the true reward, each in its own env of one
evaluation vector env. The clock that is reported excludes evaluation.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import gymnasium as gym
import imitation
import numpy as np
import stable_baselines3
import torch
from imitation.algorithms.adversarial.gail import GAIL
from imitation.data.types import Trajectory
from imitation.rewards.reward_nets import BasicRewardNet
from imitation.util import logger as imit_logger
from stable_baselines3 import PPO
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize


def load_trajectories(path: str) -> list[Trajectory]:
    data = np.load(path)
    obs, acts, lengths = data["obs"], data["acts"], data["lengths"]
    trajs, o, a = [], 0, 0
    for length in lengths:
        length = int(length)
        trajs.append(Trajectory(obs=obs[o:o + length + 1], acts=acts[a:a + length], infos=None, terminal=True))
        o += length + 1
        a += length
    return trajs


def make_venv(env_id: str, n: int, seed: int, monitor: bool = False) -> DummyVecEnv:
    venv = DummyVecEnv([(lambda: Monitor(gym.make(env_id))) if monitor else (lambda: gym.make(env_id))
                        for _ in range(n)])
    venv.seed(seed)
    return venv


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--settings", required=True, help="JSON file of settings written by imitation_gail.py")
    p.add_argument("--out", required=True, help="where to write the results JSON")
    a = p.parse_args()
    s = json.loads(Path(a.settings).read_text())
    torch.set_num_threads(int(s["torch_threads"]))
    seed, env_id = int(s["seed"]), s["env_id"]
    torch.manual_seed(seed)
    np.random.seed(seed)
    trajs = load_trajectories(s["demos_npz"])

    venv = make_venv(env_id, int(s["num_envs"]), seed)
    act_fn = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[s["activation"]]
    ppo = s["ppo"]
    gen = PPO("MlpPolicy", venv, n_steps=ppo["n_steps"], batch_size=ppo["batch_size"], n_epochs=ppo["n_epochs"],
              gamma=ppo["gamma"], gae_lambda=ppo["gae_lambda"], learning_rate=ppo["lr"], clip_range=ppo["clip"],
              ent_coef=ppo["ent_coef"], vf_coef=ppo["vf_coef"], max_grad_norm=ppo["max_grad_norm"],
              normalize_advantage=True, device="cpu", seed=seed, verbose=0,
              policy_kwargs={"net_arch": {"pi": list(s["hidden"]), "vf": list(s["hidden"])},
                             "activation_fn": act_fn, "ortho_init": True, "log_std_init": ppo["log_std_init"]})
    disc = s["disc"]
    reward_net = BasicRewardNet(venv.observation_space, venv.action_space, hid_sizes=tuple(disc["hidden"]),
                                activation=act_fn)
    log_dir = Path(s["log_dir"])
    log_dir.mkdir(parents=True, exist_ok=True)
    trainer = GAIL(demonstrations=trajs, demo_batch_size=disc["demo_batch_size"], venv=venv, gen_algo=gen,
                   reward_net=reward_net, n_disc_updates_per_round=disc["n_disc_updates_per_round"],
                   gen_replay_buffer_capacity=disc["gen_replay_buffer_capacity"],
                   disc_opt_kwargs={"lr": disc["lr"]}, log_dir=str(log_dir),
                   custom_logger=imit_logger.configure(str(log_dir), format_strs=[]),
                   allow_variable_horizon=bool(s["allow_variable_horizon"]))
    norm: VecNormalize | None = None
    if s["obs_norm"] or s["reward_norm"]:
        # On top of imitation's reward wrapper: the policy sees normalised observations and learns from the
        # scaled learned reward; the discriminator (below the wrapper) sees raw observations, as in arena.
        norm = VecNormalize(trainer.venv_train, norm_obs=bool(s["obs_norm"]), norm_reward=bool(s["reward_norm"]),
                            gamma=ppo["gamma"])
        gen.set_env(norm)
    eval_env = make_venv(env_id, int(s["eval_episodes"]), seed + 1_000_003, monitor=True)
    eval_venv: DummyVecEnv | VecNormalize = eval_env
    if norm is not None and s["obs_norm"]:
        eval_venv = VecNormalize(eval_env, training=False, norm_obs=True, norm_reward=False)

    per_round = trainer.gen_train_timesteps
    every, max_steps, target = int(s["eval_every"]), int(s["max_steps"]), s["target"]
    evals: list[dict[str, float]] = []
    state: dict[str, float] = {"eval_s": 0.0, "evals_done": 0, "reached": False, "rounds": 0}
    t0 = time.perf_counter()

    def evaluate(step: int) -> None:
        t = time.perf_counter()
        if isinstance(eval_venv, VecNormalize) and norm is not None:
            eval_venv.obs_rms = norm.obs_rms.copy()
        returns, _ = evaluate_policy(gen, eval_venv, n_eval_episodes=int(s["eval_episodes"]), deterministic=True,
                                     return_episode_rewards=True)
        state["eval_s"] += time.perf_counter() - t
        wall = time.perf_counter() - t0
        r = np.asarray(returns, dtype=np.float64)
        evals.append({"step": step, "eval_mean": float(r.mean()), "eval_std": float(r.std()),
                      "train_seconds": round(wall - state["eval_s"], 3), "wall_seconds": round(wall, 3)})
        print(f"imitation eval @ {step:,}: {r.mean():.1f} ({wall - state['eval_s']:.0f} s training)", flush=True)
        if target is not None and r.mean() >= target:
            state["reached"] = True

    class Stop(Exception):
        pass

    def callback(r: int) -> None:  # imitation calls it after every round (generator rollout + PPO + D updates)
        state["rounds"] = r + 1
        step = (r + 1) * per_round
        if every > 0 and step // every > state["evals_done"]:
            state["evals_done"] = step // every
            evaluate(step)
            if s["stop_at_target"] and state["reached"]:
                raise Stop  # as arena's runner stops at its target; imitation's train() has no such option

    try:
        trainer.train(max_steps, callback=callback)
    except Stop:
        pass
    rounds = int(state["rounds"])
    if not evals or evals[-1]["step"] != rounds * per_round:
        evaluate(rounds * per_round)
    wall = time.perf_counter() - t0
    result = {"steps": rounds * per_round, "rounds": rounds, "steps_per_round": per_round,
              "train_seconds": round(wall - state["eval_s"], 3), "wall_seconds": round(wall, 3),
              "eval_seconds": round(state["eval_s"], 3), "evals": evals,
              "versions": {"python": platform.python_version(), "torch": torch.__version__,
                           "gymnasium": gym.__version__, "stable_baselines3": stable_baselines3.__version__,
                           "imitation": imitation.__version__, "numpy": np.__version__}}
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
