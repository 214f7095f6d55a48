"""App configuration of realtime_agents."""
from django.apps import AppConfig


class RealtimeAgentsConfig(AppConfig):
    """Registers the app; start-up work (tool discovery, checks) hooks in here."""

    name = "realtime_agents"
    verbose_name = "Realtime agents"
    default_auto_field = "django.db.models.BigAutoField"
