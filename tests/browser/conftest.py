"""A real browser against a real lxt server: Debian's Chromium driven by Playwright, lxt served by uvicorn on a
free port in a thread of the test process, on the test's own database.

Without a Chromium the tests skip, saying what is missing (``.ci/run`` installs Debian's ``chromium`` package
where it can). ``LXT_TEST_CHROMIUM`` names another executable.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from litestar import Litestar

from tests.server.processes import free_port

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 360, "height": 740}
"""A small phone's viewport, in CSS pixels."""


def chromium_candidates() -> list[str]:
    configured = os.environ.get("LXT_TEST_CHROMIUM")
    return [configured] if configured else ["/usr/bin/chromium", "/usr/bin/chromium-browser"]


def chromium_executable() -> str | None:
    for candidate in chromium_candidates():
        if os.access(candidate, os.X_OK):
            return candidate
    return None if os.environ.get("LXT_TEST_CHROMIUM") else shutil.which("chromium")


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def browser() -> AsyncIterator[object]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("the browser tests need the playwright package (pip install -e '.[test]')")
    executable = chromium_executable()
    if executable is None:
        searched = " or ".join(chromium_candidates())
        pytest.skip(
            f"no Chromium at {searched} (Debian: apt-get install chromium, or set LXT_TEST_CHROMIUM): "
            "the browser tests need one"
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest_asyncio.fixture(loop_scope="session")
async def live_server(app: Litestar) -> AsyncIterator[str]:
    """The base URL of `app` served over HTTP on 127.0.0.1 (lifespan and all), until the test ends."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", ws="none", log_config=None)
    config.access_log = False
    server = uvicorn.Server(config)
    # Its own thread and event loop: the server runs while the test's loop awaits the browser.
    thread = threading.Thread(target=server.run, name="lxt-live-server", daemon=True)
    thread.start()
    deadline = asyncio.get_running_loop().time() + 20
    while not server.started:
        assert thread.is_alive(), "the live server stopped while starting"
        assert asyncio.get_running_loop().time() < deadline, "the live server did not start within 20 s"
        await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.to_thread(thread.join, 20)
    assert not thread.is_alive(), "the live server did not stop"
