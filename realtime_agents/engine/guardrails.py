"""Guardrails: checks on what the assistant says (output) and what the user said (input)."""
from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
    from .agent import AgentSpec, RunContext


@dataclass(frozen=True, kw_only=True)
class GuardrailFunctionOutput:
    """What a guardrail function returns: whether it tripped, and anything worth keeping."""

    tripwire_triggered: bool
    output_info: Any = None


GuardrailFunction = Callable[
    ["RunContext", "AgentSpec", str], GuardrailFunctionOutput | Awaitable[GuardrailFunctionOutput]
]


@dataclass(frozen=True, kw_only=True)
class GuardrailResult:
    """One guardrail's verdict on one piece of text."""

    guardrail: OutputGuardrail | InputGuardrail
    kind: Literal["input", "output"]
    text: str
    output: GuardrailFunctionOutput

    @property
    def name(self) -> str:
        """The guardrail's name."""
        return self.guardrail.get_name()

    @property
    def tripped(self) -> bool:
        """Whether the tripwire was triggered."""
        return self.output.tripwire_triggered


@dataclass(frozen=True, kw_only=True, eq=False)
class _Guardrail:
    guardrail_function: GuardrailFunction
    name: str | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if not callable(self.guardrail_function):
            got = type(self.guardrail_function).__name__
            raise TypeError(f"guardrail_function must be callable, got {got}")
        if self.name is not None and (not isinstance(self.name, str) or not self.name.strip()):
            raise TypeError("a guardrail name must be a non-empty string")
        if self.message is not None and not isinstance(self.message, str):
            raise TypeError(f"guardrail {self.get_name()!r}: message must be a string")

    def get_name(self) -> str:
        """The configured name, else the function's name."""
        return self.name or getattr(self.guardrail_function, "__name__", "guardrail")

    async def check(self, run_context: RunContext, agent: AgentSpec, text: str) -> GuardrailFunctionOutput:
        """Run the guardrail function on `text` (sync or async)."""
        result = self.guardrail_function(run_context, agent, text)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, bool):
            result = GuardrailFunctionOutput(tripwire_triggered=result)
        if not isinstance(result, GuardrailFunctionOutput):
            raise TypeError(
                f"guardrail {self.get_name()!r} returned {type(result).__name__}, "
                "expected GuardrailFunctionOutput or bool"
            )
        return result


@dataclass(frozen=True, kw_only=True, eq=False)
class OutputGuardrail(_Guardrail):
    """Checks the assistant's transcript as it streams, every `debounce_text_length` characters."""

    debounce_text_length: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        length = self.debounce_text_length
        if length is not None and (isinstance(length, bool) or not isinstance(length, int) or length <= 0):
            raise TypeError(
                f"guardrail {self.get_name()!r}: debounce_text_length must be a positive int, got {length!r}"
            )

    async def run(self, run_context: RunContext, agent: AgentSpec, text: str) -> GuardrailResult:
        """Check `text` and wrap the verdict."""
        output = await self.check(run_context, agent, text)
        return GuardrailResult(guardrail=self, kind="output", text=text, output=output)


@dataclass(frozen=True, kw_only=True, eq=False)
class InputGuardrail(_Guardrail):
    """Checks each completed user transcript before the agent's answer to it stands."""

    async def run(self, run_context: RunContext, agent: AgentSpec, text: str) -> GuardrailResult:
        """Check `text` and wrap the verdict."""
        output = await self.check(run_context, agent, text)
        return GuardrailResult(guardrail=self, kind="input", text=text, output=output)


@overload
def output_guardrail(func: GuardrailFunction, /) -> OutputGuardrail: ...


@overload
def output_guardrail(
    func: None = None, /, *, name: str | None = None, message: str | None = None
) -> Callable[[GuardrailFunction], OutputGuardrail]: ...


def output_guardrail(
    func: GuardrailFunction | None = None, /, *, name: str | None = None, message: str | None = None
) -> OutputGuardrail | Callable[[GuardrailFunction], OutputGuardrail]:
    """Decorator: make an OutputGuardrail from `fn(ctx, agent, text)`."""

    def build(target: GuardrailFunction) -> OutputGuardrail:
        return OutputGuardrail(guardrail_function=target, name=name, message=message)

    return build(func) if func is not None else build


@overload
def input_guardrail(func: GuardrailFunction, /) -> InputGuardrail: ...


@overload
def input_guardrail(
    func: None = None, /, *, name: str | None = None, message: str | None = None
) -> Callable[[GuardrailFunction], InputGuardrail]: ...


def input_guardrail(
    func: GuardrailFunction | None = None, /, *, name: str | None = None, message: str | None = None
) -> InputGuardrail | Callable[[GuardrailFunction], InputGuardrail]:
    """Decorator: make an InputGuardrail from `fn(ctx, agent, text)`."""

    def build(target: GuardrailFunction) -> InputGuardrail:
        return InputGuardrail(guardrail_function=target, name=name, message=message)

    return build(func) if func is not None else build
