"""The one converter of msgspec's validation messages into field errors, which every package uses."""

from datetime import timedelta

import msgspec
import pytest

from plumbing.errors import FieldError, from_msgspec, path_parts, pointer


def test_json_paths_become_pointers() -> None:
    assert pointer(*path_parts("$.events[3].occurred_at")) == "/events/3/occurred_at"
    assert pointer(*path_parts("$.a.b")) == "/a/b"
    assert pointer(*path_parts("$.x/y")) == "/x~1y"
    assert pointer(*path_parts('$.attributes["a.b"]')) == "/attributes/a.b"
    # A value inside a mapping is not named by msgspec: the pointer names the mapping.
    assert pointer(*path_parts("$.title[...]")) == "/title"


class Inner(msgspec.Struct, forbid_unknown_fields=True):
    n: int


class Outer(msgspec.Struct, forbid_unknown_fields=True):
    items: list[Inner]
    labels: dict[str, int] = {}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"items": [{"n": 1}, {"n": "2"}]}, FieldError("/items/1/n", "Expected `int`, got `str`")),
        ({"items": [{}]}, FieldError("/items/0/n", "Object missing required field `n`")),
        ({"items": [], "extra": 1}, FieldError("/extra", "Object contains unknown field `extra`")),
        ({"items": [], "labels": {"a": "x"}}, FieldError("/labels", "Expected `int`, got `str`")),
        ([], FieldError("", "Expected `object`, got `array`")),
    ],
)
def test_msgspec_errors_name_the_field(document: object, expected: FieldError) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert(document, Outer, strict=True)
    assert from_msgspec(caught.value) == expected
    assert from_msgspec(caught.value, at="/events/2").pointer == "/events/2" + expected.pointer


def test_a_value_of_the_wrong_type_for_a_duration_or_a_time_says_what_to_send() -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert({"delay": 300}, dict[str, timedelta], strict=True)
    assert from_msgspec(caught.value).message == (
        'Expected `duration`, got `int`: send an ISO 8601 duration in whole days, hours, minutes and seconds, e.g. "PT5M"'
    )
