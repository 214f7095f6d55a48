"""Unit tests for engine/tools.py: schemas from typed functions, argument validation, invocation, output."""
from __future__ import annotations

import asyncio
import dataclasses
import enum
import functools
import json
import threading
import warnings
from collections.abc import Callable
from typing import Any, Literal

import jsonschema
import pydantic
import pytest
from openai.types.realtime import RealtimeFunctionTool

from realtime_agents.engine import (
    AgentSpec,
    FunctionTool,
    RunContext,
    ToolArgumentsError,
    ToolContext,
    function_tool,
)
from realtime_agents.engine.tools import (
    ToolDefinitionError,
    parse_arguments,
    serialize_tool_output,
    strict_schema,
)


class Color(enum.Enum):
    """A colour."""

    RED = "red"
    BLUE = "blue"


class Address(pydantic.BaseModel):
    """A postal address."""

    street: str
    zip_code: str
    tags: list[str] = []


class Order(pydantic.BaseModel):
    """An order with a nested model and an enum."""

    address: Address
    color: Color
    quantity: int = 1


def make_ctx(tool: FunctionTool, arguments: str = "{}", context: Any = None) -> ToolContext:
    """A ToolContext as the session would build it for one call."""
    return ToolContext(
        run_context=RunContext(context=context),
        call_id="call_1",
        tool_name=tool.name,
        agent=AgentSpec(name="Tester"),
        arguments=arguments,
    )


async def call(tool: FunctionTool, arguments: dict[str, Any] | str, context: Any = None) -> Any:
    """Invoke a tool the way the session does: JSON text in, Python value out."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    async with asyncio.timeout(5):
        return await tool.on_invoke_tool(make_ctx(tool, text, context), text)


def assert_valid_session_tool(tool: FunctionTool) -> dict[str, Any]:
    """The tool's session entry passes the official openai type and the 2020-12 meta-schema."""
    entry = tool.to_session_tool()
    parsed = RealtimeFunctionTool.model_validate(entry)
    assert parsed.type == "function"
    assert parsed.name == tool.name
    assert parsed.description == tool.description
    jsonschema.Draft202012Validator.check_schema(entry["parameters"])
    assert json.loads(json.dumps(entry)) == entry, "the session entry must be plain JSON"
    return entry


def object_nodes(schema: Any) -> list[dict[str, Any]]:
    """Every sub-schema that describes an object with properties."""
    found: list[dict[str, Any]] = []
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            found.append(schema)
        for value in schema.values():
            found.extend(object_nodes(value))
    elif isinstance(schema, list):
        for value in schema:
            found.extend(object_nodes(value))
    return found


# -- schema generation -----------------------------------------------------------------------------


def test_simple_function_schema_and_docstring() -> None:
    def get_weather(city: str, days: int = 1) -> str:
        """Get the weather for a city.

        Args:
            city: The city to look up.
            days (int): How many days
                to forecast, at most 7.
        """
        return city

    tool = function_tool(get_weather)
    assert tool.name == "get_weather"
    assert tool.description == "Get the weather for a city."
    schema = assert_valid_session_tool(tool)["parameters"]
    assert schema == {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city to look up."},
            "days": {"type": "integer", "default": 1, "description": "How many days to forecast, at most 7."},
        },
        "required": ["city"],
        "additionalProperties": False,
    }


def test_sphinx_docstring_and_multiline_summary() -> None:
    def book(seat: str, row: int) -> str:
        """Book a seat
        on the plane.
        :param seat: The seat letter.
        :param int row: The row number.
        :returns: a confirmation
        """
        return seat

    tool = function_tool(book)
    assert tool.description == "Book a seat on the plane."
    props = tool.params_json_schema["properties"]
    assert props["seat"]["description"] == "The seat letter."
    assert props["row"]["description"] == "The row number."


def test_docstring_sections_after_args_are_not_parameter_docs() -> None:
    def lookup(code: str) -> str:
        """Look up a code.

        Longer body text that is not the summary.

        Args:
            code: The code.

        Returns:
            code: not a parameter description.
        """
        return code

    tool = function_tool(lookup)
    assert tool.description == "Look up a code."
    assert tool.params_json_schema["properties"]["code"]["description"] == "The code."


def test_no_docstring_description_falls_back_to_name_and_override_wins() -> None:
    def ping() -> str:
        return "pong"

    assert function_tool(ping).description == "ping"
    tool = function_tool(name_override="health_check", description_override="Check health.")(ping)
    assert (tool.name, tool.description) == ("health_check", "Check health.")
    assert tool.params_json_schema == {"type": "object", "properties": {}, "additionalProperties": False}
    assert_valid_session_tool(tool)


