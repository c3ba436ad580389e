"""SPSS ``.sav`` through pyreadstat (the optional ``spss`` extra), with variable labels, value labels and measure
levels.

pyreadstat writes a whole pandas data frame to a file at once; there is no way to hand it rows a batch at a time.
So unlike the other formats this one holds every row in memory: the rows are read as Arrow tables of their real
types (`arrow`), turned into one data frame, written to a temporary file, and the file is streamed and deleted.
Memory grows with the rows — about 1.5 KB per row of the responses-long dataset at its peak (Arrow tables, the
data frame and pyreadstat's own copy of every value; ``python -m bench export`` measures it: 370 MB for 100,000
rows, 500 MB for 200,000) — so an export holds at most `MAX_ROWS` rows and a larger one is refused before it
starts (`TooManyRows`). CSV, JSON Lines and Parquet have no such limit.

Values: ``code`` columns whose codes are all whole numbers become numeric variables, others string variables,
both with the options' labels as value labels; ``boolean`` is 1/0 labelled true/false; ``timestamp`` a DATETIME
in UTC; ``interval`` seconds; ``codes`` the JSON array of the codes as a string; a scale's ends get their labels.
Variable labels are a question's text (or the column's meaning), in English where there is English.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pyarrow as pa

from research.exports.dataset import Column, Dataset
from research.exports.writers.arrow import Reader, texts
from research.exports.writers.base import Progress, TooManyRows, Writer
from research.exports.writers.query import Shaped, shape

MAX_ROWS = 200_000
"""The most rows one SPSS export holds (see the module's docstring for why there is a limit)."""
BATCH_ROWS = 65_536
READ_BYTES = 1 << 20
LABEL_CHARS = 255
"""SPSS keeps at most 256 bytes of a variable label and 120 of a value label; longer ones are cut."""
VALUE_LABEL_CHARS = 120
LOCALE = "en"
"""The labels' language where a text has it; otherwise its first."""

_WHOLE_NUMBER = re.compile(r"^-?[0-9]{1,15}$")


def label(texts: dict[str, str], fallback: str = "") -> str:
    return texts.get(LOCALE) or next(iter(texts.values()), fallback)


def numeric_codes(column: Column) -> bool:
    return bool(column.options) and all(_WHOLE_NUMBER.match(o.code) for o in column.options)


def value_labels(column: Column) -> dict[Any, str]:
    if column.type == "boolean":
        return {1.0: "true", 0.0: "false"}
    if column.type == "code":
        numeric = numeric_codes(column)
        return {
            (float(o.code) if numeric else o.code): label(o.labels, o.code)[:VALUE_LABEL_CHARS]
            for o in column.options
        }
    option = getattr(column, "option", None)  # a multi-choice option's 0/1 column (wide form)
    if option is not None:
        return {1.0: label(option.labels, option.code)[:VALUE_LABEL_CHARS]}
    ends = {}
    for end, value in (("min", column.scale_min), ("max", column.scale_max)):
        if value is not None and column.scale_labels.get(end):
            ends[float(value)] = label(column.scale_labels[end])[:VALUE_LABEL_CHARS]
    return ends


def measure(column: Column) -> str:
    """Quantities are scale, categories nominal (a 0/1 option column too)."""
    if column.type in ("integer", "number", "interval", "timestamp") and getattr(column, "option", None) is None:
        return "scale"
    return "nominal"


def _series(column: Column, values: pa.ChunkedArray) -> Any:
    """A column as pandas holds it for pyreadstat: numbers as doubles, texts as Python strings. (Categoricals
    would hold each distinct text once, but pyreadstat copies every value while it writes: measured, the peak
    is the same.)"""
    import pandas as pd

    if column.type == "timestamp":
        return values.cast(pa.timestamp("us")).to_pandas()  # UTC, without a zone: SPSS knows none
    if column.type in ("boolean", "integer", "number", "interval"):
        return values.cast(pa.float64()).to_pandas()  # SPSS numbers are doubles; missing values NaN
    if column.type == "code" and numeric_codes(column):
        return pd.to_numeric(values.cast(pa.string()).to_pandas(), errors="coerce")
    if column.type == "codes":
        return pd.Series([None if v is None else msgspec.json.encode(v).decode() for v in values.to_pylist()])
    return pd.Series(values.cast(pa.string()).to_pylist(), dtype=object)


def write_sav(tables: list[pa.Table], reader: Reader, path: Path) -> None:
    """Write the rows of `tables` with the columns' labels to `path` (blocking: run it in a thread)."""
    import pandas as pd
    import pyreadstat

    table = pa.concat_tables(tables) if tables else reader.schema.empty_table()
    tables.clear()
    columns = [c.column for c in reader.columns]
    frame = pd.DataFrame(
        {c.name: _series(c, table.column(i)) for i, c in enumerate(columns)}, columns=[c.name for c in columns]
    )
    del table
    pyreadstat.write_sav(
        frame,
        str(path),
        column_labels={c.name: label(c.text, c.meaning)[:LABEL_CHARS] for c in columns},
        variable_value_labels={c.name: labels for c in columns if (labels := value_labels(c))},
        variable_measure={c.name: measure(c) for c in columns},
    )


class SavWriter(Writer):
    format = "sav"
    media_type = "application/x-spss-sav"
    extension = "sav"

    def __init__(self, max_rows: int = MAX_ROWS, batch_rows: int = BATCH_ROWS) -> None:
        self.max_rows = max_rows
        self.batch_rows = batch_rows

    def unavailable(self) -> str | None:
        try:
            import pandas  # noqa: F401
            import pyreadstat  # noqa: F401
        except ImportError:
            return "SPSS files need pyreadstat, which this installation lacks (pip install 'lxt[spss]')"
        return None

    async def chunks(
        self, conn: asyncpg.Connection, dataset: Dataset, progress: Progress, *, pii: bool
    ) -> AsyncIterator[bytes]:
        columns: list[Shaped] = await shape(conn, dataset, pii=pii)
        reader = Reader(columns)
        tables: list[pa.Table] = []
        rows = 0
        async for text in texts(conn, dataset, columns, self.batch_rows):
            table = await asyncio.to_thread(reader.table, text)
            rows += table.num_rows
            if rows > self.max_rows:
                raise TooManyRows(rows, self.max_rows, self.format)
            tables.append(table)
            progress(table.num_rows)
        with tempfile.TemporaryDirectory(prefix="lxt-export-") as directory:
            path = Path(directory) / f"{dataset.name}.sav"
            await asyncio.to_thread(write_sav, tables, reader, path)
            with path.open("rb") as file:
                while chunk := await asyncio.to_thread(file.read, READ_BYTES):
                    yield chunk
