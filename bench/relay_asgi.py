"""ASGI app of the relay bench's "-floor" variants: the bare relay as a raw ASGI app, to price the server itself.

Run under Daphne or uvicorn it does exactly what ``bench/relay_bare.py`` does (per connection one
upstream socket, ``ready``, microphone frames upstream as ``input_audio_buffer.append``, audio
deltas back as binary frames), with no Django, Channels or engine: the difference between
``daphne-floor`` and ``bare`` is what the ASGI server's WebSocket stack costs, and the difference
between ``daphne`` and ``daphne-floor`` is what the product's application costs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.relay_bare import _AUDIO_DELTA, _MAX_MESSAGE_BYTES, _text_events

Receive = Any
Send = Any


async def _downstream(upstream: ClientConnection, send: Send) -> None:
    async for message in upstream:
        event = json.loads(message)
        if event["type"] == _AUDIO_DELTA:
            await send({"type": "websocket.send", "bytes": base64.b64decode(event["delta"])})


async def _relay(receive: Receive, send: Send) -> None:
    headers = {"Authorization": f"Bearer {os.environ['OPENAI_API_KEY']}"}
    async with connect(
        os.environ["OPENAI_REALTIME_URL"], additional_headers=headers, compression=None,
        max_size=_MAX_MESSAGE_BYTES,
    ) as upstream:
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps({"type": "ready"})})
        pump = asyncio.create_task(_downstream(upstream, send), name="bench-floor-downstream")
        try:
            counter = 0
            while True:
                message = await receive()
                if message["type"] != "websocket.receive":
                    return
                if message.get("bytes") is not None:
                    audio = base64.b64encode(message["bytes"]).decode("ascii")
                    await upstream.send('{"type":"input_audio_buffer.append","audio":"' + audio + '"}')
                else:
                    counter += 1
                    for event in _text_events(message["text"], counter):
                        await upstream.send(event)
        finally:
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await pump


async def application(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    """One browser connection: relay until either side closes."""
    if scope["type"] != "websocket":
        return
    if (await receive())["type"] != "websocket.connect":
        return
    with contextlib.suppress(ConnectionClosed):
        await _relay(receive, send)
