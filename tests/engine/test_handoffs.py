"""Unit tests for engine/handoffs.py: transfer tools, their names, descriptions, input and callbacks."""
from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import jsonschema
import pydantic
import pytest
from openai.types.realtime import RealtimeFunctionTool
from typing_extensions import TypedDict

from realtime_agents.engine import AgentSpec, Handoff, RunContext, ToolArgumentsError, realtime_handoff
from realtime_agents.engine.handoffs import (
    EMPTY_OBJECT_SCHEMA,
    as_handoff,
    default_tool_name,
    transfer_output,
)
from realtime_agents.engine.tools import ToolDefinitionError


class Reason(pydantic.BaseModel):
    """Why the caller is transferred."""

    reason: str
    urgency: int = 1


class Escalation(pydantic.BaseModel):
    """Nested input."""

    reason: Reason
    ticket: str | None = None


class Note(TypedDict):
    """A TypedDict input."""

    text: str


@dataclasses.dataclass
class Callback:
    """A dataclass input."""

    phone: str


def check_session_tool(handoff: Handoff) -> dict[str, Any]:
    """The transfer tool passes the official openai type and the 2020-12 meta-schema."""
    entry = handoff.to_session_tool()
    parsed = RealtimeFunctionTool.model_validate(entry)
    assert (parsed.type, parsed.name) == ("function", handoff.tool_name)
    assert parsed.description == handoff.tool_description
    jsonschema.Draft202012Validator.check_schema(entry["parameters"])
    return entry


async def bounded(awaitable: Any) -> Any:
    """Await with a time limit."""
    async with asyncio.timeout(5):
        return await awaitable


# -- names and descriptions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent_name", "tool_name"),
    [
        ("Billing", "transfer_to_billing"),
        ("Billing Agent", "transfer_to_billing_agent"),
        ("  FAQ / Help-Desk!! ", "transfer_to_faq_help_desk"),
        ("Café 2", "transfer_to_caf_2"),
        ("日本語", "transfer_to_agent"),
        ("x" * 100, ("transfer_to_" + "x" * 100)[:64]),
    ],
)
def test_default_tool_name(agent_name: str, tool_name: str) -> None:
    assert default_tool_name(agent_name) == tool_name
    assert len(tool_name) <= 64
    # And the handoff built from it is a valid function name for the API.
    check_session_tool(realtime_handoff(AgentSpec(name=agent_name)))


def test_defaults() -> None:
    billing = AgentSpec(name="Billing")
    handoff = realtime_handoff(billing)
    assert handoff.agent is billing
    assert handoff.agent_name == "Billing"
    assert handoff.tool_name == "transfer_to_billing"
    assert handoff.tool_description == "Handoff to the Billing agent to handle the request."
    assert handoff.input_json_schema == EMPTY_OBJECT_SCHEMA
    assert handoff.is_enabled is True
    assert check_session_tool(handoff)["parameters"] == {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }


def test_default_description_includes_handoff_description() -> None:
    agent = AgentSpec(name="Billing", handoff_description="Refunds and invoices.")
    assert realtime_handoff(agent).tool_description == (
        "Handoff to the Billing agent to handle the request. Refunds and invoices."
    )


def test_overrides_and_seed_spelling() -> None:
    agent = AgentSpec(name="Billing", handoff_description="ignored when a description is given")
    seed = realtime_handoff(agent, tool_description="Seed spelling.")
    assert seed.tool_description == "Seed spelling."
    override = realtime_handoff(
        agent,
        tool_name_override="go_billing",
        tool_description_override="Override spelling.",
        tool_description="Loses to the override.",
    )
    assert (override.tool_name, override.tool_description) == ("go_billing", "Override spelling.")
    check_session_tool(override)


@pytest.mark.parametrize("name", ["has space", "9lives", "a.b", "x" * 65])
def test_bad_tool_name_override_is_refused(name: str) -> None:
    with pytest.raises(ToolDefinitionError, match="must match"):
        realtime_handoff(AgentSpec(name="Billing"), tool_name_override=name)


def test_default_schema_is_not_shared_between_handoffs() -> None:
    first = realtime_handoff(AgentSpec(name="A"))
    second = realtime_handoff(AgentSpec(name="B"))
    first.input_json_schema["properties"]["leak"] = {"type": "string"}
    assert second.input_json_schema["properties"] == {}
    assert EMPTY_OBJECT_SCHEMA["properties"] == {}
    direct = Handoff(agent=AgentSpec(name="C"), tool_name="to_c", tool_description="C.")
    assert direct.input_json_schema == {"type": "object", "properties": {}, "additionalProperties": False}


