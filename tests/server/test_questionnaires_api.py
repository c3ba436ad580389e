import asyncio
import json
import os
import sys

import asyncpg
import pytest
import yaml
from litestar.testing import AsyncTestClient

from server.cli import main
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.helpers import EXAMPLES, publish_example


async def test_publish_yaml_then_read_latest(client: AsyncTestClient, brand: BrandFixture) -> None:
    published = await publish_example(client, brand)
    assert published["version"] == 1
    assert published["definition"]["key"] == "store_visit_nps"
    latest = (await client.get("/v1/questionnaires/store_visit_nps", headers=brand.headers("manage"))).json()
    assert latest["version"] == 1
    assert latest["definition"] == published["definition"]
    listed = (await client.get("/v1/questionnaires", headers=brand.headers("export"))).json()
    assert [(q["key"], q["latest_version"], q["title"]) for q in listed] == [
        ("store_visit_nps", 1, "Your visit today")
    ]


async def test_the_same_definition_as_json_is_not_a_new_version(
    client: AsyncTestClient, brand: BrandFixture
) -> None:
    await publish_example(client, brand)
    as_json = yaml.safe_load((EXAMPLES / "store_visit_nps.yaml").read_text())
    response = await client.post("/v1/questionnaires", json=as_json, headers=brand.headers("manage"))
    assert response.status_code == 200
    assert response.json()["version"] == 1


async def test_a_changed_definition_is_a_new_immutable_version(
    client: AsyncTestClient, brand: BrandFixture, conn: asyncpg.Connection
) -> None:
    first = await publish_example(client, brand)
    changed = yaml.safe_load((EXAMPLES / "store_visit_nps.yaml").read_text())
    changed["questions"][0]["text"]["en"] = "Would you recommend us?"
    response = await client.post("/v1/questionnaires", json=changed, headers=brand.headers("manage"))
    assert response.status_code == 201
    assert response.json()["version"] == 2
    v1 = (await client.get("/v1/questionnaires/store_visit_nps/versions/1", headers=brand.headers())).json()
    assert v1["definition"] == first["definition"]
    versions = (await client.get("/v1/questionnaires/store_visit_nps/versions", headers=brand.headers())).json()
    assert [v["version"] for v in versions] == [1, 2]
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="immutable"):
        await conn.execute("UPDATE questionnaire_versions SET definition = '{}' WHERE version = 1")


async def test_invalid_definitions_name_the_field(client: AsyncTestClient, brand: BrandFixture) -> None:
    bad = yaml.safe_load((EXAMPLES / "store_visit_nps.yaml").read_text())
    bad["questions"][1]["show_if"] = {"field": "nps", "lte": "six"}
    response = await client.post("/v1/questionnaires", json=bad, headers=brand.headers("manage"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "/questions/1/show_if/lte" in [e["pointer"] for e in response.json()["errors"]]

    bad = yaml.safe_load((EXAMPLES / "store_visit_nps.yaml").read_text())
    bad["questions"][0]["type"] = "stars"
    response = await client.post("/v1/questionnaires", json=bad, headers=brand.headers("manage"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"].startswith("/questions/0")

    response = await client.post(
        "/v1/questionnaires",
        content=b"key: [unclosed",
        headers={**brand.headers("manage"), "content-type": "application/yaml"},
    )
    assert response.status_code == 400
    response = await client.post(
        "/v1/questionnaires", content=b"<xml/>", headers={**brand.headers("manage"), "content-type": "text/xml"}
    )
    assert response.status_code == 415
    listed = (await client.get("/v1/questionnaires", headers=brand.headers("manage"))).json()
    assert listed == []


async def test_archive_and_unarchive(client: AsyncTestClient, brand: BrandFixture) -> None:
    await publish_example(client, brand)
    archived = await client.post("/v1/questionnaires/store_visit_nps/archive", headers=brand.headers("manage"))
    assert archived.status_code == 200
    assert archived.json()["archived_at"] is not None
    assert (await client.get("/v1/questionnaires", headers=brand.headers())).json() == []
    everything = await client.get("/v1/questionnaires?include_archived=true", headers=brand.headers())
    assert len(everything.json()) == 1
    back = await client.post("/v1/questionnaires/store_visit_nps/unarchive", headers=brand.headers("manage"))
    assert back.json()["archived_at"] is None
    missing = await client.post("/v1/questionnaires/nope/archive", headers=brand.headers("manage"))
    assert missing.status_code == 404


async def test_preview_renders_each_channel_in_the_wanted_locale(
    client: AsyncTestClient, brand: BrandFixture
) -> None:
    await publish_example(client, brand)
    base = "/v1/questionnaires/store_visit_nps/versions/1/preview"
    sms = (await client.get(f"{base}?channel=sms&locale=de-CH", headers=brand.headers("manage"))).json()
    assert sms[0]["locale"] == "de"
    assert sms[0]["text"].startswith("Danke für Ihren Besuch heute!")
    assert "0-10" in sms[0]["text"]
    assert sms[0]["encoding"] == "GSM-7"
    app = (await client.get(f"{base}?channel=app&locale=en", headers=brand.headers("manage"))).json()
    assert app["version"] == 1
    assert [q["id"] for q in app["questions"]] == ["nps", "went_wrong", "liked"]
    web = (await client.get(f"{base}?channel=web", headers=brand.headers("manage"))).json()
    assert web["title"] == "Your visit today"
    bad = await client.get(f"{base}?channel=fax", headers=brand.headers("manage"))
    assert bad.status_code in (400, 422)


async def test_scopes(client: AsyncTestClient, brand: BrandFixture) -> None:
    body = json.dumps(yaml.safe_load((EXAMPLES / "store_visit_nps.yaml").read_text()))
    for scope in ("ingest", "export"):
        response = await client.post(
            "/v1/questionnaires",
            content=body,
            headers={**brand.headers(scope), "content-type": "application/json"},
        )
        assert response.status_code == 403


def test_cli_push_publishes_what_the_api_returns(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], brand: BrandFixture
) -> None:
    monkeypatch.setenv("LXT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LXT_REDIS_URL", settings.redis_url)
    for name in ("store_visit_nps", "delivery_csat", "rtet_touchpoint"):
        assert main(["questionnaire", "push", str(EXAMPLES / f"{name}.yaml"), "--brand", "acme"]) == 0
        assert f"{name} published version 1" in capsys.readouterr().out
    assert main(["questionnaire", "push", str(EXAMPLES / "rtet_touchpoint.yaml"), "--brand", "acme"]) == 0
    assert "unchanged" in capsys.readouterr().out


async def test_cli_push_result_is_served(client: AsyncTestClient, brand: BrandFixture, settings: Settings) -> None:
    env = {
        "LXT_DATABASE_URL": settings.database_url,
        "LXT_REDIS_URL": settings.redis_url,
        "LXT_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "questionnaire", "push", str(EXAMPLES / "delivery_csat.yaml"), "--brand", "acme",
        env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    served = await client.get("/v1/questionnaires/delivery_csat", headers=brand.headers())
    assert served.status_code == 200
    assert served.json()["version"] == 1


def test_cli_push_reports_invalid_files(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    monkeypatch.setenv("LXT_DATABASE_URL", settings.database_url)
    bad = tmp_path / "bad.yaml"
    bad.write_text("key: x\ntitle: X\ndefault_locale: en\nquestions: []\n")
    assert main(["questionnaire", "push", str(bad), "--brand", "acme"]) == 1
    assert "/questions" in capsys.readouterr().err
