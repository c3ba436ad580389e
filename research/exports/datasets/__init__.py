"""The export datasets: what each export holds, as one SQL query with its columns described for the codebook.

`build(conn, name, request)` is the one entry: it reads what the query needs to know beforehand (the brand's
pseudonym key, questionnaire versions) and returns the `Dataset`; the writers stream its rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from research.exports.dataset import Dataset, ExportRequest
from research.exports.datasets.events import events
from research.exports.datasets.invitations import invitations
from research.exports.datasets.query import ExportFilterInvalid
from research.exports.datasets.responses_long import responses_long
from research.exports.datasets.responses_wide import responses_wide

Builder = Callable[[asyncpg.Connection, ExportRequest], Awaitable[Dataset]]

DATASETS: dict[str, Builder] = {
    "responses-long": responses_long,
    "responses-wide": responses_wide,
    "events": events,
    "invitations": invitations,
}
"""Every dataset by name, in the order they are listed."""


class UnknownDataset(LookupError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no dataset {name!r}: one of {', '.join(DATASETS)}")


async def build(conn: asyncpg.Connection, name: str, request: ExportRequest) -> Dataset:
    """The dataset `name` for `request`. Raises `UnknownDataset`, or `ExportFilterInvalid` (a 422 naming the
    filter) when the filters don't select what the dataset needs."""
    builder = DATASETS.get(name)
    if builder is None:
        raise UnknownDataset(name)
    return await builder(conn, request)


__all__ = ["DATASETS", "Builder", "ExportFilterInvalid", "UnknownDataset", "build"]
