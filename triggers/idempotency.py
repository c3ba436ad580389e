"""Idempotency keys: a brand's event id makes its retries safe.

Pure. The first event stored under a key is the event; the same event again (the same payload hash) is a
``duplicate`` answered with the original result, and a different event under the key is a ``conflict`` that
stores nothing. Keys are kept for `RETENTION` (the worker prunes older ones): a key reused after that names a
new event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Final, Literal

RETENTION: Final = timedelta(days=30)
"""How long an idempotency key is remembered; brand systems retry within minutes or hours, not months."""


def repeat_status(stored_hash: bytes, payload_hash: bytes) -> Literal["duplicate", "conflict"]:
    """What a repeated key is: the same event again, or a different event under a used key."""
    return "duplicate" if stored_hash == payload_hash else "conflict"


def clashes(items: Iterable[tuple[str, bytes]]) -> list[int]:
    """Indexes of (key, payload hash) items whose key an earlier item used for a different event."""
    seen: dict[str, bytes] = {}
    return [
        index
        for index, (key, payload_hash) in enumerate(items)
        if repeat_status(seen.setdefault(key, payload_hash), payload_hash) == "conflict"
    ]
