"""How a dataset's SELECT is put together: columns with their SQL, the filters that are present, parameters.

Only the filters a request sets become conditions, each with its value bound as a parameter (``$n``), so that
the planner sees plain equalities and ranges on indexed columns: ``$2::text IS NULL OR …`` would leave it one
generic plan for every combination, which scans where an index would do.
"""

from __future__ import annotations

from uuid import UUID

from plumbing.errors import DefinitionInvalid, FieldError
from research.exports.dataset import Column, Dataset, ExportFilter, Questionnaire

QUERY_PARAMETERS = {"start": "from", "end": "to"}
"""The query parameter of each `ExportFilter` field whose name differs: time ranges are ``from``/``to`` throughout
the API (``GET /v1/invitations``, the timeline)."""


class ExportFilterInvalid(DefinitionInvalid):
    """The filters don't select what the dataset needs (a 422); each error names the filter's query parameter
    (``query:questionnaire``, ``query:to`` …), and `field` the `ExportFilter` field."""

    title = "Invalid export filter"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__([FieldError(f"query:{QUERY_PARAMETERS.get(field, field)}", message)])


class Select:
    """One dataset's SELECT as it is built: each column with its SQL expression, the conditions, and the parameters
    numbered as they are added. ``$1`` is always the brand."""

    def __init__(self, brand_id: UUID) -> None:
        self.args: list[object] = [brand_id]
        self.columns: list[tuple[Column, str]] = []
        self.conditions: list[str] = []

    def param(self, value: object, cast: str = "") -> str:
        """A new parameter for `value`, as it is written in the SQL (with a cast when one is given)."""
        self.args.append(value)
        return f"${len(self.args)}" + (f"::{cast}" if cast else "")

    def add(self, column: Column, expression: str) -> None:
        self.columns.append((column, expression))

    def where(self, condition: str) -> None:
        self.conditions.append(condition)

    def take_conditions(self) -> str:
        """The conditions so far, joined with AND, for a subquery to apply instead of the SELECT itself."""
        taken, self.conditions = self.conditions, []
        return " AND ".join(taken)

    def dataset(
        self,
        name: str,
        description: str,
        source: str,
        *,
        order: str,
        questionnaires: list[Questionnaire] | None = None,
    ) -> Dataset:
        """The dataset reading `source` (the FROM clause, joins included) in `order`."""
        names = [column.name for column, _ in self.columns]
        assert len(set(names)) == len(names), f"column names repeat in {name}: {names}"
        select = ",\n       ".join(f"{expression} AS {column.name}" for column, expression in self.columns)
        where = "\nWHERE " + "\n  AND ".join(self.conditions) if self.conditions else ""
        return Dataset(
            name=name,
            description=description,
            columns=[column for column, _ in self.columns],
            sql=f"SELECT {select}\nFROM {source}{where}\nORDER BY {order}",
            args=tuple(self.args),
            questionnaires=questionnaires or [],
        )


def check_filter(where: ExportFilter) -> None:
    """Refuse filters that contradict themselves, whatever the dataset."""
    if where.version is not None and where.questionnaire is None:
        raise ExportFilterInvalid("version", "a version is one of a questionnaire's: name the questionnaire too")
    if where.start is not None and where.end is not None and where.end <= where.start:
        raise ExportFilterInvalid("end", "the end must come after the start")


def apply_filter(
    select: Select,
    where: ExportFilter,
    *,
    time: str,
    touchpoint: str,
    trigger_id: str,
    questionnaire: str,
    version: str,
) -> None:
    """Conditions for the filters `where` sets, on the dataset's own expressions for each: its time, its
    touchpoint key, its trigger id (a key is looked up once, so that the rows' own trigger ids are compared),
    its questionnaire key and version."""
    if where.start is not None:
        select.where(f"{time} >= {select.param(where.start, 'timestamptz')}")
    if where.end is not None:
        select.where(f"{time} < {select.param(where.end, 'timestamptz')}")
    if where.touchpoint is not None:
        select.where(f"{touchpoint} = {select.param(where.touchpoint, 'text')}")
    if where.trigger is not None:
        key = select.param(where.trigger, "text")
        select.where(f"{trigger_id} = (SELECT trigger_id FROM triggers WHERE brand_id = $1 AND key = {key})")
    if where.questionnaire is not None:
        select.where(f"{questionnaire} = {select.param(where.questionnaire, 'text')}")
    if where.version is not None:
        select.where(f"{version} = {select.param(where.version, 'integer')}")
