"""Event ingestion against the ceiling of the same app, in the same run.

Scenarios, each against one API process with a trigger that schedules every event (so each event costs an
event, a decision, an invitation, a customer upsert and a queued job):
- ``GET /health``: the no-op ceiling (routing, middleware, serialisation; no auth, no database);
- ``POST /v1/events/validate``: the same request as ingestion, authenticated, parsed and validated, not stored;
- ``POST /v1/events``: single events, 64 connections, each acknowledged only after its commit;
- ``POST /v1/events/batch``: batches of 100 and of 1000 events.
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Callable
from datetime import UTC, datetime

import httpx

from bench import load
from bench.harness import Env, api

EXAMPLE = "questionnaires/examples/store_visit_nps.yaml"


def _setup(port: int, manage_key: str) -> None:
    headers = {"Authorization": f"Bearer {manage_key}"}
    base = f"http://127.0.0.1:{port}"
    with open(EXAMPLE, "rb") as f:
        r = httpx.post(
            f"{base}/v1/questionnaires", content=f.read(), headers={**headers, "content-type": "application/yaml"}
        )
    r.raise_for_status()
    httpx.put(
        f"{base}/v1/touchpoints/store_visit", json={"name": "Store visit"}, headers=headers
    ).raise_for_status()
    trigger = {
        "key": "after_visit", "name": "After visit", "touchpoint": "store_visit", "questionnaire": "store_visit_nps",
        "delay": "PT5M", "send_window": {"start": "00:00", "end": "24:00"},
    }  # fmt: skip
    httpx.put(f"{base}/v1/triggers/after_visit", json=trigger, headers=headers).raise_for_status()


def _event(run: str, i: int) -> dict:
    return {
        "idempotency_key": f"{run}-{i}",
        "touchpoint": "store_visit",
        # Every event a new customer with their own number: the costliest case (nothing cached, all inserts).
        "customer": {"external_id": f"{run}-c{i}", "phone": _phone(run, i), "consents": {"sms": True}},
        "attributes": {"store": "berlin-mitte", "basket": 42.5},
    }


def _phone(run: str, i: int) -> str:
    return f"+49151{(zlib.crc32(run.encode()) + i) % 10**8:08d}"


def _post(path: str, key: str, body: bytes) -> bytes:
    return load.build_request(
        "POST", path, "127.0.0.1", {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}, body
    )


def _prebuilt(count: int, build: Callable[[int], bytes]) -> Callable[[int], bytes]:
    """Requests built before the clock starts, so the load generator spends nothing on JSON while measuring.

    Every request carries new idempotency keys; running out would replay them, which the run reports.
    """
    requests = [build(i) for i in range(count)]

    def take(i: int) -> bytes:
        if i > count:
            raise RuntimeError(f"more than {count} requests: raise the prebuilt count for this scenario")
        return requests[i - 1]

    return take


async def _measure(port: int, key: str, seconds: float) -> dict[str, load.Result]:
    run = datetime.now(UTC).strftime("%H%M%S")
    health = load.build_request("GET", "/health", "127.0.0.1", {})
    budget = max(1.0, seconds + 1)  # the warm-up second sends too
    results = {}
    results["noop"] = await load.run(
        "GET /health (no-op ceiling)", "127.0.0.1", port, lambda _: health, seconds=seconds
    )
    validate = _prebuilt(
        int(25_000 * budget),
        lambda i: _post("/v1/events/validate", key, json.dumps(_event(f"v{run}", i)).encode()),
    )
    results["validate"] = await load.run("POST /v1/events/validate", "127.0.0.1", port, validate, seconds=seconds)
    single = _prebuilt(
        int(15_000 * budget), lambda i: _post("/v1/events", key, json.dumps(_event(f"s{run}", i)).encode())
    )
    results["single"] = await load.run("POST /v1/events (1 event)", "127.0.0.1", port, single, seconds=seconds)
    for size, rate in ((100, 400), (1000, 60)):
        batch = _prebuilt(
            int(rate * budget),
            lambda i, size=size: _post(
                "/v1/events/batch",
                key,
                json.dumps({"events": [_event(f"b{size}{run}-{i}", j) for j in range(size)]}).encode(),
            ),
        )
        results[f"batch{size}"] = await load.run(
            f"POST /v1/events/batch ({size})", "127.0.0.1", port, batch, connections=4, seconds=seconds
        )
    return results


def measure(env: Env, seconds: float, workers: int = 1) -> dict[str, load.Result]:
    with api(env, workers=workers) as port:
        _setup(port, env.keys["manage"])
        return asyncio.run(_measure(port, env.keys["ingest"], seconds))
