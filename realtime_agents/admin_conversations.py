"""Read-only Django admin for recorded conversations: summarised list, filters, search, chat-style detail."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.views.main import ORDER_VAR, SEARCH_VAR
from django.db.models import DurationField, ExpressionWrapper, F, Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from .api import admin as _api_admin  # noqa: F401  (registers the API token admin)
from .api.queries import (
    TimelineEntry,
    agent_q,
    distinct_values,
    had_event,
    had_tool_error,
    timeline,
)
from .exporting import export_csv, export_jsonl
from .models import Conversation, ConversationEvent, ToolRun, TranscriptItem
from .search import MAX_CANDIDATES, SearchQueryError, empty_results, find_conversations


class _YesNoFilter(admin.SimpleListFilter):
    """A yes/no filter on an EXISTS condition."""

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        """Yes and no."""
        return [("yes", "Yes"), ("no", "No")]

    def condition(self) -> Any:
        """The EXISTS expression that is true for "yes"."""
        raise NotImplementedError

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Conversation]
    ) -> QuerySet[Conversation] | None:
        """Keep conversations where the condition is (not) met."""
        if self.value() == "yes":
            return queryset.filter(self.condition())
        if self.value() == "no":
            return queryset.filter(~self.condition())
        return None


class ToolErrorFilter(_YesNoFilter):
    """Conversations in which a tool failed (error, timeout, invalid arguments, unknown tool)."""

    title = "had a tool error"
    parameter_name = "tool_error"

    def condition(self) -> Any:
        """A failed tool run exists."""
        return had_tool_error()


class GuardrailFilter(_YesNoFilter):
    """Conversations in which a guardrail tripped."""

    title = "guardrail tripped"
    parameter_name = "guardrail_tripped"

    def condition(self) -> Any:
        """A guardrail event exists."""
        return had_event(ConversationEvent.Kind.GUARDRAIL_TRIPPED)


class HandoffFilter(_YesNoFilter):
    """Conversations handed from one agent to another."""

    title = "was handed off"
    parameter_name = "handed_off"

    def condition(self) -> Any:
        """A handoff event exists."""
        return had_event(ConversationEvent.Kind.HANDOFF)


class AgentFilter(admin.SimpleListFilter):
    """By agent: started, finished, or was handed (so spoke in) the conversation."""

    title = "agent"
    parameter_name = "agent"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        """Every starting or final agent name (handed-to agents end conversations too)."""
        names = {*distinct_values("starting_agent_name"), *distinct_values("final_agent_name")}
        return [(name, name) for name in sorted(names)]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Conversation]
    ) -> QuerySet[Conversation] | None:
        """Keep that agent's conversations."""
        return queryset.filter(agent_q(self.value())) if self.value() else None


class EndReasonFilter(admin.SimpleListFilter):
    """By why the conversation ended; choices read through the column's index, not every row."""

    title = "end reason"
    parameter_name = "end_reason"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        """Every recorded end reason."""
        return [(reason, reason) for reason in distinct_values("end_reason")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[Conversation]
    ) -> QuerySet[Conversation] | None:
        """Keep the conversations that ended so."""
        return queryset.filter(end_reason=self.value()) if self.value() else None


def _pretty_json(raw: str) -> str:
    """Indented JSON when `raw` is JSON, else `raw` unchanged (the template escapes either)."""
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except (ValueError, TypeError):
        return raw


def _event_summary(event: ConversationEvent) -> str:
    """One readable line for an event (plain text; escaped by the template)."""
    data = event.data if isinstance(event.data, dict) else {}
    if event.kind == ConversationEvent.Kind.HANDOFF:
        return f"Handed off from {data.get('from_agent', '?')} to {data.get('to_agent', '?')}"
    if event.kind == ConversationEvent.Kind.GUARDRAIL_TRIPPED:
        names = ", ".join(str(name) for name in data.get("guardrails", []) or []) or "a guardrail"
        return f"Guardrail tripped: {names}"
    return event.get_kind_display()


