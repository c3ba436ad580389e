"""Twilio Programmable Messaging (SMS and WhatsApp) through the official library's async API.

The library's own async transport is aiohttp; lxt runs it over the worker's one pooled `httpx.AsyncClient`
instead (`HttpxTwilioClient`), so Twilio calls share its connection pool and explicit timeouts. Nothing here logs
a phone number, a message body or a credential: the library's request logging (which prints query parameters,
i.e. the 'To' of a message search) is replaced by one DEBUG line naming the method and path.

A send that got no answer (a read timeout, a connection dropped after the request went out) is ``unknown``:
Twilio may have created the message. The caller settles it later with `Twilio.find`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode

import httpx
import msgspec
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from notifications.failures import classify_transport, classify_twilio, retry_after_seconds
from notifications.outcome import Found, Outcome

log = logging.getLogger("lxt.twilio")

CLOCK_SKEW: Final = timedelta(minutes=5)
"""How much earlier than our record of an attempt Twilio may have stamped the message it created: our clock
and Twilio's differ, and the attempt is recorded just before the call."""
FIND_LIMIT: Final = 200
"""Messages to one recipient `find` reads at most (newest first)."""


class TwilioSender(msgspec.Struct, frozen=True):
    """Who a message comes from: a number (E.164, or ``whatsapp:+…``) or a Messaging Service; exactly one."""

    from_: str | None = None
    messaging_service_sid: str | None = None

    def __post_init__(self) -> None:
        if (self.from_ is None) == (self.messaging_service_sid is None):
            raise ValueError("a Twilio sender is either a From number or a Messaging Service SID: exactly one")


