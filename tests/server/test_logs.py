import logging
import random
import re
import secrets
import sys
import uuid
from pathlib import Path
from urllib.parse import quote, quote_plus

import asyncpg
import httpx
import phonenumbers
import pytest

from customers.contact import normalize_phone
from server.logs import RedactingFormatter, configure, redact
from server.settings import Settings
from tests.conftest import BrandFixture
from tests.helpers import refusing_connections
from tests.responses.factories import sent_invitation
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


# Written forms of phone numbers that the API accepts (each is checked against normalize_phone below).
WRITTEN_PHONES = [
    "+4915112345678",
    "+49 151 1234 5678",
    "+1 (415) 555-0100",
    "+1-415-555-0100",
    "+1.415.555.0100",
    "+49 (0) 151 12345678",
    "+44 (0)20 7946 0958",
    "+49-(0)-151-12345678",
    "0049 151 12345678",
    "00 49 151 12345678",
    "0049 (0) 151 1234 5678",
    "00(49)15112345678",
    "001 415 555 0100",
    "+ 49 151 12345678",
    "+(49) 151 12345678",
    "+49/151/12345678",
    "+49 [151] 12345678",
    "+49..151..12345678",
    "+49  151   1234 5678",
    "+4 9 1 5 1 1 2 3 4 5 6 7 8",
    "+6834002",  # Niue: seven digits in all
    "+49\u00a0151\u00a012345678",
    "+1 (415) 555\u20130100",
    "+49\u2212151\u221212345678",
    "+４９ １５１ １２３４５６７８",
]


def encodings(written: str) -> list[str]:
    """`written` as it may show in a log: raw, percent-encoded as clients encode paths, form-encoded."""
    return [
        written,
        quote(written, safe=""),
        quote(written, safe="()"),
        quote(written).lower(),
        quote_plus(written),
    ]


def digits_left(text: str) -> list[str]:
    """The digits in `text` outside percent-escapes (which are hex, not the number)."""
    return re.findall(r"\d", re.sub(r"%[0-9A-Fa-f]{2}", "", text))


@pytest.mark.parametrize("written", WRITTEN_PHONES)
def test_phone_numbers_are_masked_in_every_form_the_api_accepts(written: str) -> None:
    assert normalize_phone(written) is not None, "a form the API accepts"
    for shown in encodings(written):
        line = redact(f"PUT /v1/customers/{shown}")
        assert line.startswith("PUT /v1/customers/+***"), (shown, line)
        assert digits_left(line.removeprefix("PUT /v1/customers/")) == [], (shown, line)


def test_phone_numbers_of_every_region_are_masked() -> None:
    """Each region's example numbers, in the written forms of the numbering plan, with + or 00."""
    masked = 0
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is None:
                continue
            written = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
            for form in (written, "00" + written[1:], written.replace(" ", "-"), written.replace(" ", ".")):
                if normalize_phone(form) is None:
                    continue
                for shown in encodings(form):
                    line = redact(f"customer {shown} opted out")
                    assert digits_left(line) == [], (region, shown, line)
                    masked += 1
    assert masked > 2000


