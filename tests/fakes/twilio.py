"""A fake Twilio REST API (2010-04-01 Messages) that the official `twilio` library talks to unchanged.

Point a client at it with ``client.api.base_url = fake.url``. It checks HTTP Basic credentials (the account's
auth token or an API key), validates a create as Twilio does and answers with Twilio's resource and error JSON,
lists with Twilio's filters and page envelope, and sends status callbacks and inbound messages signed with
``X-Twilio-Signature``. Tests steer it with plain methods: `fail_next`, `fail_next_with_connection_drop`,
`delay`, `fail_list`; they read `messages`, `requests` and `max_in_flight_by_sender()`.

One deliberate difference: Twilio accepts ``From`` together with ``MessagingServiceSid`` (when the number is in
the service's sender pool); lxt sends one or the other, so the fake refuses both to catch a sender mix-up.

Importable without pytest (the benchmarks use it).
"""

from __future__ import annotations

import base64
import binascii
import collections
import dataclasses
import email.utils
import json
import re
import secrets
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator

from tests.fakes.base import DROP, FakeServer, ReceivedRequest, Reply, _Drop

API_VERSION = "2010-04-01"
_PATH = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages(?:/(?P<sid>[^/]+))?\.json$")
_PHONE = re.compile(r"^(?:whatsapp:)?\+[1-9][0-9]{6,14}$")
_ALPHANUMERIC_SENDER = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")

_GSM7 = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_ESCAPED = frozenset("\f^{}\\[~]|€")

_DEFAULT_MESSAGES = {
    20429: "Too Many Requests",
    20500: "An internal server error has occurred",
    20503: "Service is unavailable. Please try again",
    21211: "The 'To' number is not a valid phone number.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number is not currently reachable via SMS",
    21614: "'To' number is not a valid mobile number",
}


