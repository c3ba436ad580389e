"""pytest fixtures: each fake provider started for one test and stopped after it.

Import them into a conftest (``from tests.fakes.fixtures import fake_fcm, fake_twilio, fake_webhook``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.fcm import FakeFcm
from tests.fakes.twilio import FakeTwilio
from tests.fakes.webhook import FakeWebhook


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def fake_fcm() -> Iterator[FakeFcm]:
    with FakeFcm() as fake:
        yield fake


@pytest.fixture
def fake_webhook() -> Iterator[FakeWebhook]:
    with FakeWebhook() as fake:
        yield fake
