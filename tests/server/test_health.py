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
