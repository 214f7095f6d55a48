"""One live Daphne per test process (Twisted's reactor runs once), shared by every live-server test."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.consumer_helpers import wait_all_finalised


@pytest.fixture(scope="session")
def daphne() -> Iterator[Any]:
    """A Daphne serving tests.asgi on a free 127.0.0.1 port, in a thread; `daphne_url(daphne)` gives its URL."""
    from daphne.server import Server
    from twisted.internet import reactor

    from tests.asgi import application

    server = Server(application=application, endpoints=["tcp:port=0:interface=127.0.0.1"], signal_handlers=False,
                    verbosity=0)
    thread = threading.Thread(target=server.run, name="daphne-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.listening_addresses:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("Daphne did not start listening within 10 s")
        time.sleep(0.02)
    yield server
    reactor.callFromThread(reactor.stop)  # type: ignore[attr-defined]
    thread.join(timeout=10)


def daphne_url(server: Any, scheme: str = "http") -> str:
    """The live Daphne's base URL, e.g. `http://127.0.0.1:41234` (scheme `ws` for sockets)."""
    host, port = server.listening_addresses[0]
    return f"{scheme}://{host}:{port}"


async def settle_daphne(server: Any) -> None:
    """Wait until every conversation is finalised and Daphne's application instances have ended.

    Sessions end after the client's close, so the database must not be flushed before they are
    finalised; and with channels-redis, an application instance still receiving on Daphne's loop
    would clash with the next test's loop ("two event loops ... on one channel layer").
    """
    await wait_all_finalised()
    # Generous: with channels-redis an instance may sit in a blocking Redis read for a few seconds.
    async with asyncio.timeout(15):
        while _applications_running(server):
            await asyncio.sleep(0.02)


def _applications_running(server: Any) -> bool:
    """Whether any of Daphne's application instances is still running (read from another thread)."""
    try:
        instances = [details.get("application_instance") for details in list(server.connections.values())]
    except RuntimeError:  # the dict changed size while Daphne's thread updated it: look again
        return True
    return any(instance is not None and not instance.done() for instance in instances)
