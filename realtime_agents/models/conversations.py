"""Recorded conversations: the conversation row, its transcript, tool runs and typed events."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Conversation(models.Model):
    """One session on a channel: who, when, why it ended, and usage totals."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # SET_NULL, not PROTECT: a recorded conversation is history that must outlive its channel, and
    # staff must be able to delete a channel without first deleting every conversation it had.
    channel = models.ForeignKey(
        "realtime_agents.Channel",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
    )
    # Copied so a conversation stays readable after its channel or agents are renamed or deleted.
    channel_slug = models.CharField(max_length=100, blank=True)
    starting_agent_name = models.CharField(max_length=100)
    final_agent_name = models.CharField(max_length=100, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="realtime_conversations",
    )
    user_agent = models.CharField(max_length=512, blank=True)
    ip_hash = models.CharField(
        max_length=64, blank=True, help_text="HMAC-SHA256 of the client address; the address itself is never kept."
    )
    call_id = models.CharField(
        max_length=100, blank=True, help_text="Telephony: the Twilio call SID or the SIP call id."
    )
    caller_number = models.CharField(
        max_length=40, blank=True, help_text="Telephony: the caller's number (redacted when the channel redacts)."
    )
    started_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=50, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    turn_count = models.PositiveIntegerField(default=0, help_text="User messages (spoken or typed).")
    response_count = models.PositiveIntegerField(default=0, help_text="Model responses (from usage reports).")
    input_tokens = models.PositiveBigIntegerField(default=0)
    output_tokens = models.PositiveBigIntegerField(default=0)
    cached_tokens = models.PositiveBigIntegerField(default=0)
    input_audio_seconds = models.FloatField(default=0.0, help_text="User speech heard by turn detection.")
    output_audio_seconds = models.FloatField(default=0.0, help_text="Assistant audio generated.")
    # Stored, not counted per list page: sorting 100k conversations by a COUNT subquery computed it
    # for every row first (2-3 s). The recorder keeps them current; stale closing recounts them.
    # db_default as well: writers that name their columns (COPY in realtime_agents_synthesize, other
    # raw inserts) would otherwise insert NULL, since Django drops a plain default after adding a column.
    tool_run_count = models.PositiveIntegerField(
        "tool runs", default=0, db_default=0, help_text="Tool runs, whatever their outcome."
    )
    tool_error_count = models.PositiveIntegerField(
        "tool errors",
        default=0,
        db_default=0,
        help_text="Failed tool runs: error, timeout, invalid arguments, unknown tool.",
    )
    guardrail_trip_count = models.PositiveIntegerField(
        "guardrail trips", default=0, db_default=0, help_text="Guardrail trips."
    )

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["started_at"], name="ra_conv_started"),
            models.Index(fields=["status", "started_at"], name="ra_conv_status_started"),
            models.Index(fields=["channel", "status", "started_at"], name="ra_conv_channel_status"),
            models.Index(fields=["ip_hash", "status", "started_at"], name="ra_conv_ip_status"),
            models.Index(fields=["call_id"], name="ra_conv_call_id"),
            # Agent and end-reason filters, and their choice lists (read by index skip-scans).
            models.Index(fields=["starting_agent_name", "started_at"], name="ra_conv_start_agent"),
            models.Index(fields=["final_agent_name", "started_at"], name="ra_conv_final_agent"),
            models.Index(fields=["end_reason", "started_at"], name="ra_conv_end_reason"),
            # Sorting the admin list by a count: the change list orders by (count, -pk), Django's
            # tie-break, so (count, -id) serves the ascending sort exactly, and the descending one by a
            # backward scan that only re-sorts rows with equal counts (few at the top). started_at
            # would not help: it is not part of the ORDER BY once a column is sorted.
            models.Index(fields=["tool_run_count", "-id"], name="ra_conv_tool_runs"),
            models.Index(fields=["tool_error_count", "-id"], name="ra_conv_tool_errors"),
            models.Index(fields=["guardrail_trip_count", "-id"], name="ra_conv_guardrail_trips"),
        ]

    def __str__(self) -> str:
        return f"{self.channel_slug or 'conversation'} {self.public_id}"

    @property
    def duration_seconds(self) -> float | None:
        """Seconds from start to end, None while active."""
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class TranscriptItem(models.Model):
    """One message of a conversation: what the user, the assistant or the system said."""

    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"
        SYSTEM = "system", "System"

    class Status(models.TextChoices):
        COMPLETED = "completed", "Completed"
        INTERRUPTED = "interrupted", "Interrupted"
        TRUNCATED = "truncated", "Truncated (cut where the user stopped hearing it)"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="transcript_items")
    sequence = models.PositiveIntegerField(help_text="Position in the conversation, shared with tool runs and events.")
    role = models.CharField(max_length=10, choices=Role.choices)
    agent_name = models.CharField(max_length=100, blank=True)
    text = models.TextField(blank=True)
    item_id = models.CharField(max_length=64, blank=True, help_text="The model's item id.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COMPLETED)
    audio_ms = models.FloatField(default=0.0, help_text="Audio length; for truncated items, what was heard.")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    response_latency_ms = models.FloatField(
        null=True, blank=True, help_text="Assistant items: end of user speech to first assistant audio."
    )

    class Meta:
        ordering = ["conversation", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "sequence"], name="ra_transcript_conv_seq"),
        ]
        indexes = [models.Index(fields=["started_at"], name="ra_transcript_started")]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.role}: {self.text[:60]}"


