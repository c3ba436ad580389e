"""What every fake provider shares: a real HTTP/1.1 server on 127.0.0.1 in a background thread.

Each connection gets a thread of its own (`ThreadingHTTPServer`), so a fake answers while the test's event loop
is blocked and while one of its own answers is held back by a delay. Responses go out in a single write with
Nagle's algorithm off: a response split in headers and body would otherwise meet the client's delayed ACK and
cost 40 ms per request, far below the few hundred requests a second a benchmark needs.

A subclass implements `answer(request)`, returning a `Reply` or `DROP` (close the connection without an HTTP
answer). It keeps its own state under `self.lock`; the base records every request in `requests`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final, Self
from urllib.parse import parse_qs, parse_qsl, urlsplit


@dataclasses.dataclass
class ReceivedRequest:
    """One request as it arrived, and what the fake answered (`status` is None while in flight or dropped)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Header names in lower case."""
    body: bytes
    received_at: float
    """`time.monotonic()` when the request had been read."""
    status: int | None = None

    def form(self) -> dict[str, str]:
        """The body decoded as `application/x-www-form-urlencoded` (the last value of a repeated key wins)."""
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))

    def json(self) -> Any:
        return json.loads(self.body)


@dataclasses.dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def json(cls, status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Reply:
        return cls(status, json.dumps(payload).encode(), "application/json", headers)


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


DROP: Final = _Drop()
"""Close the connection after reading the request, without an HTTP answer."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections.add(self.connection)

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read `requests`; a line per request on stderr is noise

    def _dispatch(self) -> None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._write(Reply(411, b"chunked request bodies are not supported", "text/plain"))
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urlsplit(self.path)
        request = ReceivedRequest(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            received_at=time.monotonic(),
        )
        self.server.fake._record(request)
        reply = self.server.fake.answer(request)
        if isinstance(reply, _Drop) or self.server.fake.stopping:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        # Recorded before the answer leaves: a client that has its answer finds it in `requests`.
        self.server.fake._answered(request, reply.status)
        self._write(reply)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def _write(self, reply: Reply) -> None:
        head = [f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}"]
        head += [f"Content-Type: {reply.content_type}", f"Content-Length: {len(reply.body)}"]
        head += [f"{name}: {value}" for name, value in reply.headers]
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write("\r\n".join(head).encode("latin-1") + b"\r\n\r\n" + reply.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], fake: FakeServer) -> None:
        self.fake = fake
        self.connections: set[socket.socket] = set()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can take seconds without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class FakeServer:
    """A provider's HTTP API on 127.0.0.1; port 0 takes a free port. Use `with Fake() as fake:` or start/stop."""

    def __init__(self, *, port: int = 0) -> None:
        self._port = port
        self.lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT, once started."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self._port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and close every open connection (a delayed answer is cut short)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        for connection in list(server.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request received so far, refused and dropped ones included, oldest first."""
        with self.lock:
            return [dataclasses.replace(r) for r in self._requests]

    def reset(self) -> None:
        """Forget what was received and every planned failure or delay; subclasses extend this."""
        with self.lock:
            self._requests.clear()

    @property
    def stopping(self) -> bool:
        """Set by `stop()`: answers still being prepared are not sent (the connection just closes)."""
        return self._stopping.is_set()

    def answer(self, request: ReceivedRequest) -> Reply | _Drop:
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:
        """Hold an answer back; returns early when the server stops."""
        if seconds > 0:
            self._stopping.wait(seconds)

    def _record(self, request: ReceivedRequest) -> None:
        with self.lock:
            self._requests.append(request)

    def _answered(self, request: ReceivedRequest, status: int) -> None:
        with self.lock:
            request.status = status
