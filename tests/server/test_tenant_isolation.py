"""A key of one brand can never see or change another brand's data.

Every authenticated route under /v1 must have an attack here: `test_every_route_is_covered` fails when a new
endpoint is added without one. Brand "globex" (the attacker) uses a key with every scope against the objects
of brand "acme" (the victim); each attack checks the victim's data is neither revealed nor changed.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from notifications import senders
from notifications.senders import PushSender, SmsSender, WebhookSender, WhatsAppSender
from server.auth import ApiKeyAuth
from tests.conftest import BrandFixture
from tests.helpers import event, publish_example, report, survey_setup
from tests.responses.factories import definition, sent_invitation

Attack = Callable[[AsyncTestClient, BrandFixture, BrandFixture, asyncpg.Connection], Awaitable[None]]
ATTACKS: dict[tuple[str, str], Attack] = {}


def attack(method: str, path: str) -> Callable[[Attack], Attack]:
    """Register an attack for a route (stackable: one attack may cover related routes)."""

    def register(func: Attack) -> Attack:
        ATTACKS[(method, path)] = func
        return func

    return register


async def victim_prefixes(conn: asyncpg.Connection, victim: BrandFixture) -> set[str]:
    rows = await conn.fetch("SELECT prefix FROM api_keys WHERE brand_id = $1", victim.brand.brand_id)
    return {r["prefix"] for r in rows}


@attack("GET", "/v1/brand")
async def read_brand(client, victim, attacker, conn) -> None:
    body = (await client.get("/v1/brand", headers=attacker.headers())).json()
    assert body["brand_id"] == str(attacker.brand.brand_id)


@attack("PATCH", "/v1/brand")
async def rename_brand(client, victim, attacker, conn) -> None:
    await client.patch("/v1/brand", json={"name": "Pwned"}, headers=attacker.headers())
    assert await conn.fetchval("SELECT name FROM brands WHERE brand_id = $1", victim.brand.brand_id) == "Acme"


@attack("GET", "/v1/keys")
async def list_keys(client, victim, attacker, conn) -> None:
    listed = {k["prefix"] for k in (await client.get("/v1/keys", headers=attacker.headers())).json()}
    assert listed and not listed & await victim_prefixes(conn, victim)


@attack("POST", "/v1/keys")
async def create_key(client, victim, attacker, conn) -> None:
    before = await victim_prefixes(conn, victim)
    created = (await client.post("/v1/keys", json={"scopes": ["manage"]}, headers=attacker.headers())).json()
    assert await victim_prefixes(conn, victim) == before
    me = await client.get("/v1/brand", headers={"Authorization": f"Bearer {created['key']}"})
    assert me.json()["slug"] == "globex"


@attack("DELETE", "/v1/keys/{prefix:str}")
async def revoke_key(client, victim, attacker, conn) -> None:
    for prefix in await victim_prefixes(conn, victim):
        response = await client.delete(f"/v1/keys/{prefix}", headers=attacker.headers())
        assert response.status_code == 404
    assert (await client.get("/v1/brand", headers=victim.headers())).status_code == 200


async def victim_world(client: AsyncTestClient, victim: BrandFixture) -> dict:
    """The victim brand's questionnaire, touchpoint, trigger, customer and event."""
    await survey_setup(client, victim)
    return await report(client, victim, event("victim-event", customer="c-1", attributes={"secret": 1}))


async def victim_rows(conn: asyncpg.Connection, victim: BrandFixture) -> list:
    """Everything of the victim's that an attack could change, to compare before and after."""
    b = victim.brand.brand_id
    return [
        await conn.fetch(f"SELECT * FROM {table} WHERE brand_id = $1 ORDER BY 2", b)
        for table in ("questionnaires", "questionnaire_versions", "touchpoints", "triggers", "customers",
                      "events", "invitations", "consent_changes")
    ]  # fmt: skip


@attack("GET", "/v1/customers/{external_id:str}")
async def read_customer(client, victim, attacker, conn) -> None:
    await victim_world(client, victim)
    assert (await client.get("/v1/customers/c-1", headers=attacker.headers())).status_code == 404


