"""Time zones of customers and triggers: the names lxt accepts, and loading them.

Pure. A send window is placed in the customer's local time, so a zone must name a place, never the host's own
configuration.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@functools.cache
def iana_zones() -> frozenset[str]:
    """The IANA time zone names lxt accepts: those of the tz database as the ``tzdata`` package lists them.

    Not `zoneinfo.available_timezones()`, which also lists whatever files the host's ``/usr/share/zoneinfo``
    holds — ``localtime`` and ``posixrules`` among them, which follow the server's own configuration, so a send
    window would move with the server. ``Factory`` (a placeholder meaning "no zone set") is left out too.
    """
    listed = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    return frozenset(listed) - {"Factory"}


ZONE_RULE: Final = "use an IANA time zone name, e.g. Europe/Berlin (exact spelling and case)"


def load_zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone of that name, or None for a missing name or one `iana_zones` does not list."""
    if not name or name not in iana_zones():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
