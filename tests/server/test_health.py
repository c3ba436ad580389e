from litestar.testing import AsyncTestClient


async def test_health_answers(client: AsyncTestClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_reports_database_migrations_and_queue(client: AsyncTestClient) -> None:
    response = await client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == body["migrations"] == body["queue"] == "ok"


async def test_the_api_starts_and_takes_events_while_the_queue_is_down(settings, brand) -> None:
    import socket

    from server.app import create_app
    from tests.helpers import event, queued_jobs, report, survey_setup

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    async with AsyncTestClient(create_app(settings.replace(redis_url=closed)), base_url="http://lxt.test") as down:
        ready = await down.get("/ready")
        assert (ready.status_code, ready.json()["queue"], ready.json()["database"]) == (503, "unavailable", "ok")
        await survey_setup(down, brand)
        accepted = await report(down, brand, event("while-down"))
        assert accepted["decision"] == "scheduled"
    # Committed, not queued: the sweeper enqueues it once the queue is back.
    assert await queued_jobs(settings) == 0