@attack("PUT", "/v1/customers/{external_id:str}")
async def write_customer(client, victim, attacker, conn) -> None:
    await victim_world(client, victim)
    before = await victim_rows(conn, victim)
    body = {"phone": "+4915199999999", "opted_out": True, "attributes": {"secret": 2}}
    assert (await client.put("/v1/customers/c-1", json=body, headers=attacker.headers())).status_code == 200
    assert await victim_rows(conn, victim) == before


@attack("DELETE", "/v1/customers/{external_id:str}")
async def erase_customer(client, victim, attacker, conn) -> None:
    await victim_world(client, victim)
    before = await victim_rows(conn, victim)
    assert (await client.delete("/v1/customers/c-1", headers=attacker.headers())).status_code == 404
    assert await victim_rows(conn, victim) == before


@attack("GET", "/v1/audit")
async def read_audit(client, victim, attacker, conn) -> None:
    await victim_world(client, victim)
    assert (await client.delete("/v1/customers/c-1", headers=victim.headers())).status_code == 200
    assert (await client.get("/v1/audit", headers=attacker.headers())).json()["items"] == []


@attack("GET", "/v1/questionnaires")
async def list_questionnaires(client, victim, attacker, conn) -> None:
    await victim_world(client, victim)
    assert (await client.get("/v1/questionnaires?include_archived=true", headers=attacker.headers())).json() == []


@attack("GET", "/v1/questionnaires/{key:str}")
@attack("GET", "/v1/questionnaires/{key:str}/versions")
@attack("GET", "/v1/questionnaires/{key:str}/versions/{version:int}")
@attack("GET", "/v1/questionnaires/{key:str}/versions/{version:int}/preview")
async def read_questionnaire(client, victim, attacker, conn) -> None:
    await victim_world(client, victim)
    for suffix in ("", "/versions", "/versions/1", "/versions/1/preview?channel=app"):
        response = await client.get(f"/v1/questionnaires/store_visit_nps{suffix}", headers=attacker.headers())
        assert response.status_code == 404, suffix


@attack("POST", "/v1/questionnaires")
async def publish_questionnaire(client, victim, attacker, conn) -> None:
    await victim_world(client, victim)
    before = await victim_rows(conn, victim)
    changed = await publish_example(client, attacker)  # the same key, for the attacker's own brand
    assert changed["version"] == 1
    assert await victim_rows(conn, victim) == before


@attack("POST", "/v1/questionnaires/{key:str}/archive")
@attack("POST", "/v1/questionnaires/{key:str}/unarchive")
async def archive_questionnaire(client, victim, attacker, conn) -> None:
    await victim_world(client, victim)
    before = await victim_rows(conn, victim)
    for action in ("archive", "unarchive"):
        response = await client.post(f"/v1/questionnaires/store_visit_nps/{action}", headers=attacker.headers())
        assert response.status_code == 404
    assert await victim_rows(conn, victim) == before


@attack("GET", "/v1/touchpoints")
@attack("GET", "/v1/touchpoints/{key:str}")
async def read_touchpoints(client, victim, attacker, conn) -> None:
    await victim_world(client, victim)
    assert (await client.get("/v1/touchpoints", headers=attacker.headers())).json() == []
    assert (await client.get("/v1/touchpoints/store_visit", headers=attacker.headers())).status_code == 404


@attack("PUT", "/v1/touchpoints/{key:str}")
async def write_touchpoint(client, victim, attacker, conn) -> None:
    await victim_world(client, victim)
    before = await victim_rows(conn, victim)
    response = await client.put("/v1/touchpoints/store_visit", json={"name": "Pwned"}, headers=attacker.headers())
    assert response.status_code == 201
    assert await victim_rows(conn, victim) == before


@attack("GET", "/v1/triggers")
@attack("GET", "/v1/triggers/{key:str}")
async def read_triggers(client, victim, attacker, conn) -> None:
    await victim_world(client, victim)
    assert (await client.get("/v1/triggers", headers=attacker.headers())).json() == []
    assert (await client.get("/v1/triggers/after_visit", headers=attacker.headers())).status_code == 404


