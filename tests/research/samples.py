"""A small dataset with a value of every column type and the cells that break writers, and a large one made by
``generate_series``: the writers' tests run on these instead of on a real dataset, so that each cell's expected
form is written next to it."""

from __future__ import annotations

import asyncpg

from research.exports import stream
from research.exports.dataset import Column, Dataset, Option
from research.exports.writers import Writer

CHOICES = [
    Option(code="app", labels={"en": "In the app", "de": "In der App"}),
    Option(code="web", labels={"en": "On the website", "de": "Auf der Website"}),
]
EXTRAS = [
    Option(code="locker", labels={"en": "Parcel locker"}),
    Option(code="tracking", labels={"en": "Tracking"}),
]

COLUMNS = [
    Column(name="n", type="integer", meaning="The row's number."),
    Column(name="amount", type="number", meaning="An amount."),
    Column(name="note", type="text", meaning="What the customer wrote.", free_text=True),
    Column(
        name="channel",
        type="code",
        meaning="Where they ordered.",
        question_id="channel",
        question_type="single_choice",
        text={"en": "Where did you order?", "de": "Wo haben Sie bestellt?"},
        options=CHOICES,
    ),
    Column(name="extras", type="codes", meaning="What else they used.", options=EXTRAS),
    Column(name="again", type="boolean", meaning="Would order again."),
    Column(name="at", type="timestamp", meaning="When."),
    Column(name="took", type="interval", meaning="How long it took."),
    Column(name="doc", type="json", meaning="A JSON document."),
    Column(name="score", type="code", meaning="A score.", options=[Option(code=str(n)) for n in range(1, 4)]),
    Column(name="phone", type="text", meaning="The customer's phone.", pii=True),
]

# One row per case; the first row's casts type the columns.
_ROWS = """
(1, -2.5::float8, '=HYPERLINK("http://evil.example","click")', 'app', ARRAY['locker', 'tracking'], true,
    timestamptz '2026-11-24 09:00:00.5+01', interval '90 seconds', '{"a": [1, "x"]}'::jsonb, '2', '+4915112345678'),
(-7, 0.1, '+1', 'web', ARRAY[]::text[], false, '2026-11-24 23:59:59+00', interval '1 day 2 hours', '-3', '1', NULL),
(0, NULL, '-x', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
(42, 3, '@x', 'app', ARRAY['tracking'], true, '2026-01-01 00:00:00+00', interval '0.25 seconds', '"=1"', '3', NULL),
(5, 1e100, E'Box was wet.\\nStill "fine", thanks', 'web', NULL, NULL, NULL, NULL, 'null', NULL, NULL),
(6, -0.5, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
(7, 12345678901.25, E'\\tcmd', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
(8, 1, E'C:\\\\temp\\\\new \\\\N', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
(9, 2, 'Zu spät, aber freundlich 👍', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
(10, 3, E'\\rcarriage', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
"""

SAMPLE = Dataset(
    name="sample",
    description="Every column type, and the cells that break writers.",
    columns=COLUMNS,
    sql=f"SELECT * FROM (VALUES {_ROWS}) AS v ({', '.join(c.name for c in COLUMNS)}) ORDER BY n",
)

NOTES = {
    1: '=HYPERLINK("http://evil.example","click")',
    -7: "+1",
    0: "-x",
    42: "@x",
    5: 'Box was wet.\nStill "fine", thanks',
    6: "",
    7: "\tcmd",
    8: "C:\\temp\\new \\N",
    9: "Zu spät, aber freundlich 👍",
    10: "\rcarriage",
}
"""Each row's note as stored."""


def many(rows: int, *, width: int = 100) -> Dataset:
    """`rows` rows of a few columns with `width` characters of text each, in order."""
    return Dataset(
        name="many",
        description="Rows made up by generate_series.",
        columns=[
            Column(name="n", type="integer", meaning="The row's number."),
            Column(name="note", type="text", meaning="Some text.", free_text=True),
            Column(name="channel", type="code", meaning="A code.", options=CHOICES),
            Column(name="at", type="timestamp", meaning="When."),
        ],
        sql="SELECT g AS n, repeat(md5(g::text), $2) || E'\\n,\"' AS note, "
        "(ARRAY['app', 'web'])[1 + g % 2] AS channel, "
        "timestamptz '2026-01-01 00:00+00' + g * interval '1 second' AS at "
        "FROM generate_series(1, $1) g ORDER BY g",
        args=(rows, max(1, width // 32)),
    )


async def exported(conn: asyncpg.Connection, dataset: Dataset, writer: Writer, *, pii: bool = False) -> bytes:
    """The whole file, as the stream writes it."""
    async with stream.snapshot(conn):
        return b"".join([chunk async for chunk in stream.export(conn, dataset, writer, pii=pii)])


async def stored(conn: asyncpg.Connection, dataset: Dataset) -> list[asyncpg.Record]:
    """The dataset's rows as the database holds them."""
    return await conn.fetch(dataset.sql, *dataset.args)
