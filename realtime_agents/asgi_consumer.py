"""A thin ASGI WebSocket consumer: one receive loop that handles each frame in place."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# Tasks that outlive the consumer that started them (kept so they are not garbage-collected).
_DETACHED: set[asyncio.Task[None]] = set()


def detach(task: asyncio.Task[None]) -> None:
    """Keep `task` alive until it is done, although its consumer (cancelled) can no longer await it."""
    _DETACHED.add(task)
    task.add_done_callback(_DETACHED.discard)


async def _not_connected(message: Message) -> None:
    raise RuntimeError("the consumer is not serving a connection yet")


class WebsocketConsumer:
    """Base of the app's socket consumers, usable behind Channels' middleware (`AuthMiddlewareStack`).

    Channels' `AsyncWebsocketConsumer` creates a task, an `asyncio.wait` and (before every handler) a
    database-cleanup thread hop per message; at 50 microphone frames per second per browser that
    machinery cost more than the audio relay itself. Here a frame is one `await receive()` and one
    call. Subclasses implement `connect`, `receive_bytes`, `receive_text` and `disconnect`; handlers
    run one at a time, in arrival order, as in Channels; `abandoned` runs when the connection's
    task ends without a `disconnect` (the server cancelled it, or a handler raised).
    """

    @classmethod
    def as_asgi(cls, **initkwargs: Any) -> AsgiApp:
        """An ASGI application serving each connection with a new instance (`cls(**initkwargs)`)."""

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await cls(**initkwargs)(scope, receive, send)

        app.consumer_class = cls  # type: ignore[attr-defined]  # as Channels' as_asgi, for introspection
        app.consumer_initkwargs = initkwargs  # type: ignore[attr-defined]
        return app

    def __init__(self) -> None:
        self.scope: Scope = {}
        self.base_send: Send = _not_connected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection until the client disconnects."""
        if scope.get("type") != "websocket":
            raise ValueError(f"{type(self).__name__} serves WebSocket connections, not {scope.get('type')!r}")
        self.scope = scope
        self.base_send = send
        try:
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    data = message.get("bytes")
                    if data is not None:
                        await self.receive_bytes(data)
                    else:
                        await self.receive_text(message.get("text") or "")
                elif kind == "websocket.connect":
                    await self.connect()
                elif kind == "websocket.disconnect":
                    await self.disconnect(int(message.get("code", 1000)))
                    return
        except BaseException:
            self.abandoned()
            raise

    async def accept(self) -> None:
        """Accept the connection."""
        await self.base_send({"type": "websocket.accept"})

    async def send_text(self, text: str) -> None:
        """Send one text frame."""
        await self.base_send({"type": "websocket.send", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        """Send one binary frame."""
        await self.base_send({"type": "websocket.send", "bytes": data})

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection from the server's side."""
        await self.base_send({"type": "websocket.close", "code": code, "reason": reason})

    async def connect(self) -> None:
        """A client asks to connect: accept (or close) it."""
        await self.accept()

    async def receive_bytes(self, data: bytes) -> None:
        """One binary frame from the client."""

    async def receive_text(self, text: str) -> None:
        """One text frame from the client."""

    async def disconnect(self, code: int) -> None:
        """The client is gone; the loop ends after this returns."""

    def abandoned(self) -> None:
        """The loop ended without `disconnect` (cancelled, or a handler failed): clean up without awaiting."""
