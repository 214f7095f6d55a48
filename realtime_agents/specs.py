"""The one place where rows become engine objects: a channel's whole reachable agent graph."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db.models import Prefetch

from .conf import app_settings, resolve_secret
from .engine.agent import AgentSpec
from .engine.config import normalize_model_settings
from .engine.errors import ConfigError
from .engine.guardrails import GuardrailFunctionOutput, InputGuardrail, OutputGuardrail
from .engine.handoffs import realtime_handoff
from .engine.tools import FunctionTool
from .http_tools import HttpToolSpec, http_function_tool
from .models import Agent, Channel, Guardrail, Handoff, Tool
from .models.agents import duplicate_names
from .models.validation import validate_function_name, validate_headers, validate_json_schema
from .registry import registry

logger = logging.getLogger("realtime_agents.specs")


class SpecError(ValueError):
    """A row cannot become an engine object; the message names the row and what to fix."""

    def __init__(self, message: str, *, model: str, pk: Any, name: str = "") -> None:
        self.model = model
        self.pk = pk
        self.name = name
        label = f"{model} {name!r} (pk={pk})" if name else f"{model} pk={pk}"
        super().__init__(f"{label}: {message}")


class ChannelUnavailable(SpecError):
    """The channel does not exist or is inactive."""


@dataclass(frozen=True, kw_only=True, eq=False)
class LoadedChannel:
    """A channel's engine objects and limits, ready for a runner."""

    channel_id: int
    slug: str
    name: str
    kind: str
    transport: str
    starting_agent: AgentSpec
    agents: dict[str, AgentSpec]
    model_settings: dict[str, Any]
    greeting: str
    allowed_origins: tuple[str, ...]
    max_session_seconds: int
    max_concurrent_sessions: int
    show_tool_arguments: bool
    retention_days: int | None


def reachable_agent_ids(start_id: int, edges: list[tuple[int, int, bool]]) -> list[int]:
    """Agents reachable from `start_id` through handoffs of active agents, in discovery order."""
    outgoing: dict[int, list[int]] = {}
    active: dict[int, bool] = {}
    for source, target, source_active in edges:
        outgoing.setdefault(source, []).append(target)
        active[source] = source_active
    seen = [start_id]
    seen_set = {start_id}
    index = 0
    while index < len(seen):
        current = seen[index]
        index += 1
        if not active.get(current, True):
            continue
        for target in outgoing.get(current, []):
            if target not in seen_set:
                seen_set.add(target)
                seen.append(target)
    return seen


def load_agent_rows(start_id: int) -> list[Agent]:
    """The reachable agents with tools, guardrails and outgoing handoffs: five queries, any graph size."""
    edges = list(Handoff.objects.values_list("from_agent_id", "to_agent_id", "from_agent__is_active"))
    ids = reachable_agent_ids(start_id, edges)
    agents = Agent.objects.filter(pk__in=ids).prefetch_related(
        Prefetch("tools", queryset=Tool.objects.order_by("name")),
        Prefetch("guardrails", queryset=Guardrail.objects.order_by("name")),
        Prefetch("outgoing_handoffs", queryset=Handoff.objects.order_by("order", "id")),
    )
    by_id = {agent.pk: agent for agent in agents}
    return [by_id[pk] for pk in ids if pk in by_id]


def _python_tool(row: Tool) -> FunctionTool:
    entry = registry.get_tool(row.python_function)
    if entry is None:
        raise SpecError(
            f"no Python tool is registered as {row.python_function!r}", model="Tool", pk=row.pk, name=row.name
        )
    base = entry.tool
    return dataclasses.replace(
        base,
        name=row.name,
        description=row.description or base.description,
        timeout=row.timeout_seconds or base.timeout,
        # The admin can add an approval step, never remove one the code asks for.
        needs_approval=True if row.needs_approval else base.needs_approval,
        starts_response=base.starts_response if row.starts_response is None else row.starts_response,
        metadata={**base.metadata, "tool_id": row.pk, "kind": "python", "function": row.python_function},
    )


def _http_tool(row: Tool) -> FunctionTool:
    try:
        validate_json_schema(row.parameters_schema)
        validate_headers(row.http_headers)
    except ValidationError as exc:
        raise SpecError("; ".join(exc.messages), model="Tool", pk=row.pk, name=row.name) from exc
    spec = HttpToolSpec(
        name=row.name,
        description=row.description or row.name,
        url=row.http_url,
        method=row.http_method,
        headers=dict(row.http_headers or {}),
        parameters_schema=row.parameters_schema or {},
        timeout=row.timeout_seconds or float(app_settings.HTTP_TOOL_DEFAULT_TIMEOUT),
        max_response_bytes=row.max_response_bytes or int(app_settings.HTTP_TOOL_MAX_RESPONSE_BYTES),
        allow_private_networks=bool(app_settings.HTTP_TOOLS_ALLOW_PRIVATE_NETWORKS),
    )
    return http_function_tool(
        spec,
        secrets=resolve_secret,
        needs_approval=row.needs_approval,
        starts_response=True if row.starts_response is None else row.starts_response,
        metadata={"tool_id": row.pk},
    )


