"""The ``lxt`` command: run the service, migrate, manage brands and keys, and use the sandbox from a shell."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import asyncpg

from server import db, embedded, logs, migrate, supervise, tenants
from server.settings import Settings, SettingsError, settings_table

log = logging.getLogger("lxt.cli")


class CliError(Exception):
    """A user-facing failure: printed without a traceback, exit status 1."""


def _env_with(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["LXT_DATABASE_URL"] = settings.database_url
    env["LXT_REDIS_URL"] = settings.redis_url
    return env


async def _apply_migrations(database_url: str) -> list[str]:
    conn = await db.connect(database_url)
    try:
        return await migrate.migrate(conn)
    finally:
        await conn.close()


def _migrate(settings: Settings) -> None:
    try:
        applied = asyncio.run(_apply_migrations(settings.database_url))
    except migrate.MigrationError as exc:
        raise CliError(f"migrations: {exc}") from None
    for name in applied:
        print(f"applied migration {name}", file=sys.stderr)


def _with_conn(settings: Settings, work: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
    """Run `work` on one connection to the configured (or running, or freshly started embedded) database."""

    async def run(url: str) -> Any:
        conn = await db.connect(url)
        try:
            return await work(conn)
        finally:
            await conn.close()

    with embedded.servers(settings, queue=False) as resolved:
        _migrate(resolved)
        return asyncio.run(run(resolved.database_url))


# -- service commands --------------------------------------------------------------------------------------

# The path without the query string: queries are filters and options, and what a client puts there is not ours to
# keep in logs (the path is redacted like every line).
ACCESS_LOG_FORMAT = '%(addr)s "%(method)s %(path)s %(protocol)s" %(status)d %(dt_ms).1f ms'


def cmd_up(settings: Settings, _: argparse.Namespace) -> int:
    """Embedded servers (if no URLs) + migrations + API + worker, until Ctrl-C; restarts whichever stops."""
    with embedded.owned(settings) as (resolved, servers):
        _migrate(resolved)
        env = _env_with(resolved)
        children = [
            supervise.Child("API", [sys.executable, "-m", "server.cli", "serve"], env),
            supervise.Child("worker", [sys.executable, "-m", "server.cli", "worker"], env),
        ]
        stopping = threading.Event()

        def stop(*_: object) -> None:
            stopping.set()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            for child in children:
                child.start()
            print(f"lxt is up: {resolved.base_url} (Ctrl-C stops it)", file=sys.stderr)
            supervise.supervise([*servers, *children], stopping)
        finally:
            for child in children:
                child.interrupt()
            deadline = time.monotonic() + 15
            for child in children:
                child.wait(deadline)
        return 0


def cmd_serve(settings: Settings, _: argparse.Namespace) -> int:
    """The HTTP API (granian), on LXT_HOST:LXT_PORT with LXT_API_WORKERS processes."""
    from granian import Granian
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels

    with embedded.owned_servers(settings) as resolved:
        _migrate(resolved)
        os.environ.update(_env_with(resolved))
        Granian(
            "server.asgi:app_from_env",
            factory=True,
            address=resolved.host,
            port=resolved.port,
            interface=Interfaces.ASGI,
            workers=resolved.api_workers,
            loop=Loops.uvloop,
            log_level=LogLevels(resolved.log_level.lower()),
            log_dictconfig=logs.dict_config(resolved),
            # One line per request at INFO and DEBUG, redacted like every other line (LXT_LOG_LEVEL=WARNING: none).
            log_access=resolved.log_level in ("DEBUG", "INFO"),
            log_access_format=ACCESS_LOG_FORMAT,
            respawn_failed_workers=True,
        ).serve()
    return 0


def cmd_worker(settings: Settings, _: argparse.Namespace) -> int:
    """The arq worker: sends invitations, sweeps the schedule, records heartbeats."""
    from server import worker_process

    with embedded.owned_servers(settings) as resolved:
        _migrate(resolved)
        asyncio.run(worker_process.run(resolved))
    return 0


def cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    """Apply pending migrations and exit."""
    with embedded.servers(settings, queue=False) as resolved:
        _migrate(resolved)
    print("schema is current")
    return 0


def cmd_settings(_settings: Settings, _: argparse.Namespace) -> int:
    """Print the table of LXT_* environment variables."""
    print(settings_table(), end="")
    return 0


# -- brands and keys ---------------------------------------------------------------------------------------


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63]
    return slug if len(slug) >= 2 else f"brand-{slug}".strip("-")


def cmd_brand_create(settings: Settings, args: argparse.Namespace) -> int:
    slug = args.slug or slugify(args.name)

    async def work(conn: asyncpg.Connection) -> tenants.Brand:
        try:
            return await tenants.create_brand(conn, slug, args.name)
        except tenants.SlugTaken as exc:
            raise CliError(str(exc)) from None
        except asyncpg.CheckViolationError:
            raise CliError(f"invalid slug {slug!r}: use 2-63 lowercase letters, digits and '-'") from None

    brand = _with_conn(settings, work)
    print(f"created brand {brand.slug} ({brand.name}) id {brand.brand_id}")
    print(f"next: lxt key create --brand {brand.slug} --scope ingest --scope manage --scope export")
    return 0


def cmd_brand_list(settings: Settings, _: argparse.Namespace) -> int:
    for brand in _with_conn(settings, tenants.list_brands):
        print(f"{brand.slug}\t{brand.name}\t{brand.created_at:%Y-%m-%d}")
    return 0


async def _brand(conn: asyncpg.Connection, slug: str) -> tenants.Brand:
    brand = await tenants.brand_by_slug(conn, slug)
    if brand is None:
        raise CliError(f"no brand {slug!r} (see `lxt brand list`)")
    return brand


def cmd_key_create(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: asyncpg.Connection) -> tuple[str, tenants.ApiKey]:
        brand = await _brand(conn, args.brand)
        return await tenants.create_key(conn, brand.brand_id, args.scope, args.name)

    key, created = _with_conn(settings, work)
    print(key)
    print(
        f"key {created.prefix} for {args.brand}, scopes {','.join(created.scopes)}: "
        "store it now, it is not shown again",
        file=sys.stderr,
    )
    return 0


def cmd_key_list(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: asyncpg.Connection) -> list[tenants.ApiKey]:
        brand = await _brand(conn, args.brand)
        return await tenants.list_keys(conn, brand.brand_id)

    for key in _with_conn(settings, work):
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        print(f"{key.prefix}\t{','.join(key.scopes)}\t{state}\tlast used {used}\t{key.name}")
    return 0


def cmd_key_revoke(settings: Settings, args: argparse.Namespace) -> int:
    async def work(conn: asyncpg.Connection) -> tenants.ApiKey | None:
        return await tenants.revoke_key(conn, args.prefix)

    revoked = _with_conn(settings, work)
    if revoked is None:
        raise CliError(f"no API key with prefix {args.prefix!r}")
    print(f"revoked key {revoked.prefix}")
    return 0


def cmd_questionnaire_push(settings: Settings, args: argparse.Namespace) -> int:
    from questionnaires.errors import QuestionnaireInvalid
    from questionnaires.load import load_definition
    from server import questionnaire_versions

    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    fmt: Literal["json", "yaml"] = "json" if path.suffix.lower() == ".json" else "yaml"
    try:
        definition = load_definition(data, fmt)
    except QuestionnaireInvalid as exc:
        raise CliError(
            f"{path} is not a valid questionnaire:\n"
            + "\n".join(f"  {e.pointer or '/'}: {e.message}" for e in exc.errors)
        ) from None

    async def work(conn: asyncpg.Connection) -> tuple[questionnaire_versions.Version, bool]:
        brand = await _brand(conn, args.brand)
        return await questionnaire_versions.publish(conn, brand.brand_id, definition)

    version, created = _with_conn(settings, work)
    state = "published" if created else "unchanged, still"
    print(f"{version.key} {state} version {version.version}")
    for warning in version.warnings:
        print(f"warning: {warning.pointer}: {warning.message}", file=sys.stderr)
    return 0


# -- the sandbox -------------------------------------------------------------------------------------------


def _phone(raw: str) -> str:
    from customers.contact import normalize_phone

    phone = normalize_phone(raw)
    if phone is None:
        raise CliError(f"{raw!r} is not an international phone number (E.164, e.g. +4915112345678)")
    return phone


def _count(text: str) -> int:
    number = int(text)
    if not 1 <= number <= 1000:
        raise argparse.ArgumentTypeError("must be from 1 to 1000")
    return number


def cmd_sandbox_outbox(settings: Settings, args: argparse.Namespace) -> int:
    """Print the newest messages the sandbox recorded instead of sending them (of every brand, or one)."""
    from notifications import sandbox

    phone = _phone(args.phone) if args.phone else None

    async def work(conn: asyncpg.Connection) -> list[sandbox.OutboxEntry]:
        brand = await _brand(conn, args.brand) if args.brand else None
        return await sandbox.outbox(
            conn, brand_id=brand.brand_id if brand else None, phone=phone, limit=args.limit
        )

    entries = _with_conn(settings, work)
    if not entries:
        print("the sandbox outbox is empty" + (" for that phone" if phone else ""), file=sys.stderr)
    for entry in reversed(entries):  # oldest first: the newest ends up next to the prompt
        print(
            f"{entry.created_at:%Y-%m-%d %H:%M:%S} UTC  {entry.brand}  to {entry.recipient or '?'} ({entry.channel})"
        )
        print(textwrap.indent(entry.body, "    "))
    return 0


def cmd_sandbox_reply(settings: Settings, args: argparse.Namespace) -> int:
    """Answer the newest sandbox message to PHONE as its customer would by SMS, and print lxt's reply."""
    from responses import replies

    phone = _phone(args.phone)

    async def work(conn: asyncpg.Connection) -> replies.SandboxReply:
        brand = await _brand(conn, args.brand) if args.brand else None
        replied = await replies.sandbox_reply(
            conn,
            phone,
            args.text,
            brand_id=brand.brand_id if brand else None,
            now=datetime.now(UTC),
            base_url=settings.base_url,
        )
        if replied is None:
            by = f" by {args.brand}" if args.brand else ""
            raise CliError(
                f"no sandbox message was sent to {phone}{by}: nothing to reply to (see `lxt sandbox outbox`)"
            )
        return replied

    # Send jobs the reply caused are committed as scheduled invitations: the worker's sweeper queues them.
    replied = _with_conn(settings, work)
    reply = replied.answered.reply
    print(
        f"reply from {phone} to {replied.to.brand} stored (inbound message {replied.answered.message.inbound_id}): "
        f"{reply.outcome}"
    )
    print(textwrap.indent(reply.text, "    ") if reply.text else "    (no answer)")
    return 0


