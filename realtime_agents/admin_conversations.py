"""Read-only Django admin for recorded conversations, with their transcript, tool runs and events inline."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from .models import Conversation, ConversationEvent, ToolRun, TranscriptItem


class _ReadOnlyInline(admin.TabularInline):
    """An inline that shows rows and never edits, adds or deletes them."""

    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        """Every shown field is read-only."""
        return list(self.fields or [])

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        """Rows come from sessions only."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        """Recorded history is not edited."""
        return False


class TranscriptItemInline(_ReadOnlyInline):
    """What was said, in order."""

    model = TranscriptItem
    fields = ["sequence", "role", "agent_name", "text", "status", "audio_ms", "response_latency_ms", "started_at"]
    ordering = ["sequence"]


class ToolRunInline(_ReadOnlyInline):
    """The tools the model called."""

    model = ToolRun
    fields = ["sequence", "tool_name", "arguments", "output", "status", "approval", "decided_by", "duration_ms"]
    ordering = ["sequence"]


class ConversationEventInline(_ReadOnlyInline):
    """Handoffs, guardrail trips, errors, reconnects and interruptions."""

    model = ConversationEvent
    fields = ["sequence", "kind", "agent_name", "data", "created_at"]
    ordering = ["sequence"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Conversations: list, filter by channel and status, open one to read it; nothing is editable."""

    list_display = ["public_id", "channel", "starting_agent_name", "final_agent_name", "status", "started_at",
                    "ended_at", "end_reason", "turn_count"]
    list_filter = ["status", "channel", "end_reason"]
    list_select_related = ["channel", "user"]
    search_fields = ["public_id", "channel_slug", "starting_agent_name", "final_agent_name"]
    date_hierarchy = "started_at"
    inlines = [TranscriptItemInline, ToolRunInline, ConversationEventInline]
    fieldsets = [
        (None, {"fields": ["public_id", "channel", "channel_slug", "status", "end_reason"]}),
        ("Agents", {"fields": ["starting_agent_name", "final_agent_name"]}),
        ("Client", {"fields": ["user", "user_agent", "ip_hash"]}),
        ("Time", {"fields": ["started_at", "last_activity_at", "ended_at"]}),
        ("Usage", {"fields": ["turn_count", "response_count", "input_tokens", "output_tokens", "cached_tokens",
                              "input_audio_seconds", "output_audio_seconds"]}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        """Every field is read-only."""
        return [name for _, options in self.fieldsets for name in options["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Conversations come from sessions only."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        """Recorded history is not edited (deleting stays possible, e.g. on a data-removal request)."""
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        """Joins what the list shows."""
        return super().get_queryset(request).select_related("channel", "user")