def test_as_handoff_wraps_agents_and_keeps_handoffs() -> None:
    agent = AgentSpec(name="Support")
    wrapped = as_handoff(agent)
    assert isinstance(wrapped, Handoff)
    assert wrapped.agent is agent and wrapped.tool_name == "transfer_to_support"
    custom = realtime_handoff(agent, tool_name_override="custom")
    assert as_handoff(custom) is custom


def test_transfer_output_names_the_new_agent() -> None:
    assert json.loads(transfer_output(AgentSpec(name="Billing Desk"))) == {"assistant": "Billing Desk"}


# -- bad definitions -------------------------------------------------------------------------------


def test_target_must_be_an_agent() -> None:
    with pytest.raises(ToolDefinitionError, match="needs an AgentSpec, got str"):
        realtime_handoff("Billing")  # type: ignore[arg-type]
    with pytest.raises(ToolDefinitionError, match="targets an AgentSpec"):
        Handoff(agent=None, tool_name="x", tool_description="d")  # type: ignore[arg-type]


def test_manual_handoff_is_validated() -> None:
    agent = AgentSpec(name="A")
    with pytest.raises(ToolDefinitionError, match="tool_description must be a string"):
        Handoff(agent=agent, tool_name="to_a", tool_description=None)  # type: ignore[arg-type]
    with pytest.raises(ToolDefinitionError, match="on_handoff must be callable"):
        Handoff(agent=agent, tool_name="to_a", tool_description="d", on_handoff="nope")  # type: ignore[arg-type]
    with pytest.raises(ToolDefinitionError, match="is_enabled must be a bool or a predicate"):
        Handoff(agent=agent, tool_name="to_a", tool_description="d", is_enabled="yes")  # type: ignore[arg-type]


def test_input_type_needs_on_handoff() -> None:
    with pytest.raises(ToolDefinitionError, match="input_type needs an on_handoff"):
        realtime_handoff(AgentSpec(name="A"), input_type=Reason)


def test_on_handoff_arity_is_checked() -> None:
    agent = AgentSpec(name="A")

    def no_args() -> None:
        return None

    def one_arg(ctx: RunContext) -> None:
        return None

    def two_args(ctx: RunContext, data: Reason) -> None:
        return None

    def three_args(ctx: RunContext, data: Reason, extra: int) -> None:
        return None

    with pytest.raises(ToolDefinitionError, match=r"must take 1 argument\(s\), it takes 0"):
        realtime_handoff(agent, on_handoff=no_args)
    with pytest.raises(ToolDefinitionError, match=r"must take 1 argument\(s\), it takes 2"):
        realtime_handoff(agent, on_handoff=two_args)
    with pytest.raises(ToolDefinitionError, match=r"must take 2 argument\(s\), it takes 1"):
        realtime_handoff(agent, on_handoff=one_arg, input_type=Reason)
    with pytest.raises(ToolDefinitionError, match=r"must take 2 argument\(s\), it takes 3"):
        realtime_handoff(agent, on_handoff=three_args, input_type=Reason)
    with pytest.raises(ToolDefinitionError, match="must be callable"):
        realtime_handoff(agent, on_handoff=42)  # type: ignore[arg-type]
    # Callables that can be called with the arguments are fine, defaults and *args included.
    realtime_handoff(agent, on_handoff=one_arg)
    realtime_handoff(agent, on_handoff=two_args, input_type=Reason)
    realtime_handoff(agent, on_handoff=lambda ctx, extra=None: None)
    realtime_handoff(agent, on_handoff=lambda *args: None, input_type=Reason)


@pytest.mark.parametrize("input_type", [int, str, list[int], Reason | None])
def test_input_type_must_describe_an_object(input_type: Any) -> None:
    with pytest.raises(ToolDefinitionError, match="must describe a JSON object"):
        realtime_handoff(AgentSpec(name="A"), on_handoff=lambda ctx, data: None, input_type=input_type)


def test_unsupported_input_type_is_refused() -> None:
    class Opaque:
        pass

    with pytest.raises(ToolDefinitionError, match="unsupported handoff input_type"):
        realtime_handoff(AgentSpec(name="A"), on_handoff=lambda ctx, data: None, input_type=Opaque)


# -- input schemas ---------------------------------------------------------------------------------


@pytest.mark.parametrize("input_type", [Reason, Escalation, Note, Callback])
def test_input_schema_is_closed_and_valid(input_type: Any) -> None:
    handoff = realtime_handoff(AgentSpec(name="A"), on_handoff=lambda ctx, data: None, input_type=input_type)
    schema = check_session_tool(handoff)["parameters"]
    assert schema["type"] == "object"
    assert "title" not in schema
    nodes = [schema, *schema.get("$defs", {}).values()]
    for node in nodes:
        if node.get("type") == "object":
            assert node["additionalProperties"] is False, node


