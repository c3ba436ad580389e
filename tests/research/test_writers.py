"""Each format written from the sample dataset and read back with the tools researchers use: the csv module,
json, pyarrow and pyreadstat."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import string
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from plumbing.ids import new_ids
from questionnaires.model import SLUG_PATTERN, Locale
from research.exports import stream
from research.exports.dataset import Column, Dataset, Option
from research.exports.datasets.columns import (
    ANSWER_CHANNELS,
    DECISION_REASONS,
    END_REASONS,
    QUESTION_TYPES,
    RESPONSE_STATES,
)
from research.exports.writers import (
    CsvWriter,
    DatasetMismatch,
    JsonLinesWriter,
    ParquetWriter,
    SavWriter,
    TooManyRows,
    writer,
)
from research.exports.writers.csv import FORMULA_STARTS, RowEnds, formula_safe
from research.pseudonyms import PseudonymKey
from tests.research.samples import CHOICES, NOTES, SAMPLE, exported, stored

NAMES = [c.name for c in SAMPLE.columns if not c.pii]


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


async def test_csv_is_rfc_4180_with_a_header_and_crlf_row_ends(conn: asyncpg.Connection) -> None:
    data = await exported(conn, SAMPLE, CsvWriter())
    header, _, _ = data.partition(b"\r\n")
    assert header.decode().split(",") == NAMES
    rows = csv_rows(data)
    assert len(rows) == 10
    # Every row ends with CRLF; the line break the customer wrote inside a quoted cell stays a bare LF.
    assert data.endswith(b"\r\n") and data.count(b"\r\n") == 11
    assert b'"Box was wet.\nStill ""fine"", thanks"' in data


async def test_csv_neutralises_formulas_in_text_but_never_changes_numbers(conn: asyncpg.Connection) -> None:
    rows = {int(r["n"]): r for r in csv_rows(await exported(conn, SAMPLE, CsvWriter()))}
    assert rows[1]["note"] == "'" + NOTES[1]
    assert rows[-7]["note"] == "'+1"
    assert rows[0]["note"] == "'-x"
    assert rows[42]["note"] == "'@x"
    assert rows[7]["note"] == "'\tcmd"
    assert rows[10]["note"] == "'\rcarriage"
    for n in (5, 6, 8, 9):  # harmless text is left as written
        assert rows[n]["note"] == NOTES[n]
    # Numbers, negative ones too, as PostgreSQL writes them; JSON as its normalised text.
    assert [rows[n]["amount"] for n in (1, -7, 0, 5, 6, 7)] == [
        "-2.5",
        "0.1",
        "",
        "1e+100",
        "-0.5",
        "12345678901.25",
    ]
    assert rows[-7]["n"] == "-7"
    assert rows[-7]["doc"] == "-3" and rows[1]["doc"] == '{"a": [1, "x"]}' and rows[42]["doc"] == '"=1"'


async def test_csv_guards_what_may_start_with_a_formula_and_trusts_what_cannot(conn: asyncpg.Connection) -> None:
    """The guard is skipped for columns that say their values cannot start with a formula character (ids, keys)
    and for codes none of whose options do; a code with an option that does is guarded like text."""
    dataset = Dataset(
        name="guards",
        description="One row.",
        columns=[
            Column(name="key", type="text", formula_safe=True, meaning="A key."),
            Column(name="plain", type="code", meaning="A code.", options=CHOICES),
            Column(name="signed", type="code", meaning="A code.", options=[Option(code="-1"), Option(code="1")]),
            Column(name="words", type="text", meaning="Text."),
        ],
        sql="SELECT '-k' AS key, '-p' AS plain, '-1' AS signed, '-w' AS words",
    )
    [row] = csv_rows(await exported(conn, dataset, CsvWriter()))
    # The first two cells are what the dataset promised never to hold: trusted, not guarded.
    assert row == {"key": "-k", "plain": "-p", "signed": "'-1", "words": "'-w"}


def test_what_the_datasets_trust_cannot_start_with_a_formula() -> None:
    """The values of `formula_safe` columns and of lxt's codes: keys, question ids and option codes (slugs),
    locales, uuids and pseudonyms (hex), channels."""
    slugs = re.compile(SLUG_PATTERN)
    locale = re.compile(Locale.__metadata__[0].pattern)
    for start in FORMULA_STARTS:
        assert not slugs.match(start + "key") and not locale.match(start + "en")
    assert all(made[0] in string.hexdigits for made in new_ids(50))  # the rows' ids
    assert PseudonymKey(b"k").pseudonym(uuid.uuid4())[0] in string.hexdigits
    for codes in (ANSWER_CHANNELS, QUESTION_TYPES, DECISION_REASONS, RESPONSE_STATES, END_REASONS):
        assert formula_safe(Column(name="c", type="code", meaning="", options=codes))


async def test_csv_cells_of_each_type(conn: asyncpg.Connection) -> None:
    rows = {int(r["n"]): r for r in csv_rows(await exported(conn, SAMPLE, CsvWriter()))}
    first, second, empty = rows[1], rows[-7], rows[0]
    assert first["at"] == "2026-11-24T08:00:00.5+00:00"  # ISO 8601, in UTC, with its offset
    assert datetime.fromisoformat(first["at"]) == datetime(2026, 11, 24, 8, 0, 0, 500000, tzinfo=UTC)
    assert second["at"] == "2026-11-24T23:59:59+00:00"
    assert (first["took"], second["took"], rows[42]["took"]) == ("90", "93600", "0.25")
    assert (first["again"], second["again"], empty["again"]) == ("true", "false", "")
    assert json.loads(first["extras"]) == ["locker", "tracking"] and json.loads(second["extras"]) == []
    assert (first["channel"], empty["channel"], first["score"]) == ("app", "", "2")
    assert rows[6]["note"] == "" and "phone" not in first


async def test_json_lines_are_one_object_per_row_of_typed_values(conn: asyncpg.Connection) -> None:
    data = await exported(conn, SAMPLE, JsonLinesWriter())
    lines = data.split(b"\n")
    assert lines[-1] == b"" and len(lines) == 11
    objects = [json.loads(line) for line in lines[:-1]]
    assert [list(o) for o in objects] == [NAMES] * 10
    by_n = {o["n"]: o for o in objects}
    first = by_n[1]
    assert first["amount"] == -2.5 and first["note"] == NOTES[1] and first["again"] is True
    assert first["at"] == "2026-11-24T08:00:00.5+00:00" and first["took"] == 90
    assert first["extras"] == ["locker", "tracking"] and first["doc"] == {"a": [1, "x"]}
    assert by_n[-7]["doc"] == -3 and by_n[-7]["extras"] == [] and by_n[-7]["took"] == 93600
    assert by_n[0] == {**dict.fromkeys(NAMES), "n": 0, "note": "-x"}
    assert {n: o["note"] for n, o in by_n.items()} == NOTES
    assert by_n[5]["amount"] == 1e100


async def test_parquet_has_real_types_and_the_stored_values(conn: asyncpg.Connection) -> None:
    table = pq.read_table(io.BytesIO(await exported(conn, SAMPLE, ParquetWriter())))
    assert table.schema.names == NAMES
    types = {f.name: f.type for f in table.schema}
    assert types["n"] == pa.int64() and types["amount"] == pa.float64() and types["note"] == pa.string()
    assert types["channel"] == pa.dictionary(pa.int32(), pa.string())
    assert types["extras"] == pa.list_(pa.string())
    assert types["again"] == pa.bool_() and types["took"] == pa.float64() and types["doc"] == pa.string()
    assert types["at"] == pa.timestamp("us", tz="UTC")
    assert table.schema.field("note").metadata == {b"meaning": b"What the customer wrote."}
    written = table.to_pylist()
    for row, record in zip(written, await stored(conn, SAMPLE), strict=True):
        assert row["n"] == record["n"] and row["note"] == record["note"] and row["channel"] == record["channel"]
        assert row["again"] == record["again"] and row["at"] == record["at"] and row["extras"] == record["extras"]
        assert row["amount"] == record["amount"] or (row["amount"] is None and record["amount"] is None)
        took = record["took"]
        assert row["took"] == (took.total_seconds() if took is not None else None)
        assert (json.loads(row["doc"]) if row["doc"] is not None else None) == record["doc"]
    assert {r["n"]: r["note"] for r in written} == NOTES


async def test_spss_has_variable_and_value_labels(conn: asyncpg.Connection, tmp_path: Path) -> None:
    pyreadstat = pytest.importorskip("pyreadstat")
    path = tmp_path / "sample.sav"
    path.write_bytes(await exported(conn, SAMPLE, SavWriter()))
    frame, meta = pyreadstat.read_sav(str(path))
    assert list(frame.columns) == NAMES and len(frame) == 10
    labels = meta.column_names_to_labels
    assert labels["channel"] == "Where did you order?" and labels["note"] == "What the customer wrote."
    assert meta.variable_value_labels["channel"] == {"app": "In the app", "web": "On the website"}
    assert meta.variable_value_labels["again"] == {0.0: "false", 1.0: "true"}
    assert meta.variable_value_labels["score"] == {1.0: "1", 2.0: "2", 3.0: "3"}
    assert meta.variable_measure["amount"] == "scale" and meta.variable_measure["channel"] == "nominal"
    rows = {int(r["n"]): r for r in frame.to_dict("records")}
    assert rows[1]["channel"] == "app" and rows[1]["score"] == 2 and rows[1]["again"] == 1
    assert rows[1]["at"] == datetime(2026, 11, 24, 8, 0, 0, 500000) and rows[1]["took"] == 90
    assert json.loads(rows[1]["extras"]) == ["locker", "tracking"]
    assert math.isnan(rows[0]["amount"]) and rows[5]["note"] == NOTES[5]


async def test_contact_data_only_with_pii(conn: asyncpg.Connection) -> None:
    for name in ("csv", "jsonl", "parquet"):
        without = await exported(conn, SAMPLE, writer(name))
        with_pii = await exported(conn, SAMPLE, writer(name), pii=True)
        assert b"phone" not in without and b"+4915112345678" not in without, name
        assert b"phone" in with_pii and b"+4915112345678" in with_pii, name


async def test_a_dataset_whose_query_does_not_match_its_columns_fails_before_any_row(
    conn: asyncpg.Connection,
) -> None:
    wrong = Dataset(
        name="wrong",
        description="Says one thing, selects another.",
        columns=[Column(name="a", type="integer", meaning="A.")],
        sql="SELECT 1 AS b",
    )
    for name in ("csv", "jsonl", "parquet"):
        with pytest.raises(DatasetMismatch, match="'wrong'"):
            await exported(conn, wrong, writer(name))


async def test_an_empty_export_is_a_valid_file(conn: asyncpg.Connection) -> None:
    empty = Dataset(
        name="empty",
        description="No rows.",
        columns=SAMPLE.columns,
        sql=SAMPLE.sql.replace("ORDER BY n", "WHERE false"),
    )
    assert csv_rows(await exported(conn, empty, CsvWriter())) == []
    assert await exported(conn, empty, JsonLinesWriter()) == b""
    table = pq.read_table(io.BytesIO(await exported(conn, empty, ParquetWriter())))
    assert table.num_rows == 0 and table.schema.names == NAMES


def test_row_ends_become_crlf_wherever_the_chunks_are_cut() -> None:
    text = b'a,b\n1,"x\ny"\n2,"""q"",\n"\n3,\n'
    whole = RowEnds()
    expected = whole.convert(text)
    assert expected == b'a,b\r\n1,"x\ny"\r\n2,"""q"",\n"\r\n3,\r\n' and whole.rows == 4
    for size in range(1, len(text)):
        ends = RowEnds()
        pieces = [ends.convert(text[i : i + size]) for i in range(0, len(text), size)]
        assert b"".join(pieces) == expected and ends.rows == 4, size


async def test_spss_refuses_more_rows_than_it_holds_before_writing_any(conn: asyncpg.Connection) -> None:
    with pytest.raises(TooManyRows, match="10 rows are more than a sav export holds \\(3\\)"):
        await stream.check(conn, SAMPLE, SavWriter(max_rows=3))
    await stream.check(conn, SAMPLE, SavWriter(max_rows=10))
    await stream.check(conn, SAMPLE, CsvWriter())  # the streaming formats hold any number


async def test_an_export_sorts_with_the_memory_it_is_given_within_its_transaction_only(
    conn: asyncpg.Connection,
) -> None:
    default = await conn.fetchval("SHOW work_mem")
    async with stream.snapshot(conn, work_mem_mb=192):
        assert await conn.fetchval("SHOW work_mem") == "192MB"
    assert await conn.fetchval("SHOW work_mem") == default != "192MB"
    async with stream.snapshot(conn):
        assert await conn.fetchval("SHOW work_mem") == default