def test_nested_models_enums_optional_are_closed_and_valid() -> None:
    def place_order(
        order: Order,
        note: str | None = None,
        priority: Literal["low", "high"] = "low",
        extras: list[Address] | None = None,
        pair: tuple[int, Address] | None = None,
    ) -> str:
        """Place an order."""
        return "ok"

    tool = function_tool(place_order)
    schema = assert_valid_session_tool(tool)["parameters"]
    assert schema["required"] == ["order"]
    assert set(schema["$defs"]) == {"Address", "Color", "Order"}
    assert schema["$defs"]["Color"]["enum"] == ["red", "blue"]
    assert schema["properties"]["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert schema["properties"]["note"]["default"] is None
    assert schema["properties"]["priority"]["enum"] == ["low", "high"]
    objects = object_nodes(schema)
    assert len(objects) >= 3  # top level, Order, Address
    for node in objects:
        assert node["additionalProperties"] is False, node
    # The generated schema accepts a good call and refuses extra keys at every level.
    validator = jsonschema.Draft202012Validator(schema)
    good = {"order": {"address": {"street": "Main", "zip_code": "1"}, "color": "red"}}
    validator.validate(good)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**good, "surprise": 1})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"order": {**good["order"], "surprise": 1}})
    with pytest.raises(jsonschema.ValidationError):
        extra_in_address = {"street": "Main", "zip_code": "1", "x": 1}
        validator.validate({"order": {"address": extra_in_address, "color": "red"}})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"order": {"address": {"street": "Main", "zip_code": "1"}, "color": "green"}})


def test_strict_schema_closes_items_prefix_items_and_unions() -> None:
    schema = {
        "type": "object",
        "properties": {
            "list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "integer"}}}},
            "tuple": {"type": "array", "prefixItems": [{"type": "object", "properties": {}}]},
            "union": {"anyOf": [{"properties": {"b": {"type": "string"}}}, {"type": "null"}]},
            "map": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
    }
    closed = strict_schema(schema)
    assert closed["additionalProperties"] is False
    assert closed["properties"]["list"]["items"]["additionalProperties"] is False
    assert closed["properties"]["tuple"]["prefixItems"][0]["additionalProperties"] is False
    assert closed["properties"]["union"]["anyOf"][0]["additionalProperties"] is False
    # A map keeps its value schema: its keys are data, not a closed set of properties.
    assert closed["properties"]["map"]["additionalProperties"] == {"type": "integer"}


@pytest.mark.parametrize("param", ["_private", "json", "schema", "model_config", "copy"])
async def test_parameter_names_that_clash_with_pydantic_work(param: str) -> None:
    namespace: dict[str, Any] = {}
    exec(f"def echo({param}: int) -> int:\n    return {param} * 2", namespace)  # noqa: S102
    with warnings.catch_warnings():
        # Pydantic warns when a field shadows a BaseModel attribute; our aliased fields never do.
        warnings.simplefilter("error")
        tool = function_tool(namespace["echo"])
    assert tool.params_json_schema["properties"] == {param: {"type": "integer"}}
    assert tool.params_json_schema["required"] == [param]
    assert await call(tool, {param: 21}) == 42
    with pytest.raises(ToolArgumentsError, match=param):
        await call(tool, {param: "not a number"})


def test_context_parameter_is_not_in_the_schema() -> None:
    def with_tool_ctx(ctx: ToolContext, a: int) -> int:
        return a

    def with_run_ctx(ctx: RunContext, a: int) -> int:
        return a

    for func in (with_tool_ctx, with_run_ctx):
        tool = function_tool(func)
        assert list(tool.params_json_schema["properties"]) == ["a"]
        assert_valid_session_tool(tool)


# -- bad definitions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["has space", "1starts_with_digit", "dots.not.allowed", "", "x" * 65, "émoji"],
)
def test_bad_tool_names_are_refused(name: str) -> None:
    def fine(a: int) -> int:
        return a

    with pytest.raises(ToolDefinitionError, match="must match"):
        function_tool(name_override=name)(fine)


def test_longest_valid_name_and_dashes_are_accepted() -> None:
    def fine() -> None:
        return None

    assert function_tool(name_override="a" * 64)(fine).name == "a" * 64
    assert function_tool(name_override="get-weather_2")(fine).name == "get-weather_2"


def test_lambda_without_name_override_is_refused() -> None:
    with pytest.raises(ToolDefinitionError, match="<lambda>"):
        function_tool(lambda a: a)


