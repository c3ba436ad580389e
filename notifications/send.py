"""Sending one claimed invitation: choose the channel, compose, take rate budget, record the attempt, call the
provider, and act on its answer by class.

The crash window. No SMS provider takes an idempotency key, so between "the provider accepted the message" and
"lxt recorded that" a worker may die, and sending again could text the customer twice. The window is closed
from both sides: the attempt is recorded as a ``pending`` message row *before* the provider is called (its id
is in the status callback URL), and whatever is left ``pending`` is reconciled later by asking the provider
(`notifications.reconcile`): the provider has it → the invitation is ``sent``; it certainly has none → the send
is retried while the invitation is fresh; only when the provider cannot tell does it end ``failed
interrupted``. A status callback that arrives first settles the attempt too.

Classes of failure (`notifications.failures` maps the providers' codes): transient → back to ``scheduled`` with
exponential backoff and jitter while the freshness limit (``send_by``) allows, else ``failed`` with the code;
permanent → ``failed`` with the code, except that a failure which says something about the customer (an
unsubscribed or unreachable phone, an unregistered push token) is recorded on the customer and the next
reachable channel of the trigger is tried.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

import asyncpg
import msgspec

from customers.model import Customer
from customers.queries import customer_by_id, mark_phone_unreachable, remove_push_token, withdraw_consent
from notifications import conversations, queries
from notifications.channels import Invitation, Message, SendRules, carries_link, compose, send_rules
from notifications.outcome import Outcome
from notifications.providers import SANDBOX, BrandSenders, Providers, Route
from plumbing.ids import new_id
from questionnaires.locales import pick_locale
from questionnaires.model import Definition
from triggers.decide import check_before_send, reachable_channels
from triggers.model import Channel
from triggers.queries import move_invitation, reschedule_invitation

log = logging.getLogger("lxt.send")

TEXTED: Final = frozenset({"sms", "whatsapp"})

MAX_SEND_ATTEMPTS: Final = 8
"""Claims of one invitation that may end in a transient failure before it fails for good."""
RETRY_BASE: Final = timedelta(seconds=20)
RETRY_CAP: Final = timedelta(minutes=15)
MAX_CHANNELS_TRIED: Final = 6
"""Channels (or push tokens) one claim may fall through to after failures that concern the customer."""
VALIDITY_MAX: Final = 36_000
"""Twilio's ValidityPeriod bounds, in seconds: a message still queued at the provider after this is dropped."""
CONVERSATION_WAIT: Final = timedelta(minutes=1)
"""How long an invitation that waits for the customer's other conversation (``when_busy: wait``) is deferred
before it looks again (up to half as long again: jitter)."""

Enqueue = Callable[[UUID, str, datetime], Awaitable[None]]
"""Queues the send job of an invitation for its new planned time (the caller's queue)."""


