"""The OpenAPI document describes the API exactly: what it declares is enforced, what it answers is declared."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import asyncpg
import hypothesis
import msgspec
import pytest
import pytest_asyncio
import schemathesis
from litestar import Litestar
from litestar.serialization import encode_json
from litestar.testing import AsyncTestClient
from litestar.types import Receive, Scope, Send
from litestar.typing import FieldDefinition
from redis.asyncio import Redis
from schemathesis.python.asgi import ASGIClient, shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    positive_data_acceptance,
    unsupported_method,
)

from server.app import create_app
from server.settings import Settings
from tests.conftest import TEMPLATE, BrandFixture, _with_database, make_brand
from tests.helpers import event, report, survey_setup

# The routes and the document, without the servers behind them (building the app connects to nothing).
UNCONNECTED = create_app(Settings(database_url="postgresql://unused", redis_url="redis://unused"))


def _msgspec_metas(field: FieldDefinition) -> list[msgspec.Meta]:
    found = [m for m in field.metadata if isinstance(m, msgspec.Meta)]
    for inner in field.inner_types:
        found += _msgspec_metas(inner)
    return found


def test_parameter_constraints_are_declared_where_litestar_enforces_them() -> None:
    # Litestar shows a msgspec Meta on a path or query parameter in the OpenAPI document, but its signature model
    # drops it: `le=2**31-1` on a version was documented and never checked. Parameters declare constraints with
    # PathParameter/QueryParameter (server/routes/params.py); bodies are Structs, where msgspec enforces Meta.
    unenforced = [
        f"{handler.handler_name}({name})"
        for route in UNCONNECTED.routes
        for handler in getattr(route, "route_handlers", [])
        for name, field in handler.parsed_fn_signature.parameters.items()
        if name != "data" and _msgspec_metas(field)
    ]
    assert unenforced == []


# As served at /schema/openapi.json (durations as ISO 8601 text, not timedelta objects).
SPEC = msgspec.json.decode(encode_json(UNCONNECTED.openapi_schema.to_schema()))
OPERATIONS = [
    (method.upper(), path, operation)
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
    if method in ("get", "put", "post", "patch", "delete")
]
SCOPES = {
    (method, route.path_format): handler.opt.get("scopes")
    for route in UNCONNECTED.routes
    for method, (handler, _) in getattr(route, "route_handler_map", {}).items()
}


def test_every_error_is_a_problem_document() -> None:
    for method, path, operation in OPERATIONS:
        for status, response in operation["responses"].items():
            if int(status) < 400 or (path, status) == (
                "/ready",
                "503",
            ):  # /ready reports its parts, as a probe reads
                continue
            assert list(response["content"]) == ["application/problem+json"], (method, path, status)
            schema = response["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ProblemDetails"}, (method, path, status)
    problem = SPEC["components"]["schemas"]["ProblemDetails"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem["properties"])


def test_every_operation_lists_the_statuses_its_mechanisms_answer() -> None:
    for method, path, operation in OPERATIONS:
        statuses = set(operation["responses"])
        where = (method, path, sorted(statuses))
        if path.startswith("/v1/"):
            assert "503" in statuses, where  # the database behind it
            if path.startswith("/v1/responses/"):  # the app answer API: the link token in the path is the key
                assert "security" not in operation and "404" in statuses, where
            else:
                assert operation.get("security") and "401" in statuses, where  # authentication
        scopes = SCOPES[(method, path)]
        if scopes is not None and scopes != {"ingest", "manage", "export"}:
            assert "403" in statuses, where
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= statuses, where  # undecodable, too large, invalid
        if operation.get("parameters"):
            assert "422" in statuses, where
        assert "400" not in statuses or "requestBody" in operation, where  # only a body can be unreadable


def test_the_statuses_routes_choose_are_documented() -> None:
    responses = {(method, path): set(operation["responses"]) for method, path, operation in OPERATIONS}
    assert {"200", "202", "409"} <= responses[("POST", "/v1/events")]  # replay, stored, key reused
    assert {"200", "201"} <= responses[("PUT", "/v1/touchpoints/{key}")]
    assert {"200", "201"} <= responses[("PUT", "/v1/triggers/{key}")]
    assert {"200", "201", "415"} <= responses[("POST", "/v1/questionnaires")]
    publish = SPEC["paths"]["/v1/questionnaires"]["post"]["requestBody"]
    assert set(publish["content"]) == {"application/json", "application/yaml"}
    assert SPEC["paths"]["/v1/admin/brands"]["post"]["security"] == [{"adminToken": []}]


def test_bodies_that_refuse_unknown_members_are_documented_closed() -> None:
    schemas = SPEC["components"]["schemas"]
    for name in ("EventIn", "EventBatch", "BrandUpdate", "KeyCreate", "TouchpointIn", "TriggerIn", "Definition"):
        assert schemas[name]["additionalProperties"] is False, name
    assert "additionalProperties" not in schemas["ProblemDetails"]  # problems may grow members


# --- The API against its document -------------------------------------------------------------------------
#
# Schemathesis generates requests from the document (valid ones, ones that break a declared constraint, and the
# boundary cases of each) for every operation, sends each with a key of every scope and the operator token, and
# checks each response: no 5xx, only documented statuses and content types, bodies matching their schemas,
# declared constraints enforced, and every error a problem document naming the inputs at fault.
#
# One database and one app serve the whole module (a database per operation would cost more than the run).


class AppUnderTest:
    """The ASGI app of the schema, which the module's fixture points at an app on its database. Schemathesis's
    checks send requests of their own (without credentials, with methods the path lacks …) to the schema's app,
    and its operations copy the app when the tests are collected, before any database exists."""

    app: Litestar | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "the `run` fixture sets the app"
        await self.app(scope, receive, send)


APP_UNDER_TEST = AppUnderTest()
api = schemathesis.openapi.from_dict(SPEC)
api.app = APP_UNDER_TEST


class Run(msgspec.Struct):
    client: ASGIClient
    credentials: dict[str, dict[str, str]]
    """who -> headers: a key of each scope, and the operator token."""
    scratch: dict[str, dict[str, str]]
    """The same for a second brand, whose keys no response of the run shows (see `credentials_for`)."""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def run(
    admin_db: asyncpg.Connection, server_urls: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Run]:
    name = f"lxt_test_{os.getpid()}_openapi"
    await admin_db.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE} STRATEGY FILE_COPY")
    settings = Settings(
        database_url=_with_database(server_urls[0], name),
        redis_url=server_urls[1],
        data_dir=str(tmp_path_factory.mktemp("data")),
        public_base_url="http://lxt.test",
        db_pool_min=1,
        db_pool_max=5,
        admin_token="operator-secret",
    )
    conn = await asyncpg.connect(settings.database_url)
    brand, scratch = await make_brand(conn, "acme"), await make_brand(conn, "scratch")
    await conn.close()
    async with AsyncTestClient(create_app(settings), base_url="http://lxt.test") as client:
        await survey_setup(client, brand)
        await report(client, brand, event("seed-1"))

    def headers(fixture: BrandFixture) -> dict[str, dict[str, str]]:
        return {scope: fixture.headers(scope) for scope in ("ingest", "manage", "export")} | {
            "operator": {"Authorization": "Bearer operator-secret"}
        }

    APP_UNDER_TEST.app = create_app(settings)
    with ASGIClient(APP_UNDER_TEST) as asgi_client:  # runs the app's lifespan in schemathesis's event loop thread
        yield Run(client=asgi_client, credentials=headers(brand), scratch=headers(scratch))
    shutdown_lifespans()
    APP_UNDER_TEST.app = None
    await admin_db.execute(f"DROP DATABASE {name} WITH (FORCE)")
    redis = Redis.from_url(server_urls[1])
    await redis.flushdb()
    await redis.aclose()


def credentials_for(case: schemathesis.Case, run: Run) -> dict[str, dict[str, str]]:
    # Revoking a key can hit the very key the run is using (schemathesis reuses values it saw, such as the
    # prefixes GET /v1/keys lists), which would turn the rest of the run into 401s. A second brand's keys revoke:
    # no response of the run shows their prefixes, and another brand's keys are a 404 to them.
    if case.method == "DELETE" and case.path == "/v1/keys/{prefix}":
        return run.scratch
    return run.credentials


def problem_documents(ctx: object, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Every error is a problem document; the ones about inputs name them."""
    if response.status_code < 400 or case.path == "/ready":
        return
    assert response.headers["content-type"] == ["application/problem+json"], response.headers
    problem = response.json()
    assert problem["status"] == response.status_code
    if response.status_code in (400, 409, 413, 415, 422):
        assert problem["errors"], problem


