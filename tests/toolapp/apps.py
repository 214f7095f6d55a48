"""App configuration of the test tool app."""

from __future__ import annotations

from django.apps import AppConfig


class ToolAppConfig(AppConfig):
    """Has no models: only a realtime_tools module."""

    name = "tests.toolapp"
    label = "toolapp"