@attack("PUT", "/v1/triggers/{key:str}")
async def write_trigger(client, victim, attacker, conn) -> None:
    await victim_world(client, victim)
    before = await victim_rows(conn, victim)
    body = {"key": "after_visit", "name": "x", "touchpoint": "store_visit", "questionnaire": "store_visit_nps",
            "active": False}  # fmt: skip
    response = await client.put("/v1/triggers/after_visit", json=body, headers=attacker.headers())
    assert response.status_code == 422  # the victim's touchpoint and questionnaire do not exist for the attacker
    assert await victim_rows(conn, victim) == before


@attack("POST", "/v1/events")
@attack("POST", "/v1/events/batch")
@attack("POST", "/v1/events/validate")
async def report_events(client, victim, attacker, conn) -> None:
    await victim_world(client, victim)
    before = await victim_rows(conn, victim)
    body = event("victim-event", customer="c-1", attributes={"secret": 2})
    single = await client.post("/v1/events", json=body, headers=attacker.headers())
    assert single.status_code == 202  # not a duplicate: keys are per brand
    assert single.json()["touchpoint_known"] is False
    batch = await client.post(
        "/v1/events/batch", json={"events": [body | {"idempotency_key": "b"}]}, headers=attacker.headers()
    )
    assert batch.json()["results"][0]["status"] == "created"
    checked = await client.post("/v1/events/validate", json=body, headers=attacker.headers())
    assert checked.json()["valid"] is True
    assert await victim_rows(conn, victim) == before


async def victim_sent(client: AsyncTestClient, victim: BrandFixture, conn: asyncpg.Connection) -> str:
    """The victim's invitation, sent through the sandbox, with a delivery receipt: its id."""
    from notifications.queries import claim
    from notifications.receipts import record_receipt

    invitation_id = (await victim_world(client, victim))["invitation_id"]
    now = datetime.now(UTC)
    assert await claim(conn, victim.brand.brand_id, invitation_id, now)
    message_id = await conn.fetchval(
        "INSERT INTO messages (brand_id, invitation_id, channel, provider, status, body, recipient) "
        "VALUES ($1, $2, 'sms', 'sandbox', 'accepted', 'secret survey', '+4915112345678') RETURNING message_id",
        victim.brand.brand_id,
        invitation_id,
    )
    async with conn.transaction():
        await record_receipt(conn, victim.brand.brand_id, message_id, "delivered", None, "SM1", now)
    return invitation_id


@attack("GET", "/v1/invitations")
@attack("GET", "/v1/invitations/{invitation_id:str}")
async def read_invitations(client, victim, attacker, conn) -> None:
    invitation_id = await victim_sent(client, victim, conn)
    listed = await client.get("/v1/invitations?customer=c-1", headers=attacker.headers())
    assert listed.json() == {"items": [], "next_cursor": None}
    assert (await client.get("/v1/invitations", headers=attacker.headers())).json()["items"] == []
    response = await client.get(f"/v1/invitations/{invitation_id}", headers=attacker.headers())
    assert response.status_code == 404
    assert (await client.get(f"/v1/invitations/{invitation_id}", headers=victim.headers())).status_code == 200


@attack("GET", "/v1/exports/{dataset:str}")
@attack("GET", "/v1/exports/{dataset:str}/codebook")
async def export_another_brands_data(client, victim, attacker, conn) -> None:
    await victim_sent(client, victim, conn)
    for name in ("responses-long", "events", "invitations", "timelines"):
        theirs = await client.get(f"/v1/exports/{name}?format=jsonl", headers=attacker.headers())
        assert theirs.status_code == 200 and theirs.content == b"", name
    for name in ("events", "invitations"):  # the victim's own export has its event and invitation
        victims = await client.get(f"/v1/exports/{name}?format=jsonl", headers=victim.headers())
        assert victims.content.count(b"\n") == 1, name
    wide = "/v1/exports/responses-wide?questionnaire=store_visit_nps&version=1"
    assert (await client.get(wide, headers=attacker.headers())).status_code == 422  # no such version of theirs
    book = await client.get(
        "/v1/exports/responses-long/codebook?questionnaire=store_visit_nps", headers=attacker.headers()
    )
    assert book.status_code == 200 and book.json()["questionnaires"] == []
    mine = await client.get(
        "/v1/exports/responses-long/codebook?questionnaire=store_visit_nps", headers=victim.headers()
    )
    assert [q["key"] for q in mine.json()["questionnaires"]] == ["store_visit_nps"]


