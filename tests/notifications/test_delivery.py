"""Sending through real channels: Twilio SMS and WhatsApp, FCM push and the brand webhook, each a fake provider
behind a real socket; failures by class, fallback to the next channel, retries, and the crash window's
reconciliation."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from notifications import jobs, reconcile
from notifications.webhook import verify
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.fakes.fcm import FakeFcm
from tests.fakes.twilio import FakeTwilio
from tests.fakes.webhook import FakeWebhook
from tests.helpers import PHONE, event, queued_job_ids, report
from tests.helpers import survey_setup as setup_survey

FROM = "+15017122661"
SIGNING_KEY = "test-signing-key-0123456789abcdef"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, fake_twilio: FakeTwilio, fake_fcm: FakeFcm) -> Settings:
    """The tests' settings with Twilio, FCM and webhook signing configured against the fakes."""
    return settings.replace(
        twilio_account_sid=fake_twilio.account_sid,
        twilio_auth_token=fake_twilio.auth_token,
        twilio_api_base=fake_twilio.url,
        twilio_from_number=FROM,
        twilio_whatsapp_from=FROM,
        fcm_api_base=fake_fcm.url,
        fcm_project_id=fake_fcm.project_id,
        fcm_credentials_file=str(fake_fcm.write_service_account(tmp_path / "service-account.json")),
        signing_key=SIGNING_KEY,
        webhook_allow_private=True,  # the fake brand webhook listens on 127.0.0.1
    )


async def survey_setup(client: AsyncTestClient, brand: BrandFixture, **trigger: Any) -> dict:
    """The survey of `tests.helpers`, with the brand's own senders fast enough for tests that send twice."""
    for channel in ("sms", "whatsapp"):
        response = await client.put(
            f"/v1/senders/{channel}", json={"from": FROM, "rate_per_second": 1000}, headers=brand.headers("manage")
        )
        assert response.status_code in (200, 201), response.text
    return await setup_survey(client, brand, **trigger)


def reachable_everywhere(key: str, push_token: str) -> dict[str, Any]:
    """An event of a customer reachable by SMS and push, with consent to both."""
    customer = {
        "external_id": "c-1",
        "phone": PHONE,
        "push_tokens": [push_token],
        "consents": {"push": True, "sms": True},
    }
    return {**event(key), "customer": customer}


async def send(ctx: dict[str, Any], brand: BrandFixture, invitation_id: str) -> str:
    return await jobs.send_invitation(ctx, str(brand.brand.brand_id), invitation_id)


async def invitation(conn: asyncpg.Connection) -> dict[str, Any]:
    row = await conn.fetchrow(
        "SELECT status, status_reason, channel, attempts, planned_at, send_by FROM invitations"
    )
    return dict(row)


async def messages(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT message_id::text, channel, provider, status, error_code, recipient, sender, style, body, "
        "segments, provider_message_id, link_token_hash, delivery_status FROM messages ORDER BY created_at"
    )
    return [dict(r) for r in rows]


# -- the two styles, WhatsApp templates, push and the webhook ---------------------------------------------------


