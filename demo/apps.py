"""App configuration of the demo app."""

from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo's tools and management command; it has no models."""

    name = "demo"
    verbose_name = "realtime_agents demo"