def build_tool(row: Tool) -> FunctionTool:
    """An engine tool for a Tool row, or SpecError naming the row."""
    try:
        validate_function_name(row.name)
    except ValidationError as exc:
        raise SpecError(exc.messages[0], model="Tool", pk=row.pk, name=row.name) from exc
    if row.kind == Tool.Kind.PYTHON:
        return _python_tool(row)
    if row.kind == Tool.Kind.HTTP:
        return _http_tool(row)
    raise SpecError(f"unknown tool kind {row.kind!r}", model="Tool", pk=row.pk, name=row.name)


def _guardrail_function(row: Guardrail) -> Callable[..., Any]:
    if row.kind == Guardrail.Kind.BLOCKED_PHRASES:
        phrases = [" ".join(p.lower().split()) for p in row.phrases()]
        if not phrases:
            raise SpecError("no blocked phrases are set", model="Guardrail", pk=row.pk, name=row.name)

        def blocked(ctx: Any, agent: Any, text: str) -> GuardrailFunctionOutput:
            normalized = " ".join(text.lower().split())
            hit = next((phrase for phrase in phrases if phrase in normalized), None)
            return GuardrailFunctionOutput(tripwire_triggered=hit is not None, output_info={"matched": hit})

        return blocked
    if row.kind == Guardrail.Kind.REGEX:
        try:
            compiled = re.compile(row.pattern)
        except re.error as exc:
            raise SpecError(
                f"bad regular expression: {exc}", model="Guardrail", pk=row.pk, name=row.name
            ) from exc
        if not row.pattern:
            raise SpecError("the regular expression is empty", model="Guardrail", pk=row.pk, name=row.name)

        def matches(ctx: Any, agent: Any, text: str) -> GuardrailFunctionOutput:
            found = compiled.search(text)
            return GuardrailFunctionOutput(
                tripwire_triggered=found is not None, output_info={"pattern": row.pattern}
            )

        return matches
    if row.kind == Guardrail.Kind.PYTHON:
        check = registry.get_check(row.python_check)
        if check is None:
            raise SpecError(
                f"no guardrail check is registered as {row.python_check!r}",
                model="Guardrail",
                pk=row.pk,
                name=row.name,
            )
        return check
    raise SpecError(f"unknown guardrail kind {row.kind!r}", model="Guardrail", pk=row.pk, name=row.name)


def build_guardrails(row: Guardrail) -> tuple[OutputGuardrail | None, InputGuardrail | None]:
    """The engine output and/or input guardrail for a Guardrail row."""
    function = _guardrail_function(row)
    message = row.message or None
    output = None
    if row.applies_to_output:
        output = OutputGuardrail(
            guardrail_function=function,
            name=row.name,
            message=message,
            debounce_text_length=row.debounce_text_length or int(app_settings.GUARDRAIL_DEBOUNCE_TEXT_LENGTH),
        )
    inp = (
        InputGuardrail(guardrail_function=function, name=row.name, message=message)
        if row.applies_to_input
        else None
    )
    if output is None and inp is None:
        raise SpecError("applies to neither output nor input", model="Guardrail", pk=row.pk, name=row.name)
    return output, inp


