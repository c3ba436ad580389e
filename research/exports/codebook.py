"""The codebook that goes with every export: what each column means and holds, as JSON and as CSV.

The JSON document is the whole description: the export (dataset, brand, filters, when, pseudonymised or not, rows)
and each column as the dataset describes it, with the questionnaire versions whose questions the rows hold. The CSV
is the same per variable, flat, to build SPSS or Stata labels by hand: one row per column, then one row per option
code under it, with the question's text, each option's label and the scale's end labels in one column per locale
(``text_en``, ``label_de`` …). A long dataset holds its questions in rows, not columns: its CSV adds them under
the column ``value``, named by questionnaire, version and question id.

Pure: bytes out, no I/O.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime

import msgspec

from research.exports.dataset import Column, Dataset, ExportFilter, Option, Questionnaire

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet reads a cell starting with one of these as a formula: such text cells get a ``'`` in front."""


class Codebook(msgspec.Struct, kw_only=True):
    dataset: str
    description: str
    brand: str
    """The brand's slug."""
    generated_at: datetime
    filters: ExportFilter
    pseudonymised: bool
    """Customers are named by pseudonym only: no contact data (phone, push tokens, attributes, external id)."""
    rows: int | None
    """How many rows the export holds, when known."""
    locales: list[str]
    """Every locale a text or label of the codebook is given in."""
    columns: list[Column]
    questionnaires: list[Questionnaire]


def codebook(
    dataset: Dataset,
    *,
    brand: str,
    generated_at: datetime,
    filters: ExportFilter,
    pseudonymised: bool,
    rows: int | None = None,
) -> Codebook:
    every = [*dataset.columns, *(q for version in dataset.questionnaires for q in version.questions)]
    return Codebook(
        dataset=dataset.name,
        description=dataset.description,
        brand=brand,
        generated_at=generated_at,
        filters=filters,
        pseudonymised=pseudonymised,
        rows=rows,
        locales=_locales(every, dataset.questionnaires),
        columns=dataset.columns,
        questionnaires=dataset.questionnaires,
    )


_encode = msgspec.json.Encoder().encode


def to_json(book: Codebook) -> bytes:
    return _encode(book)


def to_csv(book: Codebook) -> bytes:
    """The codebook as CSV (UTF-8, RFC 4180, CRLF line ends), one row per variable and per option code."""
    locales = book.locales
    header = [
        "variable",
        "questionnaire",
        "version",
        "question_id",
        "question_type",
        "type",
        "meaning",
        "pii",
        "free_text",
        "code",
        "scale_min",
        "scale_max",
        *(f"text_{locale}" for locale in locales),
        *(f"label_{locale}" for locale in locales),
        *(f"scale_min_label_{locale}" for locale in locales),
        *(f"scale_max_label_{locale}" for locale in locales),
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    has_question_columns = any(column.question_id for column in book.columns)
    for column in book.columns:
        writer.writerows(_rows(column, column.name, None, locales))
    if not has_question_columns:
        for version in book.questionnaires:
            for question in version.questions:
                writer.writerows(_rows(question, "value", version, locales))
    return out.getvalue().encode()


def _rows(column: Column, variable: str, version: Questionnaire | None, locales: list[str]) -> Iterator[list[str]]:
    """The column's own row, then one row per option code."""
    own = column.option

    def row(option: Option | None, described: bool) -> list[str]:
        def per_locale(texts: dict[str, str]) -> list[str]:
            return [_text(texts.get(locale, "")) for locale in locales]

        scale = column.scale_labels if described else {}
        return [
            variable,
            version.key if version else "",
            str(version.version) if version else "",
            column.question_id or "",
            column.question_type or "",
            column.type if described else "",
            _text(column.meaning) if described else "",
            _flag(column.pii) if described else "",
            _flag(column.free_text) if described else "",
            option.code if option else "",
            _number(column.scale_min) if described else "",
            _number(column.scale_max) if described else "",
            *per_locale(column.text if described else {}),
            *per_locale(option.labels if option else {}),
            *per_locale(scale.get("min", {})),
            *per_locale(scale.get("max", {})),
        ]

    yield row(own, True)
    for option in column.options:
        yield row(option, False)


def _locales(columns: Iterable[Column], questionnaires: list[Questionnaire]) -> list[str]:
    """Every locale used, the questionnaires' own order first (their default locale leads)."""
    found: dict[str, None] = {}
    for version in questionnaires:
        found.update(dict.fromkeys(version.locales))
    for column in columns:
        texts = [column.text, *(o.labels for o in column.options), *column.scale_labels.values()]
        if column.option is not None:
            texts.append(column.option.labels)
        for text in texts:
            found.update(dict.fromkeys(text))
    return list(found)


def _text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else repr(value)
