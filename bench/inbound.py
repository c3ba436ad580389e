"""Inbound SMS replies answered in Twilio's webhook, against the no-op ceiling of the same app, in the same run.

One brand with its own SMS number and `customers` customers, each with a sent invitation of the every-type
questionnaire (`tests/responses/every_type.yaml`, nine questions) and its conversation open — written with SQL
before the API starts, as the send job leaves them. Requests are built and signed before the clock starts, with
the twilio library (``RequestValidator.compute_signature``) over Twilio's own form fields, and sent by
`connections` keep-alive connections to one API process (``lxt serve``):

- ``GET /health``: the no-op ceiling (routing, middleware, serialisation; no database);
- ``POST /webhooks/twilio/sms``: each a customer's answer to their conversation's current question — the
  signature checked, the message stored, the conversation locked, the answer parsed and stored, the next question
  rendered into TwiML, all in one transaction. Request *i* goes to customer *i mod customers*, so no two requests
  in flight are for one conversation, and each answers the question the previous one of that customer led to.

Both run at each level of `connections` (closed loop: each connection sends its next request when the previous
answer arrived), the no-op first.

Latency is per request, from the moment it was written to the moment its answer was read (`bench.load`); the
figures that matter are the ratios to the no-op's in the same run (the machine is shared and noisy). Afterwards
every message's outcome is counted: all of them should be answers.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Final
from urllib.parse import urlencode
from uuid import UUID

import asyncpg
import msgspec
import psutil
from twilio.request_validator import RequestValidator

from bench import load
from bench.harness import Env, api
from notifications import senders
from questionnaires.load import load_definition
from server import db, tenants
from server.questionnaire_versions import publish

PUBLIC_BASE_URL: Final = "http://lxt.bench"
"""What Twilio is told to call, and signs; the requests go to the API's local port all the same."""
FROM: Final = "+15017122661"
QUESTIONNAIRE: Final = Path("tests/responses/every_type.yaml")
ANSWERS: Final = ["9", "4", "5", "3", "2", "1,3", "yes", "2", "Quick and friendly, thanks"]
"""A customer's replies to every_type's questions, in order."""
ACCOUNT_SID: Final = "AC" + "0" * 32


class Latency(msgspec.Struct):
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


class Level(msgspec.Struct):
    """One level of concurrency: the no-op ceiling and the answers, with the same number of connections."""

    connections: int
    noop: Latency
    inbound: Latency
    p50_ratio: float
    """Inbound p50 ÷ no-op p50."""
    p99_ratio: float
    rate_ratio: float
    """Inbound requests per second ÷ no-op requests per second."""
    api_cpu_ms: float
    """CPU time (user + system) of the API processes per answered reply."""
    postgres_cpu_ms: float | None
    """CPU time of the embedded PostgreSQL per answered reply (None for a server of ``LXT_DATABASE_URL``)."""


class InboundResults(msgspec.Struct):
    customers: int
    seconds: float
    levels: list[Level]
    outcomes: dict[str, int]
    """What the stored messages meant (``answer`` for all, if every reply was read as intended)."""


def _latency(result: load.Result) -> Latency:
    return Latency(
        requests=result.requests,
        per_second=round(result.rps, 1),
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        errors=result.errors,
    )


def _phone(i: int) -> str:
    return f"+49151{i:08d}"


_CONVERSATIONS = """
WITH c AS (
    INSERT INTO customers (brand_id, customer_id, external_id, phone, locale, consents)
    SELECT $1, lxt_uuid7(), 'bench-' || g, '+49151' || lpad(g::text, 8, '0'), 'en', '{"sms": true}'
    FROM generate_series(0, $2 - 1) g
    RETURNING customer_id, phone
), i AS (
    INSERT INTO invitations (brand_id, invitation_id, event_id, customer_id, trigger_id, questionnaire_key,
                             questionnaire_version, status, occurred_at, planned_at, send_by, expires_at, channels,
                             channel, attempts)
    SELECT $1, lxt_uuid7(), lxt_uuid7(), customer_id, lxt_uuid7(), $3, $4, 'sent', now(), now(),
           now() + interval '2 hours', now() + interval '1 day', ARRAY['sms'], 'sms', 1
    FROM c
    RETURNING invitation_id, customer_id
), m AS (
    INSERT INTO messages (brand_id, invitation_id, attempt, channel, provider, style, recipient, sender, status,
                          body, segments, accepted_at, created_at)
    SELECT $1, i.invitation_id, 1, 'sms', 'twilio', 'conversation', c.phone, $5, 'accepted', 'intro', 1, now(), now()
    FROM i JOIN c USING (customer_id)
)
INSERT INTO conversations (brand_id, invitation_id, customer_id, channel, sender, recipient, locale, question_id,
                           opened_at, last_activity_at)
SELECT $1, i.invitation_id, i.customer_id, 'sms', $5, c.phone, 'en', 'nps', now(), now()
FROM i JOIN c USING (customer_id)
"""