async def test_a_conversation_sms_goes_to_twilio_with_its_callback_and_validity(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    await survey_setup(client, brand, max_lag="PT2H")
    result = await report(client, brand, event("e1"))
    assert await send(ctx, brand, result["invitation_id"]) == "sent via sms (twilio)"

    [sent] = fake_twilio.messages
    params = sent["params"]
    assert (params["To"], params["From"]) == (PHONE, FROM)
    assert params["Body"].startswith("Thanks for visiting us today!")
    validity = int(params["ValidityPeriod"])
    assert 7000 < validity <= 7200  # the seconds left before the invitation's freshness limit
    callback = urlsplit(params["StatusCallback"])
    assert (callback.scheme, callback.netloc, callback.path) == ("http", "lxt.test", "/webhooks/twilio/status")
    [stored] = await messages(conn)
    assert parse_qs(callback.query)["m"] == [stored["message_id"]]
    assert parse_qs(callback.query)["b"] == [str(brand.brand.brand_id)]
    assert stored | {"message_id": None, "link_token_hash": None, "segments": None} == {
        "message_id": None,
        "channel": "sms",
        "provider": "twilio",
        "status": "accepted",
        "error_code": None,
        "recipient": PHONE,
        "sender": FROM,
        "style": "conversation",
        "body": params["Body"],
        "segments": None,
        "provider_message_id": sent["sid"],
        "link_token_hash": None,
        "delivery_status": "queued",
    }
    assert (await invitation(conn))["status"] == "sent"


async def test_a_link_sms_carries_a_fresh_token_that_is_stored_only_hashed(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    await survey_setup(client, brand, style="link")
    result = await report(client, brand, event("e1"))
    await send(ctx, brand, result["invitation_id"])

    body = fake_twilio.messages[0]["params"]["Body"]
    token = re.search(r"http://lxt\.test/s/([A-Za-z0-9_-]+)$", body).group(1)  # type: ignore[union-attr]
    assert len(token) >= 43  # 256 random bits, base64url
    [stored] = await messages(conn)
    assert stored["style"] == "link"
    assert bytes(stored["link_token_hash"]) == hashlib.sha256(token.encode()).digest()
    assert token not in stored["body"] and stored["body"] == body.replace(token, "{token}")
    everything = await conn.fetchval("SELECT string_agg(t::text, ' ') FROM messages t")
    assert token not in everything


async def test_whatsapp_opens_the_conversation_with_the_approved_template(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    template = {"content_sid": "HX" + "a" * 32, "variables": {"1": "{title}", "2": "{link}"}}
    await survey_setup(client, brand, channels=["whatsapp"], whatsapp_template=template)
    customer = {"external_id": "c-1", "phone": PHONE, "consents": {"whatsapp": True}}
    result = await report(client, brand, {**event("e1"), "customer": customer})
    assert await send(ctx, brand, result["invitation_id"]) == "sent via whatsapp (twilio)"

    params = fake_twilio.messages[0]["params"]
    assert (params["To"], params["From"]) == (f"whatsapp:{PHONE}", f"whatsapp:{FROM}")
    assert params["ContentSid"] == "HX" + "a" * 32 and "Body" not in params
    variables = json.loads(params["ContentVariables"])
    assert variables["1"] == "Your visit today"
    assert variables["2"].startswith("http://lxt.test/s/")


async def test_push_goes_to_fcm_with_what_the_app_needs(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_fcm: FakeFcm
) -> None:
    await survey_setup(client, brand, channels=["push", "sms"])
    customer = {"external_id": "c-1", "push_tokens": ["device-1"], "consents": {"push": True, "sms": True}}
    result = await report(client, brand, {**event("e1"), "customer": customer})
    assert await send(ctx, brand, result["invitation_id"]) == "sent via push (fcm)"

    [sent] = fake_fcm.messages
    message = sent["message"]
    assert message["token"] == "device-1"
    assert message["notification"]["title"] == "Your visit today"
    assert message["data"]["lxt_invitation_id"] == result["invitation_id"]
    assert message["data"]["lxt_url"] == f"http://lxt.test/s/{message['data']['lxt_token']}"


async def test_the_webhook_channel_posts_a_signed_invitation_and_retries_a_5xx_with_the_same_delivery_id(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_webhook: FakeWebhook
) -> None:
    response = await client.put(
        "/v1/senders/webhook",
        json={"url": f"{fake_webhook.url}/lxt", "rate_per_second": 1000},
        headers=brand.headers("manage"),
    )
    assert response.status_code in (200, 201), response.text
    secret = bytes.fromhex(response.json()["secret"])
    await survey_setup(client, brand, channels=["webhook"])
    result = await report(client, brand, event("e1"))

    fake_webhook.fail_next(1, status=503)
    assert (await send(ctx, brand, result["invitation_id"])).startswith("retry at")
    await conn.execute("UPDATE invitations SET planned_at = now()")
    assert await send(ctx, brand, result["invitation_id"]) == "sent via webhook (webhook)"

    first, second = fake_webhook.requests
    assert first.headers["x-lxt-delivery"] == second.headers["x-lxt-delivery"] == result["invitation_id"]
    assert verify(secret, second.headers, second.body, datetime.now(UTC))
    assert not verify(b"another secret", second.headers, second.body, datetime.now(UTC))
    payload = json.loads(second.body)
    assert payload["invitation_id"] == result["invitation_id"]
    assert payload["customer"] == {"external_id": "c-1"}
    assert payload["form"]["questions"][0]["id"] == "nps"


# -- failures by class ------------------------------------------------------------------------------------------


async def test_a_transient_failure_puts_the_invitation_back_with_backoff(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    fake_twilio: FakeTwilio,
    settings: Settings,
) -> None:
    await survey_setup(client, brand)
    result = await report(client, brand, event("e1"))
    fake_twilio.fail_next(status=503, code=20503)
    before = datetime.now(UTC)
    assert (await send(ctx, brand, result["invitation_id"])).startswith("retry at")

    state = await invitation(conn)
    assert (state["status"], state["status_reason"], state["attempts"]) == ("scheduled", "twilio:20503", 1)
    assert before + timedelta(seconds=10) <= state["planned_at"] <= before + timedelta(seconds=21)
    [attempt] = await messages(conn)
    assert (attempt["status"], attempt["error_code"]) == ("not_sent", "twilio:20503")
    assert any(job.startswith(f"invitation:{result['invitation_id']}") for job in await queued_job_ids(settings))

    # Due again: the retry goes through.
    await conn.execute("UPDATE invitations SET planned_at = now()")
    assert await send(ctx, brand, result["invitation_id"]) == "sent via sms (twilio)"
    assert len(fake_twilio.messages) == 1
    assert [m["status"] for m in await messages(conn)] == ["not_sent", "accepted"]


async def test_a_429_is_retried_no_sooner_than_retry_after(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    await survey_setup(client, brand)
    result = await report(client, brand, event("e1"))
    fake_twilio.fail_next(status=429, code=20429, retry_after=600)
    before = datetime.now(UTC)
    await send(ctx, brand, result["invitation_id"])
    state = await invitation(conn)
    assert state["status"] == "scheduled" and state["planned_at"] >= before + timedelta(seconds=600)


async def test_a_transient_failure_past_freshness_fails_with_the_code(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    await survey_setup(client, brand, max_lag="PT2M")
    result = await report(client, brand, event("e1"))
    fake_twilio.fail_next(status=429, code=20429, retry_after=600)  # later than send_by
    assert await send(ctx, brand, result["invitation_id"]) == "failed (twilio:20429)"
    assert (await invitation(conn))["status"] == "failed"


@pytest.mark.parametrize(
    ("code", "consent", "unreachable"),
    [(21610, False, None), (21211, True, "twilio_21211"), (21614, True, "twilio_21614"), (20003, True, None)],
)
async def test_a_permanent_failure_fails_with_the_code_and_says_what_it_means_for_the_customer(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    fake_twilio: FakeTwilio,
    code: int,
    consent: bool,
    unreachable: str | None,
) -> None:
    await survey_setup(client, brand)
    result = await report(client, brand, event("e1"))
    fake_twilio.fail_next(status=400 if code != 20003 else 401, code=code)
    assert await send(ctx, brand, result["invitation_id"]) == f"failed (twilio:{code})"

    state = await invitation(conn)
    assert (state["status"], state["status_reason"]) == ("failed", f"twilio:{code}")
    customer = await conn.fetchrow("SELECT consents, phone_unreachable FROM customers")
    assert (customer["consents"]["sms"], customer["phone_unreachable"]) == (consent, unreachable)
    changes = await conn.fetch("SELECT channel, granted, source FROM consent_changes WHERE source = 'provider'")
    assert [tuple(c) for c in changes] == ([] if consent else [("sms", False, "provider")])

    # A later event of this customer is not surveyed by SMS, and says why.
    later = await report(client, brand, {**event("e2"), "customer": {"external_id": "c-1"}})
    if code == 20003:  # bad credentials concern lxt's account, not the customer
        assert later["decision"] == "scheduled"
    else:
        assert later["decision"] == "not_surveyed" and later["reason"] == "no_reachable_channel"


async def test_a_phone_that_cannot_take_sms_falls_through_to_the_next_channel(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    fake_twilio: FakeTwilio,
    fake_fcm: FakeFcm,
) -> None:
    await survey_setup(client, brand, channels=["sms", "push"])
    result = await report(client, brand, reachable_everywhere("e1", "device-1"))
    fake_twilio.fail_next(status=400, code=21614)
    assert await send(ctx, brand, result["invitation_id"]) == "sent via push (fcm)"
    assert [(m["channel"], m["status"], m["error_code"]) for m in await messages(conn)] == [
        ("sms", "failed", "twilio:21614"),
        ("push", "accepted", None),
    ]
    assert (await invitation(conn))["channel"] == "push"


async def test_an_unregistered_push_token_is_removed_and_the_next_channel_tried(
    client: AsyncTestClient,
    brand: BrandFixture,
    conn: asyncpg.Connection,
    ctx,
    fake_twilio: FakeTwilio,
    fake_fcm: FakeFcm,
) -> None:
    await survey_setup(client, brand, channels=["push", "sms"])
    result = await report(client, brand, reachable_everywhere("e1", "gone"))
    fake_fcm.unregister("gone")
    assert await send(ctx, brand, result["invitation_id"]) == "sent via sms (twilio)"
    assert await conn.fetchval("SELECT push_tokens FROM customers") == []
    assert len(fake_twilio.messages) == 1


# -- the crash window -------------------------------------------------------------------------------------------


async def test_a_send_that_got_no_answer_is_settled_by_asking_twilio(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    await survey_setup(client, brand)
    result = await report(client, brand, event("e1"))
    fake_twilio.fail_next_with_connection_drop(after_accepting=True)
    assert await send(ctx, brand, result["invitation_id"]) == "sent via sms (twilio)"
    [sent] = fake_twilio.messages
    [stored] = await messages(conn)
    assert (stored["status"], stored["provider_message_id"]) == ("accepted", sent["sid"])


async def test_a_send_twilio_never_took_is_left_to_the_sweeper_which_sends_it_again(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    await survey_setup(client, brand)
    result = await report(client, brand, event("e1"))
    fake_twilio.fail_next_with_connection_drop(after_accepting=False)
    # Twilio's list may lag a message just created: "none" right away is no proof, so the job leaves it open.
    assert await send(ctx, brand, result["invitation_id"]) == "unknown (connection); left for reconciliation"
    assert (await invitation(conn))["status"] == "sending"
    assert [m["status"] for m in await messages(conn)] == ["unknown"]

    await conn.execute("UPDATE invitations SET updated_at = now() - interval '10 minutes'")
    await jobs.sweep(ctx)
    assert (await invitation(conn))["status"] == "scheduled"
    assert await send(ctx, brand, result["invitation_id"]) == "sent via sms (twilio)"
    assert len(fake_twilio.messages) == 1
    assert [m["status"] for m in await messages(conn)] == ["not_sent", "accepted"]


async def test_a_whatsapp_template_twilio_took_without_answering_is_found_and_not_sent_twice(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    template = {"content_sid": "HX" + "b" * 32, "variables": {"1": "{title}"}}  # no link: it waits when busy
    await survey_setup(client, brand, channels=["whatsapp"], whatsapp_template=template, when_busy="wait")
    customer = {"external_id": "c-1", "phone": PHONE, "consents": {"whatsapp": True}}
    result = await report(client, brand, {**event("e1"), "customer": customer})
    fake_twilio.fail_next_with_connection_drop(after_accepting=True)
    assert await send(ctx, brand, result["invitation_id"]) == "sent via whatsapp (twilio)"
    await jobs.sweep(ctx)
    assert len(fake_twilio.messages) == 1
    assert (await invitation(conn))["status"] == "sent"


async def test_a_webhook_trigger_without_a_brand_webhook_goes_to_the_sandbox(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx
) -> None:
    await survey_setup(client, brand, channels=["webhook"])
    result = await report(client, brand, event("e1"))
    assert await send(ctx, brand, result["invitation_id"]) == "sent via webhook (sandbox)"
    [stored] = await messages(conn)
    assert (stored["provider"], stored["recipient"]) == ("sandbox", "webhook (not configured)")


async def test_a_send_that_fails_before_reaching_a_provider_is_retried_not_left_sending(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    from server.app import queue_client

    await survey_setup(client, brand)
    result = await report(client, brand, event("e1"))
    unreachable = queue_client("redis://127.0.0.1:1/0", "nowhere", timeout=0.5)  # the rate limits' Valkey is down
    try:
        outcome = await send({**ctx, "redis": unreachable}, brand, result["invitation_id"])
    finally:
        await unreachable.aclose()
    assert outcome.startswith("retry at") and outcome.endswith("(internal_error)")
    state = await invitation(conn)
    assert (state["status"], state["status_reason"]) == ("scheduled", "internal_error")
    assert fake_twilio.messages == [] and await messages(conn) == []


async def test_a_sweep_acts_only_on_the_claim_it_read(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    from triggers.queries import move_invitation, reschedule_invitation

    await survey_setup(client, brand)
    result = await report(client, brand, event("e1"))
    await claimed_and_abandoned(conn)  # attempt 1, abandoned
    # Another sweep already sent it again, and a worker claimed it anew (attempt 2): this sweep's view is stale.
    await conn.execute("UPDATE invitations SET attempts = 2, updated_at = now()")
    now = datetime.now(UTC)
    brand_id, invitation_id = brand.brand.brand_id, result["invitation_id"]
    assert not await reschedule_invitation(
        conn, brand_id, invitation_id, now, "interrupted_not_sent", now, counts_as_attempt=True, attempts=1
    )
    assert not await move_invitation(conn, brand_id, invitation_id, "failed", "interrupted", now, attempts=1)
    assert (await invitation(conn))["status"] == "sending"
    # Two sweeps at once over a lost send: it is sent again once.
    await conn.execute("UPDATE invitations SET updated_at = now() - interval '10 minutes'")
    await asyncio.gather(jobs.sweep(ctx), jobs.sweep(ctx))
    assert (await invitation(conn))["status"] == "scheduled"
    back = await conn.fetchval(
        "SELECT count(*) FROM invitation_transitions WHERE from_status = 'sending' AND to_status = 'scheduled'"
    )
    assert back == 1


async def claimed_and_abandoned(conn: asyncpg.Connection, minutes: int = 10) -> None:
    """What a worker that died mid-send leaves: the invitation claimed long ago."""
    await conn.execute(
        "UPDATE invitations SET status = 'sending', attempts = attempts + 1, "
        "updated_at = now() - make_interval(mins => $1)",
        minutes,
    )


async def test_the_sweeper_resends_an_invitation_whose_worker_died_before_calling_the_provider(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    await survey_setup(client, brand)
    result = await report(client, brand, event("e1"))
    await claimed_and_abandoned(conn)
    await jobs.sweep(ctx)
    assert (await invitation(conn))["status"] == "scheduled"
    assert await send(ctx, brand, result["invitation_id"]) == "sent via sms (twilio)"
    assert len(fake_twilio.messages) == 1


async def abandon_after_attempt(
    ctx, brand: BrandFixture, conn: asyncpg.Connection, invitation_id: str, fake_twilio: FakeTwilio
) -> None:
    """A worker records its attempt, calls Twilio and dies before it hears back (the call is cancelled)."""
    fake_twilio.hold_after_accepting(30)
    task = asyncio.create_task(send(ctx, brand, invitation_id))
    for _ in range(200):
        if fake_twilio.messages or fake_twilio.requests:
            break
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    fake_twilio.hold_after_accepting(0)
    await conn.execute("UPDATE invitations SET updated_at = now() - interval '10 minutes'")


async def test_the_sweeper_finds_a_message_twilio_took_before_the_worker_died(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    await survey_setup(client, brand, style="link")
    result = await report(client, brand, event("e1"))
    await abandon_after_attempt(ctx, brand, conn, result["invitation_id"], fake_twilio)
    assert [m["status"] for m in await messages(conn)] == ["pending"]

    await jobs.sweep(ctx)
    [sent] = fake_twilio.messages
    [stored] = await messages(conn)
    assert (stored["status"], stored["provider_message_id"]) == ("accepted", sent["sid"])
    state = await invitation(conn)
    assert (state["status"], state["channel"]) == ("sent", "sms")
    # Nothing is sent twice.
    await jobs.sweep(ctx)
    assert await send(ctx, brand, result["invitation_id"]) == "not claimed (already handled, or not due)"
    assert len(fake_twilio.messages) == 1


async def test_an_attempt_twilio_cannot_account_for_stays_open_then_ends_interrupted(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    await survey_setup(client, brand)
    result = await report(client, brand, event("e1"))
    await abandon_after_attempt(ctx, brand, conn, result["invitation_id"], fake_twilio)

    fake_twilio.fail_list(1)
    await jobs.sweep(ctx)
    assert (await invitation(conn))["status"] == "sending"  # asked again at the next sweep
    fake_twilio.fail_list(1)
    later = datetime.now(UTC) + timedelta(hours=3)  # past the invitation's freshness limit
    outcome = await reconcile.reconcile(ctx["pool"], ctx["providers"], later, _no_enqueue)
    assert outcome.interrupted == 1
    state = await invitation(conn)
    assert (state["status"], state["status_reason"]) == ("failed", "interrupted")


async def _no_enqueue(*_: Any) -> None:
    raise AssertionError("nothing is to be sent again")


async def test_two_workers_racing_for_one_invitation_send_it_once(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    await survey_setup(client, brand)
    result = await report(client, brand, event("e1"))
    fake_twilio.delay(0.2)
    outcomes = await asyncio.gather(*(send(ctx, brand, result["invitation_id"]) for _ in range(4)))
    assert sorted(outcomes)[-1] == "sent via sms (twilio)"
    assert outcomes.count("sent via sms (twilio)") == 1
    assert len(fake_twilio.messages) == 1


# -- the send window in the customer's current zone -------------------------------------------------------------


async def test_a_customer_whose_zone_changed_is_deferred_to_their_window(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    # A window that is open now in UTC and closed now twelve hours away.
    now = datetime.now(UTC)
    start = (now - timedelta(hours=2)).strftime("%H:00")
    end = (now + timedelta(hours=3)).strftime("%H:00")
    await survey_setup(client, brand, send_window={"start": start, "end": end}, max_lag="P1D", expires_after="P2D")
    result = await report(client, brand, event("e1"))
    assert result["decision"] == "scheduled"
    zone = "Pacific/Kiritimati" if now.hour < 12 else "Pacific/Pago_Pago"  # UTC+14 / UTC-11
    response = await client.put("/v1/customers/c-1", json={"time_zone": zone}, headers=brand.headers("manage"))
    assert response.status_code == 200, response.text

    outcome = await send(ctx, brand, result["invitation_id"])
    assert outcome.startswith("deferred to"), outcome
    state = await invitation(conn)
    assert (state["status"], state["status_reason"], state["attempts"]) == ("scheduled", "outside_window", 0)
    assert state["planned_at"] > now + timedelta(hours=1)
    assert fake_twilio.messages == []


# -- delivery receipts from the provider ------------------------------------------------------------------------


async def test_twilio_status_callbacks_settle_delivery_and_a_late_sent_does_not_undo_it(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection, ctx, fake_twilio: FakeTwilio
) -> None:
    await survey_setup(client, brand)
    result = await report(client, brand, event("e1"))
    await send(ctx, brand, result["invitation_id"])
    [sent] = fake_twilio.messages

    assert await fake_twilio.status_callback(sent["sid"], "delivered").post_async(client) in (200, 204)
    assert await fake_twilio.status_callback(sent["sid"], "sent").post_async(client) in (200, 204)
    forged = fake_twilio.status_callback(sent["sid"], "failed", error_code=30003, signature="forged")
    assert await forged.post_async(client) == 403
    [stored] = await messages(conn)
    assert stored["delivery_status"] == "delivered"
    receipts = await conn.fetch("SELECT status FROM message_receipts ORDER BY received_at")
    assert [r["status"] for r in receipts] == ["delivered", "sent"]

    found = await client.get(f"/v1/invitations/{result['invitation_id']}", headers=brand.headers("export"))
    latency = found.json()["latency"]
    assert latency["accepted"]["at"] is not None and latency["delivered"]["at"] is not None


def test_the_readme_s_webhook_verification_snippet_accepts_a_real_delivery_and_nothing_else() -> None:
    from notifications.webhook import signature_headers

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme[readme.index("**Brand webhooks** are signed") :]
    code = section[
        section.index("```python") + len("```python") : section.index("```", section.index("```python") + 3)
    ]
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 (the README's own example, run as a brand would)
    secret = bytes(range(32))
    body = b'{"type": "invitation"}'
    headers = signature_headers(secret, body, datetime.now(UTC), "inv-1")
    assert namespace["verify"](secret.hex(), headers, body)
    assert not namespace["verify"](secret.hex(), headers, body + b" ")
    assert not namespace["verify"]((b"x" * 32).hex(), headers, body)
    old = signature_headers(secret, body, datetime.now(UTC) - timedelta(minutes=10), "inv-1")
    assert not namespace["verify"](secret.hex(), old, body)
