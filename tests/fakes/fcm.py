"""A fake Firebase Cloud Messaging HTTP v1 API with its own OAuth2 token endpoint.

`service_account_info()` is a service-account JSON whose ``token_uri`` points at the fake, so google-auth's
``service_account.Credentials`` get their access tokens here unchanged: the fake verifies the JWT-bearer
assertion against the key it generated, checks the FCM scope and issues short opaque tokens. Sends are checked
like FCM's (bearer token, project, one target, string-only ``data``) and refused with FCM v1's error JSON.
Tests steer it with `unregister`, `fail_next`, `delay` and `expire_tokens`; they read `messages`, `requests` and
`tokens_issued`.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import secrets
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import exceptions as google_exceptions
from google.auth import jwt

from tests.fakes.base import FakeServer, ReceivedRequest, Reply, _Drop

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
"""The audience google-auth puts in its assertions whatever the key's ``token_uri``; Google accepts it too."""
_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
_MESSAGE_FIELDS = frozenset(
    {"name", "data", "notification", "android", "webpush", "apns", "fcm_options", "token", "topic", "condition"}
)

ERROR_CODES: dict[str, tuple[int, str, str]] = {
    "UNREGISTERED": (404, "NOT_FOUND", "Requested entity was not found."),
    "INVALID_ARGUMENT": (400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"),
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send messages'."),
    "UNAVAILABLE": (503, "UNAVAILABLE", "The service is currently unavailable."),
    "INTERNAL": (500, "INTERNAL", "Internal error encountered."),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service"),
    "SENDER_ID_MISMATCH": (403, "PERMISSION_DENIED", "SenderId mismatch"),
}
"""FCM v1 error codes: HTTP status, google.rpc status and the message FCM answers with."""


def _google_error(
    code: int, status: str, message: str, details: list[dict[str, Any]] | None = None, headers: tuple = ()
) -> Reply:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = details
    return Reply.json(code, {"error": error}, headers)


def _fcm_error(
    error_code: str, message: str | None = None, status: int | None = None, headers: tuple = ()
) -> Reply:
    default_status, rpc_status, default_message = ERROR_CODES[error_code]
    details = [{"@type": _FCM_ERROR, "errorCode": error_code}]
    return _google_error(status or default_status, rpc_status, message or default_message, details, headers)


def _invalid_field(field: str, description: str) -> Reply:
    details = [{"@type": _BAD_REQUEST, "fieldViolations": [{"field": field, "description": description}]}]
    return _google_error(400, "INVALID_ARGUMENT", description, details)


def _oauth_error(error: str, description: str) -> Reply:
    return Reply.json(400, {"error": error, "error_description": description})


@dataclasses.dataclass(frozen=True)
class _Failure:
    error_code: str
    status: int | None
    retry_after: int | None


class FakeFcm(FakeServer):
    """FCM HTTP v1 ``messages:send`` for one project, and the OAuth2 token endpoint its service account uses."""

    def __init__(self, *, project_id: str = "lxt-test", expires_in: int = 3600, port: int = 0) -> None:
        super().__init__(port=port)
        self.project_id = project_id
        self.expires_in = expires_in
        """Lifetime in seconds of the access tokens issued from now on."""
        self.private_key_id = secrets.token_hex(20)
        self.client_email = f"firebase-adminsdk@{project_id}.iam.gserviceaccount.com"
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public_pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._tokens: dict[str, float] = {}
        self._tokens_issued = 0
        self._messages: list[dict[str, Any]] = []
        self._unregistered: set[str] = set()
        self._plan: collections.deque[_Failure] = collections.deque()
        self._delay = 0.0

    @property
    def token_uri(self) -> str:
        return f"{self.url}/token"

    def service_account_info(self) -> dict[str, str]:
        """A service-account key as the Google Cloud console downloads it, its token URI pointing here."""
        private_pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": private_pem.decode(),
            "client_email": self.client_email,
            "client_id": str(secrets.randbits(64)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{self.client_email}",
            "universe_domain": "googleapis.com",
        }

    def write_service_account(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.service_account_info(), indent=2))
        return path

    # -- control -------------------------------------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Accepted sends, oldest first: ``name`` (as answered), ``message`` (the JSON sent), ``received_at``."""
        with self.lock:
            return json.loads(json.dumps(self._messages))

    @property
    def tokens_issued(self) -> int:
        with self.lock:
            return self._tokens_issued

    def unregister(self, token: str) -> None:
        """Sends to `token` answer 404 UNREGISTERED from now on (the app was uninstalled)."""
        with self.lock:
            self._unregistered.add(token)

    def fail_next(
        self,
        n: int = 1,
        *,
        error_code: str = "UNAVAILABLE",
        status: int | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Refuse the next `n` sends with FCM's error for `error_code` (its usual HTTP status unless given)."""
        if error_code not in ERROR_CODES:
            raise ValueError(f"unknown FCM error code {error_code!r}, one of {sorted(ERROR_CODES)}")
        with self.lock:
            self._plan.extend(_Failure(error_code, status, retry_after) for _ in range(n))

    def delay(self, seconds: float) -> None:
        """Answer every send `seconds` late (0 to answer at once again)."""
        with self.lock:
            self._delay = seconds

    def expire_tokens(self) -> None:
        """Every access token issued so far is expired from now on."""
        with self.lock:
            self._tokens.clear()

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self._tokens.clear()
            self._tokens_issued = 0
            self._messages.clear()
            self._unregistered.clear()
            self._plan.clear()
            self._delay = 0.0

    # -- HTTP ------------------------------------------------------------------------------------------------

    def answer(self, request: ReceivedRequest) -> Reply | _Drop:
        if request.method == "POST" and request.path == "/token":
            return self._token(request)
        prefix, _, rest = request.path.partition("/v1/projects/")
        project, _, action = rest.partition("/")
        if prefix or action != "messages:send":
            return _google_error(
                404, "NOT_FOUND", f"The requested URL {request.path} was not found on this server."
            )
        if request.method != "POST":
            return _google_error(
                405, "METHOD_NOT_ALLOWED", f"The request method {request.method} is inappropriate."
            )
        return self._send(request, project)

    def _token(self, request: ReceivedRequest) -> Reply:
        form = request.form()
        if form.get("grant_type") != JWT_BEARER:
            return _oauth_error("unsupported_grant_type", "Invalid grant_type: " + form.get("grant_type", ""))
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                certs={self.private_key_id: self._public_pem},
                audience=[self.token_uri, GOOGLE_TOKEN_URI],
            )
        except (ValueError, google_exceptions.GoogleAuthError) as e:
            return _oauth_error("invalid_grant", f"Invalid JWT: {e}")
        if claims.get("iss") != self.client_email:
            return _oauth_error("invalid_grant", "Invalid JWT: unknown issuer.")
        if FCM_SCOPE not in str(claims.get("scope", "")).split():
            return _oauth_error("invalid_scope", f"The assertion does not grant the scope {FCM_SCOPE}.")
        token = f"ya29.{secrets.token_urlsafe(32)}"
        with self.lock:
            self._tokens[token] = time.monotonic() + self.expires_in
            self._tokens_issued += 1
            expires_in = self.expires_in
        return Reply.json(200, {"access_token": token, "expires_in": expires_in, "token_type": "Bearer"})

    def _authorized(self, request: ReceivedRequest) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self.lock:
            expires_at = self._tokens.get(token)
        return scheme.lower() == "bearer" and expires_at is not None and time.monotonic() < expires_at

    def _send(self, request: ReceivedRequest, project: str) -> Reply:
        if not self._authorized(request):
            return _google_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
                "other valid authentication credential. "
                "See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            )
        if project != self.project_id:
            return _google_error(
                403,
                "PERMISSION_DENIED",
                f"Permission 'cloudmessaging.messages.create' denied on resource "
                f"'//cloudresourcemanager.googleapis.com/projects/{project}' (or it may not exist).",
            )
        with self.lock:
            planned = self._plan.popleft() if self._plan else None
            delay = self._delay
        self.sleep(delay)
        if planned is not None:
            headers = (("Retry-After", str(planned.retry_after)),) if planned.retry_after is not None else ()
            return _fcm_error(planned.error_code, status=planned.status, headers=headers)
        try:
            payload = request.json()
        except ValueError:
            return _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token.")
        refusal = _refusal(payload)
        if refusal is not None:
            return refusal
        message = payload["message"]
        with self.lock:
            if message.get("token") in self._unregistered:
                return _fcm_error("UNREGISTERED")
            name = f"projects/{self.project_id}/messages/0:{time.time_ns() // 1000}%{secrets.token_hex(8)}"
            if not payload.get("validate_only"):
                self._messages.append({"name": name, "message": message, "received_at": request.received_at})
        return Reply.json(200, {"name": name})