EXCLUDED_CHECKS = [
    # "A request the schema allows is accepted": lxt checks more than JSON Schema can say. A trigger names a
    # touchpoint and a questionnaire that must exist, its body key must equal the path's; phone numbers must be
    # dialable, time zones IANA names; questionnaires must branch and translate consistently. Such requests are
    # refused with a 422 naming the field, which `problem_documents` checks.
    positive_data_acceptance,
    # Litestar answers OPTIONS itself, and on a path whose handlers a Router registered one by one (GET and PATCH
    # /v1/brand …) its Allow header lists only the first handler's methods: Litestar keeps the first route's
    # OPTIONS handler when it merges routes. 405 for a method a path lacks is tested in test_errors.py.
    unsupported_method,
    allow_header_conformance,
]


@api.parametrize()
@hypothesis.settings(
    max_examples=10,
    deadline=None,
    derandomize=True,  # the same cases on every run: `make test` must not pass or fail by chance
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_the_api_answers_as_its_document_says(case: schemathesis.Case, run: Run) -> None:
    # Schemathesis fills Authorization with a made-up token, or leaves it out to check that the operation needs
    # one. A made-up token is replaced by each real credential in turn.
    who = credentials_for(case, run).values() if "Authorization" in (case.headers or {}) else [{}]
    for headers in who:
        case.call_and_validate(
            session=run.client,
            headers=headers,
            additional_checks=[problem_documents],
            excluded_checks=EXCLUDED_CHECKS,
        )
