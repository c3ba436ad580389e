"""Settings: one msgspec Struct built once from ``LXT_*`` environment variables.

Nothing else in lxt reads ``os.environ``: the CLI builds `Settings` and passes it to `create_app`, the worker and
the embedded servers. Each field's description is the README's table of variables (`lxt settings` prints it,
and a test keeps the README in step).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from plumbing.errors import from_msgspec

PREFIX = "LXT_"


def _doc(text: str, **constraints: Any) -> Any:
    return Meta(description=text, **constraints)


class SettingsError(Exception):
    """An environment variable could not be turned into a setting; the message names the variable."""


class Settings(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    database_url: Annotated[
        str, _doc("PostgreSQL URL. Empty: start an embedded PostgreSQL under `LXT_DATA_DIR`.")
    ] = ""
    redis_url: Annotated[str, _doc("Valkey/Redis URL for the job queue. Empty: start an embedded Valkey.")] = ""
    data_dir: Annotated[str, _doc("Where the embedded servers keep their data (persists across restarts).")] = (
        ".lxt"
    )
    host: Annotated[str, _doc("Address the API listens on.")] = "127.0.0.1"
    port: Annotated[int, _doc("Port the API listens on.", ge=0, le=65535)] = 8000
    public_base_url: Annotated[
        str, _doc("Base URL customers and providers reach the API at. Empty: `http://HOST:PORT`.")
    ] = ""
    api_workers: Annotated[int, _doc("API server processes (`lxt serve`).", ge=1, le=64)] = 1
    db_pool_min: Annotated[int, _doc("Minimum PostgreSQL connections per process.", ge=0)] = 2
    db_pool_max: Annotated[int, _doc("Maximum PostgreSQL connections per process.", ge=1)] = 20
    export_work_mem_mb: Annotated[
        int,
        _doc(
            "Memory, in MB, an export's sort may take in each PostgreSQL process working on it before it spills to "
            "disk (its `work_mem`).",
            ge=4,
            le=4096,
        ),
    ] = 128
    queue_name: Annotated[str, _doc("Name of the arq job queue in Valkey/Redis.", min_length=1)] = "lxt:queue"
    max_body_bytes: Annotated[int, _doc("Largest accepted request body, in bytes.", ge=1024)] = 4_000_000
    key_cache_seconds: Annotated[
        float,
        _doc("How long a verified API key is cached in a process; revocations are also pushed at once.", ge=0),
    ] = 30.0
    admin_token: Annotated[
        str, _doc("Operator token for `/v1/admin/*` (creating brands over HTTP). Empty: admin API disabled.")
    ] = ""
    log_level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], _doc("Log level of API and worker.")] = (
        "INFO"
    )
    twilio_account_sid: Annotated[str, _doc("Twilio account SID for SMS/WhatsApp.")] = ""
    twilio_auth_token: Annotated[
        str, _doc("Twilio auth token: signs API calls and verifies Twilio's webhooks.")
    ] = ""
    twilio_api_key: Annotated[
        str, _doc("Twilio API key SID (`SK…`): with its secret, used for API calls instead of the auth token.")
    ] = ""
    twilio_api_secret: Annotated[str, _doc("Secret of the Twilio API key.")] = ""
    twilio_from_number: Annotated[str, _doc("Default SMS sender number (E.164) for brands without their own.")] = (
        ""
    )
    twilio_messaging_service_sid: Annotated[
        str, _doc("Twilio Messaging Service SID; used instead of the from number when set.")
    ] = ""
    twilio_api_base: Annotated[str, _doc("Twilio REST API base URL.")] = "https://api.twilio.com"
    fcm_project_id: Annotated[str, _doc("Firebase project id for push notifications.")] = ""
    fcm_credentials_file: Annotated[str, _doc("Path to the Firebase service-account JSON file.")] = ""
    fcm_api_base: Annotated[str, _doc("Firebase Cloud Messaging API base URL.")] = "https://fcm.googleapis.com"
    twilio_whatsapp_from: Annotated[
        str, _doc("WhatsApp sender number (E.164, without `whatsapp:`) for brands without a sender of their own.")
    ] = ""
    signing_key: Annotated[
        str,
        _doc("Key the brand webhook signing secrets are derived from; required for the webhook channel."),
    ] = ""
    rate_messaging_service: Annotated[
        float,
        _doc("Messages per second sent through a Twilio Messaging Service, unless the brand sets its own.", gt=0),
    ] = 10.0
    rate_push: Annotated[
        float, _doc("Push notifications per second per Firebase project, unless the brand sets its own.", gt=0)
    ] = 500.0
    rate_webhook: Annotated[
        float, _doc("Requests per second to a brand's webhook, unless the brand sets its own.", gt=0)
    ] = 50.0

    webhook_allow_private: Annotated[
        bool,
        _doc(
            "Let brand webhooks point at loopback, private and link-local addresses (development and tests only: "
            "otherwise a brand could make lxt call services inside its network)."
        ),
    ] = False

    @property
    def twilio_configured(self) -> bool:
        """Whether real SMS/WhatsApp can be sent: an account SID with its auth token or an API key and secret."""
        return bool(
            self.twilio_account_sid
            and (self.twilio_auth_token or (self.twilio_api_key and self.twilio_api_secret))
        )

    @property
    def base_url(self) -> str:
        return self.public_base_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def embedded(self) -> bool:
        """True when at least one of PostgreSQL and Valkey is to be run embedded."""
        return not (self.database_url and self.redis_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``LXT_<FIELD>`` variables; unknown ``LXT_`` variables are an error (typos)."""
        env = os.environ if environ is None else environ
        known = {f"{PREFIX}{name.upper()}": name for name in cls.__struct_fields__}
        unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in known and not _ignored(k))
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(unknown)}")
        raw = {name: env[var] for var, name in known.items() if var in env}
        try:
            return msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise SettingsError(_name_variable(exc)) from None

    def replace(self, **changes: Any) -> Settings:
        return msgspec.structs.replace(self, **changes)


def _ignored(var: str) -> bool:
    # Variables for the test suite and benchmarks live in the same namespace but are not service settings.
    return var.startswith(("LXT_TEST_", "LXT_BENCH_"))


def _name_variable(error: msgspec.ValidationError) -> str:
    # msgspec says "... - at `$.port`"; speak of the environment variable instead.
    field = from_msgspec(error)
    name = field.pointer.removeprefix("/").split("/")[0]
    return f"{PREFIX}{name.upper()}: {field.message}" if name else field.message


def settings_table() -> str:
    """The README's table of environment variables, generated from the Struct."""
    info = msgspec.inspect.type_info(Settings)
    assert isinstance(info, msgspec.inspect.StructType)
    rows = ["| Variable | Default | Description |", "|---|---|---|"]
    for field in info.fields:
        assert isinstance(field.type, msgspec.inspect.Metadata), f"{field.name} needs a description"
        description = (field.type.extra_json_schema or {})["description"]
        default = "" if field.default is msgspec.NODEFAULT else field.default
        rows.append(f"| `{PREFIX}{field.name.upper()}` | `{default}` | {description} |")
    return "\n".join(rows) + "\n"
