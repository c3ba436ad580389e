"""ASGI entry point for server processes: ``server.asgi:app_from_env`` (a factory).

`lxt serve` resolves the embedded servers and puts their URLs in the environment before the HTTP server starts
its worker processes, each of which calls this factory.
"""

from __future__ import annotations

import gc

from litestar import Litestar

from server import logs
from server.app import create_app
from server.settings import Settings


def app_from_env() -> Litestar:
    settings = Settings.from_env()
    logs.configure(settings)
    app = create_app(settings)
    # Modules, routes and the app live as long as the process: keep the cyclic collector from re-scanning them
    # on every full collection (ingestion allocates many short-lived objects).
    gc.freeze()
    return app
