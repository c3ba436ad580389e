import logging
import random
import secrets
import sys
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from server.logs import RedactingFormatter, configure, redact
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.server.processes import eventually, free_port, lxt, readiness


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


async def test_no_process_lxt_starts_logs_phone_numbers_keys_or_tokens(
    settings: Settings, brand: BrandFixture, tmp_path: Path
) -> None:
    """`lxt up` (API in two granian worker processes, and the worker) at DEBUG, fed requests that carry secrets in
    paths, query strings, bodies and headers, some of them failing: its whole output is searched for each."""
    admin_token = f"operator-{secrets.token_urlsafe(12)}"
    stranger_key = f"lxt_0123456789_{secrets.token_urlsafe(32)}"
    stranger_token = secrets.token_urlsafe(20)
    phones = [f"+49151{n:08d}" for n in random.sample(range(10**8), 6)]
    port = free_port()
    env = {
        "LXT_DATABASE_URL": settings.database_url,
        "LXT_REDIS_URL": settings.redis_url,
        "LXT_DATA_DIR": str(tmp_path / "data"),
        "LXT_PORT": str(port),
        "LXT_API_WORKERS": "2",
        "LXT_ADMIN_TOKEN": admin_token,
        "LXT_LOG_LEVEL": "DEBUG",
    }
    output = tmp_path / "output.log"
    key = brand.keys["all"]
    auth = {"Authorization": f"Bearer {key}"}
    with lxt("up", env, output):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            await eventually(lambda: readiness(http), "the API to answer")
            # A request the server fails on (a 500 when this was written; a 400 once bad UTF-8 is refused).
            await http.put(
                f"/v1/customers/{phones[0]}",
                content=b'{"locale": "\xff"}',
                headers={**auth, "content-type": "application/json"},
            )
            # Phone numbers in the path (also percent-encoded), the query string and the body.
            created = await http.put(
                f"/v1/customers/{quote(phones[1], safe='')}",
                json={"phone": phones[2], "consents": {"sms": True}},
                headers=auth,
            )
            assert created.status_code in (200, 201), created.text
            await http.get(f"/v1/customers/{phones[3]}", params={"phone": phones[4], "key": key}, headers=auth)
            await http.post(
                "/v1/events",
                json={
                    "idempotency_key": "k1",
                    "touchpoint": "visit",
                    "customer": {"external_id": "c1", "phone": phones[5]},
                },
                headers=auth,
            )
            # Keys and tokens that are wrong, and the operator's token in a header, a path and a query string.
            await http.get("/v1/brand", headers={"Authorization": f"Bearer {stranger_key}"})
            await http.get("/v1/brand", headers={"Authorization": f"Bearer {stranger_token}"})
            await http.get(
                f"/v1/admin/brands/{admin_token}",
                params={"token": admin_token},
                headers={"Authorization": f"Bearer {admin_token}"},
            )
    text = output.read_text(errors="replace")
    for secret in [*phones, phones[1][1:], key, key.split("_", 2)[2], stranger_key, stranger_token, admin_token]:
        assert secret not in text, f"{secret!r} is in the output:\n{text}"
    # The requests were logged (so the search above searched something), with the secrets masked.
    assert "/v1/customers/+***" in text


def test_records_are_redacted_for_every_handler(settings: Settings) -> None:
    """A handler lxt did not install, with a formatter that knows nothing of redaction, still gets clean records."""
    root = logging.getLogger()
    saved = (logging.getLogRecordFactory(), root.handlers[:], root.level)
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(logging.Formatter("%(message)s").format(record))

    library = logging.getLogger("some.library")
    library.addHandler(collect := Collect())
    try:
        configure(settings)
        try:
            raise ValueError(f"token {settings.admin_token} rejected for +4915112345670")
        except ValueError:
            library.exception("customer %s, key %s", "+4915112345671", "lxt_0a1b2c3d4e_AbCdEfGhIjKlMnOpQrSt")
    finally:
        library.removeHandler(collect)
        logging.setLogRecordFactory(saved[0])
        root.handlers[:], root.level = saved[1], saved[2]
    [text] = seen
    assert text.startswith("customer +***, key lxt_***")
    assert "ValueError: token *** rejected for +***" in text
    for secret in ("4915112345670", "4915112345671", "AbCdEfGh", settings.admin_token):
        assert secret not in text