@attack("GET", "/v1/customers/{external_id:str}/timeline")
async def read_timeline(client, victim, attacker, conn) -> None:
    invitation_id = await victim_sent(client, victim, conn)
    assert (await client.get("/v1/customers/c-1/timeline", headers=attacker.headers())).status_code == 404
    # The attacker's own customer c-1 has a timeline of the attacker's own, with nothing of the victim's in it.
    await client.put("/v1/customers/c-1", json={"consents": {"sms": True}}, headers=attacker.headers())
    theirs = (await client.get("/v1/customers/c-1/timeline", headers=attacker.headers())).json()
    assert [item["kind"] for item in theirs["items"]] == ["consent"]
    victims = (await client.get("/v1/customers/c-1/timeline", headers=victim.headers())).json()
    assert {"event", "invitation", "message", "receipt"} <= {item["kind"] for item in victims["items"]}
    assert invitation_id in {item["invitation_id"] for item in victims["items"]}


@attack("GET", "/v1/events/{idempotency_key:path}")
async def read_event(client, victim, attacker, conn) -> None:
    await victim_world(client, victim)
    assert (await client.get("/v1/events/victim-event", headers=attacker.headers())).status_code == 404
    assert (await client.get("/v1/events/victim-event", headers=victim.headers())).status_code == 200


@attack("GET", "/v1/sandbox/messages")
async def read_sandbox(client, victim, attacker, conn) -> None:
    invitation_id = await victim_sent(client, victim, conn)
    for query in ("", "?phone=%2B4915112345678", f"?invitation={invitation_id}"):
        response = await client.get(f"/v1/sandbox/messages{query}", headers=attacker.headers())
        assert response.json() == {"items": [], "next_cursor": None}, query
    assert len((await client.get("/v1/sandbox/messages", headers=victim.headers())).json()["items"]) == 1


@attack("POST", "/v1/sandbox/replies")
async def reply_in_sandbox(client, victim, attacker, conn) -> None:
    await victim_sent(client, victim, conn)
    body = {"phone": "+4915112345678", "text": "STOP"}
    response = await client.post("/v1/sandbox/replies", json=body, headers=attacker.headers())
    assert response.status_code == 404  # the attacker never messaged the phone: nothing of the victim's answered
    assert await conn.fetchval("SELECT count(*) FROM inbound_messages") == 0
    assert await conn.fetchval("SELECT consents FROM customers WHERE brand_id = $1", victim.brand.brand_id) == {
        "sms": True
    }


@attack("GET", "/v1/messaging")
@attack("PUT", "/v1/messaging")
async def messaging_of_another_brand(client, victim, attacker, conn) -> None:
    from responses.messaging import MessagingIn, check_messaging, put_messaging

    own = MessagingIn(help_text="Victim help", auto_reply="Victim auto-reply")
    await put_messaging(conn, victim.brand.brand_id, check_messaging(own), datetime.now(UTC))
    before = await conn.fetch("SELECT * FROM brand_messaging")
    read = (await client.get("/v1/messaging", headers=attacker.headers())).json()
    assert (read["help_text"], read["auto_reply"], read["updated_at"]) == (None, None, None)
    body = {"help_text": "Pwned", "keywords": {"stop": ["halt"]}}
    assert (await client.put("/v1/messaging", json=body, headers=attacker.headers())).status_code == 200
    victims = await conn.fetch("SELECT * FROM brand_messaging WHERE brand_id = $1", victim.brand.brand_id)
    assert victims == before