@pytest.mark.parametrize(
    "line",
    [
        "2024-06-01 12:30:45,123 INFO lxt.app: started",
        "2024-06-01 00:00:00,000 WARNING lxt.worker: heartbeat failed",
        "2024-06-01T00:00:00+00:00",
        "2024-06-01T12:00:00.123456+02:00",
        "Jun-01 00:00:05 j_complete=10000000 j_failed=0 j_retried=0 j_ongoing=0 queued=0",
        "listening on 0.0.0.0:8000, 127.0.0.1:54321",
        "worker (pid 4711) was killed by SIGKILL; restarting it in 0.5 s",
        '127.0.0.1 "GET /ready HTTP/1.1" 200 4.1 ms',
        "took 0.00123456 s; at 1717243200.123456",
        "invitation 0197a3b2-0012-7345-8901-001234567890 sent",
        "brand 00000000-0000-7000-8000-000000000000",
        f"customer {uuid.UUID(int=12345678901234567890)}",
        "request 0000012345678, object 0x0012345678abcdef",
        "retry in 10.0 s (attempt 2); offset +0100; 1.5e+300; +12.5%",
    ],
)
def test_ordinary_numbers_stay_readable(line: str) -> None:
    assert redact(line) == line


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
    settings: Settings, brand: BrandFixture, conn: asyncpg.Connection, admin_db: asyncpg.Connection, tmp_path: Path
) -> None:
    """`lxt up` (API in two granian worker processes, and the worker) at DEBUG, fed requests that carry secrets in
    paths, query strings, bodies and headers, some of them failing — up to the database refusing connections,
    which the API logs as an error naming the request's path: its whole output is searched for each."""
    admin_token = f"operator-{secrets.token_urlsafe(12)}"
    stranger_key = f"lxt_0123456789_{secrets.token_urlsafe(32)}"
    stranger_token = secrets.token_urlsafe(20)
    subscribers = [f"{n:08d}" for n in random.sample(range(10**8), 10)]
    phones = [f"+49151{n}" for n in subscribers[:6]]
    # The same kind of numbers written as people write them (the API accepts each): after the country code, the
    # rest of each is long enough to be searched for on its own.
    written = [
        f"+49 151 {subscribers[6][:4]} {subscribers[6][4:]}",
        f"0049 (0) 151 {subscribers[7]}",
        f"+49.151.{subscribers[8][:4]}.{subscribers[8][4:]}",
        f"+1 (415) 555-01{subscribers[9][:2]}",
    ]
    assert all(normalize_phone(w) for w in written)
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
    link = await sent_invitation(conn, brand)  # a survey link that works: its pages are served, and logged
    unknown_link = secrets.token_urlsafe(32)
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
            # Written forms, as ids in paths (raw and percent-encoded) and as phones in bodies.
            for number, shown in zip(written, [written[0], *map(quote, written[1:])], strict=True):
                await http.put(f"/v1/customers/{shown}", json={"phone": number}, headers=auth)
            # Keys and tokens that are wrong, and the operator's token in a header, a path and a query string.
            await http.get("/v1/brand", headers={"Authorization": f"Bearer {stranger_key}"})
            await http.get("/v1/brand", headers={"Authorization": f"Bearer {stranger_token}"})
            await http.get(
                f"/v1/admin/brands/{admin_token}",
                params={"token": admin_token},
                headers={"Authorization": f"Bearer {admin_token}"},
            )
            # Survey link tokens in the web page's path and the app API's.
            assert (await http.get(f"/s/{link.token}")).status_code == 200
            await http.post(f"/s/{link.token}?q=nps", data={"question": "nps", "answer": "9"})
            await http.get(f"/s/{unknown_link}")
            await http.post(f"/v1/responses/{link.token}/answers", json={"answers": {"stars": 11}})
            await http.get(f"/v1/responses/{unknown_link}")
            # The database stops taking connections: each request now fails, and the API logs why, with its path.
            async with refusing_connections(admin_db, conn):
                for shown in [*written, quote(written[0], safe=""), quote(written[3])]:
                    failed = await http.put(f"/v1/customers/{shown}", json={"locale": "de"}, headers=auth)
                    assert failed.status_code >= 500, failed.text
                assert (await http.get(f"/s/{link.token}")).status_code == 503
    text = output.read_text(errors="replace")
    searched = [*phones, phones[1][1:], key, key.split("_", 2)[2], stranger_key, stranger_token, admin_token]
    searched += [link.token, link.token[:16], unknown_link]
    for number in written:
        searched += [number, number[-9:], quote(number), quote(number, safe="")]
    for secret in searched:
        assert secret not in text, f"{secret!r} is in the output:\n{text}"
    # The requests were logged (so the search above searched something), with the secrets masked: in the access
    # log, and in the errors the failing requests caused.
    assert '"PUT /v1/customers/+***' in text
    assert '"GET /s/*** ' in text and '"POST /v1/responses/***/answers ' in text
    failures = [
        line for line in text.splitlines() if " ERROR lxt.errors: " in line or " WARNING lxt.errors: " in line
    ]
    assert any("PUT /v1/customers/+***" in line for line in failures), text
    assert any("GET /s/***" in line for line in text.splitlines() if " ERROR lxt.pages: " in line), text


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
