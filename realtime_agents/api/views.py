"""The API's views: the conversation list (filters, search, cursor pages) and one conversation."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.utils.http import urlencode

from ..models import Conversation
from ..search import SearchQueryError, search_conversations
from . import serializers
from .auth import api_view, error
from .pagination import Cursor, CursorError, page, parse_limit
from .queries import FILTER_PARAMS, FilterError, parse_filters, timeline

_LIST_PARAMS = frozenset({*FILTER_PARAMS, "q", "cursor", "limit"})


@api_view
def conversation_list(request: HttpRequest) -> JsonResponse:
    """GET conversations, newest first or best search match first, one cursor page at a time."""
    unknown = sorted(set(request.GET) - _LIST_PARAMS)
    if unknown:
        return error(
            400, f"Unknown parameter(s): {', '.join(unknown)}. Known: {', '.join(sorted(_LIST_PARAMS))}."
        )
    q = request.GET.get("q", "").strip()
    ranked = bool(q)
    try:
        filters = parse_filters(request.GET)
        limit = parse_limit(request.GET.get("limit"))
        cursor = Cursor.decode(request.GET["cursor"], ranked=ranked) if request.GET.get("cursor") else None
        queryset = filters.apply(Conversation.objects.all())
        queryset = search_conversations(queryset, q) if ranked else queryset.order_by("-started_at", "-pk")
    except (FilterError, CursorError, SearchQueryError, ValueError) as exc:
        return error(400, str(exc))
    rows, next_cursor = page(queryset, limit=limit, cursor=cursor, ranked=ranked)
    next_url = None
    if next_cursor is not None:
        params = {key: value for key, value in request.GET.items() if key != "cursor"}
        next_url = request.build_absolute_uri(
            f"{request.path}?{urlencode({**params, 'cursor': next_cursor})}"
        )
    return JsonResponse(
        {
            "results": [serializers.conversation_summary(row) for row in rows],
            "next_cursor": next_cursor,
            "next": next_url,
        }
    )


@api_view
def conversation_detail(request: HttpRequest, public_id: uuid.UUID) -> JsonResponse:
    """GET one conversation with its messages, tool runs and events in sequence."""
    conversation = Conversation.objects.filter(public_id=public_id).first()
    if conversation is None:
        return error(404, f"No conversation {public_id}.")
    data = serializers.conversation_summary(conversation)
    data["url"] = request.build_absolute_uri(reverse("realtime_agents:api:conversation", args=[public_id]))
    data["timeline"] = [serializers.timeline_entry(entry) for entry in timeline(conversation)]
    return JsonResponse(data)
