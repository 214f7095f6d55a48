"""WebSocket routes of the telephony paths (the Twilio media stream), included by the app's routing."""

from __future__ import annotations

from django.urls import URLPattern, path

from .twilio_consumer import TwilioStreamConsumer

# The path must match twilio_views.STREAM_PATH, which the voice webhook puts in its TwiML.
websocket_urlpatterns: list[URLPattern] = [
    path(
        "ws/realtime/twilio/<slug:slug>/",
        TwilioStreamConsumer.as_asgi(),
        name="realtime_agents_twilio_stream",
    ),
]
