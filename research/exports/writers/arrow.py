"""Rows as Arrow tables of their real types, read from ``COPY``'s text format: for Parquet and SPSS.

PostgreSQL streams the rows in ``COPY``'s text format: tab-separated, ``\\N`` for a missing value, tabs, line
breaks and backslashes in values escaped with a backslash, so a row never spans lines and no quoting is
involved. Batches of whole rows are parsed by Arrow's CSV reader (C++, several threads) with each column's type
given, and the few values that held an escape are unescaped afterwards. Types: ``timestamp`` → timestamp
(microseconds, UTC); ``integer`` → int64; ``number`` and ``interval`` (seconds) → float64; ``boolean`` → bool;
``code`` → dictionary-encoded string; ``codes`` → list<string>; ``text`` and ``json`` (its JSON text) → string.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import asyncpg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from research.exports.dataset import Column, Dataset
from research.exports.writers.query import Shaped, copy_out, select, utc

SEPARATOR = "\x1f"
"""Between the codes of a ``codes`` cell on their way from PostgreSQL (codes are slugs: never this character)."""

_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_STRINGS = ("text", "code", "codes", "json")


def arrow_type(column: Column) -> pa.DataType:
    return {
        "text": pa.string(),
        "json": pa.string(),
        "code": pa.dictionary(pa.int32(), pa.string()),
        "codes": pa.list_(pa.string()),
        "integer": pa.int64(),
        "number": pa.float64(),
        "interval": pa.float64(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }[column.type]


def schema(columns: list[Shaped]) -> pa.Schema:
    return pa.schema(
        [pa.field(c.column.name, arrow_type(c.column), metadata={"meaning": c.column.meaning}) for c in columns]
    )


def cell(c: Shaped) -> str:
    kind = c.column.type
    if kind in ("text", "code"):
        return f"{c.ref}::text"
    if kind == "json":
        return f"{c.ref}::jsonb::text"
    if kind == "codes":
        if c.is_array:
            return f"array_to_string({c.ref}::text[], E'{SEPARATOR}')"
        return (
            f"CASE WHEN {c.ref} IS NOT NULL THEN coalesce((SELECT string_agg(code, E'{SEPARATOR}') "
            f"FROM jsonb_array_elements_text({c.ref}::jsonb) AS code), '') END"
        )
    if kind == "timestamp":
        return utc(c)
    if kind == "interval":
        return f"extract(epoch FROM {c.ref})"
    return c.ref


def unescape(text: str) -> str:
    """A value as ``COPY``'s text format escaped it, as it was."""
    return _ESCAPED.sub(lambda m: _ESCAPES.get(m[1], m[1]), text)


class Reader:
    """Parses batches of ``COPY`` text into Arrow tables of the export's `schema`."""

    def __init__(self, columns: list[Shaped]) -> None:
        self.columns = columns
        self.schema = schema(columns)
        names = [c.column.name for c in columns]
        # Strings are read as plain strings, then unescaped, split or dictionary-encoded.
        read_types = {
            c.column.name: pa.string() if c.column.type in _STRINGS else arrow_type(c.column) for c in columns
        }
        self.read = pacsv.ReadOptions(column_names=names, block_size=4 << 20)
        self.parse = pacsv.ParseOptions(
            delimiter="\t", quote_char=False, escape_char=False, ignore_empty_lines=False
        )
        self.convert = pacsv.ConvertOptions(
            column_types=read_types,
            null_values=["\\N"],
            strings_can_be_null=True,
            true_values=["t"],
            false_values=["f"],
        )

    def table(self, text: bytes) -> pa.Table:
        """The rows of `text` (whole rows of ``COPY`` text), typed."""
        table = pacsv.read_csv(
            pa.BufferReader(text), read_options=self.read, parse_options=self.parse, convert_options=self.convert
        )
        arrays = [self._typed(c.column, table.column(i)) for i, c in enumerate(self.columns)]
        return pa.Table.from_arrays(arrays, schema=self.schema)

    @staticmethod
    def _typed(column: Column, values: pa.ChunkedArray) -> pa.ChunkedArray:
        if column.type not in _STRINGS:
            return values
        values = pa.chunked_array([_unescaped(chunk) for chunk in values.chunks], pa.string())
        if column.type == "code":
            return pc.dictionary_encode(values)
        if column.type == "codes":
            return pc.if_else(
                pc.equal(values, ""),
                pa.scalar([], pa.list_(pa.string())),
                pc.split_pattern(values, SEPARATOR),
            )
        return values


def _unescaped(values: pa.Array) -> pa.Array:
    """`values` with the few that ``COPY`` escaped (those with a backslash) unescaped, in Python."""
    escaped = pc.match_substring(values, "\\")
    if not pc.any(escaped).as_py():
        return values
    texts = pc.filter(values, escaped).to_pylist()
    return pc.replace_with_mask(values, escaped, pa.array([unescape(t) for t in texts], pa.string()))


async def texts(
    conn: asyncpg.Connection, dataset: Dataset, columns: list[Shaped], batch_rows: int
) -> AsyncIterator[bytes]:
    """The rows' ``COPY`` text in batches of about `batch_rows` whole rows: a batch ends with the last row end of
    the chunk in which the count was reached."""
    parts: list[bytes] = []
    rows = 0
    async for chunk in copy_out(conn, select(dataset, columns, cell), dataset.args):
        rows += chunk.count(b"\n")
        if rows < batch_rows:
            parts.append(chunk)
            continue
        end = chunk.rindex(b"\n") + 1
        parts.append(chunk[:end])
        yield b"".join(parts)
        parts = [chunk[end:]] if end < len(chunk) else []
        rows = 0
    if parts:
        yield b"".join(parts)
