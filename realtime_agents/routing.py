"""WebSocket URL patterns of the app: include them in the project's websocket URLRouter."""

from __future__ import annotations

from django.urls import path

from .consumers import RealtimeConsumer
from .telephony.routing import websocket_urlpatterns as telephony_websocket_urlpatterns

websocket_urlpatterns = [
    path("ws/realtime/<slug:slug>/", RealtimeConsumer.as_asgi(), name="realtime_agents_ws"),
    *telephony_websocket_urlpatterns,
]
