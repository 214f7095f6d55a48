"""HTTP routes of the telephony paths (Twilio voice webhook, SIP webhook), included by the app's urls."""

from __future__ import annotations

from django.urls import URLPattern, path

from . import sip_views, twilio_views

urlpatterns: list[URLPattern] = [
    path("twilio/<slug:slug>/voice/", twilio_views.voice, name="twilio_voice"),
    path("twilio/<slug:slug>/after-stream/", twilio_views.after_stream, name="twilio_after_stream"),
    path("sip/webhook/", sip_views.sip_webhook, name="sip_webhook"),
]
