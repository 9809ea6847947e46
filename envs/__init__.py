"""Batched environments: Gymnasium ids, the ALE's native vector env, MinAtar and test fakes.

``make(env_id, num_envs, seed)`` is the entry point; every env it returns satisfies ``BatchedEnv``.
"""

from envs.base import BatchedEnv, EnvSpec, StepResult
from envs.errors import EnvIdError, UnsupportedEnvError
from envs.make import make, spec_for
from envs.memory_tasks import register as _register_memory_tasks

_register_memory_tasks()

__all__ = ["BatchedEnv", "EnvIdError", "EnvSpec", "StepResult", "UnsupportedEnvError", "make", "spec_for"]