def test_star_args_and_kwargs_are_refused() -> None:
    def star(*values: int) -> int:
        return 0

    def double_star(**values: int) -> int:
        return 0

    for func in (star, double_star):
        with pytest.raises(ToolDefinitionError, match=r"\*args/\*\*kwargs"):
            function_tool(func)


def test_positional_only_parameters_are_refused() -> None:
    def positional(a: int, /) -> int:
        return a

    with pytest.raises(ToolDefinitionError, match="positional-only"):
        function_tool(positional)


def test_unresolvable_hints_are_refused() -> None:
    def unresolved(a: NoSuchType) -> int:  # type: ignore[name-defined]  # noqa: F821
        return 0

    with pytest.raises(ToolDefinitionError, match="cannot resolve type hints.*NoSuchType"):
        function_tool(unresolved)


def test_unsupported_parameter_types_are_refused() -> None:
    def takes_lock(lock: threading.Lock) -> None:  # type: ignore[valid-type]
        return None

    def takes_callable(cb: Callable[[], int]) -> None:
        return None

    for func in (takes_lock, takes_callable):
        with pytest.raises(ToolDefinitionError, match="unsupported parameter type"):
            function_tool(func)


def test_context_parameter_must_come_first() -> None:
    def late_ctx(a: int, ctx: ToolContext) -> int:
        return a

    with pytest.raises(ToolDefinitionError, match="'ctx' must come first"):
        function_tool(late_ctx)


def test_not_callable_and_nameless_callables_are_refused() -> None:
    with pytest.raises(ToolDefinitionError, match="needs a callable"):
        function_tool(42)  # type: ignore[call-overload]

    def add(a: int, b: int) -> int:
        return a + b

    with pytest.raises(ToolDefinitionError, match="name_override"):
        function_tool(functools.partial(add, b=1))


@pytest.mark.parametrize("timeout", [0, -1.0, float("nan")])
def test_non_positive_timeout_is_refused(timeout: float) -> None:
    def fine() -> None:
        return None

    with pytest.raises(ToolDefinitionError, match="timeout must be positive"):
        function_tool(timeout=timeout)(fine)


def test_manual_function_tool_is_validated() -> None:
    async def invoke(ctx: ToolContext, arguments: str) -> str:
        return arguments

    good: dict[str, Any] = {
        "name": "manual",
        "description": "A hand-built tool.",
        "params_json_schema": {"type": "object", "properties": {}, "additionalProperties": False},
        "on_invoke_tool": invoke,
    }
    assert_valid_session_tool(FunctionTool(**good))
    bad_cases = [
        ({"params_json_schema": {"type": "string"}}, "JSON Schema object"),
        ({"params_json_schema": "{}"}, "JSON Schema object"),
        ({"description": None}, "description must be a string"),
        ({"on_invoke_tool": "not callable"}, "on_invoke_tool must be callable"),
        ({"needs_approval": "yes"}, "needs_approval must be a bool or a predicate"),
    ]
    for change, message in bad_cases:
        with pytest.raises(ToolDefinitionError, match=message):
            FunctionTool(**{**good, **change})


def test_function_tool_is_frozen() -> None:
    def fine() -> None:
        return None

    tool = function_tool(fine)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tool.name = "other"  # type: ignore[misc]


# -- arguments -------------------------------------------------------------------------------------


def test_parse_arguments() -> None:
    assert parse_arguments("") == {}
    assert parse_arguments("   ") == {}
    assert parse_arguments('{"a": 1}') == {"a": 1}
    with pytest.raises(ToolArgumentsError, match="not valid JSON.*position"):
        parse_arguments('{"a": ')
    for not_object in ("[1, 2]", "3", '"text"', "null"):
        with pytest.raises(ToolArgumentsError, match="must be a JSON object"):
            parse_arguments(not_object)


def _order_tool() -> FunctionTool:
    def place(order: Order, note: str | None = None, count: int = 2) -> dict[str, Any]:
        """Place an order."""
        return {"order": order, "note": note, "count": count}

    return function_tool(place)


async def test_valid_arguments_are_converted_to_python_types() -> None:
    tool = _order_tool()
    result = await call(tool, {"order": {"address": {"street": "Main", "zip_code": "1"}, "color": "blue"}})
    assert isinstance(result["order"], Order)
    assert result["order"].color is Color.BLUE
    assert result["order"].address.tags == []
    assert result["note"] is None
    assert result["count"] == 2
    explicit = await call(
        tool,
        {"order": {"address": {"street": "Main", "zip_code": "1"}, "color": "red"}, "note": "hi", "count": 5},
    )
    assert (explicit["note"], explicit["count"]) == ("hi", 5)


