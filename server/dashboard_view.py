"""The dashboard's pages between the handlers (`server.routes.dashboard`) and the templates: what the range
controls ask for, and the figures as the table and the charts show them. No I/O.

The controls are a plain GET form: dates (whole days in the chosen time zone, both ends included, as a
researcher says "1 to 28 March"), day or week buckets, one touchpoint or all. A bad value shows the page again
with the message next to its field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgspec
from markupsafe import Markup

from customers.zones import ZONE_RULE, load_zone
from research.stats.model import Estimate, Figures, Group, Stats, StatsQueryInvalid
from research.stats.query import DEFAULT_RANGE
from research.stats_histogram import TimeBin
from server import charts
from server.dashboard_session import SESSION_LIFETIME, DashboardSession
from server.pages import ASSETS

LIFETIME_TEXT: Final = f"{SESSION_LIFETIME.total_seconds() / 3600:g} hours"
STYLESHEETS: Final = ("page.css", "dashboard.css")
ZONES: Final = (
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Zurich",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Athens",
    "Europe/Istanbul",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
)
"""Offered in the time zone field; any IANA name is accepted."""
NONE: Final = "—"


def chrome(depth: int, session: DashboardSession | None = None) -> dict[str, Any]:
    """What every dashboard page's layout needs. `depth` is how many path segments the page is below
    ``/dashboard`` (0 for ``/dashboard`` itself): its links and assets climb that far to the root."""
    up = "../" * depth
    return {
        "up": up,
        "stylesheets": [f"{up}static/{name}?v={ASSETS[name]}" for name in STYLESHEETS],
        "session": session,
    }


class Controls(msgspec.Struct, kw_only=True):
    """The range controls as the form shows them, with a message per field that was not understood."""

    from_: str
    to: str
    bucket: str
    touchpoint: str
    tz: str
    errors: dict[str, str] = msgspec.field(default_factory=dict)
    start: datetime | None = None
    """The range the values stand for, when they are valid: from the first day's start …"""
    end: datetime | None = None
    """… to the last day's end (exclusive)."""


def read_controls(params: Mapping[str, str | None], touchpoints: Sequence[str], now: datetime) -> Controls:
    """The controls from the query string; missing ones take their defaults (the last 28 days, by day, in UTC,
    every touchpoint)."""
    tz = (params.get("tz") or "UTC").strip()
    zone = load_zone(tz)
    errors: dict[str, str] = {}
    if zone is None:
        errors["tz"] = f"Unknown time zone: {ZONE_RULE}."
        zone = ZoneInfo("UTC")
    last = _date(params.get("to"), "to", errors) or now.astimezone(zone).date()
    first = _date(params.get("from"), "from", errors) or _days_before(
        last, DEFAULT_RANGE - timedelta(days=1), errors
    )
    if "from" not in errors and "to" not in errors and last < first:
        errors["to"] = "The last day comes before the first."
    if not errors and last == date.max:
        errors["to"] = f"Choose a day before {date.max.isoformat()}."
    bucket = params.get("bucket") or "day"
    if bucket not in ("day", "week"):
        errors["bucket"], bucket = "Choose days or weeks.", "day"
    touchpoint = params.get("touchpoint") or ""
    if touchpoint and touchpoint not in touchpoints:
        errors["touchpoint"] = "No touchpoint of that key."
    controls = Controls(
        from_=first.isoformat(), to=last.isoformat(), bucket=bucket, touchpoint=touchpoint, tz=tz, errors=errors
    )
    if not errors:
        controls.start = datetime.combine(first, time(), zone)
        controls.end = datetime.combine(last + timedelta(days=1), time(), zone)
    return controls


def control_errors(refused: StatsQueryInvalid) -> dict[str, str]:
    """The statistics' refusal (``query:from`` …, e.g. too many buckets) as messages by field."""
    found: dict[str, str] = {}
    for error in refused.errors:
        name = error.pointer.removeprefix("query:")
        found[name if name in _FIELDS else "from"] = error.message[:1].upper() + error.message[1:] + "."
    return found


_FIELDS: Final = ("from", "to", "bucket", "touchpoint", "tz")


def _date(value: str | None, name: str, errors: dict[str, str]) -> date | None:
    """The day of field `name`, or None when it is empty (the default applies) or not a date (said in `errors`)."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = "Enter a date as YYYY-MM-DD."
        return None


def _days_before(last: date, days: timedelta, errors: dict[str, str]) -> date:
    """The default first day, `days` before `last`; near the calendar's start it would be before year 1."""
    try:
        return last - days
    except OverflowError:
        errors["to"] = "Too close to the start of the calendar for the last 28 days: choose the first day too."
        return last


