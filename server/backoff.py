"""Exponential backoff between attempts at something that keeps failing: restarting a process, reconnecting."""

from __future__ import annotations


class Backoff:
    """Delays that double from `first` up to `cap`, and start over from `first` once an attempt lasted `stable`
    seconds (it was a new failure, not the same one again)."""

    def __init__(self, first: float = 0.5, cap: float = 30.0, stable: float = 60.0) -> None:
        self.first, self.cap, self.stable = first, cap, stable
        self._next = first

    def delay(self, lasted: float) -> float:
        """The wait before the next attempt, after one that lasted `lasted` seconds before it failed."""
        if lasted >= self.stable:
            self._next = self.first
        delay = self._next
        self._next = min(self._next * 2, self.cap)
        return delay