async def test_empty_arguments_use_defaults() -> None:
    def counter(start: int = 10) -> int:
        return start

    tool = function_tool(counter)
    assert await call(tool, "") == 10
    assert await call(tool, {}) == 10


async def test_bad_arguments_get_clear_errors() -> None:
    tool = _order_tool()
    order = {"address": {"street": "Main", "zip_code": "1"}, "color": "red"}
    with pytest.raises(ToolArgumentsError, match="not valid JSON"):
        await call(tool, "{not json")
    with pytest.raises(ToolArgumentsError, match="must be a JSON object"):
        await call(tool, "[]")
    with pytest.raises(ToolArgumentsError, match=r"invalid arguments: order: Field required"):
        await call(tool, {})
    with pytest.raises(ToolArgumentsError, match=r"surprise: Extra inputs are not permitted"):
        await call(tool, {"order": order, "surprise": True})
    with pytest.raises(ToolArgumentsError, match=r"count: Input should be a valid integer"):
        await call(tool, {"order": order, "count": "many"})
    with pytest.raises(ToolArgumentsError, match=r"order\.color: Input should be 'red' or 'blue'"):
        await call(tool, {"order": {**order, "color": "green"}})
    with pytest.raises(ToolArgumentsError, match=r"order\.address\.zip_code: Field required"):
        await call(tool, {"order": {**order, "address": {"street": "Main"}}})
    with pytest.raises(ToolArgumentsError, match=r"note: Input should be a valid string"):
        await call(tool, {"order": order, "note": ["a", "list"]})


async def test_several_problems_are_all_named() -> None:
    def pair(a: int, b: str) -> str:
        return f"{a}{b}"

    with pytest.raises(ToolArgumentsError) as info:
        await call(function_tool(pair), {"a": "x", "b": 3})
    assert "a: Input should be a valid integer" in str(info.value)
    assert "b: Input should be a valid string" in str(info.value)


# -- invocation ------------------------------------------------------------------------------------


async def test_async_tool_receives_tool_context() -> None:
    seen: list[ToolContext] = []

    async def whoami(ctx: ToolContext, greeting: str) -> str:
        seen.append(ctx)
        return f"{greeting}, {ctx.context['user']} via {ctx.tool_name}"

    tool = function_tool(whoami)
    assert await call(tool, {"greeting": "hi"}, context={"user": "ada"}) == "hi, ada via whoami"
    assert seen[0].call_id == "call_1"
    assert seen[0].agent.name == "Tester"
    assert seen[0].arguments == '{"greeting": "hi"}'


async def test_run_context_parameter_receives_the_run_context() -> None:
    def count(ctx: RunContext) -> int:
        assert isinstance(ctx, RunContext), type(ctx)
        return ctx.context["n"]

    assert await call(function_tool(count), {}, context={"n": 7}) == 7


async def test_sync_tool_runs_in_a_thread_and_the_loop_keeps_running() -> None:
    release = threading.Event()
    threads: list[int] = []

    def blocking(label: str) -> str:
        threads.append(threading.get_ident())
        # Blocks its thread until the event loop, still running, sets the event.
        if not release.wait(timeout=5):
            raise AssertionError("the event loop never released the sync tool")
        return label

    tool = function_tool(blocking)
    task = asyncio.create_task(call(tool, {"label": "done"}), name="blocking-tool")
    try:
        ticks = 0
        async with asyncio.timeout(5):
            while not threads:
                await asyncio.sleep(0.01)
            for _ in range(5):
                await asyncio.sleep(0.01)
                ticks += 1
        assert ticks == 5
        assert not task.done()
        release.set()
        assert await task == "done"
    finally:
        release.set()
        task.cancel()
    assert threads[0] != threading.get_ident()


async def test_sync_wrapper_returning_a_coroutine_is_awaited() -> None:
    async def inner(a: int) -> int:
        return a + 1

    def wrapper(a: int) -> Any:
        return inner(a)

    assert await call(function_tool(wrapper), {"a": 1}) == 2


async def test_callable_object_and_named_partial() -> None:
    class Multiplier:
        def __init__(self, factor: int) -> None:
            self.factor = factor

        async def __call__(self, value: int) -> int:
            return value * self.factor

    tool = function_tool(name_override="triple")(Multiplier(3))
    assert tool.params_json_schema["properties"] == {"value": {"type": "integer"}}
    assert await call(tool, {"value": 4}) == 12

    def add(a: int, b: int) -> int:
        return a + b

    partial_tool = function_tool(name_override="add_one")(functools.partial(add, b=1))
    assert await call(partial_tool, {"a": 1}) == 2


