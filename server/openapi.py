"""What the OpenAPI document says beyond what Litestar derives from the routes (problems: `server.errors`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
from litestar.plugins import OpenAPISchemaPlugin
from litestar.typing import FieldDefinition

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Schema


class ClosedStructs(OpenAPISchemaPlugin):
    """A Struct that forbids unknown fields is documented with ``additionalProperties: false``.

    Litestar documents such a body as open to any other member, which the API refuses with a 422; a client
    generated from the document would believe extra members are fine. This plugin asks Litestar's own Struct
    plugin for the schema and closes it.
    """

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        return (
            not field_definition.is_union
            and field_definition.is_subclass_of(msgspec.Struct)
            and _type_info(field_definition.type_).forbid_unknown_fields
        )

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        litestar_plugin = next(
            plugin
            for plugin in schema_creator.plugins
            if plugin is not self and schema_creator.plugin_supports_field(plugin, field_definition)
        )
        schema: Schema = litestar_plugin.to_openapi_schema(field_definition, schema_creator)  # type: ignore[union-attr]
        schema.additional_properties = False
        return schema


def _type_info(struct: Any) -> msgspec.inspect.StructType:
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)
    return info