async def _prepare(database_url: str, customers: int) -> UUID:
    """The bench brand's SMS number, the questionnaire, and the customers' open conversations."""
    conn = await db.connect(database_url)
    try:
        brand = await tenants.brand_by_slug(conn, "bench")
        assert brand is not None
        await senders.put_sender(conn, brand.brand_id, senders.SmsSender(from_=FROM))
        definition = load_definition(QUESTIONNAIRE.read_bytes(), "yaml")
        version, _ = await publish(conn, brand.brand_id, definition)
        await conn.execute(_CONVERSATIONS, brand.brand_id, customers, definition.key, version.version, FROM)
        # Statistics as a database in service has them (autovacuum analyzes tables that grew).
        await conn.execute("ANALYZE")
        return brand.brand_id
    finally:
        await conn.close()


def _signed_replies(customers: int, auth_token: str) -> list[bytes]:
    """Every request the run may send, built and signed before the clock starts: request i (from 1) is customer
    (i-1) mod `customers`'s reply number (i-1) div `customers`."""
    url = f"{PUBLIC_BASE_URL}/webhooks/twilio/sms"
    validator = RequestValidator(auth_token)
    requests = []
    for n in range(customers * len(ANSWERS)):
        sid = f"SM{n:032x}"
        body = ANSWERS[n // customers]
        params = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "Body": body,
            "From": _phone(n % customers),
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": FROM,
        }
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(url, params),
        }
        requests.append(
            load.build_request("POST", "/webhooks/twilio/sms", "127.0.0.1", headers, urlencode(params).encode())
        )
    return requests


async def _outcomes(database_url: str, brand_id: UUID) -> dict[str, int]:
    conn: asyncpg.Connection = await db.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT coalesce(outcome, 'none') AS outcome, count(*) FROM inbound_messages WHERE brand_id = $1 "
            "GROUP BY 1 ORDER BY 1",
            brand_id,
        )
        return {r["outcome"]: r["count"] for r in rows}
    finally:
        await conn.close()


def _tree(root: psutil.Process | None) -> Iterator[psutil.Process]:
    if root is not None:
        yield root
        yield from root.children(recursive=True)


def _cpu_seconds(root: psutil.Process | None) -> float:
    total = 0.0
    for process in _tree(root):
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:  # a backend that ended meanwhile: its time is lost to both readings
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def _processes(env: Env) -> tuple[psutil.Process, psutil.Process | None]:
    """The API process (`lxt serve`, whose granian workers are its children), and the embedded PostgreSQL's
    postmaster (its backends are its children), whose CPU time each reply costs."""
    serve = next(
        p
        for p in psutil.Process().children(recursive=True)
        if "serve" in p.cmdline() and "server.cli" in p.cmdline()
    )
    pid_file = env.settings.data_path / "postgres" / "postmaster.pid"
    postgres = psutil.Process(int(pid_file.read_text().split()[0])) if pid_file.exists() else None
    return serve, postgres


async def _measure(
    env: Env, port: int, requests: list[bytes], connections: list[int], seconds: float
) -> list[Level]:
    serve, postgres = _processes(env)
    health = load.build_request("GET", "/health", "127.0.0.1", {})
    used = 0  # replies sent by the levels before: each level goes on with the next customers' next replies
    levels = []
    for count in connections:
        start, taken = used, [used]

        def reply(i: int, start: int = start, taken: list[int] = taken) -> bytes:
            if start + i > len(requests):
                raise RuntimeError(f"more than {len(requests)} replies: raise --customers")
            taken[0] = max(taken[0], start + i)
            return requests[start + i - 1]

        noop = await load.run(
            "GET /health (no-op ceiling)", "127.0.0.1", port, lambda _: health, connections=count, seconds=seconds
        )
        before = (_cpu_seconds(serve), _cpu_seconds(postgres))
        inbound = await load.run(
            "POST /webhooks/twilio/sms (answers)", "127.0.0.1", port, reply, connections=count, seconds=seconds
        )
        api_cpu, postgres_cpu = (_cpu_seconds(serve) - before[0], _cpu_seconds(postgres) - before[1])
        # The CPU readings span the warm-up second too: per reply sent, not per reply measured.
        sent = taken[0] - start
        used = taken[0]
        levels.append(
            Level(
                connections=count,
                noop=_latency(noop),
                inbound=_latency(inbound),
                p50_ratio=round(inbound.p50_ms / noop.p50_ms, 2) if noop.p50_ms else 0.0,
                p99_ratio=round(inbound.p99_ms / noop.p99_ms, 2) if noop.p99_ms else 0.0,
                rate_ratio=round(inbound.rps / noop.rps, 3) if noop.rps else 0.0,
                api_cpu_ms=round(api_cpu / sent * 1000, 2),
                postgres_cpu_ms=round(postgres_cpu / sent * 1000, 2) if postgres else None,
            )
        )
    return levels


def measure(env: Env, *, seconds: float, customers: int, connections: list[int]) -> InboundResults:
    brand_id = asyncio.run(_prepare(env.settings.database_url, customers))
    auth_token = secrets.token_hex(16)
    requests = _signed_replies(customers, auth_token)
    extra = {"LXT_TWILIO_AUTH_TOKEN": auth_token, "LXT_PUBLIC_BASE_URL": PUBLIC_BASE_URL}
    with api(env, extra_env=extra) as port:
        levels = asyncio.run(_measure(env, port, requests, connections, seconds))
    return InboundResults(
        customers=customers,
        seconds=seconds,
        levels=levels,
        outcomes=asyncio.run(_outcomes(env.settings.database_url, brand_id)),
    )
