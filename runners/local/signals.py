"""SIGINT and SIGTERM for ``arena``: save what can be saved, then exit 128 + signum (130, 143).

Two modes, so a signal is handled the same way whenever it arrives:

- Outside any ``deferred()`` region (start-up: importing torch, Ray and wandb takes seconds; building envs;
  a tournament) a signal raises ``SignalExit`` at once. ``runners.cli.main`` turns it into a one-line
  message and exit 130 / 143; a run directory that holds no checkpoint yet is removed (``discard_unsaved``).
- Inside ``deferred()`` (the run loop, evaluations, checkpoint writes) a signal is only recorded: the loop
  stops at its next check, an evaluation stops early (``stop_requested``), an atomic write finishes. The run
  saves a checkpoint and returns the signal number, which the command turns into its exit code.

Only this module touches signal handlers; it imports the standard library alone, so ``runners.cli.main`` can
install the handlers before its heavy imports.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_depth = 0  # nesting of deferred() regions (main thread only)
_received: int | None = None  # the first signal recorded in the current outermost deferred() region
_count = 0  # signals recorded so far, so a region knows whether one arrived while it ran
# A SignalExit the handler raised that nobody has answered yet: a library's bare ``except:`` around an import
# can swallow it, and the next deferred() region (the run loop) then starts stopped instead of running on.
_unanswered: int | None = None


class SignalExit(KeyboardInterrupt):
    """SIGINT or SIGTERM outside a ``deferred()`` region; a KeyboardInterrupt so cleanup written for
    Ctrl-C (ours, Ray's, wandb's) runs for SIGTERM too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(signum: int | None) -> int:
    """The shell's convention: 128 + signum after a signal (130 SIGINT, 143 SIGTERM), else 0."""
    return 0 if signum is None else 128 + signum


def name(signum: int) -> str:
    return signal.Signals(signum).name


def _handle(signum: int, frame: FrameType | None) -> None:
    global _received, _count, _unanswered
    if _depth == 0:
        _unanswered = signum
        raise SignalExit(signum)
    _count += 1
    if _received is None:
        _received = signum


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def install() -> None:
    """Make SIGINT and SIGTERM raise ``SignalExit`` (outside ``deferred()``). Idempotent; main thread only.

    Also called after ``ray.init``, which replaces SIGTERM's handler by one that exits with code 15.
    """
    if _main_thread():
        for sig in SIGNALS:
            signal.signal(sig, _handle)


def installed() -> bool:
    """Whether ``install`` (or an enclosing ``deferred``) owns SIGTERM's handler."""
    return signal.getsignal(signal.SIGTERM) is _handle


def answered() -> None:
    """The caller has taken the SignalExit (``runners.cli.main`` ends the process with its exit code)."""
    global _unanswered
    _unanswered = None


def received() -> int | None:
    """The signal recorded in the current (or last) outermost ``deferred()`` region, if any."""
    return _received


def stop_requested() -> bool:
    """True once a signal arrived inside ``deferred()``: long work (evaluation, video) should stop early."""
    return _depth > 0 and _received is not None


@contextmanager
def deferred(reraise: bool = False) -> Iterator[None]:
    """Record SIGINT / SIGTERM instead of acting on them while the block runs (a no-op off the main thread).

    The previous handlers come back at the end. With ``reraise``, a signal that arrived during the block
    is delivered again to them once it has finished (an atomic write completes, then the process stops
    as it would have); without it the caller looks at ``received()`` (the run loop returns the signal).
    """
    global _depth, _received, _unanswered
    if not _main_thread():
        yield
        return
    old = {sig: signal.getsignal(sig) for sig in SIGNALS}
    if _depth == 0:
        # A new run in the same process (a notebook, a test) starts unstopped, unless a signal's SignalExit
        # was swallowed on the way here: then the run stops at its first check and saves.
        _received, _unanswered = _unanswered, None
    start = _count
    for sig in SIGNALS:
        signal.signal(sig, _handle)
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if reraise and _depth == 0 and _count > start and _received is not None:
            signal.raise_signal(_received)


def discard_unsaved(run_dir: Path) -> None:
    """Remove a run directory this process created and that holds no checkpoint yet (nothing to resume)."""
    if run_dir.is_dir() and not (run_dir / "checkpoints").exists():
        shutil.rmtree(run_dir, ignore_errors=True)


def install_startup() -> None:
    """Until ``install``: a signal ends the process at once, in one line, with 128 + signum.

    For the program's first second or so, while it imports (tyro, torch): nothing exists yet to save or
    clean up. The handler ends the process with ``os._exit`` rather than by raising: an exception raised
    inside an import can be swallowed by the imported library's own ``except:`` (the run then went on as if
    never signalled), and unwinding out of a half-run import of a C extension can crash the interpreter at
    shutdown (SIGSEGV seen); with nothing to save, skipping the shutdown costs nothing.
    """
    if _main_thread():
        for sig in SIGNALS:
            signal.signal(sig, _exit_at_startup)


def _exit_at_startup(signum: int, frame: FrameType | None) -> None:
    os.write(2, f"arena: stopped by {name(signum)} while starting (nothing was saved)\n".encode())
    os._exit(exit_code(signum))


class StopFlag:
    """The run loop's view of ``deferred``: SIGINT/SIGTERM become a flag (``signum``) so the
    loop can checkpoint before exiting; evaluations and checkpoint writes inside it see the same flag."""

    def __enter__(self) -> StopFlag:
        self._region = deferred()
        self._region.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._region.__exit__(*exc)

    @property
    def signum(self) -> int | None:
        return received()

    @property
    def raised(self) -> str | None:
        signum = received()
        return None if signum is None else name(signum)