class ToolRun(models.Model):
    """One function call the model made: arguments, output, outcome, approval, timing."""

    class Status(models.TextChoices):
        OK = "ok", "OK"
        ERROR = "error", "Error"
        TIMEOUT = "timeout", "Timed out"
        REJECTED = "rejected", "Rejected"
        INVALID_ARGUMENTS = "invalid_arguments", "Invalid arguments"
        NOT_FOUND = "not_found", "Unknown tool"
        CANCELLED = "cancelled", "Cancelled (session ended first)"

    class Approval(models.TextChoices):
        NOT_NEEDED = "", "Not needed"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="tool_runs")
    sequence = models.PositiveIntegerField()
    agent_name = models.CharField(max_length=100, blank=True)
    tool_name = models.CharField(max_length=100)
    call_id = models.CharField(max_length=64)
    arguments = models.TextField(blank=True, help_text="The JSON arguments, as the model sent them.")
    output = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    approval = models.CharField(max_length=10, choices=Approval.choices, blank=True, default="")
    decided_by = models.CharField(max_length=150, blank=True, help_text="Who or what approved or rejected the call.")
    started_at = models.DateTimeField()
    duration_ms = models.FloatField(default=0.0)

    class Meta:
        ordering = ["conversation", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "sequence"], name="ra_toolrun_conv_seq"),
        ]
        indexes = [
            models.Index(fields=["tool_name", "status"], name="ra_toolrun_name_status"),
            models.Index(fields=["started_at"], name="ra_toolrun_started"),
            # "Had a tool error" per conversation, answered from the index alone.
            models.Index(fields=["status", "conversation"], name="ra_toolrun_status_conv"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.tool_name} ({self.status})"


# Outcomes that count as a tool failing; rejected (a decision) and cancelled (session ended) do not.
# The one definition behind the stored tool_error_count, the list filter, the API and analytics.
# Plain strings (.value): enum members hash by name, so they would miss as keys of a dict of column values.
TOOL_ERROR_STATUSES: tuple[str, ...] = tuple(
    status.value
    for status in (
        ToolRun.Status.ERROR,
        ToolRun.Status.TIMEOUT,
        ToolRun.Status.INVALID_ARGUMENTS,
        ToolRun.Status.NOT_FOUND,
    )
)


class ConversationEvent(models.Model):
    """A typed moment in a conversation (handoff, guardrail trip, error, reconnect, interruption)."""

    class Kind(models.TextChoices):
        HANDOFF = "handoff", "Handoff"
        GUARDRAIL_TRIPPED = "guardrail_tripped", "Guardrail tripped"
        ERROR = "error", "Error"
        RECONNECT = "reconnect", "Reconnect"
        INTERRUPTION = "interruption", "Interruption"
        IDLE_TIMEOUT = "idle_timeout", "Idle timeout"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    sequence = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    agent_name = models.CharField(max_length=100, blank=True, help_text="The agent answering at the time.")
    data = models.JSONField(default=dict, blank=True, help_text="Kind-specific details, e.g. from/to agents.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["conversation", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "sequence"], name="ra_event_conv_seq"),
        ]
        indexes = [
            models.Index(fields=["kind", "created_at"], name="ra_event_kind_created"),
            # "Had a handoff / guardrail trip" per conversation, answered from the index alone.
            models.Index(fields=["kind", "conversation"], name="ra_event_kind_conv"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.kind}"
