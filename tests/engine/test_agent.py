"""Unit tests for engine/agent.py (AgentSpec, RunContext) and engine/usage.py (Usage)."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from openai.types.realtime.realtime_response_usage import RealtimeResponseUsage

from realtime_agents.engine import (
    AgentSpec,
    InputGuardrail,
    OutputGuardrail,
    RealtimeAgent,
    RunContext,
    Usage,
    function_tool,
    realtime_handoff,
)


@function_tool
def lookup(code: str) -> str:
    """Look up a code."""
    return code


def never(ctx: RunContext, agent: AgentSpec, text: str) -> bool:
    """A guardrail that never trips."""
    return False


async def bounded(awaitable: Any) -> Any:
    """Await with a time limit."""
    async with asyncio.timeout(5):
        return await awaitable


# -- construction ----------------------------------------------------------------------------------


def test_defaults_and_seed_alias() -> None:
    agent = RealtimeAgent(name="Greeter")
    assert isinstance(agent, AgentSpec)
    assert agent.instructions is None and agent.handoff_description is None
    assert (agent.tools, agent.handoffs, agent.output_guardrails, agent.input_guardrails) == ([], [], [], [])
    assert agent.voice is None and agent.prompt is None and agent.metadata == {}
    assert repr(agent) == "AgentSpec(name='Greeter')"
    other = AgentSpec(name="Greeter")
    assert agent.tools is not other.tools, "each agent gets its own lists"


def test_keyword_only() -> None:
    with pytest.raises(TypeError):
        AgentSpec("Greeter")  # type: ignore[misc]


def test_full_agent() -> None:
    billing = AgentSpec(name="Billing")
    out = OutputGuardrail(guardrail_function=never)
    inp = InputGuardrail(guardrail_function=never)
    handoff = realtime_handoff(AgentSpec(name="Support"))
    agent = AgentSpec(
        name="Triage",
        instructions="Route the caller.",
        tools=(lookup,),  # any iterable becomes a list
        handoffs=[billing, handoff],
        output_guardrails=[out],
        input_guardrails=[inp],
        voice="marin",
        prompt={"id": "pmpt_1"},
        metadata={"k": "v"},
    )
    assert agent.tools == [lookup] and isinstance(agent.tools, list)
    assert agent.handoffs == [billing, handoff]
    assert agent.output_guardrails == [out] and agent.input_guardrails == [inp]


def test_handoff_cycles_are_built_by_appending() -> None:
    triage = AgentSpec(name="Triage")
    billing = AgentSpec(name="Billing", handoffs=[triage])
    triage.handoffs.append(billing)
    assert triage.handoffs[0].handoffs[0] is triage


def test_identity_equality_and_hashing() -> None:
    first, second = AgentSpec(name="Same"), AgentSpec(name="Same")
    assert first != second and first == first
    assert len({first, second}) == 2


@pytest.mark.parametrize("name", ["", "   ", None, 3])
def test_bad_names(name: Any) -> None:
    with pytest.raises(TypeError, match="non-empty name"):
        AgentSpec(name=name)


@pytest.mark.parametrize("instructions", [3, ["a"], b"bytes"])
def test_bad_instructions(instructions: Any) -> None:
    with pytest.raises(TypeError, match="instructions must be a string or a callable"):
        AgentSpec(name="A", instructions=instructions)


def test_bad_lists() -> None:
    def undecorated(code: str) -> str:
        return code

    cases: list[tuple[dict[str, Any], str]] = [
        ({"tools": None}, "tools must be a list, got NoneType"),
        ({"tools": "lookup"}, "tools must be a list, got str"),
        ({"tools": {"lookup": lookup}}, "tools must be a list, got dict"),
        ({"tools": [undecorated]}, r"holds a function, not FunctionTool \(decorate it with @function_tool\)"),
        ({"tools": [1]}, "tools holds a int, not FunctionTool$"),
        ({"handoffs": ["Billing"]}, "handoffs holds a str, not AgentSpec or Handoff"),
        ({"handoffs": 5}, "handoffs must be a list, got int"),
        ({"output_guardrails": [never]}, "output_guardrails holds a function, not OutputGuardrail"),
        ({"output_guardrails": [InputGuardrail(guardrail_function=never)]}, "holds a InputGuardrail"),
        ({"input_guardrails": [OutputGuardrail(guardrail_function=never)]}, "holds a OutputGuardrail"),
    ]
    for change, message in cases:
        with pytest.raises(TypeError, match=message):
            AgentSpec(name="A", **change)


# -- clone -----------------------------------------------------------------------------------------


def test_clone_replaces_fields_and_shares_lists() -> None:
    agent = AgentSpec(name="Base", instructions="Be brief.", tools=[lookup], voice="marin")
    copy = agent.clone(name="Copy", voice="cedar")
    assert (copy.name, copy.voice, copy.instructions) == ("Copy", "cedar", "Be brief.")
    assert (agent.name, agent.voice) == ("Base", "marin")
    assert copy is not agent
    assert copy.tools is agent.tools, "lists are shared unless replaced (as in the SDK)"
    replaced = agent.clone(tools=[])
    assert replaced.tools == [] and agent.tools == [lookup]


def test_clone_validates() -> None:
    agent = AgentSpec(name="Base")
    with pytest.raises(TypeError, match="non-empty name"):
        agent.clone(name="")
    with pytest.raises(TypeError, match="tools holds a str"):
        agent.clone(tools=["x"])
    with pytest.raises(TypeError, match="no_such_field"):
        agent.clone(no_such_field=1)


# -- instructions ----------------------------------------------------------------------------------


async def test_string_and_missing_instructions() -> None:
    ctx = RunContext()
    assert await bounded(AgentSpec(name="A", instructions="Hello.").get_system_prompt(ctx)) == "Hello."
    assert await bounded(AgentSpec(name="A").get_system_prompt(ctx)) is None
    assert await bounded(AgentSpec(name="A", instructions="").get_system_prompt(ctx)) == ""


async def test_sync_and_async_instruction_callables() -> None:
    seen: list[tuple[RunContext, AgentSpec]] = []

    def sync_instructions(ctx: RunContext, agent: AgentSpec) -> str:
        seen.append((ctx, agent))
        return f"You are {agent.name}, helping {ctx.context['user']}."

    async def async_instructions(ctx: RunContext, agent: AgentSpec) -> str:
        await asyncio.sleep(0)
        return f"Async {agent.name} for {ctx.context['user']}."

    ctx = RunContext(context={"user": "Ada"})
    sync_agent = AgentSpec(name="Helper", instructions=sync_instructions)
    assert await bounded(sync_agent.get_system_prompt(ctx)) == "You are Helper, helping Ada."
    assert seen == [(ctx, sync_agent)]
    async_agent = AgentSpec(name="Helper", instructions=async_instructions)
    assert await bounded(async_agent.get_system_prompt(ctx)) == "Async Helper for Ada."
    # Evaluated at each call, so context changes show.
    ctx.context["user"] = "Grace"
    assert await bounded(sync_agent.get_system_prompt(ctx)) == "You are Helper, helping Grace."


@pytest.mark.parametrize("bad", [None, 3, ["text"]])
async def test_instruction_callables_must_return_text(bad: Any) -> None:
    async def wrong(ctx: RunContext, agent: AgentSpec) -> Any:
        return bad

    agent = AgentSpec(name="Broken", instructions=wrong)
    with pytest.raises(TypeError, match=r"agent 'Broken': instructions callable returned \w+, not str"):
        await agent.get_system_prompt(RunContext())


async def test_instruction_callable_errors_propagate() -> None:
    def broken(ctx: RunContext, agent: AgentSpec) -> str:
        raise LookupError("no profile")

    with pytest.raises(LookupError, match="no profile"):
        await AgentSpec(name="A", instructions=broken).get_system_prompt(RunContext())


# -- RunContext and Usage --------------------------------------------------------------------------


def test_run_context_defaults() -> None:
    ctx = RunContext()
    assert ctx.context is None
    assert ctx.usage == Usage()
    assert RunContext().usage is not ctx.usage
    with pytest.raises(TypeError):
        RunContext({"x": 1})  # type: ignore[misc]  # keyword-only


def ga_usage(**overrides: Any) -> dict[str, Any]:
    """A usage object in the GA shape, checked against the official openai type."""
    usage = {
        "input_tokens": 120,
        "output_tokens": 80,
        "total_tokens": 200,
        "input_token_details": {
            "audio_tokens": 90, "text_tokens": 20, "image_tokens": 10, "cached_tokens": 64,
        },
        "output_token_details": {"audio_tokens": 60, "text_tokens": 20},
        **overrides,
    }
    RealtimeResponseUsage.model_validate(usage)
    return usage


def test_usage_accumulates_ga_usage_objects() -> None:
    usage = Usage()
    usage.add(ga_usage())
    usage.add(ga_usage(input_tokens=1, output_tokens=2, total_tokens=3))
    assert usage.requests == 2
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (121, 82, 203)
    assert (usage.input_audio_tokens, usage.input_text_tokens, usage.input_image_tokens) == (180, 40, 20)
    assert usage.cached_tokens == 128
    assert (usage.output_audio_tokens, usage.output_text_tokens) == (120, 40)


def test_usage_ignores_empty_and_tolerates_missing_parts() -> None:
    usage = Usage()
    usage.add(None)
    usage.add({})
    assert usage == Usage()
    usage.add(ga_usage(input_token_details=None, output_token_details=None, total_tokens=None))
    totals = (usage.requests, usage.input_tokens, usage.total_tokens, usage.input_audio_tokens)
    assert totals == (1, 120, 0, 0)
    usage.add({"output_tokens": 5})
    assert (usage.requests, usage.output_tokens) == (2, 85)


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        ([1, 2], TypeError, "usage must be an object, got list"),
        ({"input_tokens": "12"}, ValueError, "usage input_tokens must be a non-negative integer, got '12'"),
        ({"input_tokens": -1}, ValueError, "input_tokens must be a non-negative integer"),
        ({"output_tokens": 1.5}, ValueError, "output_tokens must be a non-negative integer"),
        ({"total_tokens": True}, ValueError, "total_tokens must be a non-negative integer"),
        ({"input_token_details": [1]}, TypeError, "input_token_details must be an object, got list"),
        ({"output_token_details": {"audio_tokens": "x"}}, ValueError, "audio_tokens must be a non-negative"),
    ],
)
def test_usage_bad_input_is_refused_and_totals_stay_intact(bad: Any, error: type, message: str) -> None:
    usage = Usage()
    usage.add(ga_usage())
    before = Usage(**vars(usage))
    with pytest.raises(error, match=message):
        usage.add({**ga_usage(), **bad} if isinstance(bad, dict) else bad)
    assert usage == before
