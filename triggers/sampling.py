"""Deterministic sampling: the same (trigger, event) pair always gets the same draw.

A replayed event (the brand retries a POST, or we re-run a decision) must not flip between surveyed and not, so
the draw is a hash, not a random number. blake2b of the trigger id and the event's idempotency key gives a point
in [0, 1); the event is sampled in when the point is below the rate. Consequences worth knowing:
- raising a trigger's rate only adds events (a point below 0.2 is also below 0.5), never swaps them;
- different triggers draw independently for the same event, because the trigger id is part of the hash.
The encoding and the personalisation string are part of the contract: changing them changes past decisions.
"""

from __future__ import annotations

import hashlib
from typing import Final

_PERSON: Final = b"lxt.sample.v1"  # blake2b personalisation: at most 16 bytes
_SCALE: Final = float(2**53)


def sample_point(trigger_id: str, idempotency_key: str) -> float:
    """The event's uniform draw in [0, 1) for this trigger."""
    tid = trigger_id.encode()
    # Length-prefix the first part so that ("ab", "c") and ("a", "bc") hash differently.
    data = len(tid).to_bytes(4, "big") + tid + idempotency_key.encode()
    digest = hashlib.blake2b(data, digest_size=8, person=_PERSON).digest()
    # Keep 53 bits, what a float holds exactly; dividing all 64 could round up to 1.0.
    return (int.from_bytes(digest, "big") >> 11) / _SCALE


def sampled_in(sample_rate: float, trigger_id: str, idempotency_key: str) -> bool:
    """Whether this event is part of the trigger's sample (rate 1 keeps all, rate 0 none)."""
    if sample_rate >= 1.0:
        return True
    if sample_rate <= 0.0:
        return False
    return sample_point(trigger_id, idempotency_key) < sample_rate