# -- figures as the page shows them ------------------------------------------------------------------------------


class Cell(msgspec.Struct, frozen=True):
    """A figure in the table: its text, and its interval's text (empty: none asked for; None: too few for one)."""

    text: str
    interval: str | None = ""


class Row(msgspec.Struct, frozen=True, kw_only=True):
    key: str | None
    name: str
    events: str
    invitations: str
    sends: str
    deliveries: str
    responses: str
    response_rate: Cell
    nps: Cell
    csat: Cell
    median: str
    p90: str


def count(value: int) -> str:
    return f"{value:,}"


def minutes(value: float | None) -> str:
    if value is None:
        return NONE
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def estimate(figure: Estimate, digits: int, unit: str = "") -> Cell:
    """An estimate with its 95% interval; an interval of None marks a figure too few answers were behind."""
    if figure.value is None:
        return Cell(NONE)
    text = f"{figure.value:.{digits}f}{unit}"
    if figure.low is None or figure.high is None:
        return Cell(text, None)
    return Cell(text, f"{figure.low:.{digits}f} to {figure.high:.{digits}f}")


def row(group: Group, total: Figures | None = None) -> Row:
    figures = total or group.total
    return Row(
        key=group.key,
        name=group.name or group.key or "All touchpoints",
        events=count(figures.events),
        invitations=count(figures.invitations),
        sends=count(figures.sends),
        deliveries=count(figures.deliveries),
        responses=count(figures.responses),
        response_rate=estimate(figures.response_rate, 1, "%"),
        nps=estimate(figures.nps, 0),
        csat=estimate(figures.csat, 1, "%"),
        median=minutes(figures.to_first_answer.median),
        p90=minutes(figures.to_first_answer.p90),
    )


def bucket_label(start: datetime, zone: ZoneInfo) -> str:
    day = start.astimezone(zone).date()
    return f"{day.day} {day:%b}"


class ScoreSeries(msgspec.Struct, frozen=True, kw_only=True):
    """One touchpoint's score over time: the chart and the same figures as a table."""

    name: str
    chart: Markup
    buckets: list[tuple[str, str, Cell]]
    """(first day, answers, NPS) per bucket."""


def score_series(group: Group, index: int, bucket: str, zone: ZoneInfo) -> ScoreSeries:
    name = group.name or group.key or "All touchpoints"
    points = [
        charts.ScorePoint(
            label=bucket_label(b.start, zone), value=b.nps.value, low=b.nps.low, high=b.nps.high, n=b.nps.n
        )
        for b in group.buckets
    ]
    title = f"NPS by {bucket} at {name}, with its 95% confidence interval"
    return ScoreSeries(
        name=name,
        chart=charts.score_chart(f"nps-{index}", title, points),
        buckets=[
            (b.start.astimezone(zone).date().isoformat(), count(b.nps.n), estimate(b.nps, 0))
            for b in group.buckets
        ],
    )


def reason_text(reason: str) -> str:
    """A decision reason in words: ``frequency_cap`` is "frequency cap"."""
    return reason.replace("_", " ")


def overview(stats: Stats, bins: Sequence[TimeBin], zone: ZoneInfo) -> dict[str, Any]:
    """The figures part of the dashboard's context."""
    total = stats.overall.total
    groups = stats.groups
    series = [score_series(g, n, stats.bucket, zone) for n, g in enumerate(groups, start=1)]
    if len(groups) > 1:
        series.insert(0, score_series(stats.overall, 0, stats.bucket, zone))
    reasons = [(reason_text(r.reason), r.count) for r in total.not_surveyed]
    times = [(b.label, b.count) for b in bins]
    return {
        "empty": total.events == 0,
        "rows": [row(g) for g in groups],
        "total": row(stats.overall),
        "series": series,
        "latency_chart": charts.bar_chart(
            "latency", "Minutes from contact to first answer", [charts.Bar(label, n) for label, n in times]
        ),
        "times": [(label, count(n)) for label, n in times],
        "reasons_chart": charts.bar_chart(
            "reasons", "Why events were not surveyed", [charts.Bar(label, n) for label, n in reasons]
        ),
        "reasons": [(label, count(n)) for label, n in reasons],
        "methods": stats.methods,
    }