def _refusal(payload: Any) -> Reply | None:
    """FCM's 400 for a send it would not accept, or None."""
    if not isinstance(payload, dict):
        return _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Expected an object.")
    for name in payload:
        if name not in ("message", "validate_only"):
            return _invalid_field(
                name, f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
            )
    message = payload.get("message")
    if not isinstance(message, dict):
        return _invalid_field("message", "Request contains an invalid argument.")
    for name in message:
        if name not in _MESSAGE_FIELDS:
            return _invalid_field(
                "message",
                f"Invalid JSON payload received. Unknown name \"{name}\" at 'message': Cannot find field.",
            )
    targets = [name for name in ("token", "topic", "condition") if name in message]
    if len(targets) != 1:
        return _fcm_error("INVALID_ARGUMENT", "Exactly one of token, topic or condition must be set.")
    token = message.get("token")
    if "token" in message and (not isinstance(token, str) or not token.strip()):
        return _fcm_error("INVALID_ARGUMENT")
    data = message.get("data", {})
    if not isinstance(data, dict):
        return _invalid_field(
            "message.data", "Invalid value at 'message.data' (type.googleapis.com/Map), not a map"
        )
    for index, value in enumerate(data.values()):
        if not isinstance(value, str):
            field = f"message.data[{index}].value"
            return _invalid_field(field, f"Invalid value at '{field}' (TYPE_STRING), {json.dumps(value)}")
    notification = message.get("notification", {})
    if not isinstance(notification, dict):
        return _invalid_field("message.notification", "Invalid value at 'message.notification', not an object")
    for key, value in notification.items():
        if key not in ("title", "body", "image"):
            return _invalid_field(
                "message.notification",
                f"Invalid JSON payload received. Unknown name \"{key}\" at 'message.notification': Cannot find field.",
            )
        if not isinstance(value, str):
            field = f"message.notification.{key}"
            return _invalid_field(field, f"Invalid value at '{field}' (TYPE_STRING), {json.dumps(value)}")
    return None
