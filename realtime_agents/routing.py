"""WebSocket URL patterns of the app: include them in the project's websocket URLRouter."""

from __future__ import annotations

from django.urls import path

from .consumers import RealtimeConsumer

websocket_urlpatterns = [
    path("ws/realtime/<slug:slug>/", RealtimeConsumer.as_asgi(), name="realtime_agents_ws"),
]