async def test_tool_exceptions_propagate() -> None:
    async def broken() -> None:
        raise RuntimeError("boom")

    def broken_sync() -> None:
        raise KeyError("gone")

    with pytest.raises(RuntimeError, match="boom"):
        await call(function_tool(broken), {})
    with pytest.raises(KeyError, match="gone"):
        await call(function_tool(broken_sync), {})


def test_decorator_options_are_kept() -> None:
    @function_tool(timeout=2.5, needs_approval=True, starts_response=False)
    def careful() -> None:
        return None

    assert careful.timeout == 2.5
    assert careful.needs_approval is True
    assert careful.starts_response is False
    assert careful.strict is True


# -- approval --------------------------------------------------------------------------------------


async def test_needs_approval_bool_sync_and_async() -> None:
    def fine(amount: int) -> int:
        return amount

    plain = function_tool(fine)
    ctx = make_ctx(plain)
    assert await plain.requires_approval(ctx, {"amount": 1}) is False
    assert await function_tool(needs_approval=True)(fine).requires_approval(ctx, {}) is True

    seen: list[tuple[ToolContext, dict[str, Any]]] = []

    def over_100(tool_ctx: ToolContext, arguments: dict[str, Any]) -> bool:
        seen.append((tool_ctx, arguments))
        return arguments["amount"] > 100

    async def async_over_100(tool_ctx: ToolContext, arguments: dict[str, Any]) -> int:
        await asyncio.sleep(0)
        return int(arguments["amount"] > 100)  # truthy values count

    for predicate in (over_100, async_over_100):
        tool = function_tool(needs_approval=predicate)(fine)
        assert await tool.requires_approval(ctx, {"amount": 500}) is True
        assert await tool.requires_approval(ctx, {"amount": 5}) is False
    assert seen[0] == (ctx, {"amount": 500})


# -- output serialisation --------------------------------------------------------------------------


@dataclasses.dataclass
class Receipt:
    """A dataclass result."""

    order_id: int
    items: list[str]
    address: Address | None = None


@dataclasses.dataclass
class WithLock:
    """A dataclass holding something that cannot be deep-copied."""

    lock: Any
    n: int


class Opaque:
    """No JSON form at all."""

    def __str__(self) -> str:
        return "<opaque thing>"


def test_serialize_strings_are_sent_as_is() -> None:
    assert serialize_tool_output("plain text") == "plain text"
    assert serialize_tool_output('{"already": "json"}') == '{"already": "json"}'


def test_serialize_json_values() -> None:
    weather = {"temp": 21.5, "city": "Zürich"}
    assert json.loads(serialize_tool_output(weather)) == weather
    assert "Zürich" in serialize_tool_output({"city": "Zürich"}), "non-ASCII is kept readable"
    assert serialize_tool_output(None) == "null"
    assert serialize_tool_output(3) == "3"
    assert serialize_tool_output(True) == "true"
    assert json.loads(serialize_tool_output([1, "two"])) == [1, "two"]


def test_serialize_pydantic_and_dataclasses_including_nested() -> None:
    address = Address(street="Main", zip_code="1")
    assert json.loads(serialize_tool_output(address)) == {"street": "Main", "zip_code": "1", "tags": []}
    order = Order(address=address, color=Color.RED)
    assert json.loads(serialize_tool_output(order))["color"] == "red"
    receipt = Receipt(order_id=7, items=["a"], address=address)
    assert json.loads(serialize_tool_output(receipt)) == {
        "order_id": 7,
        "items": ["a"],
        "address": {"street": "Main", "zip_code": "1", "tags": []},
    }
    nested = {"address": {"street": "Main", "zip_code": "1", "tags": []}, "color": "red", "quantity": 1}
    assert json.loads(serialize_tool_output({"orders": [order]})) == {"orders": [nested]}
    assert sorted(json.loads(serialize_tool_output({"ids": {3, 1}}))["ids"]) == [1, 3]


def test_serialize_unserialisable_objects_fall_back_to_str() -> None:
    assert serialize_tool_output(Opaque()) == '"<opaque thing>"'
    assert json.loads(serialize_tool_output({"thing": Opaque()})) == {"thing": "<opaque thing>"}
    locked = json.loads(serialize_tool_output(WithLock(lock=threading.Lock(), n=1)))
    assert locked["n"] == 1 and "lock" in locked["lock"]
    circular: list[Any] = []
    circular.append(circular)
    assert serialize_tool_output(circular) == "[[...]]"
