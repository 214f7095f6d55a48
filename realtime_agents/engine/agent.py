"""Agent specifications: what an agent says, which tools it has, and to whom it hands off."""
from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .usage import Usage

if TYPE_CHECKING:
    from .guardrails import InputGuardrail, OutputGuardrail
    from .handoffs import Handoff
    from .tools import FunctionTool

InstructionsFunction = Callable[["RunContext", "AgentSpec"], str | Awaitable[str]]


@dataclass(kw_only=True)
class RunContext:
    """The run's shared state: the user's context object and the usage so far."""

    context: Any = None
    usage: Usage = field(default_factory=Usage)


@dataclass(kw_only=True, eq=False)
class AgentSpec:
    """A realtime agent. Lists are mutable on purpose: handoff cycles are built by appending."""

    name: str
    instructions: str | InstructionsFunction | None = None
    handoff_description: str | None = None
    tools: list[FunctionTool] = field(default_factory=list)
    handoffs: list[AgentSpec | Handoff] = field(default_factory=list)
    output_guardrails: list[OutputGuardrail] = field(default_factory=list)
    input_guardrails: list[InputGuardrail] = field(default_factory=list)
    voice: str | None = None
    prompt: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise TypeError("an agent needs a non-empty name")
        instructions = self.instructions
        if instructions is not None and not (isinstance(instructions, str) or callable(instructions)):
            raise TypeError(f"agent {self.name!r}: instructions must be a string or a callable")
        # Imported here: those modules import this one.
        from .guardrails import InputGuardrail, OutputGuardrail
        from .handoffs import Handoff
        from .tools import FunctionTool

        expected: dict[str, tuple[type, ...]] = {
            "tools": (FunctionTool,),
            "handoffs": (AgentSpec, Handoff),
            "output_guardrails": (OutputGuardrail,),
            "input_guardrails": (InputGuardrail,),
        }
        for attribute, kinds in expected.items():
            value = getattr(self, attribute)
            if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
                got = type(value).__name__
                raise TypeError(f"agent {self.name!r}: {attribute} must be a list, got {got}")
            if not isinstance(value, list):
                value = list(value)
                setattr(self, attribute, value)
            for item in value:
                if not isinstance(item, kinds):
                    wanted = " or ".join(kind.__name__ for kind in kinds)
                    forgot_decorator = attribute == "tools" and callable(item)
                    hint = " (decorate it with @function_tool)" if forgot_decorator else ""
                    raise TypeError(
                        f"agent {self.name!r}: {attribute} holds a {type(item).__name__}, not {wanted}{hint}"
                    )

    def __repr__(self) -> str:
        return f"AgentSpec(name={self.name!r})"

    def clone(self, **changes: Any) -> AgentSpec:
        """A shallow copy with some fields replaced (lists are shared unless replaced)."""
        return replace(self, **changes)

    async def get_system_prompt(self, run_context: RunContext) -> str | None:
        """Resolve the instructions: a string as is, a sync or async callable evaluated now."""
        if self.instructions is None or isinstance(self.instructions, str):
            return self.instructions
        result = self.instructions(run_context, self)
        if inspect.isawaitable(result):
            result = await result
        if not isinstance(result, str):
            got = type(result).__name__
            raise TypeError(f"agent {self.name!r}: instructions callable returned {got}, not str")
        return result