@attack("GET", "/v1/senders")
@attack("PUT", "/v1/senders/sms")
@attack("PUT", "/v1/senders/whatsapp")
@attack("PUT", "/v1/senders/push")
@attack("PUT", "/v1/senders/webhook")
@attack("DELETE", "/v1/senders/sms")
@attack("DELETE", "/v1/senders/whatsapp")
@attack("DELETE", "/v1/senders/push")
@attack("DELETE", "/v1/senders/webhook")
@attack("POST", "/v1/senders/webhook/rotate-secret")
async def senders_of_another_brand(client, victim, attacker, conn) -> None:
    for config in (SmsSender(from_="12345"), WhatsAppSender(from_="+14155550100"), PushSender(rate_per_second=5),
                   WebhookSender(url="https://victim.example/lxt")):  # fmt: skip
        await senders.put_sender(conn, victim.brand.brand_id, config)
    before = await conn.fetch("SELECT * FROM brand_senders ORDER BY channel")
    assert (await client.get("/v1/senders", headers=attacker.headers())).json() == []
    for channel in ("sms", "whatsapp", "push", "webhook"):
        response = await client.delete(f"/v1/senders/{channel}", headers=attacker.headers())
        assert response.status_code == 404, channel
    # Without a signing key the server makes no webhook secrets, for anyone; with one, rotating another
    # brand's is a 404 (tests/server/test_senders_api.py).
    assert (await client.post("/v1/senders/webhook/rotate-secret", headers=attacker.headers())).status_code == 409
    assert (
        await client.put("/v1/senders/webhook", json={"url": "https://a.example"}, headers=attacker.headers())
    ).status_code == 409
    assert await conn.fetch("SELECT * FROM brand_senders ORDER BY channel") == before
    for channel, body in (("sms", {"from": "54321"}), ("whatsapp", {"from": "+14155550111"}), ("push", {})):
        response = await client.put(f"/v1/senders/{channel}", json=body, headers=attacker.headers())
        assert response.status_code == 201, channel  # the attacker's own, not the victim's replaced
    victims = await conn.fetch(
        "SELECT * FROM brand_senders WHERE brand_id = $1 ORDER BY channel", victim.brand.brand_id
    )
    assert victims == before


async def victim_study(client: AsyncTestClient, victim: BrandFixture) -> None:
    """The victim's study ``rides`` with participant p-1 (and the questionnaires it names)."""
    from tests.responses.studies import enrolled, study_setup

    await study_setup(client, victim)
    await enrolled(client, victim)


async def victim_study_rows(conn: asyncpg.Connection, victim: BrandFixture) -> list:
    b = victim.brand.brand_id
    return [
        await conn.fetch(f"SELECT * FROM {table} WHERE brand_id = $1 ORDER BY 2", b)
        for table in ("studies", "study_participants", "triggers", "touchpoints", "customers", "invitations")
    ]


@attack("GET", "/v1/studies")
@attack("GET", "/v1/studies/{key:str}")
@attack("GET", "/v1/studies/{key:str}/participants")
async def read_study(client, victim, attacker, conn) -> None:
    await victim_study(client, victim)
    assert (await client.get("/v1/studies", headers=attacker.headers())).json() == []
    for suffix in ("", "/participants"):
        assert (await client.get(f"/v1/studies/rides{suffix}", headers=attacker.headers())).status_code == 404


@attack("PUT", "/v1/studies/{key:str}")
@attack("POST", "/v1/studies/{key:str}/participants")
@attack("DELETE", "/v1/studies/{key:str}/participants/{external_id:str}")
async def change_study(client, victim, attacker, conn) -> None:
    from tests.responses.studies import enrol, study_body

    await victim_study(client, victim)
    before = await victim_study_rows(conn, victim)
    withdrawn = await client.delete("/v1/studies/rides/participants/p-1", headers=attacker.headers())
    assert withdrawn.status_code == 404
    assert (await enrol(client, attacker, external_id="p-1")).status_code == 404
    # The same key for the attacker's own brand: the victim's questionnaires are not the attacker's.
    replaced = await client.put("/v1/studies/rides", json=study_body(name="Pwned"), headers=attacker.headers())
    assert replaced.status_code == 422
    assert await victim_study_rows(conn, victim) == before


@attack("GET", "/v1/stats/touchpoints")
@attack("GET", "/v1/stats/triggers")
@attack("GET", "/v1/stats/questionnaires")
async def read_stats(client, victim, attacker, conn) -> None:
    """The attacker's figures count its own contact only, with the victim's keys as filters too."""
    await victim_sent(client, victim, conn)
    await survey_setup(client, attacker)
    await report(client, attacker, event("own-event", customer="c-1"))
    for path in ("touchpoints", "triggers", "questionnaires"):
        for query in ("", "?touchpoint=store_visit&trigger=after_visit&questionnaire=store_visit_nps"):
            body = (await client.get(f"/v1/stats/{path}{query}", headers=attacker.headers())).json()
            assert body["overall"]["total"]["events"] == 1, (path, query)
        victims = (await client.get(f"/v1/stats/{path}", headers=victim.headers())).json()["overall"]["total"]
        assert victims["events"] == 1


