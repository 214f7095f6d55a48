"""Handoffs: a transfer tool per target agent; calling it switches the session's agent."""
from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import pydantic

from .tools import ToolArgumentsError, ToolDefinitionError, parse_arguments

if TYPE_CHECKING:
    from .agent import AgentSpec, RunContext

EnabledPredicate = Callable[["RunContext", "AgentSpec"], Union[bool, Awaitable[bool]]]
OnHandoff = Callable[..., Any]
EMPTY_OBJECT_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


def default_tool_name(agent_name: str) -> str:
    """`transfer_to_<agent name in snake case>`, trimmed to a valid function name."""
    slug = re.sub(r"[^a-zA-Z0-9]+", "_", agent_name).strip("_").lower() or "agent"
    return f"transfer_to_{slug}"[:64]


@dataclass(frozen=True, kw_only=True, eq=False)
class Handoff:
    """A transfer to `agent`, exposed to the model as a function tool."""

    agent: AgentSpec
    tool_name: str
    tool_description: str
    input_json_schema: dict[str, Any] = field(default_factory=lambda: dict(EMPTY_OBJECT_SCHEMA))
    on_handoff: OnHandoff | None = None
    input_type: type[Any] | None = None
    is_enabled: bool | EnabledPredicate = True

    @property
    def agent_name(self) -> str:
        """The target agent's name."""
        return self.agent.name

    def to_session_tool(self) -> dict[str, Any]:
        """The GA `session.tools` entry for the transfer tool."""
        return {
            "type": "function",
            "name": self.tool_name,
            "description": self.tool_description,
            "parameters": self.input_json_schema,
        }

    async def enabled(self, run_context: RunContext, from_agent: AgentSpec) -> bool:
        """Whether the model may see this handoff now."""
        if not callable(self.is_enabled):
            return bool(self.is_enabled)
        verdict = self.is_enabled(run_context, from_agent)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return bool(verdict)

    async def invoke(self, run_context: RunContext, arguments: str) -> AgentSpec:
        """Validate the input, run the callback, and return the agent to switch to."""
        raw = parse_arguments(arguments)
        if self.on_handoff is None:
            return self.agent
        if self.input_type is not None:
            try:
                value = pydantic.TypeAdapter(self.input_type).validate_python(raw)
            except pydantic.ValidationError as exc:
                raise ToolArgumentsError(f"invalid handoff input: {exc.errors(include_url=False)}") from exc
            result = self.on_handoff(run_context, value)
        else:
            result = self.on_handoff(run_context)
        if inspect.isawaitable(result):
            await result
        return self.agent


def realtime_handoff(
    agent: AgentSpec,
    *,
    tool_name_override: str | None = None,
    tool_description_override: str | None = None,
    tool_description: str | None = None,
    on_handoff: OnHandoff | None = None,
    input_type: type[Any] | None = None,
    is_enabled: bool | EnabledPredicate = True,
) -> Handoff:
    """Build a Handoff to `agent`; `tool_description=` is the seed documents' spelling."""
    if input_type is not None and on_handoff is None:
        raise ToolDefinitionError("input_type needs an on_handoff callback to receive the input")
    if on_handoff is not None:
        arity = len(inspect.signature(on_handoff).parameters)
        expected = 2 if input_type is not None else 1
        if arity != expected:
            raise ToolDefinitionError(f"on_handoff must take {expected} argument(s), it takes {arity}")
    description = tool_description_override or tool_description
    if description is None:
        description = f"Handoff to the {agent.name} agent to handle the request."
        if agent.handoff_description:
            description += f" {agent.handoff_description}"
    schema = dict(EMPTY_OBJECT_SCHEMA)
    if input_type is not None:
        schema = pydantic.TypeAdapter(input_type).json_schema()
        schema.setdefault("additionalProperties", False)
    return Handoff(
        agent=agent,
        tool_name=tool_name_override or default_tool_name(agent.name),
        tool_description=description,
        input_json_schema=schema,
        on_handoff=on_handoff,
        input_type=input_type,
        is_enabled=is_enabled,
    )


def as_handoff(target: AgentSpec | Handoff) -> Handoff:
    """Wrap a bare agent in a default Handoff."""
    return target if isinstance(target, Handoff) else realtime_handoff(target)


def transfer_output(agent: AgentSpec) -> str:
    """The function_call_output sent after a handoff, naming the new agent."""
    return json.dumps({"assistant": agent.name})
