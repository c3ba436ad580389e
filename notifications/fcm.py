"""Push notifications through Firebase Cloud Messaging's HTTP v1 API.

FCM takes an OAuth 2.0 access token of a service account. It is obtained the way Google's own libraries do it
for a service account (RFC 7523): a JWT assertion signed with the account's private key (google-auth's signer),
exchanged at the account's ``token_uri`` over the shared `httpx.AsyncClient` — so the exchange shares the pool and
its timeouts, and tests point ``token_uri`` at a fake. The token is cached until shortly before it expires and
refreshed by one coroutine at a time; an FCM 401 refreshes it once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import httpx
import msgspec
from google.auth import crypt, jwt

from notifications.failures import classify_fcm, classify_http, classify_transport, retry_after_seconds
from notifications.outcome import Outcome

SCOPE: Final = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER: Final = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME: Final = 3600
"""Seconds a signed assertion is valid (Google's maximum)."""
REFRESH_MARGIN: Final = 60.0
"""A cached access token is replaced this many seconds before it expires, so none expires in flight."""
FCM_ERROR_TYPE: Final = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


class _TokenResponse(msgspec.Struct):
    access_token: str
    expires_in: float = 3600.0


class _OAuthError(msgspec.Struct):
    error: str = ""
    error_description: str = ""


class _ErrorDetail(msgspec.Struct):
    type: str = msgspec.field(name="@type", default="")
    error_code: str | None = msgspec.field(name="errorCode", default=None)


class _Error(msgspec.Struct):
    message: str = ""
    details: list[_ErrorDetail] = []


class _ErrorBody(msgspec.Struct):
    error: _Error


class _Sent(msgspec.Struct):
    name: str


_encode = msgspec.json.Encoder().encode
_token_response = msgspec.json.Decoder(_TokenResponse)
_oauth_error = msgspec.json.Decoder(_OAuthError)
_error_body = msgspec.json.Decoder(_ErrorBody)
_sent = msgspec.json.Decoder(_Sent)


class _NoToken(Exception):
    """The access token could not be had; `outcome` says why, classified."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.error_code)
        self.outcome = outcome


class Fcm:
    """One Firebase project, reached with a service account's key (the JSON Google hands out, as a dict)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        project_id: str,
        credentials: Mapping[str, Any],
        api_base: str = "https://fcm.googleapis.com",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.send_url = f"{api_base.rstrip('/')}/v1/projects/{project_id}/messages:send"
        self._signer = crypt.RSASigner.from_service_account_info(credentials)
        self._client_email: str = credentials["client_email"]
        self._token_uri: str = credentials.get("token_uri") or "https://oauth2.googleapis.com/token"
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def send(
        self, *, token: str, title: str, body: str, data: dict[str, str], collapse_key: str | None = None
    ) -> Outcome:
        """Send one notification to the app instance holding the registration `token`: accepted with FCM's
        message name, or a classified failure (UNREGISTERED or a plain 404: permanent, ``token_unregistered``).

        FCM cannot be asked afterwards whether it took a message, so a request that got no answer is
        transient; `collapse_key` (at most 64 bytes) makes the retried notification replace the first one on
        the device instead of showing twice."""
        message: dict[str, Any] = {"token": token, "notification": {"title": title, "body": body}, "data": data}
        if collapse_key is not None:
            message["android"] = {"collapse_key": collapse_key}
            message["apns"] = {"headers": {"apns-collapse-id": collapse_key}}
        content = _encode({"message": message})
        try:
            access_token = await self._access_token()
            response = await self._post(content, access_token)
            if response.status_code == 401 and _fcm_error_code(response) != "THIRD_PARTY_AUTH_ERROR":
                # Our token was revoked or expired early: one fresh token, one more try.
                access_token = await self._access_token(stale=access_token)
                response = await self._post(content, access_token)
        except _NoToken as exc:
            return exc.outcome
        except httpx.TransportError as exc:
            return classify_transport(exc, may_have_arrived="transient")
        if response.status_code == 200:
            try:
                name = _sent.decode(response.content).name
            except msgspec.DecodeError:
                name = None
            return Outcome(kind="accepted", provider_message_id=name)
        retry_after = retry_after_seconds(response.headers.get("retry-after"), datetime.now(UTC))
        return classify_fcm(response.status_code, _fcm_error_code(response), retry_after, _fcm_message(response))

    async def _post(self, content: bytes, access_token: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {access_token}", "Content-Type": "application/json; charset=UTF-8"}
        return await self.http.post(self.send_url, content=content, headers=headers)

    async def _access_token(self, *, stale: str | None = None) -> str:
        """The cached access token, or a new one when it is about to expire or is `stale` (refused by FCM).
        Under the lock, so that concurrent sends wait for one exchange instead of each making their own."""
        async with self._lock:
            if self._token is not None and self._token != stale and self._clock() < self._expires_at:
                return self._token
            token = await self._exchange()
            self._token = token.access_token
            self._expires_at = self._clock() + token.expires_in - min(REFRESH_MARGIN, token.expires_in / 2)
            return self._token

    async def _exchange(self) -> _TokenResponse:
        now = int(time.time())
        claims = {"iss": self._client_email, "scope": SCOPE, "aud": self._token_uri, "iat": now}
        assertion = jwt.encode(self._signer, claims | {"exp": now + ASSERTION_LIFETIME})
        form = {"grant_type": JWT_BEARER, "assertion": assertion.decode()}
        try:
            response = await self.http.post(self._token_uri, data=form, headers={"Accept": "application/json"})
        except httpx.TransportError as exc:
            # Asking for a token changes nothing at Google: whatever happened, trying again is safe.
            raise _NoToken(classify_transport(exc, may_have_arrived="transient")) from exc
        if response.status_code != 200:
            try:
                error = _oauth_error.decode(response.content)
            except msgspec.DecodeError:
                error = _OAuthError()
            retry_after = retry_after_seconds(response.headers.get("retry-after"), datetime.now(UTC))
            refused = classify_http(response.status_code, retry_after, error.error_description or None)
            code = f"oauth:{error.error}" if error.error else f"oauth:http:{response.status_code}"
            raise _NoToken(msgspec.structs.replace(refused, error_code=code))
        try:
            return _token_response.decode(response.content)
        except msgspec.DecodeError as exc:
            raise _NoToken(Outcome(kind="transient", error_code="oauth:unreadable_response")) from exc


def _error(response: httpx.Response) -> _Error | None:
    try:
        return _error_body.decode(response.content).error
    except msgspec.DecodeError:
        return None


def _fcm_error_code(response: httpx.Response) -> str | None:
    """The ``errorCode`` of the FcmError detail of an error answer, if it has one."""
    error = _error(response)
    if error is None:
        return None
    return next((d.error_code for d in error.details if d.type == FCM_ERROR_TYPE and d.error_code), None)


def _fcm_message(response: httpx.Response) -> str | None:
    error = _error(response)
    return (error.message or None) if error is not None else response.reason_phrase or None
