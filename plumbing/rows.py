"""Typed rows, and statements that write many of them at once.

A row type (a `Row` subclass) declares its table's columns as fields, each annotated with how it travels to
PostgreSQL (`Sql`). `write_statement` derives one statement from a sequence of parts — an INSERT or an UPDATE per
row type, as data-modifying CTEs — with every column list and ``unnest($n::type[])`` parameter position taken from
the types, so rows built in code cannot drift out of line with the SQL; `arguments` lays the rows out as the
statement's parameters (one array per column). ``$1`` and ``$2`` are left to the caller (e.g. the transaction's
time and a source), used by the row types' ``constants``.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, ClassVar
from uuid import UUID

import msgspec


class Sql(msgspec.Struct, frozen=True):
    """How a field reaches its column: as an element of a ``{array}[]`` parameter, read back by `expression`
    (``{}`` stands for the unnested value)."""

    array: str
    expression: str = "{}"


UUID_ = Sql("uuid")
TEXT = Sql("text")
INTEGER = Sql("integer")
BOOLEAN = Sql("boolean")
TIMESTAMPTZ = Sql("timestamptz")
BYTEA = Sql("bytea")
# asyncpg would read a list inside a ``jsonb[]`` parameter as another array dimension, so JSON values and text
# arrays travel as JSON text and are cast back in SQL.
JSONB = Sql("text", "{}::jsonb")
TEXT_ARRAY = Sql("text", "ARRAY(SELECT jsonb_array_elements_text({}::jsonb))")

Id = Annotated[str, UUID_]
BrandId = Annotated[UUID, UUID_]
Text = Annotated[str, TEXT]
OptionalText = Annotated[str | None, TEXT]
Time = Annotated[datetime, TIMESTAMPTZ]
OptionalTime = Annotated[datetime | None, TIMESTAMPTZ]
Json = Annotated[Any, JSONB]
TextArray = Annotated[list[str], TEXT_ARRAY]


class Row(msgspec.Struct, frozen=True, kw_only=True):
    """A row of `table`; subclasses declare its columns as fields."""

    table: ClassVar[str]
    key: ClassVar[tuple[str, ...]] = ()
    """Columns that identify the row to update (update statements only)."""
    constants: ClassVar[dict[str, str]] = {}
    """Column -> SQL the statement fills in on insert, e.g. ``$1`` or ``'scheduled'`` (the parameters before
    the rows' own are the caller's, see `write_statement`)."""
    update_constants: ClassVar[dict[str, str]] = {}
    """Column -> SQL the statement fills in on update."""


class Part(msgspec.Struct, frozen=True):
    """One part of a write statement: `name` is the CTE's name (and the caller's list of rows of `row_type`)."""

    name: str
    row_type: type[Row]
    update: bool = False
    """UPDATE the rows matched by the row type's `key` instead of inserting them."""


def write_statement(parts: Sequence[Part], first_parameter: int = 3) -> str:
    """One statement writing every part (the last one as the main statement, the others as CTEs)."""
    sqls = []
    number = first_parameter
    for part in parts:
        row_type = part.row_type
        columns = sql_of(row_type)
        names = ", ".join(name for name, _ in columns)
        params = ", ".join(f"${number + i}::{sql.array}[]" for i, (_, sql) in enumerate(columns))
        number += len(columns)
        source = f"unnest({params}) AS r ({names})"
        if part.update:
            assignments = [
                f"{name} = {sql.expression.format('r.' + name)}"
                for name, sql in columns
                if name not in row_type.key
            ]
            assignments += [f"{name} = {value}" for name, value in row_type.update_constants.items()]
            match = " AND ".join(f"t.{name} = r.{name}" for name in row_type.key)
            sqls.append(f"UPDATE {row_type.table} t SET {', '.join(assignments)} FROM {source} WHERE {match}")
        else:
            all_names = ", ".join([name for name, _ in columns] + list(row_type.constants))
            values = ", ".join(
                [sql.expression.format(name) for name, sql in columns] + list(row_type.constants.values())
            )
            sqls.append(f"INSERT INTO {row_type.table} ({all_names}) SELECT {values} FROM {source}")
    # CTE names get a prefix: named like a table, a CTE would hide that table from the statement's later parts.
    ctes = ",\n".join(f"written_{part.name} AS ({sql})" for part, sql in zip(parts[:-1], sqls, strict=False))
    return f"WITH {ctes}\n{sqls[-1]}" if ctes else sqls[-1]


def arguments(parts: Sequence[Part], rows: Any) -> list[Any]:
    """The parameters for `write_statement(parts)` after the caller's own: for each part, the rows in the
    attribute of `rows` named like the part, one list per column."""
    args: list[Any] = []
    for part in parts:
        args += columns(getattr(rows, part.name), part.row_type)
    return args


def columns(items: Sequence[Row], row_type: type[Row]) -> list[list[Any]]:
    """The rows as one list per column, JSON values as text (see `JSONB`)."""
    result = []
    for name, sql in sql_of(row_type):
        values = [getattr(item, name) for item in items]
        result.append([json(v) for v in values] if sql in (JSONB, TEXT_ARRAY) else values)
    return result


_encode_json = msgspec.json.Encoder().encode


def json(value: object) -> str:
    """JSON text for a ``jsonb`` column passed through ``unnest($n::text[])``."""
    return _encode_json(value).decode()


@functools.cache
def sql_of(row_type: type[Row]) -> tuple[tuple[str, Sql], ...]:
    """The row type's columns with how each travels, in field order."""
    hints = _hints(row_type)
    return tuple((name, hints[name]) for name in row_type.__struct_fields__)


def _hints(row_type: type[Row]) -> dict[str, Sql]:
    found = {}
    for name, hint in typing.get_type_hints(row_type, include_extras=True).items():
        metadata = getattr(hint, "__metadata__", ())
        sql = next((m for m in metadata if isinstance(m, Sql)), None)
        if sql is not None:
            found[name] = sql
    missing = set(row_type.__struct_fields__) - set(found)
    if missing:
        raise TypeError(f"{row_type.__name__}: no Sql annotation for {', '.join(sorted(missing))}")
    return found
