"""Row ids: one rule for every table.

Every row id is a time-ordered UUID (version 7, RFC 9562): 48 bits of Unix milliseconds, then 74 random bits.
New rows of a table then land at the right edge of its primary-key index instead of at random pages, which
keeps bulk inserts cheap and the index compact. The application makes them with `new_ids` (many at once, for
ingestion) or `new_id`; rows created by SQL alone get the same kind from the ``lxt_uuid7()`` column default
(migrations/0005).
"""

from __future__ import annotations

import os
import time


def new_ids(count: int) -> list[str]:
    """`count` UUIDv7 strings of this millisecond (ids of one call share it, and sort in random order among
    themselves); one read of the OS's random source serves them all."""
    millis = time.time_ns() // 1_000_000
    raw = os.urandom(10 * count)
    ids = []
    for i in range(count):
        rand = int.from_bytes(raw[10 * i : 10 * i + 10])
        # 12 random bits after the version nibble, 62 after the variant bits.
        value = (
            (millis << 80) | (0x7 << 76) | ((rand >> 62) & 0xFFF) << 64 | (0b10 << 62) | (rand & ((1 << 62) - 1))
        )
        hex_ = f"{value:032x}"
        ids.append(f"{hex_[:8]}-{hex_[8:12]}-{hex_[12:16]}-{hex_[16:20]}-{hex_[20:]}")
    return ids


def new_id() -> str:
    """One UUIDv7 string."""
    return new_ids(1)[0]