@attack("GET", "/v1/stats/studies/{key:str}")
async def read_study_stats(client, victim, attacker, conn) -> None:
    await victim_study(client, victim)
    assert (await client.get("/v1/stats/studies/rides", headers=attacker.headers())).status_code == 404
    assert (await client.get("/v1/stats/studies/rides", headers=victim.headers())).status_code == 200


@attack("GET", "/v1/responses/{token:str}")
@attack("POST", "/v1/responses/{token:str}/answers")
@attack("POST", "/v1/responses/{token:str}/complete")
async def surveys_by_link_token(client, victim, attacker, conn) -> None:
    """The app answer API takes no key: its token finds the brand. The attacker's own token (to a questionnaire of
    the same key, sent to a customer of the same external id) shows and changes only the attacker's survey."""
    ours = await sent_invitation(conn, victim, "store_visit_nps", external_id="c-1")
    stored = await client.post(f"/v1/responses/{ours.token}/answers", json={"answers": {"nps": 3}})
    assert stored.status_code == 200, stored.text
    before = await conn.fetch("SELECT * FROM answers ORDER BY answered_at")
    state = await conn.fetchrow("SELECT * FROM invitations WHERE invitation_id = $1", ours.invitation_id)
    theirs = msgspec.structs.replace(
        definition("store_visit_nps"), title={"en": "Globex survey", "de": "Globex-Umfrage"}
    )
    attackers = await sent_invitation(conn, attacker, theirs, external_id="c-1")
    read = (await client.get(f"/v1/responses/{attackers.token}", headers=attacker.headers())).json()
    assert read["form"]["title"] == "Globex survey" and read["answers"] == {}
    for body in ({"nps": 9}, {"nps": 3, "went_wrong": "Pwned"}):
        response = await client.post(f"/v1/responses/{attackers.token}/answers", json={"answers": body})
        assert response.status_code == 200, response.text
    assert (await client.post(f"/v1/responses/{attackers.token}/complete")).status_code == 200
    assert (
        await conn.fetch("SELECT * FROM answers WHERE brand_id = $1 ORDER BY answered_at", victim.brand.brand_id)
        == before
    )
    assert await conn.fetchrow("SELECT * FROM invitations WHERE invitation_id = $1", ours.invitation_id) == state


def authenticated_routes(app: Litestar) -> set[tuple[str, str]]:
    routes = set()
    for route in app.routes:
        if not route.path.startswith("/v1/") or route.path.startswith("/v1/admin"):
            continue
        for method in route.methods - {"OPTIONS", "HEAD"}:  # type: ignore[attr-defined]
            routes.add((method, route.path))
    return routes


def test_every_route_is_covered(app: Litestar) -> None:
    missing = authenticated_routes(app) - set(ATTACKS)
    assert not missing, f"add a tenant-isolation attack for {sorted(missing)}"


@pytest.mark.parametrize(("method", "path"), sorted(ATTACKS))
async def test_other_brands_data_is_out_of_reach(
    method: str,
    path: str,
    client: AsyncTestClient,
    brand: BrandFixture,
    other_brand: BrandFixture,
    conn: asyncpg.Connection,
) -> None:
    await ATTACKS[(method, path)](client, brand, other_brand, conn)


def test_every_authenticated_route_declares_its_scopes(app: Litestar) -> None:
    """The auth middleware denies routes without declared scopes; this names them before a user finds out."""
    for route in app.routes:
        if not route.path.startswith("/v1/") or route.path.startswith("/v1/admin"):
            continue
        for handler in route.route_handlers:  # type: ignore[attr-defined]
            if handler.http_methods == {"OPTIONS"}:
                continue  # Litestar's automatic OPTIONS answer
            if ApiKeyAuth not in handler.resolve_middleware():
                # Only the app answer API goes without a key: the link token in its path is the credential.
                assert route.path.startswith("/v1/responses/"), f"{route.path} is not behind the API key check"
                continue
            assert handler.opt.get("scopes"), f"{route.path} {handler.http_methods} declares no scopes"
