"""A small HTTP/1.1 keep-alive load generator on asyncio (uvloop), for loopback benchmarks.

It is deliberately minimal — fixed requests, Content-Length bodies only — so that the client costs far less
CPU per request than the server it measures. Each of `connections` connections sends its next request as soon
as the previous response arrived, for `seconds`, after a warm-up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import msgspec


class Result(msgspec.Struct):
    name: str
    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def build_request(method: str, path: str, host: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    if length:
        await reader.readexactly(length)
    return status


async def run(
    name: str,
    host: str,
    port: int,
    make_request: Callable[[int], bytes],
    *,
    connections: int = 64,
    seconds: float = 5.0,
    warmup: float = 1.0,
    expect: tuple[int, ...] = (200, 201, 202),
) -> Result:
    """Load `host:port` with requests from `make_request(i)` (i counts requests) and report throughput."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0
    counter = 0
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + seconds

    async def client() -> None:
        nonlocal errors, counter
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while True:
                sent = time.perf_counter()
                if sent >= stop_at:
                    return
                counter += 1
                writer.write(make_request(counter))
                status = await read_response(reader)
                done = time.perf_counter()
                if sent >= measure_from:
                    latencies.append(done - sent)
                    statuses[str(status)] = statuses.get(str(status), 0) + 1
                    if status not in expect:
                        errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    latencies.sort()
    return Result(
        name=name,
        requests=len(latencies),
        seconds=seconds,
        errors=errors,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        statuses=statuses,
    )


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile in milliseconds (0 when nothing was measured)."""
    if not ordered:
        return 0.0
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)
