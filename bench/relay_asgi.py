"""ASGI app of the relay bench's "-patched" variants: the demo project with proposed consumer patch P1."""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.relay_settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from realtime_agents.consumers import RealtimeConsumer  # noqa: E402


class DirectReceiveConsumer(RealtimeConsumer):
    """`RealtimeConsumer` whose browser frames skip Channels' per-message `close_old_connections` hop."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Browser frames go straight to `websocket_receive`; everything else as channels does it."""
        # receive() never touches the database, so the hop buys nothing, and it queues every audio
        # frame behind the recorder's writes on asgiref's single sync thread.
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
            return
        await super().dispatch(message)


application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AuthMiddlewareStack(
            URLRouter([path("ws/realtime/<slug:slug>/", DirectReceiveConsumer.as_asgi())])
        ),
    }
)
