"""Django admin for agents, tools, guardrails and channels, with try-it and agent-graph links."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet, URLField
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from . import admin_analytics  # noqa: F401  (registers the analytics page)
from . import admin_conversations  # noqa: F401  (registers the conversation admin)
from . import views
from .forms import (
    AdminAgentForm,
    ChannelForm,
    GuardrailForm,
    HandoffInlineForm,
    HandoffInlineFormSet,
    ToolForm,
)
from .models import Agent, Channel, Guardrail, Handoff, Tool
from .registry import registry


class HandoffInline(admin.TabularInline):
    """Outgoing handoffs edited on the agent's page."""

    model = Handoff
    fk_name = "from_agent"
    form = HandoffInlineForm
    formset = HandoffInlineFormSet
    extra = 0
    verbose_name = "handoff"
    verbose_name_plural = "handoffs (agents this one may transfer the caller to)"


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    """Agents with their handoffs inline."""

    form = AdminAgentForm
    inlines = [HandoffInline]
    list_display = ["name", "slug", "is_active", "tool_count", "handoff_count", "updated_at"]
    list_filter = ["is_active", "tools", "guardrails"]
    search_fields = ["name", "slug", "instructions", "handoff_description"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["tools", "guardrails"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_active", "voice"]}),
        ("What the agent says", {"fields": ["instructions", "handoff_description"]}),
        ("Tools and guardrails", {"fields": ["tools", "guardrails"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Agent]:
        """Annotate counts so the list costs one query."""
        return (
            super()
            .get_queryset(request)
            .annotate(
                _tools=Count("tools", distinct=True), _handoffs=Count("outgoing_handoffs", distinct=True)
            )
        )

    @admin.display(description="tools", ordering="_tools")
    def tool_count(self, obj: Agent) -> int:
        """How many tools the agent has."""
        return getattr(obj, "_tools", 0)

    @admin.display(description="handoffs", ordering="_handoffs")
    def handoff_count(self, obj: Agent) -> int:
        """How many agents it may hand off to."""
        return getattr(obj, "_handoffs", 0)


@admin.register(Tool)
class ToolAdmin(admin.ModelAdmin):
    """Python and HTTP tools; shows the schema derived from a Python function's signature."""

    form = ToolForm
    list_display = ["name", "kind", "target", "enabled", "needs_approval", "updated_at"]
    list_filter = ["kind", "enabled", "needs_approval", "http_method"]
    search_fields = ["name", "description", "python_function", "http_url"]
    readonly_fields = ["function_schema", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "description", "enabled"]}),
        ("Python function", {"fields": ["python_function", "function_schema"]}),
        (
            "HTTP request",
            {
                "fields": [
                    "http_method",
                    "http_url",
                    "http_headers",
                    "parameters_schema",
                    "max_response_bytes",
                ]
            },
        ),
        ("Behaviour", {"fields": ["needs_approval", "starts_response", "timeout_seconds"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        """URLs without a scheme are taken as https (Django 6's default, without its warning)."""
        if isinstance(db_field, URLField):
            kwargs.setdefault("assume_scheme", "https")
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description="calls")
    def target(self, obj: Tool) -> str:
        """The function name or the HTTP method and URL."""
        return obj.python_function if obj.kind == Tool.Kind.PYTHON else f"{obj.http_method} {obj.http_url}"

    @admin.display(description="schema from the function's signature")
    def function_schema(self, obj: Tool | None) -> str:
        """The registered function's parameters schema; on the add page, every registered function's."""
        if obj is not None and obj.pk and obj.kind == Tool.Kind.PYTHON and obj.python_function:
            entry = registry.get_tool(obj.python_function)
            if entry is None:
                return format_html("<strong>{} is not registered.</strong>", obj.python_function)
            return format_html(
                "<p>{}</p><pre>{}</pre>",
                entry.tool.description,
                json.dumps(entry.tool.params_json_schema, indent=2),
            )
        entries = [registry.get_tool(name) for name in registry.tool_names()]
        rows = format_html_join(
            "",
            "<details><summary><code>{}</code>: {}</summary><pre>{}</pre></details>",
            (
                (e.name, e.tool.description, json.dumps(e.tool.params_json_schema, indent=2))
                for e in entries
                if e
            ),
        )
        return rows or "No Python tools are registered."


@admin.register(Guardrail)
class GuardrailAdmin(admin.ModelAdmin):
    """Blocked phrases, regular expressions and Python checks."""

    form = GuardrailForm
    list_display = ["name", "kind", "applies_to_output", "applies_to_input", "enabled", "updated_at"]
    list_filter = ["kind", "applies_to_output", "applies_to_input", "enabled"]
    search_fields = ["name", "blocked_phrases", "pattern", "python_check", "message"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "enabled", "applies_to_output", "applies_to_input"]}),
        ("What to look for", {"fields": ["blocked_phrases", "pattern", "python_check"]}),
        ("When it trips", {"fields": ["message", "debounce_text_length"]}),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    """Channels with their model settings, a try-it link and a read-only agent graph."""

    form = ChannelForm
    list_display = ["name", "slug", "kind", "starting_agent", "transport", "is_active", "links"]
    list_filter = ["kind", "transport", "is_active"]
    list_select_related = ["starting_agent"]
    search_fields = ["name", "slug", "starting_agent__name", "greeting", "phone_numbers"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["links", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "kind", "is_active", "starting_agent", "greeting", "links"]}),
        ("Telephony", {"fields": ["phone_numbers", "transfer_numbers"]}),
        (
            "Model",
            {
                "fields": [
                    "transport",
                    "model_name",
                    "voice",
                    "output_modalities",
                    "speed",
                    "input_audio_format",
                    "output_audio_format",
                ]
            },
        ),
        (
            "Caller transcription",
            {"fields": ["transcription_model", "transcription_language", "transcription_prompt"]},
        ),
        (
            "Turn detection",
            {
                "fields": [
                    "turn_detection",
                    "vad_threshold",
                    "vad_prefix_padding_ms",
                    "vad_silence_duration_ms",
                    "vad_idle_timeout_ms",
                    "vad_eagerness",
                    "vad_interrupt_response",
                    "vad_create_response",
                    "noise_reduction",
                ]
            },
        ),
        (
            "Access and limits",
            {
                "fields": [
                    "allowed_origins",
                    "max_session_seconds",
                    "max_concurrent_sessions",
                    "show_tool_arguments",
                    "retention_days",
                    "redact_personal_data",
                ]
            },
        ),
        ("History", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_urls(self) -> list[URLPattern]:
        """Add the read-only agent graph page under the channel's admin URLs."""
        graph = path(
            "<int:pk>/graph/",
            self.admin_site.admin_view(self.graph_view),
            name="realtime_agents_channel_graph",
        )
        return [graph, *super().get_urls()]

    def graph_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Who hands off to whom, with tools and guardrails, for this channel."""
        return views.channel_graph(request, pk, extra_context=self.admin_site.each_context(request))

    @admin.display(description="links")
    def links(self, obj: Channel | None) -> str:
        """Links to the try-it page and the agent graph."""
        if obj is None or not obj.pk:
            return "Save the channel first."
        graph = reverse(f"{self.admin_site.name}:realtime_agents_channel_graph", args=[obj.pk])
        try:
            try_it = views.try_it_url(obj.slug)
        except NoReverseMatch:
            return format_html('<a href="{}">agent graph</a>', graph)
        return format_html('<a href="{}">try it</a> · <a href="{}">agent graph</a>', try_it, graph)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        """New channels start as web widgets."""
        return {"kind": Channel.Kind.WEB, **super().get_changeform_initial_data(request)}
