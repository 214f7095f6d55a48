"""Staff pages: the channel "try it" page and the read-only agent graph of a channel."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from .conf import app_settings
from .models import Agent, Channel
from .specs import SpecError, load_agent_rows, load_channel


def try_it_url(slug: str) -> str:
    """The try-it page of a channel: `TRY_IT_URL` with {slug} filled in, else this app's page."""
    template = str(app_settings.TRY_IT_URL or "")
    if template:
        return template.replace("{slug}", slug)
    return reverse("realtime_agents:try_it", args=[slug])


@staff_member_required
def try_it(request: HttpRequest, slug: str) -> HttpResponse:
    """A page that embeds the channel's widget, so staff can talk to the agent."""
    channel = get_object_or_404(Channel.objects.select_related("starting_agent"), slug=slug)
    return render(request, "realtime_agents/try_it.html", {"channel": channel})


@dataclass
class GraphNode:
    """One agent of the graph, as the template shows it."""

    agent: Agent
    tools: list[Any] = field(default_factory=list)
    guardrails: list[Any] = field(default_factory=list)
    handoffs: list[tuple[str, Agent | None]] = field(default_factory=list)


def _graph(channel: Channel) -> list[GraphNode]:
    if channel.starting_agent_id is None:
        return []
    rows = load_agent_rows(channel.starting_agent_id)
    by_id = {row.pk: row for row in rows}
    nodes = []
    for row in rows:
        node = GraphNode(agent=row, tools=list(row.tools.all()), guardrails=list(row.guardrails.all()))
        for handoff in row.outgoing_handoffs.all():
            target = by_id.get(handoff.to_agent_id)
            if target is not None:
                handoff.to_agent = target
                node.handoffs.append((handoff.tool_name(), target))
        nodes.append(node)
    return nodes


@staff_member_required
def channel_graph(request: HttpRequest, pk: int, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    """Who hands off to whom from this channel's starting agent, with tools and guardrails."""
    channel = get_object_or_404(Channel.objects.select_related("starting_agent"), pk=pk)
    problem = ""
    try:
        load_channel(channel, require_active=False)
    except SpecError as exc:
        problem = str(exc)
    context = {
        **(extra_context or {}),
        "channel": channel,
        "nodes": _graph(channel),
        "problem": problem,
        "title": f"Agent graph of {channel.name}",
        "opts": Channel._meta,
    }
    return render(request, "realtime_agents/channel_graph.html", context)
