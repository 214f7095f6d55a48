"""The code-side registry: Python tools and guardrail checks that admin rows refer to by name."""

from __future__ import annotations

import inspect
import logging
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Union, overload

from .engine.guardrails import GuardrailFunctionOutput
from .engine.tools import FunctionTool, function_tool

logger = logging.getLogger("realtime_agents.registry")

NAME_PATTERN = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")

CheckResult = Union[bool, GuardrailFunctionOutput]
CheckFunction = Callable[..., Union[CheckResult, Awaitable[CheckResult]]]


class RegistryError(ValueError):
    """A registration is invalid (bad name, name taken by another function, bad signature)."""


@dataclass(frozen=True, kw_only=True)
class RegisteredTool:
    """A Python function registered as a tool, with the engine tool built from its signature."""

    name: str
    function: Callable[..., Any]
    tool: FunctionTool

    @property
    def origin(self) -> str:
        """`module.qualname` of the function, for messages."""
        return f"{self.function.__module__}.{self.function.__qualname__}"


@dataclass(frozen=True, kw_only=True)
class RegisteredCheck:
    """A Python guardrail check: `fn(text)` or `fn(ctx, agent, text)`, returning a bool or output."""

    name: str
    function: CheckFunction
    takes_context: bool

    @property
    def origin(self) -> str:
        """`module.qualname` of the function, for messages."""
        return f"{self.function.__module__}.{self.function.__qualname__}"

    async def __call__(self, ctx: Any, agent: Any, text: str) -> GuardrailFunctionOutput:
        """Run the check with the engine's guardrail signature."""
        result = self.function(ctx, agent, text) if self.takes_context else self.function(text)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, GuardrailFunctionOutput):
            return result
        if isinstance(result, bool):
            return GuardrailFunctionOutput(tripwire_triggered=result, output_info={"check": self.name})
        raise TypeError(f"guardrail check {self.name!r} returned {type(result).__name__}, not bool")


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise RegistryError(
            f"{what} name {name!r} is not a valid function name: use letters, digits and underscores, "
            "starting with a letter or underscore, at most 64 characters"
        )


def _same_function(a: Callable[..., Any], b: Callable[..., Any]) -> bool:
    # A module imported twice (autoreload, tests) registers a new function object with the same origin.
    return (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


class Registry:
    """Names → registered tools and checks; thread-safe, process-wide."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tools: dict[str, RegisteredTool] = {}
        self._checks: dict[str, RegisteredCheck] = {}

    def add_tool(self, entry: RegisteredTool) -> None:
        """Register a tool; a different function under the same name is refused."""
        _check_name(entry.name, "tool")
        with self._lock:
            existing = self._tools.get(entry.name)
            if existing is not None and not _same_function(existing.function, entry.function):
                raise RegistryError(f"tool name {entry.name!r} is already registered by {existing.origin}")
            self._tools[entry.name] = entry
        logger.debug("registered tool %s from %s", entry.name, entry.origin)

    def add_check(self, entry: RegisteredCheck) -> None:
        """Register a guardrail check; a different function under the same name is refused."""
        _check_name(entry.name, "guardrail check")
        with self._lock:
            existing = self._checks.get(entry.name)
            if existing is not None and not _same_function(existing.function, entry.function):
                raise RegistryError(
                    f"guardrail check {entry.name!r} is already registered by {existing.origin}"
                )
            self._checks[entry.name] = entry
        logger.debug("registered guardrail check %s from %s", entry.name, entry.origin)

    def get_tool(self, name: str) -> RegisteredTool | None:
        """The tool registered under `name`, or None."""
        return self._tools.get(name)

    def get_check(self, name: str) -> RegisteredCheck | None:
        """The guardrail check registered under `name`, or None."""
        return self._checks.get(name)

    def tool_names(self) -> list[str]:
        """Registered tool names, sorted."""
        return sorted(self._tools)

    def check_names(self) -> list[str]:
        """Registered guardrail check names, sorted."""
        return sorted(self._checks)

    def remove_tool(self, name: str) -> None:
        """Forget a tool (tests, plugins unloading)."""
        with self._lock:
            self._tools.pop(name, None)

    def remove_check(self, name: str) -> None:
        """Forget a guardrail check."""
        with self._lock:
            self._checks.pop(name, None)


registry = Registry()


@overload
def tool(func: Callable[..., Any], /) -> Callable[..., Any]: ...


@overload
def tool(
    func: None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    needs_approval: bool = False,
    timeout: float | None = None,
    starts_response: bool = True,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...


def tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    needs_approval: bool = False,
    timeout: float | None = None,
    starts_response: bool = True,
) -> Callable[..., Any] | Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a typed function as a tool admin rows can use; returns the function unchanged."""

    def register(target: Callable[..., Any]) -> Callable[..., Any]:
        tool_name = name or target.__name__
        _check_name(tool_name, "tool")
        built = function_tool(
            target,
            name_override=tool_name,
            description_override=description,
            timeout=timeout,
            needs_approval=needs_approval,
            starts_response=starts_response,
        )
        registry.add_tool(RegisteredTool(name=tool_name, function=target, tool=built))
        return target

    return register(func) if func is not None else register


@overload
def guardrail_check(func: CheckFunction, /) -> CheckFunction: ...


@overload
def guardrail_check(
    func: None = None, /, *, name: str | None = None
) -> Callable[[CheckFunction], CheckFunction]: ...


def guardrail_check(
    func: CheckFunction | None = None, /, *, name: str | None = None
) -> CheckFunction | Callable[[CheckFunction], CheckFunction]:
    """Register `fn(text)` or `fn(ctx, agent, text)` (True = trip) as a guardrail check by name."""

    def register(target: CheckFunction) -> CheckFunction:
        check_name = name or getattr(target, "__name__", "")
        _check_name(check_name, "guardrail check")
        params = [
            p
            for p in inspect.signature(target).parameters.values()
            if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
        if len(params) not in (1, 3):
            raise RegistryError(
                f"guardrail check {check_name!r} must take (text) or (ctx, agent, text), it takes {len(params)} arguments"
            )
        registry.add_check(RegisteredCheck(name=check_name, function=target, takes_context=len(params) == 3))
        return target

    return register(func) if func is not None else register
