"""The Ray runner's worker plumbing: the pool of worker actors the driver keeps one call out to
(``WorkerPool``, with restarts and ``WorkerLostError``), what every actor shares (``RayActor``,
``OfferedParams``: a worker's pull of the learner's newest parameters), an actor's first call in one line when
it cannot start (``started``), and how a run tells that an actor holding its state (learner, replay) is gone
(``dead_actors``, ``lost_state_message``)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import ActorDiedError, GetTimeoutError, RayActorError, RayError, RayTaskError

from agents.errors import RunAbortedError
from agents.params import ParamsClient


@dataclass(frozen=True)
class WorkerStats:
    """What one ``collect`` call of a worker reports to the driver (the data itself goes elsewhere).

    Attributes:
        worker: the worker's index.
        steps: env steps collected, summed over the worker's sub-envs.
        returns: returns of the episodes that ended in this call. lengths: their lengths.
        version: learner version of the parameters the worker acted with.
        seconds: wall time of the call (the worker's SPS is ``steps / seconds``).
        inflight: replay pushes not yet acknowledged when the call returned (DQN family).
        epsilon: the worker's exploration epsilon (DQN family).
    """

    worker: int
    steps: int
    returns: tuple[float, ...]
    lengths: tuple[int, ...]
    version: int
    seconds: float
    inflight: int = 0
    epsilon: float | None = None


class RayActor:
    """What every arena actor answers besides its own work."""

    def node_id(self) -> str:
        """The Ray node it runs on (placement: replay beside the learner; tests)."""
        return ray.get_runtime_context().get_node_id()


class OfferedParams:
    """A worker's view of the learner's parameters: the driver offers ``(version, [ref])`` with every call,
    and a ``ParamsClient`` pulls them (one ``ray.get`` of a CPU ``state_dict``) only when they are newer."""

    def __init__(self, actor: Any) -> None:
        """``actor``: what ``ParamsClient`` updates (``update_params(version, params)``, ``version``)."""
        self.offer: tuple[int, list[Any]] = (0, [])
        self.client = ParamsClient(actor, lambda: (self.offer[0], ray.get(self.offer[1][0])))

    def pull(self, version: int, params: list[Any]) -> bool:
        """Take the offer; returns whether new parameters were loaded."""
        if not params:
            return False
        self.offer = (version, params)
        return self.client.update(version)


class WorkerLostError(RuntimeError):
    """A worker died more often than ``max_restarts`` allows, or stayed down past ``restart_timeout``."""


class WorkerPool:
    """One outstanding ``collect`` call per worker actor, and the bookkeeping of worker deaths.

    A call fails with ``ActorUnavailableError`` when its worker died and Ray is restarting it (calls sent
    during the restart fail the same way), with ``ActorDiedError`` when Ray gave up. A failed worker is
    retried every ``RETRY_S`` seconds; a death is counted once per down period, and the run stops
    (``WorkerLostError``) past ``max_restarts`` deaths or ``restart_timeout`` seconds down.
    """

    RETRY_S = 0.5

    def __init__(self, handles: list[Any], max_restarts: int, restart_timeout: float, num_returns: int = 1) -> None:
        self.handles, self.max_restarts, self.restart_timeout = handles, max_restarts, restart_timeout
        self.num_returns = num_returns
        self.pending: dict[Any, int] = {}  # stats ref -> worker
        self.extra: dict[int, Any] = {}  # worker -> its call's second return (on-policy: the rollout)
        self.deaths = [0] * len(handles)
        self.down_since: list[float | None] = [None] * len(handles)
        self.retry_at = [0.0] * len(handles)

    def busy(self, i: int) -> bool:
        return i in self.pending.values()

    def wait(self, learner_call: Any = None) -> list[Any]:
        """Every finished call among the workers' and ``learner_call`` (if any), after waiting up to ``RETRY_S``
        seconds for the first one; ``[]`` after a short sleep when no call is out (workers awaiting a retry)."""
        refs = list(self.pending) + ([learner_call] if learner_call is not None else [])
        if not refs:
            time.sleep(0.05)
            return []
        ready, _ = ray.wait(refs, num_returns=1, timeout=self.RETRY_S)
        if ready:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        return ready

    def can_submit(self, i: int) -> bool:
        """False for a while after a failed call (its actor is probably still restarting)."""
        return time.monotonic() >= self.retry_at[i]

    def submit(self, i: int, *args: Any) -> None:
        method = self.handles[i].collect
        if self.num_returns == 1:
            self.pending[method.remote(*args)] = i
        else:
            stats, extra = method.options(num_returns=2).remote(*args)
            self.pending[stats] = i
            self.extra[i] = extra

    def take(self, ref: Any) -> tuple[int, WorkerStats | None, Any]:
        """The finished call ``ref``: ``(worker, stats, extra)``; stats None when the worker died during it."""
        i = self.pending.pop(ref)
        extra = self.extra.pop(i, None)
        try:
            stats = ray.get(ref)
        except RayActorError as e:
            if isinstance(e, RayTaskError):  # the worker is alive: an actor it called (its replay shard) died
                raise
            now = time.monotonic()
            down = self.down_since[i]
            if down is None:
                self.down_since[i], down = now, now
                self.deaths[i] += 1
            self.retry_at[i] = now + self.RETRY_S
            gave_up = isinstance(e, ActorDiedError) and 0 <= self.max_restarts < self.deaths[i]
            if gave_up or now - down > self.restart_timeout:
                raise WorkerLostError(f"worker {i} died {self.deaths[i]} time(s) and is not back "
                                      f"(--distributed.max-restarts {self.max_restarts}, --distributed.restart-timeout "
                                      f"{self.restart_timeout:g} s)") from None
            return i, None, None
        self.down_since[i] = None
        return i, stats, extra

    def kill(self) -> None:
        kill_actors(self.handles)


class LearnerAndWorkers:
    """What a Ray trainer of iterations (self-play, the league) owns: a learner actor holding the run's state and a
    pool of worker actors (``worker_pool``: None before it started)."""

    learner_actor: Any

    def worker_pool(self) -> WorkerPool | None:
        raise NotImplementedError

    def core_actors(self) -> dict[str, Any]:
        """The actors whose state the run's checkpoints hold, by name (not restarted)."""
        return {"learner": self.learner_actor}

    def close(self) -> None:
        """Kill every actor this trainer started (Ray itself may be shared, e.g. by tests)."""
        pool = self.worker_pool()
        if pool is not None:
            pool.kill()
        kill_actor(self.learner_actor)


def kill_actors(handles: list[Any]) -> None:
    for h in handles:
        kill_actor(h)


def kill_actor(handle: Any) -> None:
    try:
        ray.kill(handle, no_restart=True)
    except Exception:  # already gone: nothing to free
        pass


def dead_actors(actors: dict[str, Any], timeout: float = 10.0) -> list[str]:
    """The names of ``actors`` (name -> handle, ``RayActor``s) that are gone: a call to them fails.

    Asked after a Ray error, to tell a lost learner or replay shard (the run cannot go on) from anything else.
    An actor still busy with a long call after ``timeout`` seconds counts as alive.
    """
    refs = {name: handle.node_id.remote() for name, handle in actors.items()}
    deadline = time.monotonic() + timeout
    dead = []
    for name, ref in refs.items():
        try:
            ray.get(ref, timeout=max(deadline - time.monotonic(), 0.0))
        except RayActorError:
            dead.append(name)
        except RayError:  # busy past the timeout, or Ray itself failing: not known to be dead
            pass
    return dead


def lost_state_message(dead: list[str], saved_at: int | None, unit: str, resume: str) -> str:
    """The one line for a run whose ``dead`` actors took state no checkpoint can save now: the last periodic
    checkpoint (at ``unit`` ``saved_at``, None: none yet) is kept as it is, and ``resume`` continues from it."""
    many = len(dead) > 1
    what = f"the Ray {' and '.join(dead)} actor{'s' if many else ''} died"
    if saved_at is None:
        return f"{what} before the first checkpoint; start the run again"
    return (f"{what}, so {'their' if many else 'its'} state cannot be saved: resume from the checkpoint at {unit} "
            f"{saved_at:,} with {resume}")


def error_line(e: BaseException) -> str:
    """The line of a Ray error that says what went wrong: the last ``Name: message`` line of the remote
    traceback Ray puts in its message (the exception's own first line when there is none)."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    said = [line for line in lines if ": " in line and line.split(": ", 1)[0].replace(".", "").isidentifier()]
    return said[-1] if said else (lines[0] if lines else type(e).__name__)


def started(ref: Any, what: str, timeout: float, on_failure: Any = None) -> Any:
    """``ray.get(ref)`` on an actor's first call, with a one-line ``RunAbortedError`` when the actor cannot start
    (its constructor raised, or the cluster has not placed it within ``timeout`` seconds: too few CPUs or GPUs
    free, a node gone). ``on_failure()`` runs first (kill the actors started so far: Ray may be shared)."""
    try:
        return ray.get(ref, timeout=None if math.isinf(timeout) else timeout)
    except GetTimeoutError:
        reason = (f"did not start within {timeout:g} s (--distributed.restart-timeout): the cluster may lack the "
                  "CPUs or GPUs it asks for (`ray status` lists them)")
    except RayError as e:
        reason = f"failed to start: {error_line(e)}"
    if on_failure is not None:
        on_failure()
    raise RunAbortedError(f"the Ray {what} actor {reason}")
