"""The fakes speak the providers' wire formats: checked with the official clients, over real sockets."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import crypt, jwt
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import service_account
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.fakes.fcm import FCM_SCOPE, GOOGLE_TOKEN_URI, FakeFcm
from tests.fakes.twilio import FakeTwilio, num_segments
from tests.fakes.webhook import FakeWebhook

CUSTOMER = "+4915112345678"
SENDER = "+15005550006"
SERVICE = "MG" + "0" * 32


@pytest.fixture
def twilio(fake_twilio: FakeTwilio) -> Iterator[Client]:
    """The twilio library's client, authenticated with an API key, talking to the fake."""
    http = TwilioHttpClient()
    client = Client(fake_twilio.api_key_sid, fake_twilio.api_secret, fake_twilio.account_sid, http_client=http)
    client.api.base_url = fake_twilio.url
    yield client
    http.session.close()


# -- Twilio -----------------------------------------------------------------------------------------------------


def test_a_create_is_answered_with_twilio_s_message_resource(twilio: Client, fake_twilio: FakeTwilio) -> None:
    message = twilio.messages.create(
        to=CUSTOMER,
        from_=SENDER,
        body="Wie war Ihr Besuch? Antworten Sie mit 0–10 😀",
        status_callback="https://lxt.example/twilio/status",
        validity_period=600,
    )

    assert message.sid.startswith("SM") and len(message.sid) == 34
    assert message.account_sid == fake_twilio.account_sid
    assert (message.to, message.from_, message.status) == (CUSTOMER, SENDER, "queued")
    assert message.direction == "outbound-api" and message.error_code is None and message.price is None
    assert message.num_segments == "1"
    assert message.date_created is not None and message.date_created.tzinfo is not None
    [stored] = fake_twilio.messages
    assert stored["sid"] == message.sid
    assert stored["params"]["ValidityPeriod"] == "600"
    assert stored["params"]["StatusCallback"] == "https://lxt.example/twilio/status"


def test_a_create_through_a_messaging_service_is_accepted_with_a_content_template(
    twilio: Client, fake_twilio: FakeTwilio
) -> None:
    message = twilio.messages.create(
        to=f"whatsapp:{CUSTOMER}",
        messaging_service_sid=SERVICE,
        content_sid="HX" + "1" * 32,
        content_variables=json.dumps({"1": "Acme"}),
    )

    assert (message.status, message.from_, message.messaging_service_sid) == ("accepted", None, SERVICE)
    assert json.loads(fake_twilio.messages[0]["params"]["ContentVariables"]) == {"1": "Acme"}


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # 160 septets: each extension character takes two
        ("a" * 152 + "€" + "a" * 10, 2),  # the escape pair moves to the second part whole
        ("ł" * 70, 1),
        ("ł" * 71, 2),
        ("😀" * 35, 1),  # 70 UTF-16 code units
        ("a" * 66 + "😀" + "a" * 10, 2),  # a surrogate pair is never split
    ],
)
def test_segments_are_counted_as_twilio_bills_them(text: str, segments: int) -> None:
    assert num_segments(text) == segments


def test_wrong_credentials_are_refused_with_20003(fake_twilio: FakeTwilio) -> None:
    http = TwilioHttpClient()
    client = Client(fake_twilio.account_sid, "not-the-token", http_client=http)
    client.api.base_url = fake_twilio.url
    try:
        with pytest.raises(TwilioRestException) as refused:
            client.messages.create(to=CUSTOMER, from_=SENDER, body="Hi")
    finally:
        http.session.close()

    assert (refused.value.status, refused.value.code) == (401, 20003)
    assert fake_twilio.messages == [] and [r.status for r in fake_twilio.requests] == [401]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"to": "", "from_": SENDER, "body": "Hi"}, 21604),
        ({"to": CUSTOMER, "body": "Hi"}, 21603),
        ({"to": CUSTOMER, "from_": SENDER, "messaging_service_sid": SERVICE, "body": "Hi"}, 21603),
        ({"to": "12345", "from_": SENDER, "body": "Hi"}, 21211),
        ({"to": CUSTOMER, "from_": SENDER}, 21602),
        ({"to": CUSTOMER, "from_": SENDER, "body": "Hi", "validity_period": 0}, 21624),
        ({"to": CUSTOMER, "from_": SENDER, "body": "Hi", "validity_period": 36001}, 21624),
    ],
)
def test_an_invalid_create_is_refused_with_twilio_s_code(
    twilio: Client, fake_twilio: FakeTwilio, params: dict[str, object], code: int
) -> None:
    with pytest.raises(TwilioRestException) as refused:
        twilio.messages.create(**params)

    assert (refused.value.status, refused.value.code) == (400, code)
    assert fake_twilio.messages == []


