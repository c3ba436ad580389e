"""Running `lxt` commands as real processes: start one with its output captured, wait for conditions, stop it.

Conditions are polled with a deadline (a loaded machine may be slow, a correct one is never late by much), never
waited for with a fixed sleep.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import psutil

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def lxt(command: str, env: dict[str, str], output: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``lxt COMMAND`` with stdout and stderr going to `output`; stop it with SIGINT (Ctrl-C) on exit."""
    with output.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", command], env={**os.environ, **env}, stdout=sink, stderr=sink
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str, within: float = 30) -> T:
    """Poll `probe` until it returns something other than None/False; fail naming `what` after `within` s."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.05)


async def readiness(http: httpx.AsyncClient) -> dict | None:
    """The body of /ready, or None while the API does not answer."""
    try:
        response = await http.get("/ready", timeout=2)
    except httpx.TransportError:
        return None
    return response.json()


def gone(pid: int) -> bool:
    """True once the process has exited (a zombie nobody reaped yet counts as exited)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
