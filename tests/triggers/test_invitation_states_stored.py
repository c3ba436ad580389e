"""The invitation state machine as the database enforces it: the same table as `triggers.invitations`, every
allowed change recorded, every other refused — whichever statement makes it."""

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import BrandFixture
from tests.helpers import event, report, survey_setup
from triggers.invitations import TRANSITIONS


async def test_the_database_holds_the_same_state_machine(conn: asyncpg.Connection) -> None:
    stored = await conn.fetch("SELECT from_status, to_status FROM invitation_status_transitions")
    assert {(r["from_status"], r["to_status"]) for r in stored} == {
        (source, target) for source, targets in TRANSITIONS.items() for target in targets
    }


async def test_every_status_change_is_recorded_and_a_forbidden_one_refused(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    await survey_setup(client, brand, delay="PT10M", max_lag="PT1H")
    await report(client, brand, event("e1"))
    await conn.execute("UPDATE invitations SET status = 'cancelled', status_reason = 'by hand'")
    with pytest.raises(asyncpg.CheckViolationError, match="cannot go from cancelled to scheduled"):
        await conn.execute("UPDATE invitations SET status = 'scheduled'")
    await conn.execute("UPDATE invitations SET status_reason = 'not a status change'")
    transitions = await conn.fetch("SELECT from_status, to_status, reason FROM invitation_transitions")
    assert [tuple(t) for t in transitions] == [("scheduled", "cancelled", "by hand")]
