"""Time zone names: the tz database's, spelled exactly; nothing that follows the host."""

import pytest

from customers.zones import load_zone


@pytest.mark.parametrize(
    "name",
    [
        "Mars/Olympus_Mons",
        "",
        None,
        "../../etc/passwd",
        "Europe/",
        # Files of the host's zoneinfo directory that follow the server's configuration, not a place.
        "localtime",
        "posixrules",
        "Factory",
        # Names are case-exact, whatever the file system would find.
        "europe/berlin",
        "EUROPE/BERLIN",
    ],
)
def test_unknown_zones_load_as_none(name: str | None) -> None:
    assert load_zone(name) is None


@pytest.mark.parametrize("name", ["Europe/Berlin", "UTC", "America/Argentina/Buenos_Aires", "US/Eastern"])
def test_iana_zones_load(name: str) -> None:
    zone = load_zone(name)
    assert zone is not None and zone.key == name
