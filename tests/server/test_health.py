import asyncpg
from litestar.testing import AsyncTestClient

from server.app import create_app
from server.settings import Settings
from tests.conftest import BrandFixture, _with_database, database_name
from tests.helpers import event, queued_jobs, report, survey_setup
from tests.server.processes import free_port


async def test_health_answers(client: AsyncTestClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_database_migrations_and_queue(client: AsyncTestClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == body["database"] == body["migrations"] == body["queue"] == "ok"


async def test_the_api_starts_and_takes_events_while_the_queue_is_down(
    settings: Settings, brand: BrandFixture
) -> None:
    """The queue alone down leaves the API ready (a probe must not take it out of service): `degraded`, 200."""
    closed = f"redis://127.0.0.1:{free_port()}/0"  # a port nothing listens on
    async with AsyncTestClient(create_app(settings.replace(redis_url=closed)), base_url="http://lxt.test") as down:
        ready = await down.get("/ready")
        body = ready.json()
        assert (ready.status_code, body["status"], body["queue"], body["database"], body["migrations"]) == (
            200,
            "degraded",
            "unavailable",
            "ok",
            "ok",
        )
        await survey_setup(down, brand)
        accepted = await report(down, brand, event("while-down"))
        assert accepted["decision"] == "scheduled"
    # Committed, not queued: the sweeper enqueues it once the queue is back.
    assert await queued_jobs(settings) == 0


async def test_the_api_is_not_ready_while_migrations_are_pending(
    settings: Settings, admin_db: asyncpg.Connection, server_urls: tuple[str, str]
) -> None:
    name = database_name("unmigrated")
    await admin_db.execute(f"DROP DATABASE IF EXISTS {name}")
    await admin_db.execute(f"CREATE DATABASE {name}")
    try:
        unmigrated = settings.replace(database_url=_with_database(server_urls[0], name))
        async with AsyncTestClient(create_app(unmigrated), base_url="http://lxt.test") as client:
            ready = await client.get("/ready")
        body = ready.json()
        assert (ready.status_code, body["status"], body["database"], body["migrations"], body["queue"]) == (
            503,
            "unavailable",
            "ok",
            "pending",
            "ok",
        )
    finally:
        await admin_db.execute(f"DROP DATABASE {name} WITH (FORCE)")