def cmd_customer_erase(settings: Settings, args: argparse.Namespace) -> int:
    """Erase a customer's personal data, as DELETE /v1/customers/{external_id} does, audited as done by `cli`."""
    from research import erasure

    async def work(conn: asyncpg.Connection) -> erasure.Erasure:
        brand = await _brand(conn, args.brand)

        async def erase(conn: asyncpg.Connection, _: int) -> erasure.Erasure | None:
            return await erasure.erase_customer(
                conn, brand.brand_id, args.external_id, actor="cli", now=datetime.now(UTC)
            )

        try:
            erased = await db.with_retries(conn, erase)
        except erasure.CustomerBeingContacted:
            raise CliError(
                "a message to this customer is being sent right now; erase again in a few seconds"
            ) from None
        if erased is None:
            raise CliError(f"no customer {args.external_id!r} at {args.brand}")
        return erased

    erased = _with_conn(settings, work)
    print(f"erased customer {erased.subject} ({erased.policy}), audit entry {erased.audit_id}")
    print(f"    {erased.cancelled} invitations not sent yet cancelled")
    for table, count in erased.rows.items():
        if count:
            print(f"    {table}: {count}")
    return 0


# -- exports -----------------------------------------------------------------------------------------------


def _aware_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time, e.g. 2026-11-01T00:00:00Z") from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. 2026-11-01T00:00:00Z")
    return parsed