def retry_delay(attempt: int, retry_after: float | None, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with jitter for the `attempt`-th try (1-based): between half and all of
    ``RETRY_BASE * 2**(attempt-1)`` capped at `RETRY_CAP` — and never sooner than the provider's Retry-After."""
    ceiling = min(RETRY_CAP, RETRY_BASE * 2 ** max(0, attempt - 1))
    delay = ceiling * (rng or random).uniform(0.5, 1.0)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def validity_seconds(send_by: datetime, now: datetime) -> int:
    """Seconds the provider may hold the message: until the invitation's freshness limit, within 1–36,000."""
    return max(1, min(VALIDITY_MAX, int((send_by - now).total_seconds())))


class Loaded(msgspec.Struct, frozen=True, kw_only=True):
    """What a claimed invitation is sent with, read in the claim's own database round trips."""

    customer: Customer
    definition: Definition
    senders: BrandSenders


async def load(
    conn: asyncpg.Connection, providers: Providers, claimed: queries.Claimed, now: datetime
) -> Loaded | str:
    """The customer, the pinned questionnaire version and the brand's senders of a claimed invitation; or what
    happened instead (the customer is gone: the invitation fails)."""
    brand = claimed.brand_id
    customer = await customer_by_id(conn, brand, claimed.customer_id)
    if customer is None:  # deleted since the decision (invitations carry no foreign keys)
        await move_invitation(conn, brand, claimed.invitation_id, "failed", "customer_missing", now)
        return "failed (customer_missing)"
    definition = await queries.pinned_definition(
        conn, brand, claimed.questionnaire_key, claimed.questionnaire_version
    )
    return Loaded(customer=customer, definition=definition, senders=await providers.brand_senders(conn, brand))


async def send_claimed(
    ctx: dict[str, Any], claimed: queries.Claimed, loaded: Loaded, now: datetime, enqueue: Enqueue
) -> str:
    """Send a claimed invitation (status ``sending``); return what happened, for the job's result."""
    brand, invitation_id = claimed.brand_id, claimed.invitation_id
    pool: asyncpg.Pool = ctx["pool"]
    providers: Providers = ctx["providers"]
    rules = send_rules(claimed.trigger_definition)
    customer = loaded.customer
    invitation = Invitation(
        invitation_id=invitation_id,
        questionnaire_key=claimed.questionnaire_key,
        questionnaire_version=claimed.questionnaire_version,
        expires_at=claimed.expires_at,
        preamble=claimed.preamble,
    )
    last_failure: Outcome | None = None
    for _ in range(MAX_CHANNELS_TRIED):
        check = check_before_send(
            channels=claimed.channels,  # type: ignore[arg-type]
            customer=customer.facts(),
            send_by=claimed.send_by,
            expires_at=claimed.expires_at,
            now=now,
            send_window=rules.send_window,
            default_time_zone=rules.default_time_zone,
        )
        if check.outcome == "defer" and check.defer_until is not None:
            return await _defer(pool, claimed, check.defer_until, "outside_window", now, enqueue)
        if check.outcome != "send" or check.channel is None:
            if last_failure is not None and check.reason == "no_reachable_channel":
                return await _end(pool, claimed, last_failure, now, enqueue)
            async with pool.acquire() as conn:
                await move_invitation(conn, brand, invitation_id, check.outcome, check.reason, now)  # type: ignore[arg-type]
            return f"{check.outcome} ({check.reason})" if check.reason else check.outcome
        channel: Channel = check.channel
        held: bool | None = None
        message: Message | None = None
        wait = 0.0
        try:
            route = providers.route(channel, loaded.senders)
            held = await _hold_conversation(pool, claimed, loaded, customer, channel, route, rules, now)
            # Busy, it goes as a link only where the message can carry one; else it waits (`carries_link`).
            if held is not False or (rules.when_busy == "link" and carries_link(channel, rules)):
                message = compose(
                    channel,
                    # Busy: the customer's replies belong to the open conversation, so this one goes as a link.
                    rules=rules if held is not False else msgspec.structs.replace(rules, style="link"),
                    definition=loaded.definition,
                    customer=customer,
                    invitation=invitation,
                    base_url=providers.base_url,
                    webhook_url=route.webhook_url,
                )
                wait = await providers.take_budget(ctx["redis"], route, message.segments)
        except Exception:
            # Nothing reached a provider: a bug or an outage (Valkey) is retried like a transient failure, and
            # ends explained after the last attempt — never left in `sending`.
            log.exception("invitation %s: preparing the %s message failed", invitation_id, channel)
            if held:
                await _release_conversation(pool, claimed, now)
            return await _end(pool, claimed, Outcome(kind="transient", error_code="internal_error"), now, enqueue)
        if message is None:
            at = now + CONVERSATION_WAIT * random.uniform(1.0, 1.5)  # noqa: S311 (jitter)
            return await _defer(pool, claimed, at, "conversation_busy", now, enqueue)
        if wait > 0:
            if held:
                await _release_conversation(pool, claimed, now)  # held again when its budget comes
            # Jitter: the jobs waiting for one sender do not all come back at the same instant.
            at = now + timedelta(seconds=wait * random.uniform(1.0, 1.5))  # noqa: S311
            return await _defer(pool, claimed, at, "rate_limited", now, enqueue)

        message_id = new_id()
        async with pool.acquire() as conn:
            await queries.record_attempt(
                conn,
                brand,
                invitation_id,
                message_id,
                attempt=claimed.attempts,
                channel=channel,
                provider=route.provider,
                style=message.style,
                recipient=message.recipient,
                sender=route.sender,
                # The sandbox is lxt's own outbox for development: it keeps the message as the customer would read
                # it, link included, so that the survey can be opened from it. A provider's message is stored with
                # the token masked.
                body=message.text if route.provider == SANDBOX and channel in TEXTED else message.stored_body,
                segments=message.segments,
                link_token_hash=message.link.token_hash if message.link else None,
                now=now,
            )
        outcome = await providers.send(
            route,
            message,
            brand_id=brand,
            invitation_id=invitation_id,
            message_id=message_id,
            validity=validity_seconds(claimed.send_by, now),
        )
        if outcome.kind == "unknown":
            # Asked at once, the provider settles it only when it has the message: its list may lag a message
            # just created, so "none" now is no proof. The sweeper asks again once the claim is old.
            found = await providers.find(
                route.provider,
                recipient=message.recipient,
                stored_body=message.stored_body,
                token_hash=message.link.token_hash if message.link else None,
                attempted_at=now,
                sender=route.sender,
            )
            if found.kind == "found":
                outcome = Outcome(
                    kind="accepted", provider_message_id=found.provider_message_id, status=found.status
                )
        sent_at = datetime.now(UTC)
        if outcome.kind == "accepted":
            await _accepted(pool, claimed, message_id, channel, outcome, sent_at)
            return f"sent via {channel} ({route.provider})"
        if outcome.kind == "unknown":
            async with pool.acquire() as conn:
                await queries.settle_attempt(
                    conn, brand, message_id, "unknown", sent_at, error_code=outcome.error_code
                )
            log.warning(
                "invitation %s: %s cannot tell whether it took the message (%s); the sweeper will ask again",
                invitation_id,
                route.provider,
                outcome.error_code,
            )
            return f"unknown ({outcome.error_code}); left for reconciliation"
        status = "not_sent" if outcome.kind == "transient" else "failed"
        async with pool.acquire() as conn, conn.transaction():
            if not await queries.settle_attempt(
                conn, brand, message_id, status, sent_at, error_code=outcome.error_code
            ):
                # A status callback settled it first: the provider has the message after all.
                return "settled by the provider's status callback"
            if held:
                await conversations.release(conn, brand, invitation_id, "not_sent", sent_at)
            changed = await _apply_effect(conn, brand, customer, message, outcome, sent_at)
            after = _without(customer, message, outcome) if changed else customer
            if not changed or not reachable_channels(claimed.channels, after.facts()):  # type: ignore[arg-type]
                # In the same transaction as the attempt's outcome: a worker dying in between leaves nothing
                # half-recorded for the sweeper to guess at.
                return await _end(pool, claimed, outcome, sent_at, enqueue, conn=conn)
        last_failure = outcome
        # The failure concerned the customer's contact data: try the next channel the customer can be reached on.
        customer, now = after, sent_at
    assert last_failure is not None
    return await _end(pool, claimed, last_failure, datetime.now(UTC), enqueue)


async def _hold_conversation(
    pool: asyncpg.Pool,
    claimed: queries.Claimed,
    loaded: Loaded,
    customer: Customer,
    channel: Channel,
    route: Route,
    rules: SendRules,
    now: datetime,
) -> bool | None:
    """For a conversation-style SMS or WhatsApp message: whether the invitation holds the customer's
    conversation on this sender now (False: another one is open there); None for any other message."""
    if rules.style != "conversation" or channel not in ("sms", "whatsapp"):
        return None
    assert customer.phone is not None
    async with pool.acquire() as conn:
        return await conversations.hold(
            conn,
            claimed.brand_id,
            claimed.invitation_id,
            customer_id=claimed.customer_id,
            channel=channel,
            sender=route.sender or conversations.SANDBOX_SENDER,
            recipient=customer.phone,
            locale=pick_locale(loaded.definition, customer.locale),
            question_id=loaded.definition.questions[0].id,
            now=now,
        )


async def _release_conversation(pool: asyncpg.Pool, claimed: queries.Claimed, now: datetime) -> None:
    async with pool.acquire() as conn:
        await conversations.release(conn, claimed.brand_id, claimed.invitation_id, "not_sent", now)


async def _accepted(
    pool: asyncpg.Pool, claimed: queries.Claimed, message_id: str, channel: str, outcome: Outcome, now: datetime
) -> None:
    async with pool.acquire() as conn:
        await queries.accept_attempt(
            conn,
            claimed.brand_id,
            message_id,
            claimed.invitation_id,
            provider_message_id=outcome.provider_message_id,
            delivery_status=outcome.status,
            channel=channel,
            now=now,
        )


async def _end(
    pool: asyncpg.Pool,
    claimed: queries.Claimed,
    outcome: Outcome,
    now: datetime,
    enqueue: Enqueue,
    *,
    conn: asyncpg.Connection | None = None,
) -> str:
    """After a failure: a transient one is retried (back to ``scheduled`` after a backoff) while the invitation
    is fresh and has attempts left; anything else ends it ``failed`` with the provider's code. Uses `conn` (the
    caller's transaction) when given."""
    if conn is None:
        async with pool.acquire() as own:
            result, queue_at = await _end_on(own, claimed, outcome, now)
    else:
        result, queue_at = await _end_on(conn, claimed, outcome, now)
    if queue_at is not None:
        # When the caller's transaction has not committed yet, this job is still queued only for `queue_at`, at
        # least RETRY_BASE / 2 from now: long after the commit.
        await enqueue(claimed.brand_id, claimed.invitation_id, queue_at)
    return result


async def _end_on(
    conn: asyncpg.Connection, claimed: queries.Claimed, outcome: Outcome, now: datetime
) -> tuple[str, datetime | None]:
    if outcome.kind == "transient":
        at = now + retry_delay(claimed.attempts, outcome.retry_after)
        if claimed.attempts < MAX_SEND_ATTEMPTS and at <= claimed.send_by:
            moved = await reschedule_invitation(
                conn,
                claimed.brand_id,
                claimed.invitation_id,
                at,
                outcome.error_code or "transient",
                now,
                counts_as_attempt=True,
            )
            return f"retry at {at.isoformat()} ({outcome.error_code})", at if moved else None
    await move_invitation(conn, claimed.brand_id, claimed.invitation_id, "failed", outcome.error_code, now)
    return f"failed ({outcome.error_code})", None


async def _defer(
    pool: asyncpg.Pool, claimed: queries.Claimed, at: datetime, reason: str, now: datetime, enqueue: Enqueue
) -> str:
    """Give the claim back without using up an attempt: no rate budget now, or outside the customer's window."""
    async with pool.acquire() as conn:
        moved = await reschedule_invitation(
            conn, claimed.brand_id, claimed.invitation_id, at, reason, now, counts_as_attempt=False
        )
    if moved:
        await enqueue(claimed.brand_id, claimed.invitation_id, at)
    return f"deferred to {at.isoformat()} ({reason})"


async def _apply_effect(
    conn: asyncpg.Connection, brand: UUID, customer: Customer, message: Message, outcome: Outcome, now: datetime
) -> bool:
    """Record on the customer what a permanent failure says about them; True if something changed."""
    if outcome.kind != "permanent" or outcome.effect is None:
        return False
    if outcome.effect == "opted_out" and message.channel in ("sms", "web_link"):
        return await withdraw_consent(conn, brand, customer.customer_id, "sms", "provider", now)
    if outcome.effect == "opted_out" and message.channel == "whatsapp":
        return await withdraw_consent(conn, brand, customer.customer_id, "whatsapp", "provider", now)
    if outcome.effect == "phone_unreachable" and customer.phone is not None:
        reason = (outcome.error_code or "unreachable").replace("twilio:", "twilio_")
        return await mark_phone_unreachable(conn, brand, customer.customer_id, customer.phone, reason, now)
    if outcome.effect == "token_unregistered" and message.channel == "push":
        return await remove_push_token(conn, brand, customer.customer_id, message.recipient, now)
    return False


def _without(customer: Customer, message: Message, outcome: Outcome) -> Customer:
    """The customer as `_apply_effect` left them, without reading them again."""
    changed = msgspec.structs.replace(customer)
    if outcome.effect == "opted_out":
        consent = "whatsapp" if message.channel == "whatsapp" else "sms"
        changed.consents = {**customer.consents, consent: False}
        changed.unsubscribed = sorted({*customer.unsubscribed, consent})
    elif outcome.effect == "phone_unreachable":
        changed.phone_unreachable = outcome.error_code or "unreachable"
    elif outcome.effect == "token_unregistered":
        changed.push_tokens = [t for t in customer.push_tokens if t != message.recipient]
    return changed
