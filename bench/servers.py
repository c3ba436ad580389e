"""granian against uvicorn (httptools + uvloop), same app, same endpoints, same run."""

from __future__ import annotations

import asyncio

from bench import load
from bench.harness import Env, api


async def _measure(port: int, key: str, seconds: float) -> list[load.Result]:
    health = load.build_request("GET", "/health", "127.0.0.1", {})
    brand = load.build_request("GET", "/v1/brand", "127.0.0.1", {"Authorization": f"Bearer {key}"})
    return [
        await load.run("GET /health", "127.0.0.1", port, lambda _: health, seconds=seconds),
        await load.run("GET /v1/brand (auth + 1 query)", "127.0.0.1", port, lambda _: brand, seconds=seconds),
    ]


def compare(env: Env, seconds: float) -> list[tuple[str, load.Result]]:
    results = []
    for server in ("granian", "uvicorn"):
        with api(env, server) as port:
            for result in asyncio.run(_measure(port, env.keys["manage"], seconds)):
                results.append((server, result))
    return results
