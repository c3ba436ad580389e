"""``lxt customer erase``: the operator's way to erase a customer, audited as done by the command line."""

import asyncio
from typing import Any

import asyncpg
import pytest

from server.cli import main
from server.settings import Settings
from tests.helpers import PHONE


def query(settings: Settings, sql: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def test_the_command_line_erases_a_customer(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["brand", "create", "Acme Coffee"]) == 0
    query(
        env,
        "INSERT INTO customers (brand_id, customer_id, external_id, phone) "
        "SELECT brand_id, gen_random_uuid(), 'c-9', $1 FROM brands",
        PHONE,
    )
    capsys.readouterr()
    assert main(["customer", "erase", "--brand", "acme-coffee", "c-9"]) == 0
    out = capsys.readouterr().out
    [entry] = query(env, "SELECT actor, subject FROM audit_log WHERE action = 'customer_erased'")
    assert out.startswith(f"erased customer {entry['subject']} (anonymise), audit entry ")
    assert "customers: 1" in out and entry["actor"] == "cli"
    assert tuple(query(env, "SELECT phone, external_id LIKE 'erased:%' FROM customers")[0]) == (None, True)

    assert main(["customer", "erase", "--brand", "acme-coffee", "c-9"]) == 1
    assert "no customer 'c-9' at acme-coffee" in capsys.readouterr().err
    assert main(["customer", "erase", "--brand", "nope", "c-9"]) == 1
