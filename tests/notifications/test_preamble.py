"""An invitation's preamble (a tracking study's welcome) opens its first SMS, in either style, and counts in the
message's segments; other invitations read as before."""

from __future__ import annotations

from datetime import UTC, datetime

from customers.model import Customer
from notifications.channels import Invitation, SendRules, compose
from questionnaires.gsm import measure
from questionnaires.load import load_definition
from tests.helpers import EXAMPLES

DEFINITION = load_definition((EXAMPLES / "store_visit_nps.yaml").read_bytes(), "yaml")
CUSTOMER = Customer(customer_id="c", external_id="p-1", phone="+4915112345678", locale="en")
PREAMBLE = "Welcome to the ride diary! Text brand letter, touchpoint letter, then two ratings, e.g. BT45."


def invitation(preamble: str | None) -> Invitation:
    return Invitation(
        invitation_id="i",
        questionnaire_key=DEFINITION.key,
        questionnaire_version=1,
        expires_at=datetime(2026, 3, 2, tzinfo=UTC),
        preamble=preamble,
    )


def message(channel: str, style: str, preamble: str | None):
    return compose(
        channel,  # type: ignore[arg-type]
        rules=SendRules(style=style),  # type: ignore[arg-type]
        definition=DEFINITION,
        customer=CUSTOMER,
        invitation=invitation(preamble),
        base_url="http://lxt.test",
    )


def test_the_preamble_opens_a_conversation_and_a_link() -> None:
    for channel, style in (("sms", "conversation"), ("web_link", "link"), ("sms", "link")):
        plain = message(channel, style, None)
        opened = message(channel, style, PREAMBLE)
        assert opened.stored_body.startswith(PREAMBLE + "\n\n"), (channel, style)
        assert (
            opened.stored_body.removeprefix(PREAMBLE + "\n\n").split("/s/")[0] == plain.stored_body.split("/s/")[0]
        )
        assert opened.segments == measure(opened.text).segments >= plain.segments
        assert PREAMBLE not in plain.text