def num_segments(body: str) -> int:
    """SMS parts Twilio bills for `body`: GSM-7 160 / 153 septets, else UCS-2 70 / 67 UTF-16 code units.

    An escape pair (GSM-7 extension table) or a surrogate pair is never split across two parts.
    """
    if all(c in _GSM7 or c in _GSM7_ESCAPED for c in body):
        units = [2 if c in _GSM7_ESCAPED else 1 for c in body]
        single, part = 160, 153
    else:
        units = [len(c.encode("utf-16-le")) // 2 for c in body]
        single, part = 70, 67
    if sum(units) <= single:
        return 1
    parts, filled = 1, 0
    for size in units:
        if filled + size > part:
            parts, filled = parts + 1, 0
        filled += size
    return parts


def _rfc2822(moment: datetime) -> str:
    return email.utils.format_datetime(moment)


def _error(status: int, code: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
    payload = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return Reply.json(status, payload, headers)


@dataclasses.dataclass
class _Message:
    resource: dict[str, Any]
    params: dict[str, str]
    received_at: float
    sent_at: datetime


@dataclasses.dataclass(frozen=True)
class _Failure:
    status: int
    code: int
    message: str | None
    retry_after: int | None


@dataclasses.dataclass(frozen=True)
class _ConnectionDrop:
    after_accepting: bool


@dataclasses.dataclass(frozen=True)
class SignedRequest:
    """A form POST as Twilio sends it to a webhook, signed with ``X-Twilio-Signature``.

    `post()` sends it over a real socket; `post_async(client)` can also go through an in-process client such as
    Litestar's ``AsyncTestClient`` (the signature covers `url`, so use the URL the app sees).
    """

    url: str
    params: dict[str, str]
    signature: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Twilio-Signature": self.signature, "Content-Type": "application/x-www-form-urlencoded"}

    def post(self, *, timeout: float = 10) -> int:
        """POST it and return the HTTP status the receiver answered."""
        return httpx.post(self.url, data=self.params, headers=self.headers, timeout=timeout).status_code

    async def post_async(self, client: httpx.AsyncClient | None = None) -> int:
        """POST it with `client` (or a client of its own) and return the HTTP status the receiver answered."""
        if client is not None:
            return (await client.post(self.url, data=self.params, headers=self.headers)).status_code
        async with httpx.AsyncClient(timeout=10) as own:
            return (await own.post(self.url, data=self.params, headers=self.headers)).status_code


class FakeTwilio(FakeServer):
    """Twilio's Messages API for one account, reachable with its auth token or with one API key."""

    def __init__(
        self,
        *,
        account_sid: str | None = None,
        auth_token: str | None = None,
        api_key_sid: str | None = None,
        api_secret: str | None = None,
        service_number: str = "+15005550006",
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.account_sid = account_sid or f"AC{secrets.token_hex(16)}"
        self.auth_token = auth_token or secrets.token_hex(16)
        self.api_key_sid = api_key_sid or f"SK{secrets.token_hex(16)}"
        self.api_secret = api_secret or secrets.token_urlsafe(24)
        self.service_number = service_number
        """The number a Messaging Service picks from its pool (the ``From`` of its status callbacks)."""
        self._messages: dict[str, _Message] = {}
        self._plan: collections.deque[_Failure | _ConnectionDrop] = collections.deque()
        self._list_failures = 0
        self._delay = 0.0
        self._hold = 0.0
        self._in_flight: collections.Counter[str] = collections.Counter()
        self._max_in_flight: dict[str, int] = {}

    # -- control -------------------------------------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Accepted messages, oldest first: the resource JSON plus ``params`` (the form as received) and
        ``received_at`` (`time.monotonic()` when the create request had been read)."""
        with self.lock:
            return [
                {**json.loads(json.dumps(m.resource)), "params": dict(m.params), "received_at": m.received_at}
                for m in self._messages.values()
            ]

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 400,
        code: int = 21211,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Refuse the next `n` creates with Twilio's error JSON (and ``Retry-After`` when given)."""
        with self.lock:
            self._plan.extend(_Failure(status, code, message, retry_after) for _ in range(n))

    def fail_next_with_connection_drop(self, n: int = 1, *, after_accepting: bool) -> None:
        """Close the connection of the next `n` creates without an answer; with `after_accepting` the message
        is stored first (Twilio accepted it, the client never heard)."""
        with self.lock:
            self._plan.extend(_ConnectionDrop(after_accepting) for _ in range(n))

    def delay(self, seconds: float) -> None:
        """Answer every create `seconds` late (0 to answer at once again)."""
        with self.lock:
            self._delay = seconds

    def hold_after_accepting(self, seconds: float) -> None:
        """Store each create at once but answer it `seconds` late (0: at once again): Twilio has the message
        while the client still waits — the moment a worker may die in."""
        with self.lock:
            self._hold = seconds

    def fail_list(self, n: int = 1) -> None:
        """The next `n` list requests answer 503: Twilio cannot tell what it sent."""
        with self.lock:
            self._list_failures += n

    def max_in_flight_by_sender(self) -> dict[str, int]:
        """The most create requests seen at the same time per ``From`` (or ``MessagingServiceSid``)."""
        with self.lock:
            return dict(self._max_in_flight)

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self._messages.clear()
            self._plan.clear()
            self._list_failures = 0
            self._delay = 0.0
            self._hold = 0.0
            self._max_in_flight.clear()

    def status_callback(
        self,
        sid: str,
        status: str,
        *,
        error_code: int | None = None,
        url: str | None = None,
        signature: str | None = None,
    ) -> SignedRequest:
        """Move message `sid` to `status` and build the status callback Twilio would POST for it.

        It goes to the message's ``StatusCallback`` unless `url` is given; `signature` replaces the real one
        (a forged callback).
        """
        now = datetime.now(UTC).replace(microsecond=0)
        with self.lock:
            message = self._messages[sid]
            resource = message.resource
            resource["status"] = status
            resource["error_code"] = error_code
            resource["date_updated"] = _rfc2822(now)
            if resource["from"] is None:
                resource["from"] = self.service_number
            target = url or message.params.get("StatusCallback")
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "From": resource["from"],
                "MessageSid": sid,
                "MessageStatus": status,
                "SmsSid": sid,
                "SmsStatus": status,
                "To": resource["to"],
            }
            if resource["messaging_service_sid"]:
                params["MessagingServiceSid"] = resource["messaging_service_sid"]
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        if target is None:
            raise ValueError(f"message {sid} has no StatusCallback and no url was given")
        return self._signed(target, params, signature)

    def send_status_callback(
        self,
        sid: str,
        status: str,
        *,
        error_code: int | None = None,
        url: str | None = None,
        signature: str | None = None,
    ) -> int:
        """`status_callback(...)` POSTed over a real socket; returns the HTTP status lxt answered.

        It blocks: from a test whose event loop serves lxt, call it through `asyncio.to_thread` or use
        ``await fake.status_callback(...).post_async(client)``.
        """
        return self.status_callback(sid, status, error_code=error_code, url=url, signature=signature).post()

    def inbound(
        self,
        url: str,
        *,
        from_: str,
        to: str,
        body: str,
        message_sid: str | None = None,
        channel: str = "sms",
        signature: str | None = None,
        messaging_service_sid: str | None = None,
        opt_out_type: str | None = None,
    ) -> SignedRequest:
        """The webhook Twilio POSTs for an incoming message; ``channel="whatsapp"`` prefixes the addresses. A
        message through a Messaging Service carries its SID; `opt_out_type` (STOP, START, HELP) is what Twilio's
        Advanced Opt-Out adds when it recognized, and answered, a keyword."""
        if channel not in ("sms", "whatsapp"):
            raise ValueError(f"unknown channel {channel!r}")
        sid = message_sid or f"SM{secrets.token_hex(16)}"
        if channel == "whatsapp":
            from_, to = (a if a.startswith("whatsapp:") else f"whatsapp:{a}" for a in (from_, to))
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "Body": body,
            "From": from_,
            "MessageSid": sid,
            "NumMedia": "0",
            "NumSegments": str(num_segments(body)),
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": to,
        }
        if channel == "whatsapp":
            params |= {"MessageType": "text", "ProfileName": "Customer", "WaId": from_.removeprefix("whatsapp:+")}
        if messaging_service_sid is not None:
            params["MessagingServiceSid"] = messaging_service_sid
        if opt_out_type is not None:
            params["OptOutType"] = opt_out_type
        return self._signed(url, params, signature)

    def send_inbound(
        self,
        url: str,
        *,
        from_: str,
        to: str,
        body: str,
        message_sid: str | None = None,
        channel: str = "sms",
        signature: str | None = None,
        messaging_service_sid: str | None = None,
        opt_out_type: str | None = None,
    ) -> int:
        """`inbound(...)` POSTed over a real socket; returns the HTTP status lxt answered."""
        request = self.inbound(
            url,
            from_=from_,
            to=to,
            body=body,
            message_sid=message_sid,
            channel=channel,
            signature=signature,
            messaging_service_sid=messaging_service_sid,
            opt_out_type=opt_out_type,
        )
        return request.post()

    def _signed(self, url: str, params: dict[str, str], signature: str | None) -> SignedRequest:
        computed = RequestValidator(self.auth_token).compute_signature(url, params)
        return SignedRequest(url, params, computed if signature is None else signature)

    # -- HTTP ------------------------------------------------------------------------------------------------

    def answer(self, request: ReceivedRequest) -> Reply | _Drop:
        match = _PATH.match(request.path)
        if match is None:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        if not self._authenticated(request, match["account"]):
            return _error(401, 20003, "Authenticate", (("WWW-Authenticate", 'Basic realm="Twilio API"'),))
        if match["sid"] is not None:
            if request.method != "GET":
                return _error(405, 20004, "Method not allowed")
            return self._fetch(request, match["sid"])
        if request.method == "POST":
            return self._create(request)
        if request.method == "GET":
            return self._list(request)
        return _error(405, 20004, "Method not allowed")

    def _authenticated(self, request: ReceivedRequest, account: str) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or account != self.account_sid:
            return False
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        credentials = {(self.account_sid, self.auth_token), (self.api_key_sid, self.api_secret)}
        return any(
            secrets.compare_digest(username, user) and secrets.compare_digest(password, secret)
            for user, secret in credentials
        )

    def _create(self, request: ReceivedRequest) -> Reply | _Drop:
        form = request.form()
        sender = form.get("From") or form.get("MessagingServiceSid") or ""
        with self.lock:
            self._in_flight[sender] += 1
            self._max_in_flight[sender] = max(self._max_in_flight.get(sender, 0), self._in_flight[sender])
            planned = self._plan.popleft() if self._plan else None
            delay, hold = self._delay, self._hold
        try:
            self.sleep(delay)
            if isinstance(planned, _Failure):
                headers = (("Retry-After", str(planned.retry_after)),) if planned.retry_after is not None else ()
                message = planned.message or _DEFAULT_MESSAGES.get(planned.code, f"Error {planned.code}")
                return _error(planned.status, planned.code, message, headers)
            if isinstance(planned, _ConnectionDrop) and not planned.after_accepting:
                return DROP
            reply = self._refusal(form) or self._accept(form, request)
            self.sleep(hold)
            return DROP if isinstance(planned, _ConnectionDrop) else reply
        finally:
            with self.lock:
                self._in_flight[sender] -= 1

    @staticmethod
    def _refusal(form: dict[str, str]) -> Reply | None:
        """Twilio's 400 for a create it would not accept, or None."""
        to, sender, service = form.get("To"), form.get("From"), form.get("MessagingServiceSid")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not sender and not service:
            return _error(400, 21603, "A 'From' phone number is required.")
        if sender and service:
            return _error(400, 21603, "Give either 'From' or 'MessagingServiceSid', not both.")
        if not _PHONE.match(to):
            return _error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if sender and not (_PHONE.match(sender) or _ALPHANUMERIC_SENDER.match(sender)):
            return _error(400, 21212, f"Invalid From Number (caller ID): {sender}")
        if not form.get("Body") and not form.get("ContentSid") and not form.get("MediaUrl"):
            return _error(400, 21602, "Message body is required.")
        if len(form.get("Body", "")) > 1600:
            return _error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if "ContentVariables" in form:
            try:
                variables = json.loads(form["ContentVariables"])
            except ValueError:
                variables = None
            if not isinstance(variables, dict):
                return _error(400, 21656, "The ContentVariables Parameter is invalid.")
        if "ValidityPeriod" in form:
            period = form["ValidityPeriod"]
            if not period.isdigit() or not 1 <= int(period) <= 36000:
                return _error(400, 21624, "Invalid validity period value")
        callback = form.get("StatusCallback")
        if callback is not None and not callback.startswith(("http://", "https://")):
            return _error(400, 21609, f"Invalid StatusCallback URL: {callback}")
        return None

    def _accept(self, form: dict[str, str], request: ReceivedRequest) -> Reply:
        now = datetime.now(UTC).replace(microsecond=0)
        sid = f"SM{secrets.token_hex(16)}"
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
        body = form.get("Body", "")
        service = form.get("MessagingServiceSid")
        resource = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": _rfc2822(now),
            "date_sent": _rfc2822(now),
            "date_updated": _rfc2822(now),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": service,
            "num_media": "1" if form.get("MediaUrl") else "0",
            "num_segments": str(num_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"},
            "to": form["To"],
            "uri": uri,
        }
        with self.lock:
            self._messages[sid] = _Message(resource, form, request.received_at, now)
            return Reply.json(201, resource)

    def _fetch(self, request: ReceivedRequest, sid: str) -> Reply:
        with self.lock:
            message = self._messages.get(sid)
            if message is not None:
                return Reply.json(200, message.resource)
        return _error(404, 20404, f"The requested resource {request.path} was not found")

    def _list(self, request: ReceivedRequest) -> Reply:
        query = {key: values[-1] for key, values in request.query.items()}
        with self.lock:
            if self._list_failures:
                self._list_failures -= 1
                return _error(503, 20503, _DEFAULT_MESSAGES[20503])
        try:
            page_size = min(max(int(query.get("PageSize", "50")), 1), 1000)
            page = max(int(query.get("Page", "0")), 0)
            bounds = {
                key: _date_bound(query[key]) for key in ("DateSent", "DateSent>", "DateSent<") if key in query
            }
        except ValueError as e:
            return _error(400, 20001, f"Invalid list parameter: {e}")

        def wanted(m: _Message) -> bool:
            resource = m.resource
            if "To" in query and resource["to"] != query["To"]:
                return False
            if "From" in query and resource["from"] != query["From"]:
                return False
            if (exact := bounds.get("DateSent")) is not None and not _same(m.sent_at, exact):
                return False
            if (after := bounds.get("DateSent>")) is not None and m.sent_at < _moment(after):
                return False
            return (before := bounds.get("DateSent<")) is None or m.sent_at <= _moment(before)

        with self.lock:
            # Newest first, as Twilio lists; a page token names the last message of the page before.
            selected = [m.resource for m in reversed(self._messages.values()) if wanted(m)]
            start = page * page_size
            if token := query.get("PageToken"):
                sids = [r["sid"] for r in selected]
                start = sids.index(token[2:]) + 1 if token[2:] in sids else len(sids)
            records = json.loads(json.dumps(selected[start : start + page_size]))
        filters = [
            (key, query[key]) for key in ("To", "From", "DateSent", "DateSent<", "DateSent>") if key in query
        ]
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"

        def page_uri(number: int, token: str | None = None) -> str:
            params = [*filters, ("PageSize", str(page_size)), ("Page", str(number))]
            return f"{base}?{urlencode(params + ([('PageToken', token)] if token else []))}"

        has_more = start + page_size < len(selected)
        return Reply.json(
            200,
            {
                "end": start + len(records) - 1 if records else start,
                "first_page_uri": page_uri(0),
                "messages": records,
                "next_page_uri": page_uri(page + 1, f"PA{records[-1]['sid']}") if has_more and records else None,
                "page": page,
                "page_size": page_size,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "start": start,
                "uri": page_uri(page, query.get("PageToken")),
            },
        )


def _date_bound(value: str) -> date | datetime:
    """A ``DateSent`` filter: a day (``2024-05-01``) or an instant (``2024-05-01T10:00:00Z``, UTC if naive)."""
    if len(value) == 10:
        return date.fromisoformat(value)
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _moment(bound: date | datetime) -> datetime:
    if isinstance(bound, datetime):
        return bound
    return datetime(bound.year, bound.month, bound.day, tzinfo=UTC)


def _same(sent_at: datetime, bound: date | datetime) -> bool:
    return sent_at == bound if isinstance(bound, datetime) else sent_at.date() == bound
