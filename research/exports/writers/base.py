"""What a writer is: a format's name, media type and file extension, and an async iterator of the file's bytes."""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Callable
from typing import ClassVar

import asyncpg

from research.exports.dataset import Dataset

Progress = Callable[[int], None]
"""Called with the number of rows written since the last call (the CLI's progress bar, the audit's row count)."""


def no_progress(rows: int) -> None:
    return None


class FormatUnavailable(Exception):
    """The format cannot be written by this installation (SPSS without the ``spss`` extra)."""


class TooManyRows(Exception):
    """The export is larger than the format can write in bounded memory (SPSS)."""

    def __init__(self, rows: int, limit: int, format: str) -> None:
        self.rows = rows
        self.limit = limit
        super().__init__(
            f"{rows} rows are more than a {format} export holds ({limit}); narrow the export with `from`/`to` or "
            "choose parquet or csv, which stream any number of rows"
        )


class Writer(abc.ABC):
    format: ClassVar[str]
    media_type: ClassVar[str]
    extension: ClassVar[str]
    max_rows: int | None = None
    """At most this many rows (a format that holds its rows in memory); None: any number, in constant memory."""

    def unavailable(self) -> str | None:
        """Why this format cannot be written here, or None."""
        return None

    @abc.abstractmethod
    def chunks(
        self, conn: asyncpg.Connection, dataset: Dataset, progress: Progress, *, pii: bool
    ) -> AsyncIterator[bytes]:
        """The file's bytes, in chunks, from the dataset's query run on `conn` (in the caller's transaction);
        columns with contact data only when `pii`."""
