"""The code-side registry: decorator forms, discovery of realtime_tools modules, bad registrations."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from collections.abc import Iterator

import pytest

import realtime_agents
from realtime_agents.engine.agent import AgentSpec, RunContext
from realtime_agents.engine.guardrails import GuardrailFunctionOutput
from realtime_agents.registry import RegistryError, guardrail_check, registry, tool


@pytest.fixture
def cleanup() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        registry.remove_tool(name)
        registry.remove_check(name)


def test_installed_apps_tool_modules_are_discovered() -> None:
    # tests.toolapp and demo are installed; their realtime_tools modules were imported by ready().
    assert {"toolapp_echo", "toolapp_slow", "current_time", "get_weather", "book_table"} <= set(
        registry.tool_names()
    )
    assert "toolapp_no_banana" in registry.check_names()
    assert sys.modules["tests.toolapp.realtime_tools"].DISCOVERED is True


def test_decorator_options_reach_the_engine_tool() -> None:
    entry = registry.get_tool("toolapp_slow")
    assert entry is not None
    assert entry.function.__name__ == "slow_tool"
    assert entry.tool.name == "toolapp_slow"
    assert entry.tool.timeout == 3.0
    assert entry.tool.needs_approval is True
    assert entry.tool.starts_response is False
    assert entry.tool.params_json_schema["required"] == ["seconds"]


def test_bare_decorator_returns_the_function_and_derives_the_schema() -> None:
    entry = registry.get_tool("toolapp_echo")
    assert entry is not None
    assert entry.function("hi", times=2) == "hi hi"
    schema = entry.tool.params_json_schema
    assert schema["properties"]["text"]["description"] == "What to repeat."
    assert schema["required"] == ["text"]
    assert entry.tool.description == "Repeat a text."


def test_package_exposes_the_decorators_lazily() -> None:
    assert realtime_agents.tool is tool
    assert realtime_agents.guardrail_check is guardrail_check
    with pytest.raises(AttributeError):
        realtime_agents.not_a_thing  # noqa: B018


def test_importing_the_package_loads_no_django() -> None:
    code = "import sys, realtime_agents; print(sorted(m for m in sys.modules if m.startswith('django')))"
    root = pathlib.Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60, cwd=root
    )
    assert result.stdout.strip() == "[]"


def test_invalid_tool_name_is_refused() -> None:
    with pytest.raises(RegistryError, match="not a valid function name"):
        tool(name="get-weather")(lambda city: city)
    with pytest.raises(RegistryError, match="not a valid function name"):
        tool(name="9lives")(lambda: None)


def test_a_name_taken_by_another_function_is_refused(cleanup: list[str]) -> None:
    cleanup.append("dup_tool")

    @tool(name="dup_tool")
    def first(x: int) -> int:
        return x

    with pytest.raises(RegistryError, match="already registered"):

        @tool(name="dup_tool")
        def second(x: int) -> int:
            return x


def test_reimporting_the_same_function_replaces_it(cleanup: list[str]) -> None:
    cleanup.append("again")

    def make() -> None:
        @tool(name="again")
        def same(x: int) -> int:
            return x

    make()
    make()  # same module and qualname: a re-import, not a clash
    assert registry.get_tool("again") is not None


async def test_guardrail_checks_take_text_or_the_engine_signature(cleanup: list[str]) -> None:
    cleanup.extend(["short_check", "full_check"])

    @guardrail_check(name="short_check")
    def short(text: str) -> bool:
        return "no" in text

    @guardrail_check(name="full_check")
    async def full(ctx: object, agent: object, text: str) -> GuardrailFunctionOutput:
        return GuardrailFunctionOutput(tripwire_triggered=len(text) > 3, output_info="long")

    agent = AgentSpec(name="a")
    short_check, full_check = registry.get_check("short_check"), registry.get_check("full_check")
    assert short_check is not None and full_check is not None
    assert (await short_check(RunContext(), agent, "say no")).tripwire_triggered is True
    assert (await short_check(RunContext(), agent, "yes")).tripwire_triggered is False
    assert (await full_check(RunContext(), agent, "long text")).output_info == "long"


def test_guardrail_check_with_wrong_arity_is_refused() -> None:
    with pytest.raises(RegistryError, match="must take"):
        guardrail_check(name="two_args")(lambda a, b: True)


async def test_a_check_returning_something_else_is_an_error(cleanup: list[str]) -> None:
    cleanup.append("weird_check")
    guardrail_check(name="weird_check")(lambda text: "yes")
    check = registry.get_check("weird_check")
    assert check is not None
    with pytest.raises(TypeError, match="not bool"):
        await check(RunContext(), AgentSpec(name="a"), "x")
