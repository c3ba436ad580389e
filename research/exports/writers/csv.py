"""CSV: UTF-8, RFC 4180 (a header row, CRLF line ends, quotes only where needed), written by PostgreSQL.

The query is wrapped so that each cell is already what the file holds, and ``COPY … TO STDOUT (FORMAT csv,
HEADER)`` writes it: Python only turns PostgreSQL's LF row ends into CRLF and counts rows. Cells:

- text and codes are guarded against spreadsheet formula injection (OWASP): a cell that starts with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return gets a leading ``'``, so a spreadsheet shows it as text instead of
  running it. Numbers are never changed: integer, number and interval columns are not text. Nor are the columns
  whose values cannot start so (`formula_safe`: ids, keys, pseudonyms, codes), which saves the check on every row;
- ``json`` is the value's JSON text (normalised by ``jsonb``, so it starts with ``{ [ "``, a digit, ``-`` of a
  number, or ``true``/``false``/``null``: never with a formula character);
- ``codes`` a JSON array of the codes, e.g. ``["locker","tracking"]``;
- booleans ``true`` / ``false``; timestamps ISO 8601 in UTC with their offset, ``2026-11-24T09:00:00.5+00:00``
  (as JSON Lines writes them); intervals their length in seconds;
- an empty cell is a missing value (NULL); an empty text is ``""``.

A line break inside a quoted cell (free text) stays as the customer wrote it; only row ends become CRLF.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg

from research.exports.dataset import Column, Dataset
from research.exports.writers.base import Progress, Writer
from research.exports.writers.query import Shaped, copy_out, seconds, select, shape, utc

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet may read as the start of a formula (OWASP CSV injection)."""


_STARTS = ", ".join(str(ord(c)) for c in FORMULA_STARTS)


def guarded(text: str) -> str:
    """SQL for the text expression `text` with a leading ``'`` if a spreadsheet could take it for a formula
    (``ascii()`` reads the first character's code without making a string of it: cheaper than ``left()``)."""
    return f"CASE WHEN ascii({text}) IN ({_STARTS}) THEN '''' || {text} ELSE {text} END"


def timestamp_text(timestamptz: str) -> str:
    """SQL for a ``timestamptz`` as ISO 8601 with its offset: the session's own output (UTC and ISO dates in the
    export's transaction, `stream.snapshot`) with a ``T`` and a full ``+00:00``."""
    return f"replace({timestamptz}::text, ' ', 'T') || ':00'"


def formula_safe(column: Column) -> bool:
    """The column's values never start with a formula character: the dataset says so (ids, keys), or it is a
    code whose every option's code starts otherwise (a code is one of its options)."""
    if column.formula_safe:
        return True
    return (
        column.type == "code"
        and bool(column.options)
        and not any(o.code.startswith(FORMULA_STARTS) for o in column.options)
    )


def cell(c: Shaped) -> str:
    kind = c.column.type
    if kind in ("text", "code"):
        return f"{c.ref}::text" if formula_safe(c.column) else guarded(f"{c.ref}::text")
    if kind == "json":
        return f"{c.ref}::jsonb::text"
    if kind == "codes":
        return f"to_jsonb({c.ref})::text"
    if kind == "boolean":
        return f"{c.ref}::text"  # PostgreSQL's cast to text writes `true` / `false`
    if kind == "timestamp":
        return timestamp_text(utc(c))
    if kind == "interval":
        return seconds(c)
    return c.ref  # integer, number: as PostgreSQL writes them


class RowEnds:
    """Turns the LF that ends each CSV row into CRLF and counts rows, leaving line breaks inside quoted cells as
    they are. A quote character toggles between inside and outside a quoted cell (an escaped quote ``""``
    toggles twice); the state carries over from one chunk to the next."""

    def __init__(self) -> None:
        self.quoted = False
        self.rows = 0

    def convert(self, chunk: bytes) -> bytes:
        if b'"' not in chunk:
            if self.quoted:
                return chunk
            converted = chunk.replace(b"\n", b"\r\n")
        else:
            parts = chunk.split(b'"')
            first = 1 if self.quoted else 0
            parts[first::2] = [part.replace(b"\n", b"\r\n") for part in parts[first::2]]
            converted = b'"'.join(parts)
            if len(parts) % 2 == 0:  # an odd number of quotes
                self.quoted = not self.quoted
        self.rows += len(converted) - len(chunk)
        return converted


class CsvWriter(Writer):
    format = "csv"
    media_type = "text/csv; header=present"
    """An HTTP response adds ``charset=utf-8``."""
    extension = "csv"

    async def chunks(
        self, conn: asyncpg.Connection, dataset: Dataset, progress: Progress, *, pii: bool
    ) -> AsyncIterator[bytes]:
        columns = await shape(conn, dataset, pii=pii)
        ends = RowEnds()
        reported = 0
        async for chunk in copy_out(conn, select(dataset, columns, cell), dataset.args, format="csv", header=True):
            yield ends.convert(chunk)
            written = max(ends.rows - 1, 0)  # the header is no row of data
            progress(written - reported)
            reported = written
