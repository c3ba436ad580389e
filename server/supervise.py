"""`lxt up`'s supervision: each process it runs — the embedded PostgreSQL and Valkey, the API, the worker — is
restarted when it ends, after a backoff, while the others keep running.

A restarted process comes back exactly where it was: the API and the worker with the same command and
environment, the embedded servers on the same data dir and address, so the URLs the others were given (and
that ``runtime.json`` publishes) stay valid. Delays between restarts of one process double from 0.5 s up to
30 s, and start over once it ran for a minute.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from server.backoff import Backoff

log = logging.getLogger("lxt.supervise")

POLL_EVERY = 0.2
"""Seconds between two looks at the processes: how long a dead process may go unnoticed."""


class Supervised(Protocol):
    """A process `supervise` watches: started already, restarted by calling `start` again."""

    name: str

    @property
    def pid(self) -> int: ...

    def start(self) -> None: ...

    def exited(self) -> str | None:
        """None while it runs; how it ended otherwise ("exited with status 1", "was killed by SIGKILL" …)."""
        ...


class Child:
    """An lxt command (``lxt serve``, ``lxt worker``) run as a child process, in a process group of its own: when
    it dies, what it started (granian's worker processes) is killed with it, so that its successor finds the
    port free. A Ctrl-C in the terminal reaches only `lxt up`, which stops its children in order; if `lxt up` dies
    without that chance (SIGKILL, the OOM killer), each child is sent SIGTERM by the kernel (on Linux)."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str]) -> None:
        self.name, self.argv, self.env = name, list(argv), env
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        return self._process.pid if self._process else 0

    def start(self) -> None:
        self._process = subprocess.Popen(  # noqa: S603 (lxt's own commands)
            self.argv, env=self.env, start_new_session=True, preexec_fn=_stop_with_parent(os.getpid())
        )

    def exited(self) -> str | None:
        code = self._process.poll() if self._process else None
        if code is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)  # whatever it left behind
        if code < 0:
            return f"was killed by {signal.Signals(-code).name}"
        return f"exited with status {code}"

    def interrupt(self) -> None:
        """Ask it to stop, as Ctrl-C would."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)

    def wait(self, deadline: float) -> None:
        """Wait for it to end; kill it if it is still there at `deadline` (a `time.monotonic()`)."""
        if self._process is None:
            return
        try:
            self._process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s (pid %d) did not stop in time; killing it", self.name, self.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self._process.wait()


PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal the calling process gets when its parent dies."""


def _stop_with_parent(parent: int) -> Callable[[], None] | None:
    """On Linux, what a child runs before lxt's command: it asks to be sent SIGTERM when `parent` dies. In a
    session of its own, nothing else would stop it: it would go on serving, or sending, unsupervised. (The signal
    comes when the parent's thread that started the child ends: `lxt up` starts its children from its main
    thread.) Elsewhere, None: no such request exists."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before the fork: the child only calls it

    def stop_with_parent() -> None:
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before the request took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return stop_with_parent


def supervise(
    services: Sequence[Supervised],
    stopping: threading.Event,
    backoff: Callable[[], Backoff] = lambda: Backoff(first=0.5, cap=30.0, stable=60.0),
) -> None:
    """Watch `services` (all running) until `stopping` is set; restart each one that ends, with its own backoff."""
    now = time.monotonic()
    started = {id(s): now for s in services}
    restart_at: dict[int, float] = {}
    delays = {id(s): backoff() for s in services}
    while not stopping.wait(POLL_EVERY):
        for service in services:
            key, now = id(service), time.monotonic()
            if key not in restart_at:
                how = service.exited()
                if how is None:
                    continue
                delay = delays[key].delay(now - started[key])
                restart_at[key] = now + delay
                log.warning("%s (pid %d) %s; restarting it in %.1f s", service.name, service.pid, how, delay)
            elif now >= restart_at[key] and not stopping.is_set():
                try:
                    service.start()
                except Exception as exc:
                    delay = delays[key].delay(0)
                    restart_at[key] = time.monotonic() + delay
                    log.error("restarting %s failed (%s); next attempt in %.1f s", service.name, exc, delay)
                    continue
                del restart_at[key]
                started[key] = time.monotonic()
                log.warning("%s restarted (pid %d)", service.name, service.pid)
