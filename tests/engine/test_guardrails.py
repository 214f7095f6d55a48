"""Unit tests for engine/guardrails.py: guardrail objects, decorators, sync/async checks and verdicts."""
from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from realtime_agents.engine import (
    AgentSpec,
    GuardrailFunctionOutput,
    GuardrailResult,
    InputGuardrail,
    OutputGuardrail,
    RunContext,
    input_guardrail,
    output_guardrail,
)

AGENT = AgentSpec(name="Assistant")


async def bounded(awaitable: Any) -> Any:
    """Await with a time limit."""
    async with asyncio.timeout(5):
        return await awaitable


def no_pizza(ctx: RunContext, agent: AgentSpec, text: str) -> GuardrailFunctionOutput:
    """Trips when the text mentions pizza."""
    return GuardrailFunctionOutput(tripwire_triggered="pizza" in text.lower(), output_info={"len": len(text)})


async def async_no_pizza(ctx: RunContext, agent: AgentSpec, text: str) -> GuardrailFunctionOutput:
    """The async twin of no_pizza."""
    await asyncio.sleep(0)
    return no_pizza(ctx, agent, text)


def test_function_output_is_a_frozen_value() -> None:
    output = GuardrailFunctionOutput(tripwire_triggered=True)
    assert output.output_info is None
    assert output == GuardrailFunctionOutput(tripwire_triggered=True, output_info=None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        output.tripwire_triggered = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        GuardrailFunctionOutput(True)  # type: ignore[misc]  # keyword-only


@pytest.mark.parametrize("function", [no_pizza, async_no_pizza])
@pytest.mark.parametrize(("kind", "cls"), [("output", OutputGuardrail), ("input", InputGuardrail)])
async def test_run_wraps_the_verdict(function: Any, kind: str, cls: type) -> None:
    guardrail = cls(guardrail_function=function)
    ctx = RunContext(context="user-context")
    tripped = await bounded(guardrail.run(ctx, AGENT, "I love Pizza"))
    assert isinstance(tripped, GuardrailResult)
    assert (tripped.kind, tripped.text, tripped.tripped) == (kind, "I love Pizza", True)
    assert tripped.guardrail is guardrail
    assert tripped.output.output_info == {"len": 12}
    assert tripped.name == function.__name__
    clean = await bounded(guardrail.run(ctx, AGENT, "salad"))
    assert clean.tripped is False


async def test_guardrail_function_receives_context_agent_and_text() -> None:
    seen: list[tuple[Any, ...]] = []

    def spy(ctx: RunContext, agent: AgentSpec, text: str) -> bool:
        seen.append((ctx, agent, text))
        return False

    ctx = RunContext(context={"user": 1})
    await bounded(OutputGuardrail(guardrail_function=spy).run(ctx, AGENT, "hello"))
    assert seen == [(ctx, AGENT, "hello")]


@pytest.mark.parametrize("verdict", [True, False])
async def test_bool_results_are_accepted(verdict: bool) -> None:
    async def plain(ctx: RunContext, agent: AgentSpec, text: str) -> bool:
        return verdict

    result = await bounded(InputGuardrail(guardrail_function=plain).run(RunContext(), AGENT, "x"))
    assert result.tripped is verdict
    assert result.output.output_info is None


@pytest.mark.parametrize("bad", [None, "yes", 1, {"tripwire_triggered": True}])
async def test_other_results_are_a_clear_error(bad: Any) -> None:
    def wrong(ctx: RunContext, agent: AgentSpec, text: str) -> Any:
        return bad

    guardrail = OutputGuardrail(guardrail_function=wrong, name="wrong_one")
    expected = r"guardrail 'wrong_one' returned \w+, expected GuardrailFunctionOutput or bool"
    with pytest.raises(TypeError, match=expected):
        await guardrail.run(RunContext(), AGENT, "x")


async def test_guardrail_exceptions_propagate() -> None:
    async def broken(ctx: RunContext, agent: AgentSpec, text: str) -> bool:
        raise RuntimeError("checker down")

    with pytest.raises(RuntimeError, match="checker down"):
        await InputGuardrail(guardrail_function=broken).run(RunContext(), AGENT, "x")


def test_names() -> None:
    assert OutputGuardrail(guardrail_function=no_pizza).get_name() == "no_pizza"
    assert OutputGuardrail(guardrail_function=no_pizza, name="Pizza filter").get_name() == "Pizza filter"

    class Checker:
        def __call__(self, ctx: RunContext, agent: AgentSpec, text: str) -> bool:
            return False

    assert InputGuardrail(guardrail_function=Checker()).get_name() == "guardrail"


def test_bare_decorators() -> None:
    @output_guardrail
    def out_check(ctx: RunContext, agent: AgentSpec, text: str) -> bool:
        return False

    @input_guardrail
    async def in_check(ctx: RunContext, agent: AgentSpec, text: str) -> bool:
        return False

    assert isinstance(out_check, OutputGuardrail)
    assert isinstance(in_check, InputGuardrail)
    assert (out_check.get_name(), out_check.message) == ("out_check", None)
    assert out_check.debounce_text_length is None
    assert in_check.get_name() == "in_check"


async def test_decorators_with_options() -> None:
    @output_guardrail(name="no_secrets", message="I cannot share that.")
    def out_check(ctx: RunContext, agent: AgentSpec, text: str) -> bool:
        return "secret" in text

    @input_guardrail(name="no_abuse", message="Please be polite.")
    async def in_check(ctx: RunContext, agent: AgentSpec, text: str) -> bool:
        return "idiot" in text

    assert isinstance(out_check, OutputGuardrail) and isinstance(in_check, InputGuardrail)
    assert (out_check.get_name(), out_check.message) == ("no_secrets", "I cannot share that.")
    assert (in_check.get_name(), in_check.message) == ("no_abuse", "Please be polite.")
    assert (await bounded(out_check.run(RunContext(), AGENT, "the secret is"))).tripped is True
    assert (await bounded(in_check.run(RunContext(), AGENT, "hello"))).tripped is False


def test_debounce_length() -> None:
    assert OutputGuardrail(guardrail_function=no_pizza, debounce_text_length=50).debounce_text_length == 50
    for bad in (0, -5, 2.5, "10", True):
        with pytest.raises(TypeError, match="debounce_text_length must be a positive int"):
            OutputGuardrail(guardrail_function=no_pizza, debounce_text_length=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [OutputGuardrail, InputGuardrail])
def test_bad_definitions_are_refused(cls: type) -> None:
    with pytest.raises(TypeError, match="guardrail_function must be callable, got str"):
        cls(guardrail_function="no_pizza")
    with pytest.raises(TypeError, match="name must be a non-empty string"):
        cls(guardrail_function=no_pizza, name="  ")
    with pytest.raises(TypeError, match="name must be a non-empty string"):
        cls(guardrail_function=no_pizza, name=3)
    with pytest.raises(TypeError, match="message must be a string"):
        cls(guardrail_function=no_pizza, message=["not", "text"])


def test_decorators_refuse_non_callables() -> None:
    with pytest.raises(TypeError, match="must be callable"):
        output_guardrail("not a function")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="must be callable"):
        input_guardrail(42)  # type: ignore[call-overload]


def test_guardrails_are_frozen_and_compared_by_identity() -> None:
    first = OutputGuardrail(guardrail_function=no_pizza)
    second = OutputGuardrail(guardrail_function=no_pizza)
    assert first != second
    assert len({first, second, first}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.name = "other"  # type: ignore[misc]