def test_a_planned_failure_carries_twilio_s_error_json(twilio: Client, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next(code=21211)
    with pytest.raises(TwilioRestException) as refused:
        twilio.messages.create(to=CUSTOMER, from_=SENDER, body="Hi")
    assert (refused.value.status, refused.value.code) == (400, 21211)

    fake_twilio.fail_next(status=429, code=20429, retry_after=3)
    response = httpx.post(
        f"{fake_twilio.url}/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json",
        data={"To": CUSTOMER, "From": SENDER, "Body": "Hi"},
        auth=(fake_twilio.account_sid, fake_twilio.auth_token),
    )
    assert response.status_code == 429 and response.headers["Retry-After"] == "3"
    assert response.json() == {
        "code": 20429,
        "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    }

    assert twilio.messages.create(to=CUSTOMER, from_=SENDER, body="Hi").status == "queued"
    assert len(fake_twilio.messages) == 1 and len(fake_twilio.requests) == 3


def test_a_message_is_fetched_by_sid_and_an_unknown_sid_is_a_20404(twilio: Client) -> None:
    sent = twilio.messages.create(to=CUSTOMER, from_=SENDER, body="Hi")

    assert twilio.messages(sent.sid).fetch().body == "Hi"
    with pytest.raises(TwilioRestException) as missing:
        twilio.messages("SM" + "0" * 32).fetch()
    assert (missing.value.status, missing.value.code) == (404, 20404)


def test_messages_are_listed_by_recipient_and_send_time_across_pages(
    twilio: Client, fake_twilio: FakeTwilio
) -> None:
    sids = [twilio.messages.create(to=CUSTOMER, from_=SENDER, body=f"Hi {i}").sid for i in range(5)]
    twilio.messages.create(to="+4915199999999", from_=SENDER, body="Someone else")
    a_minute_ago = datetime.now(UTC) - timedelta(minutes=1)

    listed = twilio.messages.list(to=CUSTOMER, date_sent_after=a_minute_ago, page_size=2)

    assert [m.sid for m in listed] == sids[::-1]  # newest first, over three pages
    assert "DateSent>" in fake_twilio.requests[-1].query
    assert twilio.messages.list(to=CUSTOMER, date_sent_after=datetime.now(UTC) + timedelta(minutes=1)) == []


# twilio's AsyncTwilioHttpClient still hands aiohttp a BasicAuth, which aiohttp deprecates; not ours to change.
@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning")
async def test_messages_are_listed_through_the_async_client(fake_twilio: FakeTwilio) -> None:
    async with AsyncTwilioHttpClient() as http:
        client = Client(fake_twilio.api_key_sid, fake_twilio.api_secret, fake_twilio.account_sid, http_client=http)
        client.api.base_url = fake_twilio.url
        sent = await client.messages.create_async(to=CUSTOMER, from_=SENDER, body="Hi")

        listed = await client.messages.list_async(
            to=CUSTOMER, date_sent_after=datetime.now(UTC) - timedelta(hours=1)
        )

    assert [m.sid for m in listed] == [sent.sid]


def test_a_failing_list_cannot_tell_what_was_sent(twilio: Client, fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_list(1)

    with pytest.raises(TwilioException):
        twilio.messages.list(to=CUSTOMER)
    assert twilio.messages.list(to=CUSTOMER) == []


@pytest.mark.parametrize("after_accepting", [False, True])
def test_a_dropped_connection_leaves_the_client_without_an_answer(
    twilio: Client, fake_twilio: FakeTwilio, after_accepting: bool
) -> None:
    fake_twilio.fail_next_with_connection_drop(after_accepting=after_accepting)

    with pytest.raises(requests.ConnectionError):
        twilio.messages.create(to=CUSTOMER, from_=SENDER, body="Hi")

    assert len(fake_twilio.messages) == (1 if after_accepting else 0)
    assert [r.status for r in fake_twilio.requests] == [None]


def test_concurrent_creates_are_counted_per_sender(fake_twilio: FakeTwilio) -> None:
    fake_twilio.delay(0.2)
    url = f"{fake_twilio.url}/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    forms = [{"To": CUSTOMER, "From": SENDER, "Body": "Hi"}] * 3 + [
        {"To": CUSTOMER, "MessagingServiceSid": SERVICE, "Body": "Hi"}
    ]
    with httpx.Client(auth=(fake_twilio.account_sid, fake_twilio.auth_token)) as http:
        with ThreadPoolExecutor(len(forms)) as pool:
            statuses = list(pool.map(lambda form: http.post(url, data=form).status_code, forms))

    assert statuses == [201] * 4
    assert fake_twilio.max_in_flight_by_sender() == {SENDER: 3, SERVICE: 1}
    assert all(isinstance(m["received_at"], float) for m in fake_twilio.messages)


def test_a_status_callback_is_signed_as_twilio_signs_it(
    twilio: Client, fake_twilio: FakeTwilio, fake_webhook: FakeWebhook
) -> None:
    callback = f"{fake_webhook.url}/twilio/status?brand=acme"
    sent = twilio.messages.create(to=CUSTOMER, from_=SENDER, body="Hi", status_callback=callback)

    assert fake_twilio.send_status_callback(sent.sid, "undelivered", error_code=30003) == 200
    fake_webhook.respond_with(403)
    assert fake_twilio.send_status_callback(sent.sid, "failed", signature="forged") == 403

    genuine, forged = fake_webhook.requests
    validator = RequestValidator(fake_twilio.auth_token)
    form = genuine.form()
    assert genuine.path == "/twilio/status" and genuine.query == {"brand": ["acme"]}
    assert validator.validate(callback, form, genuine.headers["x-twilio-signature"])
    assert not validator.validate(callback, forged.form(), forged.headers["x-twilio-signature"])
    assert form["MessageSid"] == form["SmsSid"] == sent.sid
    assert (form["MessageStatus"], form["ErrorCode"], form["AccountSid"]) == (
        "undelivered",
        "30003",
        fake_twilio.account_sid,
    )
    assert (form["From"], form["To"], form["ApiVersion"]) == (SENDER, CUSTOMER, "2010-04-01")
    fetched = twilio.messages(sent.sid).fetch()
    assert (fetched.status, fetched.error_code) == ("failed", None)


def test_an_inbound_whatsapp_message_is_signed_with_whatsapp_addresses(
    fake_twilio: FakeTwilio, fake_webhook: FakeWebhook
) -> None:
    url = f"{fake_webhook.url}/twilio/inbound"

    status = fake_twilio.send_inbound(url, from_=CUSTOMER, to=SENDER, body="9", channel="whatsapp")

    [received] = fake_webhook.requests
    form = received.form()
    assert status == 200
    assert RequestValidator(fake_twilio.auth_token).validate(url, form, received.headers["x-twilio-signature"])
    assert (form["From"], form["To"], form["Body"]) == (f"whatsapp:{CUSTOMER}", f"whatsapp:{SENDER}", "9")
    assert form["MessageSid"].startswith("SM") and form["NumMedia"] == "0" and form["NumSegments"] == "1"


# -- FCM --------------------------------------------------------------------------------------------------------


@pytest.fixture
def fcm_session(fake_fcm: FakeFcm) -> Iterator[AuthorizedSession]:
    """google-auth's session: service-account tokens fetched from the fake and refreshed on a 401."""
    credentials = service_account.Credentials.from_service_account_info(
        fake_fcm.service_account_info(), scopes=[FCM_SCOPE]
    )
    with AuthorizedSession(credentials) as session:
        yield session


def _send_url(fcm: FakeFcm, project: str | None = None) -> str:
    return f"{fcm.url}/v1/projects/{project or fcm.project_id}/messages:send"


def test_a_push_is_sent_with_a_token_from_the_service_account(
    fcm_session: AuthorizedSession, fake_fcm: FakeFcm
) -> None:
    message = {"token": "device-1", "notification": {"title": "Acme", "body": "How was it?"}, "data": {"q": "1"}}

    first = fcm_session.post(_send_url(fake_fcm), json={"message": message})
    second = fcm_session.post(_send_url(fake_fcm), json={"message": {"token": "device-2"}})

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["name"].startswith(f"projects/{fake_fcm.project_id}/messages/")
    assert fake_fcm.tokens_issued == 1
    assert [m["message"] for m in fake_fcm.messages] == [message, {"token": "device-2"}]
    assert fake_fcm.messages[0]["name"] == first.json()["name"]


def test_an_expired_token_is_refused_and_google_auth_fetches_a_new_one(
    fcm_session: AuthorizedSession, fake_fcm: FakeFcm
) -> None:
    assert fcm_session.post(_send_url(fake_fcm), json={"message": {"token": "device-1"}}).status_code == 200
    fake_fcm.expire_tokens()

    assert fcm_session.post(_send_url(fake_fcm), json={"message": {"token": "device-1"}}).status_code == 200
    assert fake_fcm.tokens_issued == 2
    assert [r.status for r in fake_fcm.requests if r.path != "/token"] == [200, 401, 200]


def test_the_service_account_file_is_what_google_auth_reads(fake_fcm: FakeFcm, tmp_path: Path) -> None:
    path = fake_fcm.write_service_account(tmp_path / "service-account.json")
    credentials = service_account.Credentials.from_service_account_file(str(path), scopes=[FCM_SCOPE])
    with requests.Session() as session:
        credentials.refresh(Request(session))

    assert credentials.valid and credentials.project_id == fake_fcm.project_id
    assert fake_fcm.tokens_issued == 1


def test_an_assertion_without_the_fcm_scope_or_the_key_is_refused(fake_fcm: FakeFcm) -> None:
    info = fake_fcm.service_account_info()
    wrong_scope = service_account.Credentials.from_service_account_info(info, scopes=["openid"])
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = crypt.RSASigner.from_string(other_key, key_id=info["private_key_id"])
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "iss": info["client_email"],
        "scope": FCM_SCOPE,
        "aud": GOOGLE_TOKEN_URI,
        "iat": now,
        "exp": now + 60,
    }
    forged = jwt.encode(signer, claims).decode()

    with requests.Session() as session:
        with pytest.raises(RefreshError, match="invalid_scope"):
            wrong_scope.refresh(Request(session))
        response = session.post(
            fake_fcm.token_uri,
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": forged},
        )

    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert fake_fcm.tokens_issued == 0


def test_fcm_refusals_have_fcm_v1_error_bodies(fcm_session: AuthorizedSession, fake_fcm: FakeFcm) -> None:
    fake_fcm.unregister("gone")
    unregistered = fcm_session.post(_send_url(fake_fcm), json={"message": {"token": "gone"}})
    not_a_string = fcm_session.post(_send_url(fake_fcm), json={"message": {"token": "t", "data": {"n": 1}}})
    other_project = fcm_session.post(_send_url(fake_fcm, "other"), json={"message": {"token": "t"}})
    fake_fcm.fail_next(error_code="QUOTA_EXCEEDED", retry_after=7)
    quota = fcm_session.post(_send_url(fake_fcm), json={"message": {"token": "t"}})

    assert unregistered.status_code == 404
    assert unregistered.json() == {
        "error": {
            "code": 404,
            "message": "Requested entity was not found.",
            "status": "NOT_FOUND",
            "details": [
                {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}
            ],
        }
    }
    assert not_a_string.status_code == 400 and not_a_string.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert other_project.status_code == 403
    assert quota.status_code == 429 and quota.headers["Retry-After"] == "7"
    assert quota.json()["error"]["details"][0]["errorCode"] == "QUOTA_EXCEEDED"
    assert fake_fcm.messages == []


# -- Webhook ----------------------------------------------------------------------------------------------------


def test_the_webhook_answers_as_told_and_records_every_request(fake_webhook: FakeWebhook) -> None:
    fake_webhook.respond_with(410, n=2)
    fake_webhook.fail_next(1, status=503)
    fake_webhook.drop_next(1)
    with httpx.Client(base_url=fake_webhook.url) as http:
        statuses = [http.post("/hooks/acme", content=b'{"n": 1}').status_code]
        with pytest.raises(httpx.RemoteProtocolError):
            http.post("/hooks/acme", content=b'{"n": 2}')
        statuses += [http.post("/hooks/acme", content=b"{}").status_code for _ in range(3)]

    assert statuses == [503, 410, 410, 200]
    received = fake_webhook.requests
    assert [r.status for r in received] == [503, None, 410, 410, 200]
    assert received[0].json() == {"n": 1} and received[1].body == b'{"n": 2}'
    assert received[0].method == "POST" and received[0].path == "/hooks/acme"
    assert received[0].received_at <= received[1].received_at


def test_a_fake_answers_many_connections_at_once(fake_webhook: FakeWebhook) -> None:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    with httpx.Client(base_url=fake_webhook.url, limits=limits) as http:
        with ThreadPoolExecutor(32) as pool:
            statuses = list(
                pool.map(lambda n: http.post("/hooks", content=str(n).encode()).status_code, range(320))
            )

    assert statuses == [200] * 320
    assert sorted(int(r.body) for r in fake_webhook.requests) == list(range(320))


def test_stop_cuts_a_delayed_answer_short(fake_webhook: FakeWebhook) -> None:
    fake_webhook.delay(30)
    outcome: list[BaseException] = []

    def post() -> None:
        try:
            httpx.post(fake_webhook.url, timeout=30)
        except httpx.HTTPError as e:
            outcome.append(e)

    caller = threading.Thread(target=post)
    caller.start()
    while not fake_webhook.requests:
        caller.join(0.01)
    fake_webhook.stop()
    caller.join(5)

    assert not caller.is_alive() and len(outcome) == 1


def test_reset_forgets_requests_and_plans(fake_webhook: FakeWebhook) -> None:
    fake_webhook.fail_next(2)
    assert httpx.post(fake_webhook.url).status_code == 500

    fake_webhook.reset()

    assert fake_webhook.requests == [] and httpx.post(fake_webhook.url).status_code == 200
