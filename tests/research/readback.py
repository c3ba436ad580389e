"""Exported files read back with the tools researchers use (the csv module, json, pyarrow), as typed rows to
compare with what the database holds for the same dataset."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pyarrow.parquet as pq

from research.exports.dataset import Column, Dataset
from research.exports.writers.csv import FORMULA_STARTS

Row = dict[str, Any]


def visible(dataset: Dataset, *, pii: bool) -> list[Column]:
    return [c for c in dataset.columns if pii or not c.pii]


def _from_text(column: Column, cell: str) -> Any:
    """A CSV cell as the value it stands for. An empty cell is a missing value: the csv module reads ``""`` and an
    empty cell alike."""
    if cell == "":
        return None
    kind = column.type
    if kind == "integer":
        return int(cell)
    if kind in ("number", "interval"):
        return float(cell)
    if kind == "boolean":
        return {"true": True, "false": False}[cell]
    if kind == "timestamp":
        assert cell[10] == "T" and cell.endswith("+00:00"), cell  # ISO 8601, in UTC, with its offset
        return datetime.fromisoformat(cell)
    if kind in ("codes", "json"):
        return json.loads(cell)
    if cell[0] == "'" and cell[1:2] and cell[1] in FORMULA_STARTS:
        return cell[1:]  # the formula guard: the text as written follows it
    return cell


def from_csv(dataset: Dataset, data: bytes, *, pii: bool = False) -> list[Row]:
    columns = visible(dataset, pii=pii)
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    assert next(reader) == [c.name for c in columns]
    return [{c.name: _from_text(c, cell) for c, cell in zip(columns, line, strict=True)} for line in reader]


def from_json_lines(dataset: Dataset, data: bytes, *, pii: bool = False) -> list[Row]:
    columns = visible(dataset, pii=pii)
    rows = []
    for line in data.decode("utf-8").splitlines():
        found = json.loads(line)
        assert list(found) == [c.name for c in columns]
        rows.append(
            {
                c.name: datetime.fromisoformat(found[c.name])
                if c.type == "timestamp" and found[c.name]
                else found[c.name]
                for c in columns
            }
        )
    return rows


def from_parquet(dataset: Dataset, data: bytes, *, pii: bool = False) -> list[Row]:
    columns = visible(dataset, pii=pii)
    table = pq.read_table(io.BytesIO(data))
    assert table.schema.names == [c.name for c in columns]
    json_columns = {c.name for c in columns if c.type == "json"}
    return [
        {
            name: json.loads(value) if name in json_columns and value is not None else value
            for name, value in row.items()
        }
        for row in table.to_pylist()
    ]


async def stored(
    conn: asyncpg.Connection, dataset: Dataset, *, pii: bool = False, text: bool = False
) -> list[Row]:
    """The dataset's rows as the database holds them, intervals in seconds; with `text`, empty texts as missing
    (as CSV reads them)."""
    columns = visible(dataset, pii=pii)
    rows = []
    for record in await conn.fetch(dataset.sql, *dataset.args):
        row = {}
        for c in columns:
            value = record[c.name]
            if isinstance(value, timedelta):
                value = value.total_seconds()
            if text and value == "":
                value = None
            row[c.name] = value
        rows.append(row)
    return rows
