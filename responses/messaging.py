"""A brand's messaging settings: its answer to HELP, its auto-reply to messages outside any conversation, and its
own keywords (`responses.keywords`). ``GET``/``PUT /v1/messaging``; stored in ``brand_messaging``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final
from uuid import UUID

import asyncpg
import msgspec
from msgspec import Meta

from plumbing.errors import DefinitionInvalid, FieldError, pointer
from questionnaires.gsm import measure, to_gsm
from questionnaires.model import Locale
from responses.keywords import KINDS, Keywords, check_keywords

MAX_REPLY_CHARS: Final = 480
MAX_SEGMENTS: Final = 4
"""SMS segments a reply text may take as sent: 480 characters of GSM-7, fewer of anything else (UCS-2)."""

ReplyText = Annotated[str, Meta(min_length=1, max_length=MAX_REPLY_CHARS)]
LocalizedReply = (
    ReplyText
    | Annotated[
        dict[Locale, ReplyText],
        Meta(
            min_length=1,
            max_length=50,
            description="Translations: locale → text, e.g. {'en': 'Hi', 'de': 'Hallo'}.",
        ),
    ]
)


class MessagingInvalid(DefinitionInvalid):
    title = "Invalid messaging settings"


class MessagingIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """How lxt answers the brand's customers outside a survey's questions. Every field replaces the stored one."""

    help_text: (
        Annotated[
            LocalizedReply,
            Meta(
                description="The answer to HELP (or INFO, or the brand's help keywords), in the customer's "
                "locale. Null: lxt's default, naming the brand and how to stop.",
                examples=["Acme Coffee surveys. Questions? acme.example/help. Reply STOP to unsubscribe."],
            ),
        ]
        | None
    ) = None
    auto_reply: (
        Annotated[
            LocalizedReply,
            Meta(
                description="The answer to a customer's message outside any open conversation, in their locale. "
                "Null: no answer.",
                examples=[
                    {"en": "This number does not take replies.", "de": "Diese Nummer nimmt keine Antworten."}
                ],
            ),
        ]
        | None
    ) = None
    keywords: Keywords = msgspec.field(default_factory=Keywords)


class Messaging(MessagingIn, kw_only=True, frozen=True):
    """The brand's messaging settings as stored."""

    updated_at: datetime | None = None
    """Null while the brand has set nothing (these are the defaults)."""


def check_messaging(settings: MessagingIn) -> MessagingIn:
    """`settings` with its keywords normalized, or `MessagingInvalid` naming every field at fault."""
    errors = check_keywords(settings.keywords)
    for name in ("help_text", "auto_reply"):
        text = getattr(settings, name)
        for at, value in (
            [(pointer(name), text)]
            if isinstance(text, str)
            else [(pointer(name, k), v) for k, v in (text or {}).items()]
        ):
            if measure(to_gsm(value)).segments > MAX_SEGMENTS:
                errors.append(FieldError(at, f"takes more than {MAX_SEGMENTS} SMS segments; shorten it"))
    if errors:
        raise MessagingInvalid(errors)
    return msgspec.structs.replace(settings, keywords=settings.keywords.normalized())


_SELECT = "SELECT help_text, auto_reply, keywords, updated_at FROM brand_messaging WHERE brand_id = $1"
_PUT = """
INSERT INTO brand_messaging (brand_id, help_text, auto_reply, keywords, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $5)
ON CONFLICT (brand_id) DO UPDATE
SET help_text = excluded.help_text, auto_reply = excluded.auto_reply, keywords = excluded.keywords,
    updated_at = excluded.updated_at
RETURNING help_text, auto_reply, keywords, updated_at
"""


def from_row(row: asyncpg.Record | None) -> Messaging:
    """The settings of a ``brand_messaging`` row (help_text, auto_reply, keywords, updated_at); the defaults for
    none."""
    if row is None:
        return Messaging()
    return Messaging(
        help_text=row["help_text"],
        auto_reply=row["auto_reply"],
        keywords=msgspec.convert(row["keywords"], Keywords),
        updated_at=row["updated_at"],
    )


async def get_messaging(conn: asyncpg.Connection, brand_id: UUID) -> Messaging:
    return from_row(await conn.fetchrow(_SELECT, brand_id))


async def put_messaging(
    conn: asyncpg.Connection, brand_id: UUID, settings: MessagingIn, now: datetime
) -> Messaging:
    """Store checked settings (`check_messaging`), replacing the brand's."""
    keywords = {kind: getattr(settings.keywords, kind) for kind in KINDS}
    return from_row(await conn.fetchrow(_PUT, brand_id, settings.help_text, settings.auto_reply, keywords, now))
