"""Timing helper shared by the benchmark scripts: the median wall time of one call after a warm-up."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def median_s(fn: Callable[[], object], reps: int, warmup: int) -> float:
    """Median seconds of ``reps`` calls of ``fn``, each timed alone, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))
