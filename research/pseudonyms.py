"""Pseudonyms: how exports name a customer without identifying them.

A customer is named by HMAC-SHA256 over their internal customer id, keyed with the brand's own secret
(``brands.pseudonym_key``, migration 0012), cut to 96 bits and written as 24 hex digits. The same customer gets the
same pseudonym in every export of the brand, so files can be joined; the same person at two brands gets unrelated
ones; and without the key nobody can go from a pseudonym back to the customer or test a guess.

Exports compute it in SQL so that a ``COPY`` can stream it: HMAC is two SHA-256 passes over the key padded and
XORed with two constants, and PostgreSQL has ``sha256()`` built in. The padded keys are computed here, once per
export, and passed as parameters; `pseudonym` computes the same value in Python (tests compare the two).
"""

from __future__ import annotations

import hashlib
import hmac
from uuid import UUID

import asyncpg

BLOCK = 64
"""SHA-256's block size: HMAC pads its key to this."""
HEX_DIGITS = 24


class PseudonymKey:
    """A brand's key, padded for HMAC: `inner` and `outer` go into `sql(...)` as parameters."""

    def __init__(self, key: bytes) -> None:
        if len(key) > BLOCK:
            key = hashlib.sha256(key).digest()
        padded = key.ljust(BLOCK, b"\0")
        self.key = key
        self.inner = bytes(b ^ 0x36 for b in padded)
        self.outer = bytes(b ^ 0x5C for b in padded)

    def pseudonym(self, customer_id: UUID | str) -> str:
        digest = hmac.new(self.key, str(customer_id).encode(), hashlib.sha256).hexdigest()
        return digest[:HEX_DIGITS]


def sql(customer_id: str, inner: str, outer: str) -> str:
    """SQL for the pseudonym of the uuid expression `customer_id`, with `inner` / `outer` the parameters ($n)
    that carry the padded key."""
    return (
        f"left(encode(sha256({outer}::bytea || sha256({inner}::bytea || convert_to({customer_id}::text, 'UTF8'))), "
        f"'hex'), {HEX_DIGITS})"
    )


async def brand_key(conn: asyncpg.Connection, brand_id: UUID) -> PseudonymKey:
    key = await conn.fetchval("SELECT pseudonym_key FROM brands WHERE brand_id = $1", brand_id)
    if key is None:
        raise LookupError(f"no brand {brand_id}")
    return PseudonymKey(key)
