"""Bearer API keys: authentication and scope checks (one middleware), and the per-process key cache.

A verified key is cached for `key_cache_seconds` so that ingestion does not pay a database round trip per
request. Revocation is pushed to every API process through PostgreSQL ``NOTIFY lxt_key_revoked`` (see
`tenants.revoke_key`) and drops the cached entry at once; the TTL only bounds the damage if a notification is
missed while a listener reconnects.
"""

from __future__ import annotations

import time
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from server import db, tenants
from server.tenants import Principal


class KeyCache:
    """key hash -> (principal, expiry). Small and bounded: one entry per key in use."""

    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[bytes, tuple[Principal, float]] = {}

    def get(self, key_hash: bytes) -> Principal | None:
        entry = self._entries.get(key_hash)
        if entry is None:
            return None
        principal, expires = entry
        if expires < time.monotonic():
            del self._entries[key_hash]
            return None
        return principal

    def put(self, key_hash: bytes, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key_hash] = (principal, time.monotonic() + self.ttl)

    def drop_key(self, key_id: str) -> None:
        for key_hash, (principal, _) in list(self._entries.items()):
            if str(principal.key_id) == key_id:
                del self._entries[key_hash]

    def on_revoked(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        """asyncpg LISTEN callback."""
        self.drop_key(payload)


class ApiKeyAuth(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise NotAuthorizedException("send an API key as 'Authorization: Bearer <key>'")
        if not tenants.looks_like_key(token):
            raise NotAuthorizedException("the API key is not valid")
        state = connection.app.state
        cache: KeyCache = state.key_cache
        key_hash = tenants.hash_key(token)
        principal = cache.get(key_hash)
        if principal is None:
            async with db.acquire(state.pool) as conn:
                principal = await tenants.verify_key(conn, token)
            if principal is None:
                raise NotAuthorizedException("the API key is not valid or was revoked")
            cache.put(key_hash, principal)
        allowed: frozenset[str] | None = connection.route_handler.opt.get("scopes")
        if not allowed:
            # Deny by default: every authenticated route must say which scopes it admits.
            raise PermissionDeniedException("this route admits no API key scope")
        if principal.scopes.isdisjoint(allowed):
            wanted = " or ".join(f"'{s}'" for s in sorted(allowed))
            raise PermissionDeniedException(f"this API key lacks the {wanted} scope")
        return AuthenticationResult(user=principal, auth=principal)


def requires(*scopes: tenants.Scope) -> dict[str, frozenset[str]]:
    """Route ``opt`` admitting keys that carry at least one of `scopes`: ``@get(..., opt=requires("manage"))``.

    The authentication middleware checks it. (A Litestar guard would do the same, but guards run in a thread
    and copy the handler on every request — a measurable share of an ingestion request.)
    """
    return {"scopes": frozenset(scopes)}


ANY_SCOPE = requires("ingest", "manage", "export")