def build_agents(rows: list[Agent]) -> dict[int, AgentSpec]:
    """Engine agents for prefetched rows, handoffs linked (cycles included); keyed by agent pk."""
    tools: dict[int, FunctionTool] = {}
    guardrails: dict[int, tuple[OutputGuardrail | None, InputGuardrail | None]] = {}
    specs: dict[int, AgentSpec] = {}
    for row in rows:
        if not row.is_active:
            continue
        spec = AgentSpec(
            name=row.name,
            instructions=row.instructions,
            handoff_description=row.handoff_description or None,
            voice=row.voice or None,
            metadata={"agent_id": row.pk, "slug": row.slug},
        )
        for tool_row in row.tools.all():
            if not tool_row.enabled:
                continue
            # One engine object per row, shared by every agent that uses it.
            if tool_row.pk not in tools:
                tools[tool_row.pk] = build_tool(tool_row)
            spec.tools.append(tools[tool_row.pk])
        for guardrail_row in row.guardrails.all():
            if not guardrail_row.enabled:
                continue
            if guardrail_row.pk not in guardrails:
                guardrails[guardrail_row.pk] = build_guardrails(guardrail_row)
            output, inp = guardrails[guardrail_row.pk]
            if output is not None:
                spec.output_guardrails.append(output)
            if inp is not None:
                spec.input_guardrails.append(inp)
        specs[row.pk] = spec
    by_id = {row.pk: row for row in rows}
    for row in rows:
        if not row.is_active:
            continue
        spec = specs[row.pk]
        for handoff in row.outgoing_handoffs.all():
            target_row = by_id.get(handoff.to_agent_id)
            label = f"{row.name} → {target_row.name if target_row else handoff.to_agent_id}"
            if handoff.to_agent_id == row.pk:
                raise SpecError(
                    "an agent cannot hand off to itself", model="Handoff", pk=handoff.pk, name=label
                )
            if target_row is None or not target_row.is_active:
                raise SpecError("the target agent is inactive", model="Handoff", pk=handoff.pk, name=label)
            if handoff.tool_name_override:
                try:
                    validate_function_name(handoff.tool_name_override)
                except ValidationError as exc:
                    raise SpecError(exc.messages[0], model="Handoff", pk=handoff.pk, name=label) from exc
            spec.handoffs.append(
                realtime_handoff(
                    specs[target_row.pk],
                    tool_name_override=handoff.tool_name_override or None,
                    tool_description_override=handoff.tool_description_override or None,
                )
            )
        names = [tool.name for tool in spec.tools] + [h.tool_name for h in spec.handoffs]  # type: ignore[union-attr]
        clashes = duplicate_names(names)
        if clashes:
            raise SpecError(
                f"duplicate tool names {', '.join(clashes)} (tools and handoffs of one agent need distinct names)",
                model="Agent",
                pk=row.pk,
                name=row.name,
            )
    return specs


def _get_channel(channel_or_slug: Channel | str) -> Channel:
    if isinstance(channel_or_slug, Channel):
        return channel_or_slug
    channel = Channel.objects.select_related("starting_agent").filter(slug=channel_or_slug).first()
    if channel is None:
        raise ChannelUnavailable("no such channel", model="Channel", pk=None, name=channel_or_slug)
    return channel


def load_channel(channel_or_slug: Channel | str, *, require_active: bool = True) -> LoadedChannel:
    """Load a channel and its reachable agent graph in a fixed number of queries."""
    channel = _get_channel(channel_or_slug)
    if require_active and not channel.is_active:
        raise ChannelUnavailable("the channel is inactive", model="Channel", pk=channel.pk, name=channel.slug)
    if channel.starting_agent_id is None:
        raise SpecError(
            "the channel has no starting agent", model="Channel", pk=channel.pk, name=channel.slug
        )
    rows = load_agent_rows(channel.starting_agent_id)
    start_row = rows[0] if rows and rows[0].pk == channel.starting_agent_id else None
    if start_row is None or not start_row.is_active:
        raise SpecError("the starting agent is inactive", model="Channel", pk=channel.pk, name=channel.slug)
    specs = build_agents(rows)
    model_settings = channel.engine_model_settings(default_model=str(app_settings.DEFAULT_MODEL))
    try:
        normalize_model_settings(model_settings)
    except ConfigError as exc:
        raise SpecError(
            f"bad model settings: {exc}", model="Channel", pk=channel.pk, name=channel.slug
        ) from exc
    logger.debug("loaded channel %s: %d agents", channel.slug, len(specs))
    return LoadedChannel(
        channel_id=channel.pk,
        slug=channel.slug,
        name=channel.name,
        kind=channel.kind,
        transport=app_settings.resolve_transport(channel.transport),
        starting_agent=specs[start_row.pk],
        agents={row.slug: specs[row.pk] for row in rows if row.is_active},
        model_settings=model_settings,
        greeting=channel.greeting,
        allowed_origins=tuple(channel.origins()),
        max_session_seconds=channel.max_session_seconds or int(app_settings.MAX_SESSION_SECONDS),
        max_concurrent_sessions=channel.max_concurrent_sessions or int(app_settings.MAX_SESSIONS_PER_CHANNEL),
        show_tool_arguments=channel.show_tool_arguments,
        retention_days=channel.retention_days,
    )


async def aload_channel(channel_or_slug: Channel | str, *, require_active: bool = True) -> LoadedChannel:
    """`load_channel` for async callers (runs in Django's database thread)."""
    return await sync_to_async(load_channel, thread_sensitive=True)(
        channel_or_slug, require_active=require_active
    )
