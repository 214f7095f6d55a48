"""Builders of recorded conversations (real rows) for the search, admin and API tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import Permission, User

from realtime_agents.models import Conversation, ConversationEvent, ToolRun, TranscriptItem

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def conversation(
    *,
    messages: Sequence[tuple[str, str]] = (),
    started: dt.datetime = T0,
    channel_slug: str = "web",
    agent: str = "Concierge",
    final_agent: str = "",
    end_reason: str = "client_closed",
    **fields: Any,
) -> Conversation:
    """An ended conversation with (role, text) messages numbered 1, 2, … ."""
    conv = Conversation.objects.create(
        channel_slug=channel_slug,
        starting_agent_name=agent,
        final_agent_name=final_agent or agent,
        started_at=started,
        ended_at=started + dt.timedelta(seconds=90),
        end_reason=end_reason,
        status=Conversation.Status.ENDED,
        turn_count=sum(1 for role, _ in messages if role == "user"),
        **fields,
    )
    for index, (role, text) in enumerate(messages, start=1):
        item(conv, index, role, text)
    return conv


def item(conv: Conversation, sequence: int, role: str, text: str, **fields: Any) -> TranscriptItem:
    """One transcript message, a second apart from the conversation's start per sequence."""
    fields.setdefault("agent_name", conv.starting_agent_name if role == "assistant" else "")
    return TranscriptItem.objects.create(
        conversation=conv,
        sequence=sequence,
        role=role,
        text=text,
        started_at=conv.started_at + dt.timedelta(seconds=sequence),
        **fields,
    )


def tool_run(
    conv: Conversation, sequence: int, name: str = "refund", status: str = "ok", **fields: Any
) -> ToolRun:
    """One tool run."""
    fields.setdefault("call_id", f"call_{sequence}")
    return ToolRun.objects.create(
        conversation=conv,
        sequence=sequence,
        tool_name=name,
        status=status,
        started_at=conv.started_at + dt.timedelta(seconds=sequence),
        **fields,
    )


def event(conv: Conversation, sequence: int, kind: str, **data: Any) -> ConversationEvent:
    """One typed event."""
    return ConversationEvent.objects.create(
        conversation=conv,
        sequence=sequence,
        kind=kind,
        data=data,
        created_at=conv.started_at + dt.timedelta(seconds=sequence),
    )


def staff(username: str = "reader", *, view: bool = True, is_staff: bool = True) -> User:
    """A staff user, with the view_conversation permission unless told otherwise."""
    user = User.objects.create_user(username=username, password="pw", is_staff=is_staff)
    if view:
        user.user_permissions.add(Permission.objects.get(codename="view_conversation"))
    return user
