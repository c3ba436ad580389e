"""The research dashboard's sessions: an `export` key exchanged for a cookie, and all SQL of `dashboard_sessions`.

The cookie holds a random 32-byte token; the database keeps only its SHA-256, so a copy of the table opens no
session. A session lasts `SESSION_LIFETIME` from sign-in and ends sooner when its key is revoked (each request
reads the key's row with the session's) or when it is signed out.

Forms are protected against cross-site requests twice: the cookie is ``SameSite=Strict`` (another site's form
posts without it), and every form carries a token the server checks (`csrf_token`): derived from the session
token, so it needs no storage, and unknown to any page that cannot read the cookie. The sign-in form, which has
no session yet, pairs its hidden token with a short-lived cookie of the same value (double submit), so another
site cannot sign a browser in with its own key either.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

import asyncpg
import msgspec

from research import audit
from server.tenants import Principal, effective_scopes

SESSION_LIFETIME: Final = timedelta(hours=12)
TOKEN_BYTES: Final = 32
DASHBOARD_SCOPES: Final = frozenset({"export"})
"""What a key needs to sign in (`export_pii` admits it too: `tenants.effective_scopes`); `manage` alone does not."""


class DashboardSession(msgspec.Struct, frozen=True, kw_only=True):
    """A signed-in researcher: the brand whose data the dashboard shows, and the key that signed in."""

    brand_id: UUID
    brand_name: str
    key_id: UUID
    key_prefix: str
    scopes: frozenset[str]
    """The key's (`tenants.effective_scopes`): what the pages may show, e.g. a customer's own words."""
    expires_at: datetime
    csrf: str
    """The token the session's forms carry."""


def new_token() -> str:
    """A session token, as the cookie carries it."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def csrf_token(session_token: str) -> str:
    """The forms' token of a session: a keyed hash of the session token, so it reveals nothing of the cookie and a
    page can carry it without the server storing anything."""
    return hmac.new(session_token.encode(), b"lxt dashboard forms", hashlib.sha256).hexdigest()


def same_token(given: object, expected: str) -> bool:
    """Whether a posted token is `expected`, compared in constant time."""
    return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def may_sign_in(principal: Principal) -> bool:
    return not principal.scopes.isdisjoint(DASHBOARD_SCOPES)


async def start(conn: asyncpg.Connection, principal: Principal, now: datetime) -> str:
    """A new session for `principal` (a verified key that `may_sign_in`): its token, for the cookie. The sign-in
    goes into the brand's audit log; the brand's sessions that have expired are removed on the way."""
    token = new_token()
    async with conn.transaction():
        await conn.execute(
            "DELETE FROM dashboard_sessions WHERE brand_id = $1 AND expires_at <= $2", principal.brand_id, now
        )
        await conn.execute(
            "INSERT INTO dashboard_sessions (token_hash, brand_id, key_id, created_at, expires_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            token_hash(token),
            principal.brand_id,
            principal.key_id,
            now,
            now + SESSION_LIFETIME,
        )
        await audit.record(
            conn, principal.brand_id, actor=f"dashboard:{principal.prefix}", action="dashboard_sign_in"
        )
    return token


_SESSION = """
SELECT s.brand_id, b.name AS brand_name, s.key_id, k.prefix AS key_prefix, k.scopes, s.expires_at
FROM dashboard_sessions s
JOIN api_keys k ON k.brand_id = s.brand_id AND k.key_id = s.key_id
JOIN brands b ON b.brand_id = s.brand_id
WHERE s.token_hash = $1 AND s.expires_at > $2 AND k.revoked_at IS NULL
"""


async def find(conn: asyncpg.Connection, token: str | None, now: datetime) -> DashboardSession | None:
    """The session a cookie's token opens, or None: unknown, signed out, expired, or its key revoked."""
    if not token or len(token) > 100:
        return None
    row = await conn.fetchrow(_SESSION, token_hash(token), now)
    if row is None:
        return None
    found = dict(row)
    return DashboardSession(**found | {"scopes": effective_scopes(found["scopes"])}, csrf=csrf_token(token))


async def end(conn: asyncpg.Connection, token: str) -> None:
    """Sign out: the session is gone, whatever state it was in."""
    await conn.execute("DELETE FROM dashboard_sessions WHERE token_hash = $1", token_hash(token))
