"""The OpenAPI document describes the API exactly: what it declares is enforced, what it answers is declared."""

from __future__ import annotations

import msgspec
from litestar.typing import FieldDefinition

from server.app import create_app
from server.settings import Settings

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


SPEC = UNCONNECTED.openapi_schema.to_schema()
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
            assert {"401", "503"} <= statuses, where  # authentication, and the database behind it
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