def chat_rows(entries: list[TimelineEntry]) -> list[dict[str, Any]]:
    """What the detail template shows for each timeline entry (values only; the template escapes them)."""
    rows: list[dict[str, Any]] = []
    for entry in entries:
        row = entry.row
        if isinstance(row, TranscriptItem):
            speaker = (
                (row.agent_name or "Assistant")
                if row.role == TranscriptItem.Role.ASSISTANT
                else row.get_role_display()
            )
            rows.append(
                {
                    "kind": "message",
                    "sequence": entry.sequence,
                    "role": row.role,
                    "speaker": speaker,
                    "time": row.started_at,
                    "text": row.text,
                    "status": row.status,
                    "status_label": ""
                    if row.status == TranscriptItem.Status.COMPLETED
                    else row.get_status_display(),
                    "audio_ms": row.audio_ms,
                    "latency_ms": row.response_latency_ms,
                }
            )
        elif isinstance(row, ToolRun):
            rows.append(
                {
                    "kind": "tool_run",
                    "sequence": entry.sequence,
                    "tool": row.tool_name,
                    "time": row.started_at,
                    "agent": row.agent_name,
                    "arguments": _pretty_json(row.arguments),
                    "output": _pretty_json(row.output),
                    "status": row.status,
                    "status_label": row.get_status_display(),
                    "ok": row.status == ToolRun.Status.OK,
                    "duration_ms": row.duration_ms,
                    "approval": row.get_approval_display() if row.approval else "",
                    "decided_by": row.decided_by,
                }
            )
        else:
            rows.append(
                {
                    "kind": "event",
                    "sequence": entry.sequence,
                    "event_kind": row.kind,
                    "time": row.created_at,
                    "summary": _event_summary(row),
                    "agent": row.agent_name,
                    "data": json.dumps(row.data, indent=2, ensure_ascii=False, default=str)
                    if row.data
                    else "",
                }
            )
    return rows


_ID_PREFIX = re.compile(r"^(?=.*\d)[0-9a-fA-F-]{8,36}$")


