import logging
import sys

import pytest

from server.logs import RedactingFormatter, redact


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("sending to +49 151 1234 5678 now", "1234 5678"),
        ("sending to +4915112345678", "4915112345678"),
        ("key lxt_0a1b2c3d4e_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_ab used", "AbCdEfGhIjKl"),
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("POST /callback?token=s3cr3t&x=1", "s3cr3t"),
    ],
)
def test_phone_numbers_and_secrets_never_reach_the_log(line: str, secret: str) -> None:
    assert secret not in redact(line)


def test_the_formatter_redacts_messages_and_tracebacks() -> None:
    try:
        raise ValueError("DETAIL:  Key (phone)=(+4915112345678) already exists.")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "lxt", logging.ERROR, __file__, 1, "customer %s opted out", ("+4915112345679",), exc_info
    )
    text = RedactingFormatter("%(message)s").format(record)
    assert text.startswith("customer +*** opted out")
    assert "Traceback" in text
    assert "4915112345678" not in text
    assert "4915112345679" not in text
