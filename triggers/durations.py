"""Durations in trigger definitions: how they are written, and the bounds each one must respect.

Durations travel as ISO 8601 durations, which msgspec decodes straight into `datetime.timedelta`:
``"PT5M"`` (5 minutes), ``"PT2H"``, ``"P1D"``, ``"P1DT12H"``, ``"PT90S"``. msgspec accepts only the units
D, H, M and S (no years, months or weeks, whose length is not fixed: write ``"P7D"`` for a week), and the API
decodes request bodies strictly, so a plain number (``"delay": 300`` — seconds? minutes?) is refused rather
than guessed. Durations are whole seconds: ``"PT1.5S"`` is refused here. Bounds are checked here rather than
with `Meta` constraints so that a brand gets every problem of a submitted trigger in one answer instead of the
first one only.
"""

from __future__ import annotations

from datetime import timedelta

from plumbing.errors import FieldError


def iso_duration(value: timedelta) -> str:
    """Write a duration the way a brand would, e.g. ``PT5M`` or ``P1DT12H`` (msgspec itself writes ``PT300S``)."""
    sign = "-" if value < timedelta(0) else ""
    total = abs(value)
    days, rest = total.days, total.seconds
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    time_part = ""
    if hours:
        time_part += f"{hours}H"
    if minutes:
        time_part += f"{minutes}M"
    if seconds or total.microseconds:
        micro = f".{total.microseconds:06d}".rstrip("0") if total.microseconds else ""
        time_part += f"{seconds}{micro}S"
    if not days and not time_part:
        return "PT0S"
    return f"{sign}P{f'{days}D' if days else ''}{'T' + time_part if time_part else ''}"


def check_duration(
    value: timedelta,
    at: str,
    *,
    minimum: timedelta,
    maximum: timedelta,
    minimum_exclusive: bool = False,
) -> list[FieldError]:
    """Errors (zero or one) for a duration outside ``[minimum, maximum]`` (or ``(minimum, maximum]``), or not
    in whole seconds."""
    if value.microseconds:
        return [FieldError(at, f"must be whole seconds (got {iso_duration(value)})")]
    too_small = value <= minimum if minimum_exclusive else value < minimum
    if too_small or value > maximum:
        low = "greater than" if minimum_exclusive else "at least"
        return [
            FieldError(
                at,
                f"must be {low} {iso_duration(minimum)} and at most {iso_duration(maximum)}"
                f" (got {iso_duration(value)})",
            )
        ]
    return []