def _id_search(queryset: QuerySet[Conversation], term: str) -> QuerySet[Conversation] | None:
    """The conversation(s) whose id is or starts with `term`, or None when `term` is not one's id."""
    try:
        return queryset.filter(public_id=uuid.UUID(term))
    except ValueError:
        pass
    if _ID_PREFIX.match(term):
        # Costs one query, only for id-looking terms; words like "cafe" never get here (no digit).
        matches = queryset.filter(public_id__istartswith=term)
        if matches.exists():
            return matches
    return None


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Conversations: a summarised, filterable, searchable list; the detail reads as a chat. Read-only."""

    list_display = [
        "conversation",
        "channel_slug",
        "agents",
        "started_at",
        "duration",
        "turn_count",
        # The stored counts themselves (their verbose names head the columns), sorted through their
        # indexes. Not methods: one named "tool_runs" was taken for the reverse relation of that name,
        # and sorting the column joined and ordered every tool run.
        "tool_run_count",
        "tool_error_count",
        "guardrail_trip_count",
        "end_reason",
    ]
    list_filter = [
        "channel",
        "status",
        AgentFilter,
        ("started_at", admin.DateFieldListFilter),
        EndReasonFilter,
        ToolErrorFilter,
        GuardrailFilter,
        HandoffFilter,
    ]
    actions = [export_jsonl, export_csv]
    search_fields = ["public_id"]  # shows the search box; get_search_results does the searching
    search_help_text = (
        "Searches what was said in the transcript (or paste a conversation id). The newest "
        f"{MAX_CANDIDATES:,} matching conversations are ranked; filter by date to reach older ones."
    )
    # No date_hierarchy: its year/month/day links read every row of the list (DISTINCT over 100k rows
    # per page view); the "started at" filter and the API's started_after/before cover dates.
    show_full_result_count = False
    list_per_page = 50
    change_form_template = "admin/realtime_agents/conversation/change_form.html"
    fieldsets = [
        (None, {"fields": ["public_id", "channel", "channel_slug", "status", "end_reason"]}),
        ("Agents", {"fields": ["starting_agent_name", "final_agent_name"]}),
        ("Client", {"fields": ["user", "user_agent", "ip_hash", "call_id", "caller_number"]}),
        ("Time", {"fields": ["started_at", "last_activity_at", "ended_at"]}),
        (
            "Usage",
            {
                "fields": [
                    "turn_count",
                    "response_count",
                    "input_tokens",
                    "output_tokens",
                    "cached_tokens",
                    "input_audio_seconds",
                    "output_audio_seconds",
                    "tool_run_count",
                    "tool_error_count",
                    "guardrail_trip_count",
                ],
                "classes": ["collapse"],
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        """Conversations with their duration; the tool and guardrail counts are stored columns."""
        # Unordered on purpose: the change list orders after searching, by rank when there is one.
        conversations = self.model._default_manager.get_queryset()
        return conversations.annotate(
            duration_value=ExpressionWrapper(F("ended_at") - F("started_at"), output_field=DurationField())
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Conversation], search_term: str
    ) -> tuple[QuerySet[Conversation], bool]:
        """Full-text search over transcripts (ranked), or one conversation by its id."""
        term = search_term.strip()
        if not term:
            return queryset, False
        by_id = _id_search(queryset, term)
        if by_id is not None:
            return by_id, False
        try:
            result = find_conversations(queryset, term)
        except SearchQueryError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return empty_results(queryset), False
        if result.capped:
            self.message_user(
                request, "Only the newest matching conversations are shown: filter by date for older ones."
            )
        found = result.conversations
        # Best match first, unless the user sorted by a column.
        if ORDER_VAR in request.GET:
            found = found.order_by(*queryset.query.order_by)
        return found, False

    def _searching(self, request: HttpRequest) -> bool:
        """Whether the list is showing transcript search results."""
        term = request.GET.get(SEARCH_VAR, "").strip()
        if not term:
            return False
        try:
            uuid.UUID(term)
        except ValueError:
            return True
        return False

    def get_list_display(self, request: HttpRequest) -> list[str]:
        """Adds the highlighted match while searching."""
        columns = list(self.list_display)
        if self._searching(request):
            columns.insert(1, "match")
        return columns

    @admin.display(description="conversation")
    def conversation(self, obj: Conversation) -> str:
        """The public id (the link to the detail)."""
        return str(obj.public_id)

    @admin.display(description="match")
    def match(self, obj: Conversation) -> str:
        """The search snippet: escaped transcript text with the match marked."""
        return getattr(obj, "search_snippet", "")

    @admin.display(description="agent(s)")
    def agents(self, obj: Conversation) -> str:
        """Starting agent, and the final one when it changed."""
        if obj.final_agent_name and obj.final_agent_name != obj.starting_agent_name:
            return f"{obj.starting_agent_name} → {obj.final_agent_name}"
        return obj.starting_agent_name

    @admin.display(description="duration", ordering="duration_value")
    def duration(self, obj: Conversation) -> str:
        """m:ss, or "active"."""
        seconds = obj.duration_seconds
        if seconds is None:
            return "active"
        minutes, rest = divmod(int(round(seconds)), 60)
        return f"{minutes}:{rest:02d}"

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> list[str]:
        """Every field is read-only."""
        return [name for _, options in self.fieldsets for name in options["fields"]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Conversations come from sessions only."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        """Recorded history is not edited (deleting stays possible, e.g. on a data-removal request)."""
        return False

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Conversation | None = None,
    ) -> HttpResponse | TemplateResponse:
        """Adds the chat rows (after the admin's permission checks have passed)."""
        if obj is not None:
            context["chat_rows"] = chat_rows(timeline(obj))
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )
