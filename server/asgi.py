"""ASGI entry point for server processes: ``server.asgi:app_from_env`` (a factory).

`lxt serve` resolves the embedded servers and puts their URLs in the environment before the HTTP server starts
its worker processes, each of which calls this factory.
"""

from __future__ import annotations

from litestar import Litestar

from server import logs
from server.app import create_app
from server.settings import Settings


def app_from_env() -> Litestar:
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    return create_app(settings)
