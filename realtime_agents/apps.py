"""App configuration of realtime_agents."""

from __future__ import annotations

from django.apps import AppConfig


class RealtimeAgentsConfig(AppConfig):
    """Registers the app; discovers `realtime_tools` modules and the system checks at start-up."""

    name = "realtime_agents"
    verbose_name = "Realtime agents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Import every installed app's tool module (like admin autodiscovery) and the checks."""
        from django.utils.module_loading import autodiscover_modules

        from . import checks  # noqa: F401  (registers the system checks)
        from .conf import app_settings

        autodiscover_modules(str(app_settings.TOOL_MODULE_NAME))
