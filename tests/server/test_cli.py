"""The `lxt` command, run in-process against the test database and as a real `lxt up` subprocess."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from server import embedded
from server.cli import main, slugify
from server.settings import Settings


def test_slugs_are_derived_from_names() -> None:
    assert slugify("Acme Coffee & Co.") == "acme-coffee-co"
    assert slugify("X") == "brand-x"


def test_brand_key_create_list_revoke(env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["brand", "create", "Acme Coffee"]) == 0
    assert "created brand acme-coffee" in capsys.readouterr().out
    assert main(["brand", "create", "Acme Coffee"]) == 1
    assert "already exists" in capsys.readouterr().err

    assert main(["key", "create", "--brand", "acme-coffee", "--scope", "ingest", "--scope", "manage"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("lxt_")
    prefix = key.split("_")[1]

    assert main(["key", "list", "--brand", "acme-coffee"]) == 0
    listing = capsys.readouterr().out
    assert prefix in listing and "ingest,manage" in listing and key not in listing

    assert main(["key", "revoke", prefix]) == 0
    assert main(["key", "list", "--brand", "acme-coffee"]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["key", "create", "--brand", "nope", "--scope", "ingest"]) == 1
    assert "no brand 'nope'" in capsys.readouterr().err


def test_bad_settings_are_reported_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LXT_PORT", "not-a-port")
    assert main(["migrate"]) == 1
    assert "LXT_PORT" in capsys.readouterr().err


def test_help_explains_each_command(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--help"], ["up", "--help"], ["key", "create", "--help"], ["brand", "create", "--help"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "an embedded PostgreSQL/Valkey runs under LXT_DATA_DIR" in out
    assert "The key is printed once" in out


def test_one_lxt_owns_a_data_dir(settings: Settings, tmp_path: Path) -> None:
    # Embedded Valkey only (the database URL is given), to keep the test quick.
    local = settings.replace(redis_url="", data_dir=str(tmp_path / "d"))
    with embedded.owned_servers(local) as running:
        assert running.redis_url.startswith("redis://127.0.0.1:")
        with pytest.raises(embedded.DataDirBusy, match="already running on data dir"):
            with embedded.owned_servers(local):
                pass
        # Short-lived commands use the servers the owner published instead of starting their own.
        with embedded.servers(local) as shared:
            assert shared.redis_url == running.redis_url
    with embedded.owned_servers(local) as again:  # released on exit
        assert again.redis_url.startswith("redis://")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lxt_up_serves_the_api_and_runs_a_worker(env: Settings, tmp_path: Path) -> None:
    port = _free_port()
    child_env = {**os.environ, "LXT_PORT": str(port), "LXT_DATA_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "up"], env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1)
                if ready.status_code == 200 and ready.json()["workers_alive"] >= 1:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert ready is not None and ready.status_code == 200, ready and ready.text
        assert ready.json()["workers_alive"] >= 1
        assert httpx.get(f"http://127.0.0.1:{port}/health").json() == {"status": "ok"}
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=30)[0].decode()
    assert proc.returncode == 0, output


def test_embedded_data_survives_a_restart(tmp_path: Path) -> None:
    """Both embedded servers, started twice on one data dir: what the first run stored is there in the second."""
    import asyncio

    from server import db, migrate, tenants

    async def create(url: str) -> None:
        conn = await db.connect(url)
        await migrate.migrate(conn)
        await tenants.create_brand(conn, "kept", "Kept")
        await conn.close()

    async def read(url: str) -> str | None:
        conn = await db.connect(url)
        brand = await tenants.brand_by_slug(conn, "kept")
        await conn.close()
        return brand.name if brand else None

    local = Settings(data_dir=str(tmp_path / "data"))
    with embedded.owned_servers(local) as first:
        asyncio.run(create(first.database_url))
    with embedded.owned_servers(local) as second:
        assert asyncio.run(read(second.database_url)) == "Kept"


def test_the_embedded_postgresql_keeps_values_out_of_its_log(tmp_path: Path) -> None:
    """Two requests creating one customer at once: one of them hits the unique key, whose error details the key's
    values. The embedded server's log records the error, not the external id (which may be a phone number)."""
    import asyncio
    import random

    import asyncpg

    from server import db, migrate, tenants

    external_id = f"+49151{random.randrange(10**8):08d}"

    async def collide(url: str) -> None:
        conn = await db.connect(url)
        try:
            await migrate.migrate(conn)
            brand = await tenants.create_brand(conn, "acme", "Acme")
            insert = (
                "INSERT INTO customers (brand_id, customer_id, external_id) VALUES ($1, gen_random_uuid(), $2)"
            )
            await conn.execute(insert, brand.brand_id, external_id)
            with pytest.raises(asyncpg.UniqueViolationError):
                await conn.execute(insert, brand.brand_id, external_id)
        finally:
            await conn.close()

    local = Settings(data_dir=str(tmp_path / "data"))
    with embedded.servers(local, queue=False) as running:
        asyncio.run(collide(running.database_url))
    pgdata = tmp_path / "data" / "postgres"
    logs = [path for path in [pgdata / "log", *pgdata.glob("log/*"), *pgdata.glob("*.log")] if path.is_file()]
    text = "\n".join(path.read_text(errors="replace") for path in logs)
    assert "duplicate key value violates unique constraint" in text, "the error is logged"
    assert external_id not in text and external_id[1:] not in text
