"""Rows of the customer tables, as `plumbing.rows` writes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, ClassVar
from uuid import UUID

import msgspec

from customers.model import ConsentChange, Customer
from plumbing.rows import BOOLEAN, BrandId, Id, Json, OptionalText, OptionalTime, Part, Row, Text, TextArray


class CustomerRow(Row, frozen=True, kw_only=True):
    table = "customers"
    key = ("brand_id", "customer_id")
    constants: ClassVar[dict[str, str]] = {"created_at": "$1", "updated_at": "$1"}
    update_constants: ClassVar[dict[str, str]] = {"updated_at": "$1"}

    brand_id: BrandId
    customer_id: Id
    external_id: Text
    phone: OptionalText
    locale: OptionalText
    time_zone: OptionalText
    push_tokens: TextArray
    consents: Json
    opted_out_at: OptionalTime
    attributes: Json
    phone_unreachable: OptionalText
    unsubscribed: TextArray


class ConsentChangeRow(Row, frozen=True, kw_only=True):
    table = "consent_changes"
    constants: ClassVar[dict[str, str]] = {"source": "$2", "changed_at": "$1"}

    brand_id: BrandId
    customer_id: Id
    channel: Text
    granted: Annotated[bool, BOOLEAN]


def customer_row(brand_id: UUID, customer: Customer) -> CustomerRow:
    return CustomerRow(
        brand_id=brand_id,
        customer_id=customer.customer_id,
        external_id=customer.external_id,
        phone=customer.phone,
        locale=customer.locale,
        time_zone=customer.time_zone,
        push_tokens=customer.push_tokens,
        consents=customer.consents,
        opted_out_at=customer.opted_out_at,
        attributes=customer.attributes,
        phone_unreachable=customer.phone_unreachable,
        unsubscribed=customer.unsubscribed,
    )


class CustomerWrites(msgspec.Struct, kw_only=True):
    """The customer rows of a write (see `plumbing.rows`); ingestion adds its own parts after these."""

    new_customers: list[CustomerRow] = msgspec.field(default_factory=list)
    changed_customers: list[CustomerRow] = msgspec.field(default_factory=list)
    consent_changes: list[ConsentChangeRow] = msgspec.field(default_factory=list)

    def add_consent_changes(self, brand_id: UUID, customer_id: str, changes: Sequence[ConsentChange]) -> None:
        self.consent_changes += [
            ConsentChangeRow(brand_id=brand_id, customer_id=customer_id, channel=c.channel, granted=c.granted)
            for c in changes
        ]

    def add_customer(self, brand_id: UUID, stored: Customer | None, final: Customer) -> None:
        """Insert `final` if nothing was stored, update it if it changed."""
        if stored is None:
            self.new_customers.append(customer_row(brand_id, final))
        elif final != stored:
            self.changed_customers.append(customer_row(brand_id, final))


CUSTOMER_PARTS = (
    Part("new_customers", CustomerRow),
    Part("changed_customers", CustomerRow, update=True),
    Part("consent_changes", ConsentChangeRow),
)
"""The parts of a write statement for `CustomerWrites`; ``$1`` is the time, ``$2`` the consent source."""