def _version(text: str) -> int:
    number = int(text)
    if not 1 <= number < 2**31:
        raise argparse.ArgumentTypeError("must be a version number, from 1")
    return number


def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    """Export a dataset to a file, with its codebook next to it, showing rows written and rows per second."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from research.exports import datasets, files
    from research.exports.dataset import ExportFilter, ExportRequest
    from research.exports.writers import FormatUnavailable, TooManyRows

    out = Path(args.out)
    if not out.parent.is_dir():
        raise CliError(f"cannot write {out}: no directory {out.parent}")
    where = ExportFilter(
        start=args.start,
        end=args.end,
        touchpoint=args.touchpoint,
        trigger=args.trigger,
        questionnaire=args.questionnaire,
        version=args.version,
    )
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed:,} rows"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    task = bar.add_task(f"{args.dataset} → {out.name}", total=None, rate="")

    def started(total: int | None) -> None:
        bar.update(task, total=total)

    def progress(rows: int) -> None:
        bar.advance(task, rows)
        elapsed = bar.tasks[task].elapsed or 0
        if elapsed > 0:
            bar.update(task, rate=f"{bar.tasks[task].completed / elapsed:,.0f} rows/s")

    async def work(conn: asyncpg.Connection) -> files.Written:
        brand = await _brand(conn, args.brand)
        request = ExportRequest(brand_id=brand.brand_id, where=where, pii=args.pii)
        try:
            with bar:
                return await files.write(
                    conn,
                    args.dataset,
                    request,
                    args.format,
                    out,
                    brand=brand.slug,
                    actor="cli",
                    progress=progress,
                    started=started,
                    work_mem_mb=settings.export_work_mem_mb,
                )
        except datasets.ExportFilterInvalid as exc:
            raise CliError(
                "; ".join(f"--{e.pointer.removeprefix('query:')}: {e.message}" for e in exc.errors)
            ) from None
        except (FormatUnavailable, TooManyRows) as exc:
            raise CliError(f"--format {args.format}: {exc}") from None

    written = _with_conn(settings, work)
    print(
        f"wrote {written.rows:,} rows ({written.bytes:,} bytes) to {written.path}; codebook "
        f"{written.codebooks[0].name}, {written.codebooks[1].name}",
        file=sys.stderr,
    )
    return 0


# -- parser ------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lxt",
        description="lxt, live experience tracking. Settings come from LXT_* variables (`lxt settings`); "
        "without LXT_DATABASE_URL/LXT_REDIS_URL an embedded PostgreSQL/Valkey runs under LXT_DATA_DIR.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[Settings, argparse.Namespace], int], *, parent: Any = sub) -> Any:
        doc = (func.__doc__ or "").strip()
        p = parent.add_parser(name, help=doc.splitlines()[0] if doc else None, description=doc or None)
        p.set_defaults(func=func)
        return p

    add("up", cmd_up)
    add("serve", cmd_serve)
    add("worker", cmd_worker)
    add("migrate", cmd_migrate)
    add("settings", cmd_settings)

    brand = sub.add_parser("brand", help="Create and list brands (tenants)", description="Create and list brands.")
    brand_sub = brand.add_subparsers(dest="brand_command", required=True, metavar="ACTION")
    create = brand_sub.add_parser("create", help="Create a brand", description="Create a brand (a tenant).")
    create.add_argument("name", help="display name, e.g. 'Acme Coffee'")
    create.add_argument("--slug", help="URL-safe id (default: derived from the name)")
    create.set_defaults(func=cmd_brand_create)
    add("list", cmd_brand_list, parent=brand_sub).description = "List all brands."

    key = sub.add_parser("key", help="Create, list and revoke API keys", description="Manage API keys.")
    key_sub = key.add_subparsers(dest="key_command", required=True, metavar="ACTION")
    kc = key_sub.add_parser(
        "create",
        help="Create an API key (printed once)",
        description="Create an API key for a brand. The key is printed once; only its hash is stored. Scopes: "
        "ingest (report events), manage (touchpoints, triggers, questionnaires, keys), export (read-only data).",
    )
    kc.add_argument("--brand", required=True, help="brand slug")
    kc.add_argument("--scope", required=True, action="append", choices=tenants.SCOPES, help="repeat for several")
    kc.add_argument("--name", default="", help="a note, e.g. 'POS integration'")
    kc.set_defaults(func=cmd_key_create)
    kl = key_sub.add_parser("list", help="List a brand's keys", description="List a brand's keys (prefixes only).")
    kl.add_argument("--brand", required=True, help="brand slug")
    kl.set_defaults(func=cmd_key_list)
    kr = key_sub.add_parser(
        "revoke", help="Revoke a key by prefix", description="Revoke a key; running servers drop it at once."
    )
    kr.add_argument("prefix", help="the key's prefix as shown by `lxt key list`")
    kr.set_defaults(func=cmd_key_revoke)
    questionnaire = sub.add_parser(
        "questionnaire", help="Publish questionnaires", description="Publish questionnaire definitions."
    )
    q_sub = questionnaire.add_subparsers(dest="questionnaire_command", required=True, metavar="ACTION")
    qp = q_sub.add_parser(
        "push",
        help="Publish a questionnaire file (YAML or JSON) as a new version",
        description="Validate a questionnaire definition (YAML, or JSON for .json files) and publish it as the "
        "brand's next immutable version; an unchanged definition keeps its current version.",
    )
    qp.add_argument("file", help="e.g. questionnaires/examples/store_visit_nps.yaml")
    qp.add_argument("--brand", required=True, help="brand slug")
    qp.set_defaults(func=cmd_questionnaire_push)

    customer = sub.add_parser("customer", help="Erase customers", description="A brand's customers.")
    c_sub = customer.add_subparsers(dest="customer_command", required=True, metavar="ACTION")
    ce = add("erase", cmd_customer_erase, parent=c_sub)
    ce.description = (
        "Erase a customer's personal data in every table; what remains is kept unlinked from them or deleted, as "
        "the brand's `erasure` setting says. Prints the customer's pseudonym and the rows per table."
    )
    ce.add_argument("external_id", help="the brand's own id of the customer")
    ce.add_argument("--brand", required=True, help="brand slug")

    sandbox = sub.add_parser(
        "sandbox",
        help="Read and answer what the sandbox sent",
        description="Until a provider is configured, messages go to the sandbox: read them, and answer them as "
        "the customer would.",
    )
    s_sub = sandbox.add_subparsers(dest="sandbox_command", required=True, metavar="ACTION")
    so = add("outbox", cmd_sandbox_outbox, parent=s_sub)
    so.add_argument("--brand", help="brand slug (default: every brand)")
    so.add_argument("--phone", help="only messages to this phone")
    so.add_argument("--limit", type=_count, default=20, help="how many of the newest (default 20, at most 1000)")
    sr = add("reply", cmd_sandbox_reply, parent=s_sub)
    sr.description = (
        "Answer the newest sandbox message to PHONE as its customer would by SMS: the reply takes the path of a "
        "real inbound message and is stored for the brand that sent it (or --brand's newest message to PHONE)."
    )
    sr.add_argument("phone", help="the customer's phone, e.g. +4915112345678")
    sr.add_argument("text", help="the reply, e.g. 9")
    sr.add_argument("--brand", help="brand slug (default: the brand that last messaged PHONE)")
    _add_export(add)
    return parser


def _add_export(add: Callable[..., Any]) -> None:
    from research.exports.datasets import DATASETS
    from research.exports.formats import FORMATS

    ex = add("export", cmd_export)
    ex.description = (
        "Export a dataset of a brand to FILE in a format, and its codebook to FILE.codebook.json and "
        "FILE.codebook.csv, from one snapshot of the database. Customers are named by pseudonym unless --pii. "
        "The export is recorded in the brand's audit log (actor 'cli')."
    )
    ex.add_argument("dataset", choices=list(DATASETS), help="what to export")
    ex.add_argument("--brand", required=True, help="brand slug")
    ex.add_argument("--format", required=True, choices=FORMATS, help="the file's format")
    ex.add_argument("--out", required=True, metavar="FILE", help="where to write it")
    ex.add_argument("--from", dest="start", type=_aware_time, help="from this time (inclusive), ISO 8601")
    ex.add_argument("--to", dest="end", type=_aware_time, help="until this time (exclusive), ISO 8601")
    ex.add_argument("--touchpoint", help="only this touchpoint (key)")
    ex.add_argument("--trigger", help="only this trigger (key)")
    ex.add_argument("--questionnaire", help="only this questionnaire (key)")
    ex.add_argument("--version", type=_version, help="only this version of --questionnaire")
    ex.add_argument("--pii", action="store_true", help="include contact data: phone, push tokens, attributes")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        logs.configure(settings)
        return int(args.func(settings, args))
    except (SettingsError, CliError, embedded.DataDirBusy) as exc:
        print(f"lxt: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception:
        # Through logging, not Python's default traceback printer: the traceback is redacted like every log line.
        log.exception("lxt %s failed", args.command)
        return 1


if __name__ == "__main__":
    sys.exit(main())
