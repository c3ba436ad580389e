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
