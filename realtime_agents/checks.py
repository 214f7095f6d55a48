"""System checks (realtime_agents.E001...): settings, channel layer, API keys, registered names."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.db import DatabaseError

from .conf import SETTING_NAME, app_settings, invalid_values, unknown_keys
from .registry import registry

IN_MEMORY_LAYER = "channels.layers.InMemoryChannelLayer"


@register()
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Unknown or invalid REALTIME_AGENTS keys, missing ASGI application, in-memory layer in production."""
    messages: list[CheckMessage] = []
    if not getattr(settings, "ASGI_APPLICATION", None):
        messages.append(
            Error(
                "ASGI_APPLICATION is not set: realtime sessions need WebSockets.",
                hint="Set ASGI_APPLICATION to an application that routes WebSockets to the app's consumers.",
                id="realtime_agents.E001",
            )
        )
    for key in unknown_keys():
        messages.append(
            Warning(
                f"{SETTING_NAME} has an unknown key {key!r}; it is ignored.",
                hint="Check the spelling against docs/configuration.md.",
                id="realtime_agents.W001",
            )
        )
    for problem in invalid_values():
        messages.append(Error(problem, hint="See docs/configuration.md.", id="realtime_agents.E005"))
    layers = getattr(settings, "CHANNEL_LAYERS", {}) or {}
    backend = str(layers.get("default", {}).get("BACKEND", ""))
    if backend == IN_MEMORY_LAYER and not settings.DEBUG:
        messages.append(
            Warning(
                "The in-memory channel layer is used with DEBUG=False: processes cannot reach each other's sessions.",
                hint="Use channels_redis (set REDIS_URL in the demo project) in production.",
                id="realtime_agents.W002",
            )
        )
    return messages


def _database_rows() -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]] | None:
    from .models import Channel, Guardrail, Tool

    try:
        tools = list(Tool.objects.filter(kind=Tool.Kind.PYTHON).values_list("name", "python_function"))
        checks = list(
            Guardrail.objects.filter(kind=Guardrail.Kind.PYTHON).values_list("name", "python_check")
        )
        channels = list(Channel.objects.filter(is_active=True).values_list("slug", "transport"))
    except DatabaseError:
        # Before `migrate` the tables do not exist; the other checks still have something to say.
        return None
    return tools, checks, channels


@register()
def check_rows(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Rows naming unregistered tools or checks; channels that need an API key nobody configured."""
    rows = _database_rows()
    if rows is None:
        return []
    tools, checks, channels = rows
    messages: list[CheckMessage] = []
    for name, function in tools:
        if registry.get_tool(function) is None:
            messages.append(
                Error(
                    f"Tool {name!r} calls the unregistered Python tool {function!r}.",
                    hint="Register it with @realtime_agents.tool in a realtime_tools module, or fix the row in the admin.",
                    id="realtime_agents.E004",
                )
            )
    for name, check in checks:
        if registry.get_check(check) is None:
            messages.append(
                Error(
                    f"Guardrail {name!r} uses the unregistered Python check {check!r}.",
                    hint="Register it with @realtime_agents.guardrail_check, or fix the row in the admin.",
                    id="realtime_agents.E006",
                )
            )
    needs = {slug: app_settings.resolve_transport(transport) for slug, transport in channels}
    openai = sorted(slug for slug, transport in needs.items() if transport == "openai")
    if openai and not app_settings.OPENAI_API_KEY:
        messages.append(
            Error(
                f"Active channels use OpenAI but no API key is set: {', '.join(openai)}.",
                hint=f'Set {SETTING_NAME}["OPENAI_API_KEY"] (the demo reads OPENAI_API_KEY from the environment).',
                id="realtime_agents.E002",
            )
        )
    azure = sorted(slug for slug, transport in needs.items() if transport == "azure")
    if azure and not (app_settings.AZURE_OPENAI_API_KEY and app_settings.AZURE_OPENAI_REALTIME_URL):
        messages.append(
            Error(
                f"Active channels use Azure OpenAI but its API key or URL is not set: {', '.join(azure)}.",
                hint=f'Set {SETTING_NAME}["AZURE_OPENAI_API_KEY"] and ["AZURE_OPENAI_REALTIME_URL"].',
                id="realtime_agents.E003",
            )
        )
    return messages


@register()
def check_sip_webhook(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Active SIP channels while the webhook secret is empty (every call would be refused)."""
    from .models import Channel

    if app_settings.OPENAI_WEBHOOK_SECRET:
        return []
    try:
        rows = Channel.objects.filter(kind=Channel.Kind.SIP, is_active=True)
        slugs = sorted(rows.values_list("slug", flat=True))
    except DatabaseError:
        return []
    if not slugs:
        return []
    return [
        Warning(
            f"Active SIP channels exist but OPENAI_WEBHOOK_SECRET is empty: {', '.join(slugs)}.",
            hint=f'Set {SETTING_NAME}["OPENAI_WEBHOOK_SECRET"] to the signing secret of the OpenAI project\'s '
            "webhook; until then every realtime.call.incoming delivery is refused (docs/telephony.md).",
            id="realtime_agents.W003",
        )
    ]
