"""Scalar schedules over env steps (epsilon, PER beta, learning rate)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LinearSchedule:
    """``start`` at step ``begin``, moving linearly to ``end`` at ``begin + duration``, constant after."""

    start: float
    end: float
    duration: int
    begin: int = 0

    def __call__(self, step: int) -> float:
        if self.duration <= 0:
            return self.end
        frac = min(max((step - self.begin) / self.duration, 0.0), 1.0)
        return self.start + frac * (self.end - self.start)
