"""The relay benchmark's floor: a bare `websockets` relay between browser clients and the Realtime server.

Run by ``bench.relay`` as ``python -m bench.relay_bare --port P --upstream URL``. Per browser
connection it opens one upstream connection, sends ``ready``, relays binary browser audio upstream as
``input_audio_buffer.append`` and upstream audio deltas back as binary frames, and turns a ``text``
frame into ``conversation.item.create`` + ``response.create``. Nothing else: no recording, no checks.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import signal
from collections.abc import Sequence
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

logger = logging.getLogger("realtime_agents.bench.relay_bare")

_MAX_MESSAGE_BYTES = 8 * 1024 * 1024
_AUDIO_DELTA = "response.output_audio.delta"


async def _downstream(upstream: ClientConnection, browser: ServerConnection) -> None:
    # The hot loop the consumer is compared with: one parse and one decode per upstream event.
    async for message in upstream:
        event = json.loads(message)
        if event["type"] == _AUDIO_DELTA:
            await browser.send(base64.b64decode(event["delta"]))


def _text_events(frame: str, counter: int) -> list[str]:
    text = json.loads(frame).get("text", "")
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    return [
        json.dumps({"type": "conversation.item.create", "item": item}),
        json.dumps({"type": "response.create", "event_id": f"bare_response_{counter}"}),
    ]


async def _relay(browser: ServerConnection, upstream_url: str, api_key: str) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    async with connect(
        upstream_url, additional_headers=headers, compression=None, max_size=_MAX_MESSAGE_BYTES
    ) as upstream:
        await browser.send(json.dumps({"type": "ready"}))
        pump = asyncio.create_task(_downstream(upstream, browser), name="bench-bare-downstream")
        try:
            counter = 0
            async for frame in browser:
                if isinstance(frame, bytes):
                    audio = base64.b64encode(frame).decode("ascii")
                    await upstream.send('{"type":"input_audio_buffer.append","audio":"' + audio + '"}')
                else:
                    counter += 1
                    for event in _text_events(frame, counter):
                        await upstream.send(event)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await pump


async def _handle(browser: ServerConnection, upstream_url: str, api_key: str) -> None:
    try:
        await _relay(browser, upstream_url, api_key)
    except ConnectionClosed:
        logger.debug("a relay connection closed")
    except (OSError, ValueError, KeyError) as exc:
        logger.warning("relay connection failed: %r", exc)


async def serve_relay(*, port: int, upstream_url: str, api_key: str) -> None:
    """Serve the bare relay on 127.0.0.1:`port` until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def handler(browser: ServerConnection) -> None:
        await _handle(browser, upstream_url, api_key)

    async with serve(handler, "127.0.0.1", port, compression=None, max_size=_MAX_MESSAGE_BYTES):
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse options and serve."""
    parser = argparse.ArgumentParser(prog="python -m bench.relay_bare", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--upstream", required=True, help="ws:// URL of the Realtime (fake) server")
    parser.add_argument("--api-key", default="bench-key", help="bearer key for the upstream server")
    args = parser.parse_args(argv)
    if not args.upstream.startswith("ws://127.0.0.1:"):
        parser.error("--upstream must be a ws://127.0.0.1: URL (the bench stays on this machine)")
    logging.basicConfig(level=logging.WARNING)
    options: dict[str, Any] = {"port": args.port, "upstream_url": args.upstream, "api_key": args.api_key}
    asyncio.run(serve_relay(**options))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
