"""How fast each sender may send, and how many of a worker's job slots one brand may hold.

Per-sender rate limits are shared by every worker process through Valkey: `take` runs the generic cell rate
algorithm (GCRA) in one Lua script, on the server's clock, so any number of workers on any number of hosts
together stay within a sender's messages per second. A sender's rate is the brand's own (``rate_per_second``
of its sender) or `default_rate`, from what the sender is: carriers and Meta limit long codes, toll-free numbers,
short codes and WhatsApp numbers differently.

`BrandSlots` is the in-process half of fairness: one brand's burst may fill at most half of a worker's job
slots, so another brand's due invitation always finds a free one.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from typing import Final
from uuid import UUID

import msgspec
from redis.asyncio import Redis
from redis.exceptions import NoScriptError

US_LONG_CODE: Final = 1.0
"""A US/Canadian 10-digit long code: 1 message segment per second (carriers' limit for unregistered traffic)."""
TOLL_FREE: Final = 3.0
"""A US/Canadian toll-free number (+1 800, 833, 844, 855, 866, 877, 888): 3 segments per second."""
SHORT_CODE: Final = 100.0
"""A 5–6 digit short code: 100 segments per second."""
LONG_CODE: Final = 10.0
"""A long code outside the US and Canada: Twilio sends 10 segments per second from it."""
WHATSAPP: Final = 80.0
"""A WhatsApp business number: Meta's default throughput."""
UNLIMITED: Final = math.inf
"""No provider behind the sender (the sandbox): nothing to protect."""

_TOLL_FREE = re.compile(r"^\+1(800|833|844|855|866|877|888)[0-9]{7}$")
_SHORT_CODE = re.compile(r"^[0-9]{5,6}$")


class RateDefaults(msgspec.Struct, frozen=True, kw_only=True):
    """The default rates that are settings (``LXT_RATE_*``) rather than carrier rules."""

    messaging_service: float = 10.0
    push: float = 500.0
    webhook: float = 50.0


def default_rate(channel: str, sender: str, defaults: RateDefaults = RateDefaults()) -> float:  # noqa: B008
    """Messages (SMS: segments) per second a sender may send when its brand sets no rate of its own.

    - ``sms``: a Messaging Service SID (``MG…``) `defaults.messaging_service`; a short code (5–6 digits) 100/s;
      a US/Canadian toll-free number 3/s; any other +1 number (a US/Canadian long code) 1/s; a long code
      elsewhere 10/s.
    - ``whatsapp``: 80/s, Meta's default per business number (also when sent through a Messaging Service).
    - ``push``: `defaults.push` per Firebase project; ``webhook``: `defaults.webhook` per brand URL.
    - An empty sender (no provider configured: the sandbox) is `UNLIMITED`.
    """
    if not sender:
        return UNLIMITED
    if channel == "sms":
        if sender.startswith("MG"):
            return defaults.messaging_service
        if _SHORT_CODE.match(sender):
            return SHORT_CODE
        if _TOLL_FREE.match(sender):
            return TOLL_FREE
        return US_LONG_CODE if sender.startswith("+1") else LONG_CODE
    if channel == "whatsapp":
        return WHATSAPP
    if channel == "push":
        return defaults.push
    if channel == "webhook":
        return defaults.webhook
    raise ValueError(f"no rate for channel {channel!r}")


def rate_key(channel: str, sender: str) -> str:
    """The limiter key of a sender: shared by every brand sending from it (a global default sender is one)."""
    return f"lxt:rate:{channel}:{sender}"


# GCRA: the key holds the theoretical arrival time (TAT, µs) of the next unit at the sender's steady rate. A
# request of `cost` units is granted when the TAT it would leave is within the burst tolerance of now; else the
# answer is how long until it would be, and nothing changes. A request costlier than the burst is granted once
# the limiter is idle, so a long multi-segment message is delayed, never refused forever. The key expires when
# its TAT has passed (an absent key and a past TAT mean the same: idle).
_GCRA = """
if redis.replicate_commands then redis.replicate_commands() end
local interval, burst, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or 0), now)
local new_tat = tat + cost * interval
local allowed_at = new_tat - math.max(burst, cost) * interval
if allowed_at > now then
  return string.format('%.6f', (allowed_at - now) / 1000000)
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.max(1, math.ceil((new_tat - now) / 1000)))
return '0'
"""
_GCRA_SHA: Final = hashlib.sha1(_GCRA.encode(), usedforsecurity=False).hexdigest()


async def take(redis: Redis, key: str, rate_per_second: float, cost: int = 1, burst: int | None = None) -> float:
    """Take `cost` units (an SMS: its segments) from the limiter `key` allowing `rate_per_second` units per
    second across every process. Returns 0.0 when granted (the budget is consumed), else the seconds until the
    request would be granted (nothing is consumed: ask again then).

    `burst` is how many units may go at once after the sender was idle; by default 1, an even spacing, which
    is what carriers count against (a 1/s long code sending 2 in one second is over its limit).
    """
    if not rate_per_second > 0:
        raise ValueError(f"rate_per_second must be positive, not {rate_per_second!r}")
    if cost < 1 or (burst is not None and burst < 1):
        raise ValueError("cost and burst are at least 1")
    if math.isinf(rate_per_second):
        return 0.0
    args = (f"{1_000_000 / rate_per_second:.3f}", burst or 1, cost)
    try:
        answer = await redis.evalsha(_GCRA_SHA, 1, key, *args)  # type: ignore[misc]
    except NoScriptError:  # first use on this server, or after SCRIPT FLUSH / a restart
        answer = await redis.eval(_GCRA, 1, key, *args)  # type: ignore[misc]
    return float(answer)


class BrandSlots:
    """How many of this worker's job slots each brand holds: at most half of them (and at least one), so that
    a brand's burst leaves room for every other brand's due invitations.

    A send job calls `try_enter` before it claims its invitation and `leave` when done (in ``finally``); a job
    that cannot enter is deferred, not run. In-process state on purpose: slots are a property of one worker
    process, whose event loop is the only caller, so no lock is needed.
    """

    def __init__(self, max_jobs: int) -> None:
        self.cap = max(1, max_jobs // 2)
        self._held: Counter[UUID] = Counter()

    def try_enter(self, brand_id: UUID) -> bool:
        """Take a slot for `brand_id`; False (and nothing taken) when the brand already holds `cap`."""
        if self._held[brand_id] >= self.cap:
            return False
        self._held[brand_id] += 1
        return True

    def leave(self, brand_id: UUID) -> None:
        """Give back a slot `try_enter` granted."""
        held = self._held[brand_id]
        if held <= 1:
            del self._held[brand_id]
        else:
            self._held[brand_id] = held - 1

    def held(self, brand_id: UUID) -> int:
        return self._held[brand_id]