class HttpxTwilioClient(AsyncHttpClient):
    """twilio's async HTTP client interface over a shared `httpx.AsyncClient`.

    The library's `log_request`/`log_response` are not used: they print query parameters (a message search's
    'To'); one DEBUG line names the method, path and status instead. It keeps the last response, so that the
    caller can read what the library's exceptions leave out (the ``Retry-After`` of a refusal): each `Twilio`
    call therefore uses an instance of its own.
    """

    def __init__(self, http: httpx.AsyncClient, *, timeout: float | None) -> None:
        super().__init__(log, is_async=True, timeout=timeout)
        self.http = http
        self.last_response: httpx.Response | None = None

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the library's interface; passed on to httpx
        allow_redirects: bool = False,
    ) -> Response:
        if timeout is not None and timeout <= 0:
            raise ValueError(timeout)
        timeout = timeout if timeout is not None else self.timeout
        request = self.http.build_request(
            method.upper(),
            uri,
            params=params,  # type: ignore[arg-type]  # the library's values are str, int, bool or lists of them
            # Encoded here, not by httpx's `data=`: Twilio takes repeated keys for list values (MediaUrl).
            content=urlencode(data, doseq=True).encode() if data else None,
            headers=headers,
            timeout=httpx.Timeout(timeout) if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        started = time.monotonic()
        response = await self.http.send(
            request, auth=httpx.BasicAuth(*auth) if auth else None, follow_redirects=allow_redirects
        )
        self.last_response = response
        log.debug(
            "twilio %s %s: %s in %.3fs",
            request.method,
            request.url.path,
            response.status_code,
            time.monotonic() - started,
        )
        return Response(response.status_code, response.text, response.headers)


class Twilio:
    """One Twilio account (or subaccount), reached with its auth token or with an API key and secret."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        account_sid: str,
        auth_token: str = "",
        api_key: str = "",
        api_secret: str = "",
        api_base: str = "https://api.twilio.com",
        timeout: float = 10.0,
    ) -> None:
        if api_key and api_secret:
            self._credentials = (api_key, api_secret)
        elif auth_token and not (api_key or api_secret):
            self._credentials = (account_sid, auth_token)
        else:
            raise ValueError("Twilio needs an auth token, or an API key and its secret")
        self.http = http
        self.account_sid = account_sid
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout

    def _client(self) -> tuple[Client, HttpxTwilioClient]:
        transport = HttpxTwilioClient(self.http, timeout=self.timeout)
        username, password = self._credentials
        client = Client(username, password, self.account_sid, http_client=transport)
        # Not from the environment (TWILIO_EDGE / TWILIO_REGION): settings are passed in, and a region would
        # rewrite the host of `api_base`.
        client.edge = client.region = None  # type: ignore[assignment]
        # The Messages API (create and list, and the list's next pages) lives on the `api` domain.
        client.api.base_url = self.api_base
        return client, transport

    async def send(
        self,
        *,
        to: str,
        sender: TwilioSender,
        body: str | None = None,
        content_sid: str | None = None,
        content_variables: dict[str, str] | None = None,
        status_callback: str,
        validity_period: int | None,
    ) -> Outcome:
        """Create one message: free text (`body`) or a content template (`content_sid` with its variables, as
        WhatsApp needs outside the 24 h window). Accepted with Twilio's SID and status, or a classified failure;
        ``unknown`` when the request may have reached Twilio without an answer coming back."""
        params: dict[str, Any] = {"to": to, "status_callback": status_callback}
        if sender.messaging_service_sid is not None:
            params["messaging_service_sid"] = sender.messaging_service_sid
        else:
            params["from_"] = sender.from_
        if body is not None:
            params["body"] = body
        if content_sid is not None:
            params["content_sid"] = content_sid
            if content_variables:
                params["content_variables"] = json.dumps(content_variables, ensure_ascii=False)
        if validity_period is not None:
            params["validity_period"] = validity_period
        client, transport = self._client()
        try:
            message = await client.messages.create_async(**params)
        except TwilioRestException as exc:
            return classify_twilio(exc.status, exc.code, _retry_after(transport), _masked(exc.msg, to))
        except TwilioServiceException as exc:
            return classify_twilio(
                exc.status, exc.code, _retry_after(transport), _masked(exc.detail or exc.title, to)
            )
        except httpx.TransportError as exc:
            return classify_transport(exc, may_have_arrived="unknown")
        except ValueError:
            # A 2xx whose body is not the message resource: Twilio has the message, but we cannot name it.
            return Outcome(kind="unknown", error_code="twilio:unreadable_response")
        return Outcome(kind="accepted", provider_message_id=message.sid, status=message.status)

    async def find(
        self,
        *,
        to: str,
        sent_after: datetime,
        body: str | None = None,
        matches: Callable[[str], bool] | None = None,
        sender: str | None = None,
    ) -> Found:
        """The newest message to `to` created since `sent_after` (less `CLOCK_SKEW`) whose body is exactly `body`
        or satisfies `matches` (any body when neither is given), sent from `sender` (a number, or a Messaging
        Service SID) when given: found, none, or unknown when Twilio could not be asked.

        Not filtered by DateSent: a message still queued at Twilio has none yet, and would be missed. Twilio
        lists newest first, so the newest `FIND_LIMIT` messages to the recipient cover the attempt."""
        since = (sent_after - CLOCK_SKEW).astimezone(UTC)
        client, transport = self._client()
        try:
            messages = await client.messages.list_async(to=to, limit=FIND_LIMIT, page_size=min(FIND_LIMIT, 100))
        except (TwilioRestException, TwilioServiceException) as exc:
            log.warning("twilio: listing messages failed: HTTP %s, code %s", exc.status, exc.code)
            return Found(kind="unknown")
        except TwilioException:  # a failed page: the library raises its base class with the response
            status = transport.last_response.status_code if transport.last_response is not None else None
            log.warning("twilio: listing messages failed: HTTP %s", status)
            return Found(kind="unknown")
        except httpx.TransportError as exc:
            log.warning("twilio: listing messages failed: %s", type(exc).__name__)
            return Found(kind="unknown")
        except ValueError:
            log.warning("twilio: listing messages failed: unreadable response")
            return Found(kind="unknown")
        matches = [
            m
            for m in messages
            if m.date_created is not None
            and m.date_created >= since
            and (body is None or m.body == body)
            and (matches is None or matches(m.body or ""))
            and (sender is None or sender in (m.messaging_service_sid, (m.from_ or "").removeprefix("whatsapp:")))
        ]
        if not matches:
            return Found(kind="none")
        newest = max(matches, key=lambda m: m.date_created or since)
        return Found(kind="found", provider_message_id=newest.sid, status=newest.status)


def _retry_after(transport: HttpxTwilioClient) -> float | None:
    response = transport.last_response
    if response is None:
        return None
    return retry_after_seconds(response.headers.get("retry-after"), datetime.now(UTC))


def _masked(message: str | None, to: str) -> str | None:
    """Twilio's message without the recipient, which it quotes even when too short to look like a number."""
    if not message:
        return None
    return message.replace(to.removeprefix("whatsapp:"), "…")
