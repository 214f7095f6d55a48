"""Handoffs: a transfer tool per target agent; calling it switches the session's agent."""
from __future__ import annotations

import copy
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pydantic

from .agent import AgentSpec
from .tools import (
    TOOL_NAME_PATTERN,
    ToolArgumentsError,
    ToolDefinitionError,
    format_validation_error,
    parse_arguments,
    strict_schema,
)

if TYPE_CHECKING:
    from .agent import RunContext

EnabledPredicate = Callable[["RunContext", "AgentSpec"], bool | Awaitable[bool]]
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
    input_json_schema: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(EMPTY_OBJECT_SCHEMA))
    on_handoff: OnHandoff | None = None
    input_type: type[Any] | None = None
    is_enabled: bool | EnabledPredicate = True

    def __post_init__(self) -> None:
        if not isinstance(self.agent, AgentSpec):
            raise ToolDefinitionError(f"a handoff targets an AgentSpec, got {type(self.agent).__name__}")
        if not isinstance(self.tool_name, str) or not TOOL_NAME_PATTERN.match(self.tool_name):
            raise ToolDefinitionError(
                f"handoff tool name {self.tool_name!r} must match {TOOL_NAME_PATTERN.pattern}"
            )
        if not isinstance(self.tool_description, str):
            raise ToolDefinitionError(f"handoff {self.tool_name!r}: tool_description must be a string")
        if self.on_handoff is not None and not callable(self.on_handoff):
            raise ToolDefinitionError(f"handoff {self.tool_name!r}: on_handoff must be callable")
        if not (isinstance(self.is_enabled, bool) or callable(self.is_enabled)):
            raise ToolDefinitionError(f"handoff {self.tool_name!r}: is_enabled must be a bool or a predicate")

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
                raise ToolArgumentsError(format_validation_error(exc, "handoff input")) from exc
            result = self.on_handoff(run_context, value)
        else:
            result = self.on_handoff(run_context)
        if inspect.isawaitable(result):
            await result
        return self.agent


def _check_arity(on_handoff: OnHandoff, expected: int) -> None:
    """on_handoff must accept exactly the (context[, input]) arguments it will be called with."""
    if not callable(on_handoff):
        raise ToolDefinitionError(f"on_handoff must be callable, got {type(on_handoff).__name__}")
    try:
        signature = inspect.signature(on_handoff)
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"cannot read on_handoff's signature: {exc}") from exc
    try:
        signature.bind(*([None] * expected))
    except TypeError as exc:
        arity = len(signature.parameters)
        raise ToolDefinitionError(
            f"on_handoff must take {expected} argument(s), it takes {arity}: {exc}"
        ) from exc


def _input_schema(input_type: type[Any]) -> dict[str, Any]:
    """The closed JSON Schema of a handoff's input; it must describe a JSON object."""
    try:
        schema = pydantic.TypeAdapter(input_type).json_schema()
    except pydantic.PydanticUserError as exc:
        first_line = str(exc).splitlines()[0]
        raise ToolDefinitionError(f"unsupported handoff input_type: {first_line}") from exc
    if schema.get("type") != "object":
        raise ToolDefinitionError(
            f"handoff input_type must describe a JSON object (a pydantic model, dataclass or TypedDict), "
            f"got {input_type!r}"
        )
    schema.pop("title", None)
    return strict_schema(schema)


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
    if not isinstance(agent, AgentSpec):
        raise ToolDefinitionError(f"realtime_handoff needs an AgentSpec, got {type(agent).__name__}")
    if input_type is not None and on_handoff is None:
        raise ToolDefinitionError("input_type needs an on_handoff callback to receive the input")
    if on_handoff is not None:
        _check_arity(on_handoff, 2 if input_type is not None else 1)
    description = tool_description_override or tool_description
    if description is None:
        description = f"Handoff to the {agent.name} agent to handle the request."
        if agent.handoff_description:
            description += f" {agent.handoff_description}"
    schema = copy.deepcopy(EMPTY_OBJECT_SCHEMA)
    if input_type is not None:
        schema = _input_schema(input_type)
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
