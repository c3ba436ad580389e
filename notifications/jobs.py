"""arq job functions. Each takes ids, re-reads state from PostgreSQL and is safe to run more than once.

The worker's ``ctx`` carries ``pool`` (asyncpg), ``redis`` (the arq pool), ``http`` (httpx.AsyncClient),
``settings`` and ``channels``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

import msgspec

from customers.queries import customer_by_id
from notifications import queries
from notifications.channels import Channel, Delivery
from notifications.queue import enqueue_invitations
from questionnaires.model import Definition
from triggers import idempotency
from triggers.decide import check_before_send
from triggers.invitations import InvitationStatus
from triggers.queries import fail_stuck, move_invitation, prune_idempotency_keys

log = logging.getLogger("lxt.jobs")

SWEEP_AHEAD: Final = timedelta(minutes=2)
"""The sweeper also enqueues invitations due this soon, so a lost job never makes one late."""
SWEEP_LIMIT: Final = 10_000
PRUNE_BATCHES: Final = 30
"""Batches of `SWEEP_LIMIT` expired idempotency keys one sweep deletes at most (300,000 a minute)."""
STUCK_AFTER: Final = timedelta(minutes=5)
"""An invitation still ``sending`` this long after its claim lost its worker (jobs time out after 60 s)."""

_definitions = msgspec.json.Decoder(Definition)


async def send_invitation(ctx: dict[str, Any], brand_id: str, invitation_id: str) -> str:
    """Claim the invitation, re-check it, send it on the first reachable channel; return what happened.

    Safe to run twice: only the run that moves it from ``scheduled`` to ``sending`` goes on. The claim itself
    withdraws (cancels) an invitation whose trigger was deactivated or questionnaire archived meanwhile. Once
    claimed, the invitation always ends explained: sent, failed (with a code), expired or suppressed; if this
    worker dies in between, the sweeper fails it as ``interrupted`` (whether the provider got it is unknown, so it
    is not sent again).
    """
    brand = UUID(brand_id)
    now = datetime.now(UTC)
    async with ctx["pool"].acquire() as conn:
        claimed = await queries.claim(conn, brand, invitation_id, now)
        if claimed is None:
            return "not claimed (already handled, or not due)"
        if claimed.withdrawn:
            return f"cancelled ({claimed.withdrawn})"
        customer = await customer_by_id(conn, brand, claimed.customer_id)
        if customer is None:  # deleted since the decision (invitations carry no foreign keys)
            await move_invitation(conn, brand, invitation_id, "failed", "customer_missing", now)
            return "failed (customer_missing)"
        check = check_before_send(
            channels=claimed.channels,  # type: ignore[arg-type]
            customer=customer.facts(),
            send_by=claimed.send_by,
            expires_at=claimed.expires_at,
            now=now,
        )
        if check.outcome != "send" or check.channel is None:
            await move_invitation(conn, brand, invitation_id, check.outcome, check.reason, now)
            return f"{check.outcome} ({check.reason})" if check.reason else check.outcome
        definition = _definitions.decode(
            await queries.definition_json(conn, brand, claimed.questionnaire_key, claimed.questionnaire_version)
        )
    channel: Channel = ctx["channels"][check.channel]
    try:
        delivery = await channel.send(definition, customer, invitation_id)
    except Exception:
        # Whether the provider got it is unknown: never send again, end it explained.
        log.exception("sending invitation %s on %s failed", invitation_id, check.channel)
        delivery = Delivery(outcome="failed", provider="unknown", body="", error_code="send_error")
    async with ctx["pool"].acquire() as conn, conn.transaction():
        await queries.record_message(
            conn,
            brand,
            invitation_id,
            channel=check.channel,
            provider=delivery.provider,
            status=delivery.outcome,
            body=delivery.body,
            segments=delivery.segments,
            provider_message_id=delivery.provider_message_id,
            error_code=delivery.error_code,
        )
        status: InvitationStatus = "sent" if delivery.outcome == "accepted" else "failed"
        await move_invitation(
            conn, brand, invitation_id, status, delivery.error_code, datetime.now(UTC), check.channel
        )
    return f"{status} via {check.channel} ({delivery.provider})"


async def sweep(ctx: dict[str, Any]) -> int:
    """Re-enqueue every due invitation whose job is gone (queue flushed or restarted, enqueue failed), end
    invitations left in ``sending`` by a worker that died (``failed``, reason ``interrupted``), and forget
    idempotency keys older than their retention.

    PostgreSQL is the truth: this scans scheduled invitations due within `SWEEP_AHEAD` and enqueues their jobs.
    Enqueueing is idempotent per invitation (the job id), so a job that still exists is left alone and nothing
    is ever queued twice. Returns how many jobs it re-created.
    """
    now = datetime.now(UTC)
    async with ctx["pool"].acquire() as conn:
        interrupted = await fail_stuck(conn, now - STUCK_AFTER, now, "interrupted")
        due = await queries.due_invitations(conn, now + SWEEP_AHEAD, SWEEP_LIMIT)
        # In batches (each its own short transaction), until the old keys are gone or this sweep has done its
        # share: PRUNE_BATCHES x SWEEP_LIMIT a minute outpaces any sustained event rate one database takes.
        for _ in range(PRUNE_BATCHES):
            if await prune_idempotency_keys(conn, now - idempotency.RETENTION, SWEEP_LIMIT) < SWEEP_LIMIT:
                break
    if interrupted:
        log.warning("sweeper failed %d invitations whose send was interrupted", interrupted)
    if not due:
        return 0
    added = await enqueue_invitations(ctx["redis"], due, ctx["settings"].queue_name)
    if added:
        log.warning("sweeper re-enqueued %d of %d due invitations", added, len(due))
    return added
