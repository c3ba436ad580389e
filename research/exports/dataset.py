"""What an export is made of, shared by the datasets (what to read) and the writers (how to write it).

A dataset is one SQL query whose result columns are exactly its `Column`s, in order, plus what the codebook says
about each column. Writers stream the query's rows (``COPY … TO STDOUT`` or a server-side cursor) and never hold
more than a batch; the dataset decides nothing about formats, the writers nothing about meaning.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec

ColumnType = Literal["text", "code", "codes", "integer", "number", "boolean", "timestamp", "interval", "json"]
"""How a column's values are typed in every format:
- ``text``: free text or an identifier (string);
- ``code``: one code of a closed set listed in the column's `options` (string; dictionary-encoded in Parquet,
  value labels in SPSS);
- ``codes``: several codes of `options` (a JSON array in CSV/JSON Lines, a list in Parquet);
- ``integer`` / ``number`` / ``boolean``;
- ``timestamp``: a point in time with its zone (ISO 8601 with offset in CSV/JSON Lines, UTC timestamp in Parquet);
- ``interval``: a duration, exported as seconds (number);
- ``json``: a JSON document (its text in CSV, the value in JSON Lines, a string in Parquet).
"""


class Option(msgspec.Struct, frozen=True, kw_only=True):
    """One code of a `code`/`codes` column: the value as exported and its label per locale."""

    code: str
    labels: dict[str, str] = {}


class Column(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    """As it appears in the file's header; lowercase letters, digits and `_` (valid in R, Stata and SPSS)."""
    type: ColumnType
    meaning: str
    """One sentence for the codebook."""
    pii: bool = False
    """Contact data (phone, push tokens, customer attributes): only in exports by a key with `export_pii`."""
    free_text: bool = False
    """The customer's own words: exported (they are the data) and flagged in the codebook."""
    formula_safe: bool = False
    """Every value starts with a letter or digit (ids, pseudonyms, keys, locales): a spreadsheet never takes one for
    a formula, so CSV writes them as they are, without the ``'`` that guards other text."""
    question_id: str | None = None
    question_type: str | None = None
    text: dict[str, str] = {}
    """A question's text per locale."""
    options: list[Option] = []
    scale_min: float | None = None
    scale_max: float | None = None
    scale_labels: dict[str, dict[str, str]] = {}
    """Labels of a scale's ends per locale: ``{"min": {"en": "Not at all likely"}, "max": {...}}``."""
    option: Option | None = None
    """For one of a multi-choice question's 0/1 columns (wide form): the option it stands for, 1 when chosen."""


class Questionnaire(msgspec.Struct, frozen=True, kw_only=True):
    """A questionnaire version whose answers a dataset holds, described for the codebook. A long dataset names
    questions in its rows (``question_id``) rather than in columns: its codebook lists them from here."""

    key: str
    version: int
    title: dict[str, str]
    """Per locale."""
    locales: list[str]
    """Every locale the version is offered in, its default first."""
    questions: list[Column]
    """Each question described as a column (named by its id) would be: type, text, options, scale."""


class Dataset(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    """``responses-long``, ``responses-wide``, ``timelines``, ``events``, ``invitations``."""
    description: str
    columns: list[Column]
    sql: str
    """One SELECT whose result columns are `columns`, in order and by name, ordered as the file should be. Values
    are bound as parameters (`args`), never formatted into the text."""
    args: tuple[object, ...] = ()
    questionnaires: list[Questionnaire] = []
    """The questionnaire versions whose questions the rows hold (responses datasets), for the codebook."""


class ExportFilter(msgspec.Struct, frozen=True, kw_only=True):
    """Which rows: a time range [start, end) of the dataset's own time (an answer's, an event's occurrence, an
    invitation's contact), and the touchpoint, trigger and questionnaire (key, version) they belong to."""

    start: datetime | None = None
    end: datetime | None = None
    touchpoint: str | None = None
    trigger: str | None = None
    questionnaire: str | None = None
    version: int | None = None


class ExportRequest(msgspec.Struct, frozen=True, kw_only=True):
    brand_id: UUID
    where: ExportFilter = ExportFilter()
    pii: bool = False
    """Whether the caller may have contact data (an `export_pii` key)."""
