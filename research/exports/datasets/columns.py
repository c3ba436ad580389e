"""Columns several datasets share: who (the customer's pseudonym, and contact data for `export_pii` keys), what
for (invitation, event, touchpoint, trigger, questionnaire) and lxt's own closed sets of codes with their labels.

lxt's own codes are labelled in English only; a questionnaire's options carry the brand's labels in every locale.
"""

from __future__ import annotations

from research.exports.dataset import Column, Option
from research.exports.datasets.query import Select
from research.pseudonyms import PseudonymKey
from research.pseudonyms import sql as pseudonym_sql
from triggers.decide import REASONS


def codes(labels: dict[str, str]) -> list[Option]:
    """Options of one of lxt's own code sets, labelled in English."""
    return [Option(code=code, labels={"en": label}) for code, label in labels.items()]


ANSWER_CHANNELS = codes(
    {
        "web": "The survey page",
        "app": "The brand's app",
        "sms": "SMS reply",
        "whatsapp": "WhatsApp reply",
        "sandbox": "Sandbox reply (testing)",
    }
)
QUESTION_TYPES = codes(
    {
        "nps": "Net Promoter Score, 0-10",
        "rating": "Rating on the question's scale",
        "ces": "Customer Effort Score, 1-7",
        "csat": "Customer satisfaction, 1-5",
        "single_choice": "One option",
        "multi_choice": "Several options",
        "yes_no": "Yes or no",
        "text": "Free text",
        "number": "A number",
    }
)
DECISION_REASONS = codes(dict(REASONS))
RESPONSE_STATES = codes(
    {
        "opened": "Opened (page viewed, app fetched or replied), nothing answered",
        "partial": "Some questions answered",
        "completed": "The survey is over",
        "expired": "Its time ran out before it was completed",
    }
)
END_REASONS = codes({"completed": "Every question asked was answered", "ended_early": "Ended early by branching"})

CUSTOMER = Column(
    name="customer",
    type="text",
    formula_safe=True,
    meaning=(
        "The customer's pseudonym: HMAC-SHA256 of the customer's id keyed with the brand's secret, 24 hex digits. "
        "The same customer has the same pseudonym in every export of the brand, and an unrelated one at any other."
    ),
)
PII = [
    (
        Column(name="external_id", type="text", pii=True, meaning="The customer's id in the brand's systems."),
        "c.external_id",
    ),
    (Column(name="phone", type="text", pii=True, meaning="The customer's phone number (E.164)."), "c.phone"),
    (
        Column(
            name="push_tokens", type="json", pii=True, meaning="The customer's app push tokens (a JSON array)."
        ),
        "to_json(c.push_tokens)",
    ),
    (
        Column(
            name="customer_attributes",
            type="json",
            pii=True,
            meaning="The customer's attributes as the brand last reported them (a JSON object).",
        ),
        "c.attributes",
    ),
]
"""Contact data, each with its expression on the customer (``c``, `add_customer`)."""


def add_customer(select: Select, key: PseudonymKey, customer_id: str, *, pii: bool, among: str = "") -> str:
    """The customer's pseudonym, then their contact data when `pii`. Returns the join to add to the dataset's FROM
    clause: the customer of the row's customer id expression `customer_id`, as ``c`` (NULL for a customer erased
    since). `among`, a condition on a customer id (``BETWEEN first AND last``), narrows the customers it reads to
    those the rows can name.

    The pseudonym's two SHA-256 passes run once per customer, not once per row (about 1.7 µs a row otherwise):
    the joined subquery computes it, and the `coalesce` around it (not strict) makes it a placeholder of the outer
    join's nullable side, which PostgreSQL evaluates where it reads the customers, in the parallel workers of a
    large export too. A row whose customer is gone gets its pseudonym from the row's own customer id."""
    inner, outer = select.param(key.inner), select.param(key.outer)
    select.add(CUSTOMER, f"coalesce(c.pseudonym, {pseudonym_sql(customer_id, inner, outer)})")
    if pii:
        for column, expression in PII:
            select.add(column, expression)
    per_customer = pseudonym_sql("cu.customer_id", inner, outer)
    return (
        f"LEFT JOIN (SELECT cu.*, coalesce({per_customer}, NULL) AS pseudonym FROM customers cu) c "
        f"ON c.brand_id = $1 AND c.customer_id = {customer_id}" + (f" AND c.customer_id {among}" if among else "")
    )


INVITATION_ID = Column(
    name="invitation_id",
    type="text",
    formula_safe=True,
    meaning="The invitation (one survey sent for one contact).",
)
EVENT_ID = Column(
    name="event_id",
    type="text",
    formula_safe=True,
    meaning="The event: the contact the brand (or a participant) reported.",
)
TOUCHPOINT = Column(
    name="touchpoint", type="text", formula_safe=True, meaning="The touchpoint's key: where the contact happened."
)
TRIGGER = Column(
    name="trigger", type="text", formula_safe=True, meaning="The key of the trigger that decided on the event."
)
QUESTIONNAIRE = Column(name="questionnaire", type="text", formula_safe=True, meaning="The questionnaire's key.")
QUESTIONNAIRE_VERSION = Column(
    name="questionnaire_version",
    type="integer",
    meaning="The questionnaire's version the invitation was sent with.",
)
OCCURRED_AT = Column(name="occurred_at", type="timestamp", meaning="When the contact happened (the event's time).")

RESPONSE_STATE = Column(
    name="response_state", type="code", meaning="How far the customer got.", options=RESPONSE_STATES
)
END_REASON = Column(name="end_reason", type="code", meaning="How a completed survey ended.", options=END_REASONS)

OF_INVITATION = [
    (EVENT_ID, "i.event_id::text"),
    (TOUCHPOINT, "e.touchpoint_key"),
    (TRIGGER, "t.key"),
    (QUESTIONNAIRE, "i.questionnaire_key"),
    (QUESTIONNAIRE_VERSION, "i.questionnaire_version"),
]
"""What an invitation ``i`` was for, read through `INVITATION_JOINS`."""

INVITATION_JOINS = """LEFT JOIN events e ON e.brand_id = i.brand_id AND e.event_id = i.event_id
LEFT JOIN triggers t ON t.brand_id = i.brand_id AND t.trigger_id = i.trigger_id"""
"""The event (``e``) and trigger (``t``) of the invitation ``i``."""
