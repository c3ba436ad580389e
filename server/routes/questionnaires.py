"""Questionnaires: publish immutable versions, read them, preview their renderings, archive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, Reference, RequestBody
from litestar.params import FromQuery

from plumbing.errors import FieldError
from questionnaires.load import load_definition
from questionnaires.render import render_app, render_sms, render_web_survey
from server import questionnaire_versions as store
from server.auth import requires
from server.deps import Conn
from server.errors import ApiError, ProblemOperation, problems
from server.questionnaire_versions import Summary, Version, VersionInfo
from server.routes.params import Key, LocaleQuery
from server.routes.params import Version as VersionNumber
from server.tenants import Principal

Req = Request[Principal, Principal, State]
_YAML = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


@dataclass
class PublishOperation(ProblemOperation):
    """`publish` reads its body itself, in either format, so the document is told what it accepts."""

    def __post_init__(self) -> None:
        super().__post_init__()
        definition = OpenAPIMediaType(schema=Reference("#/components/schemas/Definition"))
        self.request_body = RequestBody(
            content={"application/json": definition, "application/yaml": definition},
            description="A questionnaire definition, as JSON or YAML (the same structure).",
            required=True,
        )


@post(
    "/questionnaires",
    tags=["questionnaires"],
    opt=requires("manage"),
    summary="Publish a questionnaire version",
    description="Body: a questionnaire definition as JSON (`application/json`) or YAML (`application/yaml`), "
    "see the examples in `questionnaires/examples/`. 201 with the new version; 200 with the current version when "
    "the definition is unchanged. Versions are immutable: invitations and answers keep the version they were sent "
    "with. Warnings (e.g. an SMS needing more than 2 segments) do not stop publishing.",
    responses={
        200: ResponseSpec(
            Version, description="The definition is unchanged: the current version", generate_examples=False
        ),
        **problems(400, 401, 403, 413, 415, 422, 503),
    },
    operation_class=PublishOperation,
)
async def publish(request: Req, conn: Conn) -> Response[Version]:
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type in _YAML:
        fmt: Literal["json", "yaml"] = "yaml"
    elif content_type in ("application/json", "") or content_type.endswith("+json"):
        fmt = "json"
    else:
        message = f"send the definition as application/json or application/yaml, not {content_type}"
        raise ApiError(415, message, errors=[FieldError("header:content-type", message)])
    body = await request.body()
    if not body.strip():
        message = "a questionnaire definition is required in the body"
        raise ApiError(400, message, errors=[FieldError("", message)])
    definition = load_definition(body, fmt)
    version, created = await store.publish(conn, request.auth.brand_id, definition)
    return Response(version, status_code=201 if created else 200)


@get(
    "/questionnaires",
    tags=["questionnaires"],
    opt=requires("manage", "export"),
    summary="List questionnaires",
    responses=problems(401, 403, 422, 503),
    operation_class=ProblemOperation,
)
async def list_questionnaires(
    request: Req, conn: Conn, include_archived: FromQuery[bool] = False
) -> list[Summary]:
    return await store.list_questionnaires(conn, request.auth.brand_id, include_archived)


async def _version(request: Req, conn: Conn, key: str, version: int | None) -> Version:
    found = await store.get_version(conn, request.auth.brand_id, key, version)
    if found is None:
        raise NotFoundException(f"no questionnaire {key!r}" + (f" version {version}" if version else ""))
    return found


@get(
    "/questionnaires/{key:str}",
    tags=["questionnaires"],
    opt=requires("manage", "export"),
    summary="The latest version of a questionnaire",
    responses=problems(401, 403, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def read_latest(request: Req, conn: Conn, key: Key) -> Version:
    return await _version(request, conn, key, None)


@get(
    "/questionnaires/{key:str}/versions",
    tags=["questionnaires"],
    opt=requires("manage", "export"),
    summary="All versions of a questionnaire",
    responses=problems(401, 403, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def list_versions(request: Req, conn: Conn, key: Key) -> list[VersionInfo]:
    versions = await store.list_versions(conn, request.auth.brand_id, key)
    if not versions:
        raise NotFoundException(f"no questionnaire {key!r}")
    return versions


@get(
    "/questionnaires/{key:str}/versions/{version:int}",
    tags=["questionnaires"],
    opt=requires("manage", "export"),
    summary="One version of a questionnaire",
    responses=problems(401, 403, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def read_version(request: Req, conn: Conn, key: Key, version: VersionNumber) -> Version:
    return await _version(request, conn, key, version)


Channel = Literal["sms", "web", "app"]


@get(
    "/questionnaires/{key:str}/versions/{version:int}/preview",
    tags=["questionnaires"],
    opt=requires("manage"),
    summary="Preview a version as a channel renders it",
    description="`channel=sms`: every question's SMS (with encoding and segments); `web`: the mobile page data; "
    "`app`: the app's JSON form. `locale` picks the translation, with fallback (de-CH → de → default).",
    responses=problems(401, 403, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def preview(
    request: Req,
    conn: Conn,
    key: Key,
    version: VersionNumber,
    channel: FromQuery[Channel] = "sms",
    locale: LocaleQuery = None,
) -> Any:
    found = await _version(request, conn, key, version)
    definition = found.definition
    if channel == "sms":
        return [
            render_sms(definition, question.id, locale, intro=index == 0)
            for index, question in enumerate(definition.questions)
        ]
    if channel == "web":
        return render_web_survey(definition, locale)
    return render_app(definition, locale, version=found.version)


async def _archive(request: Req, conn: Conn, key: str, archived: bool) -> Summary:
    summary = await store.set_archived(conn, request.auth.brand_id, key, archived)
    if summary is None:
        raise NotFoundException(f"no questionnaire {key!r}")
    return summary


@post(
    "/questionnaires/{key:str}/archive",
    tags=["questionnaires"],
    opt=requires("manage"),
    status_code=200,
    summary="Archive a questionnaire",
    description="Triggers using it stop scheduling (decision reason `questionnaire_unavailable`); versions, "
    "invitations and answers stay. Publishing again or `unarchive` brings it back.",
    responses=problems(401, 403, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def archive(request: Req, conn: Conn, key: Key) -> Summary:
    return await _archive(request, conn, key, True)


@post(
    "/questionnaires/{key:str}/unarchive",
    tags=["questionnaires"],
    opt=requires("manage"),
    status_code=200,
    summary="Bring an archived questionnaire back",
    responses=problems(401, 403, 404, 422, 503),
    operation_class=ProblemOperation,
)
async def unarchive(request: Req, conn: Conn, key: Key) -> Summary:
    return await _archive(request, conn, key, False)


ROUTES = [publish, list_questionnaires, read_latest, list_versions, read_version, preview, archive, unarchive]