# -- invocation ------------------------------------------------------------------------------------


async def test_invoke_without_callback_returns_the_agent() -> None:
    agent = AgentSpec(name="Target")
    handoff = realtime_handoff(agent)
    assert await bounded(handoff.invoke(RunContext(), "")) is agent
    assert await bounded(handoff.invoke(RunContext(), "{}")) is agent
    with pytest.raises(ToolArgumentsError, match="not valid JSON"):
        await handoff.invoke(RunContext(), "{oops")
    with pytest.raises(ToolArgumentsError, match="must be a JSON object"):
        await handoff.invoke(RunContext(), "[]")


async def test_sync_and_async_callbacks_without_input() -> None:
    agent = AgentSpec(name="Target")
    calls: list[Any] = []

    def sync_cb(ctx: RunContext) -> None:
        calls.append(("sync", ctx.context))

    async def async_cb(ctx: RunContext) -> None:
        await asyncio.sleep(0)
        calls.append(("async", ctx.context))

    for callback in (sync_cb, async_cb):
        handoff = realtime_handoff(agent, on_handoff=callback)
        assert await bounded(handoff.invoke(RunContext(context="c"), "{}")) is agent
    assert calls == [("sync", "c"), ("async", "c")]


async def test_callback_receives_validated_input() -> None:
    agent = AgentSpec(name="Target")
    received: list[Any] = []

    async def on_escalation(ctx: RunContext, data: Escalation) -> None:
        received.append(data)

    handoff = realtime_handoff(agent, on_handoff=on_escalation, input_type=Escalation)
    result = await bounded(handoff.invoke(RunContext(), json.dumps({"reason": {"reason": "angry"}})))
    assert result is agent
    assert received == [Escalation(reason=Reason(reason="angry", urgency=1))]

    notes: list[Any] = []
    note_handoff = realtime_handoff(agent, on_handoff=lambda ctx, note: notes.append(note), input_type=Note)
    await bounded(note_handoff.invoke(RunContext(), '{"text": "hi"}'))
    assert notes == [{"text": "hi"}]


async def test_bad_input_is_refused_before_the_callback_runs() -> None:
    agent = AgentSpec(name="Target")
    received: list[Any] = []
    handoff = realtime_handoff(agent, on_handoff=lambda ctx, data: received.append(data), input_type=Reason)
    with pytest.raises(ToolArgumentsError, match=r"invalid handoff input: reason: Field required"):
        await handoff.invoke(RunContext(), "{}")
    with pytest.raises(ToolArgumentsError, match=r"urgency: Input should be a valid integer"):
        await handoff.invoke(RunContext(), '{"reason": "x", "urgency": "very"}')
    with pytest.raises(ToolArgumentsError, match="not valid JSON"):
        await handoff.invoke(RunContext(), '{"reason": ')
    assert received == []


async def test_callback_errors_propagate() -> None:
    def broken(ctx: RunContext) -> None:
        raise RuntimeError("callback failed")

    with pytest.raises(RuntimeError, match="callback failed"):
        await realtime_handoff(AgentSpec(name="A"), on_handoff=broken).invoke(RunContext(), "{}")


# -- is_enabled ------------------------------------------------------------------------------------


async def test_is_enabled_bool_sync_and_async() -> None:
    target, caller = AgentSpec(name="Target"), AgentSpec(name="Caller")
    ctx = RunContext(context={"vip": True})
    assert await realtime_handoff(target).enabled(ctx, caller) is True
    assert await realtime_handoff(target, is_enabled=False).enabled(ctx, caller) is False

    seen: list[tuple[RunContext, AgentSpec]] = []

    def vip_only(run_context: RunContext, from_agent: AgentSpec) -> bool:
        seen.append((run_context, from_agent))
        return run_context.context["vip"]

    async def async_vip_only(run_context: RunContext, from_agent: AgentSpec) -> Any:
        await asyncio.sleep(0)
        return run_context.context["vip"] and "yes"

    for predicate in (vip_only, async_vip_only):
        handoff = realtime_handoff(target, is_enabled=predicate)
        assert await bounded(handoff.enabled(ctx, caller)) is True
        assert await bounded(handoff.enabled(RunContext(context={"vip": False}), caller)) is False
    assert seen[0] == (ctx, caller)


def test_handoff_is_frozen_and_compared_by_identity() -> None:
    agent = AgentSpec(name="A")
    first, second = realtime_handoff(agent), realtime_handoff(agent)
    assert first != second
    assert len({first, second}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.tool_name = "other"  # type: ignore[misc]
