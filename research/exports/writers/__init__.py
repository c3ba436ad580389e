"""The export formats: CSV, JSON Lines, Parquet and SPSS, each a `Writer` that streams a dataset's rows.

`writer(name)` gives a fresh writer of a format; `FORMATS` lists them. Every writer reads the rows with
``COPY … TO STDOUT`` on the connection it is given, in the caller's transaction (`research.exports.stream`).
"""

from __future__ import annotations

from research.exports.formats import FORMATS
from research.exports.writers.base import FormatUnavailable, Progress, TooManyRows, Writer, no_progress
from research.exports.writers.csv import CsvWriter
from research.exports.writers.jsonl import JsonLinesWriter
from research.exports.writers.parquet import ParquetWriter
from research.exports.writers.query import DatasetMismatch
from research.exports.writers.sav import SavWriter

WRITERS: dict[str, type[Writer]] = {w.format: w for w in (CsvWriter, JsonLinesWriter, ParquetWriter, SavWriter)}
assert tuple(WRITERS) == FORMATS, "a writer for each format, and a format for each writer"


def writer(name: str) -> Writer:
    """A writer of the format `name` (one of `FORMATS`), with its default batch sizes."""
    return WRITERS[name]()


__all__ = [
    "FORMATS",
    "WRITERS",
    "CsvWriter",
    "DatasetMismatch",
    "FormatUnavailable",
    "JsonLinesWriter",
    "ParquetWriter",
    "Progress",
    "SavWriter",
    "TooManyRows",
    "Writer",
    "no_progress",
    "writer",
]
