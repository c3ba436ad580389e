"""Which sender a send uses: the brand's own, else the global default; and the derived webhook secrets."""

from __future__ import annotations

import hashlib
import hmac
import math
import uuid

import pytest

from notifications.ratelimit import RateDefaults
from notifications.senders import (
    PushSender,
    SenderDefaults,
    SenderInvalid,
    SmsSender,
    WebhookSender,
    WhatsAppSender,
    check_sender,
    effective_sender,
    webhook_secret,
)
from server.settings import Settings

MG = "MG" + "0123456789abcdef" * 2
DEFAULTS = SenderDefaults(sms="+14155550100", whatsapp="+14155550111", push="acme-app", rates=RateDefaults())


def test_the_brands_sender_wins_over_the_default() -> None:
    own = effective_sender("sms", SmsSender(from_="12345"), DEFAULTS)
    assert (own.address, own.rate_per_second, own.source) == ("12345", 100.0, "brand")
    default = effective_sender("sms", None, DEFAULTS)
    assert (default.address, default.rate_per_second, default.source) == ("+14155550100", 1.0, "default")
    service = effective_sender("sms", SmsSender(messaging_service_sid=MG, rate_per_second=30), DEFAULTS)
    assert (service.address, service.rate_per_second, service.messaging_service) == (MG, 30.0, True)


def test_a_brand_may_set_only_a_rate_where_the_sender_is_the_servers() -> None:
    push = effective_sender("push", PushSender(rate_per_second=40), DEFAULTS)
    assert (push.address, push.rate_per_second, push.source) == ("acme-app", 40.0, "brand")
    assert effective_sender("push", None, DEFAULTS).rate_per_second == 500.0


def test_without_any_sender_the_channel_is_the_unlimited_sandbox() -> None:
    sandbox = effective_sender("whatsapp", None, SenderDefaults())
    assert (sandbox.address, sandbox.source) == ("", "none")
    assert math.isinf(sandbox.rate_per_second)
    assert effective_sender("webhook", None, DEFAULTS).source == "none"  # webhooks have no global default
    hook = effective_sender("webhook", WebhookSender(url="https://acme.example/lxt"), DEFAULTS)
    assert (hook.address, hook.rate_per_second) == ("https://acme.example/lxt", 50.0)


def test_a_sender_of_another_channel_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="not one for whatsapp"):
        effective_sender("whatsapp", SmsSender(from_="12345"), DEFAULTS)


def test_defaults_come_from_the_settings() -> None:
    settings = Settings(
        twilio_from_number="+14155550100",
        twilio_whatsapp_from="whatsapp:+14155550111",
        fcm_project_id="acme-app",
        rate_messaging_service=25,
    )
    defaults = SenderDefaults.from_settings(settings)
    assert (defaults.sms, defaults.whatsapp, defaults.push) == ("+14155550100", "+14155550111", "acme-app")
    assert SenderDefaults.from_settings(settings.replace(twilio_messaging_service_sid=MG)).sms == MG
    assert effective_sender("sms", SmsSender(messaging_service_sid=MG), defaults).rate_per_second == 25.0


def test_senders_are_normalised() -> None:
    assert check_sender(SmsSender(from_="+1 (415) 555-0100")) == SmsSender(from_="+14155550100")
    assert check_sender(WhatsAppSender(from_="whatsapp:+14155550100")) == WhatsAppSender(from_="+14155550100")
    assert check_sender(SmsSender(from_="123456")) == SmsSender(from_="123456")


@pytest.mark.parametrize(
    ("config", "pointer"),
    [
        (SmsSender(), ""),
        (SmsSender(from_="+14155550100", messaging_service_sid=MG), "/messaging_service_sid"),
        (SmsSender(from_="1234"), "/from"),
        (SmsSender(from_="+1415"), "/from"),
        (WhatsAppSender(from_="12345"), "/from"),  # no short codes on WhatsApp
        (WebhookSender(url="http://acme.example/lxt"), "/url"),
        (WebhookSender(url="ftp://acme.example/lxt"), "/url"),
        (WebhookSender(url="https://user:pw@acme.example/lxt"), "/url"),
        (WebhookSender(url="https:///lxt"), "/url"),
        (WebhookSender(url="https://acme.example:99999/"), "/url"),
    ],
)
def test_invalid_senders_name_the_field(config: SmsSender | WhatsAppSender | WebhookSender, pointer: str) -> None:
    with pytest.raises(SenderInvalid) as raised:
        check_sender(config)
    assert [error.pointer for error in raised.value.errors] == [pointer]


@pytest.mark.parametrize("url", ["https://acme.example/lxt", "http://localhost:8080/hook", "http://127.0.0.1/h"])
def test_webhook_urls_are_https_or_local(url: str) -> None:
    assert check_sender(WebhookSender(url=url), allow_private=True).url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:8080/hook",
        "http://127.0.0.1/h",
        "https://10.0.0.5/h",
        "https://169.254.169.254/latest/meta-data",  # cloud metadata
        "https://[::1]/h",
        "https://api.localhost/h",
    ],
)
def test_webhook_urls_must_be_public_unless_allowed(url: str) -> None:
    with pytest.raises(SenderInvalid) as raised:
        check_sender(WebhookSender(url=url))
    assert [(e.pointer, "public addresses" in e.message) for e in raised.value.errors] == [("/url", True)]


def test_webhook_secrets_derive_from_the_signing_key_brand_and_version() -> None:
    brand = uuid.uuid4()
    expected = hmac.new(b"server-key", f"webhook:{brand}:1".encode(), hashlib.sha256).digest()
    assert webhook_secret("server-key", brand, 1) == expected
    assert webhook_secret("server-key", brand, 2) != expected
    assert webhook_secret("server-key", uuid.uuid4(), 1) != expected
    assert webhook_secret("other-key", brand, 1) != expected
    with pytest.raises(ValueError, match="LXT_SIGNING_KEY"):
        webhook_secret("", brand, 1)
