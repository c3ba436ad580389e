import uuid

from plumbing.ids import new_ids


def test_new_ids_are_unique_time_ordered_version_7_uuids() -> None:
    ids = new_ids(5000)
    assert len(set(ids)) == 5000
    parsed = [uuid.UUID(i) for i in ids]
    assert {u.version for u in parsed} == {7}
    assert {u.variant for u in parsed} == {uuid.RFC_4122}
    later = uuid.UUID(new_ids(1)[0])
    # The first 48 bits are Unix milliseconds: ids made later never sort before earlier ones' millisecond.
    assert later.int >> 80 >= max(u.int >> 80 for u in parsed)
