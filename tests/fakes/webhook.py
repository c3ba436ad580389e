"""A brand's webhook receiver: answers whatever it is told to and records every request it gets.

Each request is answered by the first of: a planned failure or drop (`fail_next`, `drop_next`, in the order
they were planned), the status set by `respond_with` (for its next `n` requests, or for good), else 200.
`delay` holds every answer back.
"""

from __future__ import annotations

import collections

from tests.fakes.base import DROP, FakeServer, ReceivedRequest, Reply, _Drop


class FakeWebhook(FakeServer):
    """Any method, any path; `requests` holds method, path, headers, raw body and receive time of each."""

    def __init__(self, *, port: int = 0) -> None:
        super().__init__(port=port)
        self._plan: collections.deque[int | None] = collections.deque()
        """Planned answers: a status, or None to drop the connection."""
        self._status = 200
        self._status_left: int | None = None
        self._delay = 0.0

    def respond_with(self, status: int, n: int | None = None) -> None:
        """Answer `status` to the next `n` requests (all of them when `n` is None), then 200 again."""
        with self.lock:
            self._status, self._status_left = status, n

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        with self.lock:
            self._plan.extend([status] * n)

    def drop_next(self, n: int = 1) -> None:
        """Close the connection of the next `n` requests after reading them, without an answer."""
        with self.lock:
            self._plan.extend([None] * n)

    def delay(self, seconds: float) -> None:
        """Answer every request `seconds` late (0 to answer at once again)."""
        with self.lock:
            self._delay = seconds

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self._plan.clear()
            self._status, self._status_left = 200, None
            self._delay = 0.0

    def answer(self, request: ReceivedRequest) -> Reply | _Drop:
        with self.lock:
            delay = self._delay
            if self._plan:
                status = self._plan.popleft()
            elif self._status_left is None:
                status = self._status
            elif self._status_left > 0:
                status, self._status_left = self._status, self._status_left - 1
            else:
                status = 200
        self.sleep(delay)
        if status is None:
            return DROP
        return Reply(status, b"", "text/plain")
