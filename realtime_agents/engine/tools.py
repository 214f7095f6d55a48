"""Function tools: a typed Python callable plus the strict JSON Schema the model sees."""
from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_type_hints, overload

import pydantic

if TYPE_CHECKING:
    from .agent import AgentSpec, RunContext

TOOL_NAME_PATTERN = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$")

ToolInvoker = Callable[["ToolContext", str], Awaitable[Any]]
ApprovalPredicate = Callable[["ToolContext", dict[str, Any]], "bool | Awaitable[bool]"]


class ToolArgumentsError(ValueError):
    """The model sent arguments that do not fit the tool's schema; the message says why."""


class ToolDefinitionError(TypeError):
    """A function cannot become a tool (bad name, unsupported parameter kind, ...)."""


@dataclass(frozen=True, kw_only=True)
class ToolContext:
    """What a tool sees of the run: the user's context object, the call and the calling agent."""

    run_context: RunContext
    call_id: str
    tool_name: str
    agent: AgentSpec
    arguments: str = "{}"

    @property
    def context(self) -> Any:
        """The user context object passed to `Runner.run(context=...)`."""
        return self.run_context.context


@dataclass(frozen=True, kw_only=True)
class FunctionTool:
    """A tool the model may call: name, description, JSON Schema and an async invoker."""

    name: str
    description: str
    params_json_schema: dict[str, Any]
    on_invoke_tool: ToolInvoker
    timeout: float | None = None
    needs_approval: bool | ApprovalPredicate = False
    starts_response: bool = True
    strict: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not TOOL_NAME_PATTERN.match(self.name):
            raise ToolDefinitionError(f"tool name {self.name!r} must match {TOOL_NAME_PATTERN.pattern}")
        if self.timeout is not None and not self.timeout > 0:
            raise ToolDefinitionError(f"tool {self.name!r}: timeout must be positive, got {self.timeout}")
        if not isinstance(self.description, str):
            raise ToolDefinitionError(f"tool {self.name!r}: description must be a string")
        if not isinstance(self.params_json_schema, dict) or self.params_json_schema.get("type") != "object":
            raise ToolDefinitionError(f"tool {self.name!r}: params_json_schema must be a JSON Schema object")
        if not callable(self.on_invoke_tool):
            raise ToolDefinitionError(f"tool {self.name!r}: on_invoke_tool must be callable")
        if not (isinstance(self.needs_approval, bool) or callable(self.needs_approval)):
            raise ToolDefinitionError(f"tool {self.name!r}: needs_approval must be a bool or a predicate")

    def to_session_tool(self) -> dict[str, Any]:
        """The GA `session.tools` entry for this tool."""
        return {
            "type": "function",
            "name": self.name,
            "description": self.description,
            "parameters": self.params_json_schema,
        }

    async def requires_approval(self, ctx: ToolContext, arguments: dict[str, Any]) -> bool:
        """Evaluate `needs_approval`, awaiting it when it is an async predicate."""
        if not callable(self.needs_approval):
            return bool(self.needs_approval)
        verdict = self.needs_approval(ctx, arguments)
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return bool(verdict)


def parse_arguments(arguments: str) -> dict[str, Any]:
    """Decode a tool call's JSON arguments into an object, or raise ToolArgumentsError."""
    if not arguments or not arguments.strip():
        return {}
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError as exc:
        raise ToolArgumentsError(f"arguments are not valid JSON: {exc.msg} at position {exc.pos}") from exc
    if not isinstance(parsed, dict):
        raise ToolArgumentsError("arguments must be a JSON object")
    return parsed


def _docstring_parts(func: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """Split a docstring into its summary and Google/Sphinx-style parameter descriptions."""
    doc = inspect.getdoc(func) or ""
    summary_lines: list[str] = []
    params: dict[str, str] = {}
    section = "summary"
    current: str | None = None
    current_indent = 0
    for raw in doc.splitlines():
        line = raw.strip()
        indent = len(raw) - len(raw.lstrip())
        if line.lower() in ("args:", "arguments:", "parameters:", "params:"):
            section, current = "args", None
            continue
        if line.lower() in ("returns:", "raises:", "yields:", "example:", "examples:", "note:", "notes:"):
            section, current = "other", None
            continue
        sphinx = re.match(r"^:param\s+(?:[^:]*\s)?(\w+):\s*(.*)$", line)
        if sphinx:
            params[sphinx.group(1)] = sphinx.group(2)
            section, current = "other", None
            continue
        if line.startswith(":"):
            # Other Sphinx fields (:type:, :returns:) never belong to the summary.
            section, current = "other", None
            continue
        if section == "summary":
            if not line and summary_lines:
                section = "body"
            elif line:
                summary_lines.append(line)
        elif section == "args":
            match = re.match(r"^(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$", line)
            if current is not None and line and indent > current_indent:
                # A deeper-indented line continues the previous parameter's description.
                params[current] = f"{params[current]} {line}".strip()
            elif match:
                current, current_indent = match.group(1), indent
                params[current] = match.group(2)
    return " ".join(summary_lines), params


ContextKind = Literal["tool", "run"]


def _context_kind(param: inspect.Parameter, hints: dict[str, Any]) -> ContextKind | None:
    """Whether a parameter is typed as ToolContext or RunContext (and so receives the context)."""
    hint = hints.get(param.name)
    name = getattr(hint, "__name__", "") if hint is not None else ""
    if name == "ToolContext":
        return "tool"
    if name == "RunContext":
        return "run"
    return None


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Close every object (no extra keys), as the Realtime API's strict function schemas expect."""
    if schema.get("type") == "object" or "properties" in schema:
        schema.setdefault("additionalProperties", False)
    for key in ("properties", "$defs", "definitions"):
        for sub in schema.get(key, {}).values():
            if isinstance(sub, dict):
                strict_schema(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            strict_schema(schema[key])
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for sub in schema.get(key, []):
            if isinstance(sub, dict):
                strict_schema(sub)
    return schema


@dataclass(frozen=True)
class _SignatureModel:
    """The pydantic model that validates a function's arguments, and how to call the function."""

    model: type[pydantic.BaseModel]
    context: ContextKind | None
    # (pydantic field name, the function's parameter name); fields are aliased so any name works.
    parameters: tuple[tuple[str, str], ...]


def _hints_target(func: Callable[..., Any]) -> Any:
    """The object whose annotations describe `func`'s parameters (partials and callables unwrapped)."""
    while isinstance(func, functools.partial):
        func = func.func
    if inspect.isroutine(func):
        return func
    if inspect.isclass(func):
        return func.__init__
    return type(func).__call__


def _signature_model(func: Callable[..., Any], tool_name: str, param_docs: dict[str, str]) -> _SignatureModel:
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"tool {tool_name!r}: cannot read the function's signature: {exc}") from exc
    try:
        hints = get_type_hints(_hints_target(func))
    except (NameError, TypeError) as exc:
        raise ToolDefinitionError(f"tool {tool_name!r}: cannot resolve type hints: {exc}") from exc
    params = list(signature.parameters.values())
    context = _context_kind(params[0], hints) if params else None
    if context is not None:
        params = params[1:]
    fields: dict[str, Any] = {}
    names: list[tuple[str, str]] = []
    for index, param in enumerate(params):
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise ToolDefinitionError(f"tool {tool_name!r}: *args/**kwargs parameters are not supported")
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise ToolDefinitionError(
                f"tool {tool_name!r}: positional-only parameter {param.name!r} is not supported"
            )
        if _context_kind(param, hints) is not None:
            raise ToolDefinitionError(
                f"tool {tool_name!r}: the context parameter {param.name!r} must come first"
            )
        annotation = hints.get(param.name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        field_name = f"p{index}"
        fields[field_name] = (
            annotation,
            pydantic.Field(default, alias=param.name, description=param_docs.get(param.name)),
        )
        names.append((field_name, param.name))
    try:
        model = pydantic.create_model(
            f"{tool_name}_arguments",
            __config__=pydantic.ConfigDict(extra="forbid", populate_by_name=False),
            **fields,
        )
        model.model_json_schema()
    except (pydantic.PydanticUserError, pydantic.errors.PydanticInvalidForJsonSchema) as exc:
        first_line = str(exc).splitlines()[0]
        raise ToolDefinitionError(f"tool {tool_name!r}: unsupported parameter type: {first_line}") from exc
    return _SignatureModel(model=model, context=context, parameters=tuple(names))


def format_validation_error(exc: pydantic.ValidationError, what: str = "arguments") -> str:
    """One line naming each bad argument and what is wrong with it."""
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        problems.append(f"{where}: {error['msg']}")
    return f"invalid {what}: " + "; ".join(problems)


def _make_invoker(func: Callable[..., Any], signature_model: _SignatureModel) -> ToolInvoker:
    call_method = None if inspect.isroutine(func) else getattr(type(func), "__call__", None)
    is_async = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(call_method)

    async def invoke(ctx: ToolContext, arguments: str) -> Any:
        raw = parse_arguments(arguments)
        try:
            validated = signature_model.model.model_validate(raw)
        except pydantic.ValidationError as exc:
            raise ToolArgumentsError(format_validation_error(exc)) from exc
        kwargs = {param: getattr(validated, field_name) for field_name, param in signature_model.parameters}
        args: tuple[Any, ...] = ()
        if signature_model.context == "tool":
            args = (ctx,)
        elif signature_model.context == "run":
            args = (ctx.run_context,)
        if is_async:
            return await func(*args, **kwargs)
        # Sync tools run in a thread so a slow one never stalls the session's event loop.
        result = await asyncio.to_thread(functools.partial(func, *args, **kwargs))
        if inspect.isawaitable(result):
            # A sync wrapper around async code (a decorator, a partial) hands back a coroutine.
            result = await result
        return result

    return invoke


@overload
def function_tool(func: Callable[..., Any], /) -> FunctionTool: ...


@overload
def function_tool(
    func: None = None,
    /,
    *,
    name_override: str | None = None,
    description_override: str | None = None,
    timeout: float | None = None,
    needs_approval: bool | ApprovalPredicate = False,
    starts_response: bool = True,
) -> Callable[[Callable[..., Any]], FunctionTool]: ...


def function_tool(
    func: Callable[..., Any] | None = None,
    /,
    *,
    name_override: str | None = None,
    description_override: str | None = None,
    timeout: float | None = None,
    needs_approval: bool | ApprovalPredicate = False,
    starts_response: bool = True,
) -> FunctionTool | Callable[[Callable[..., Any]], FunctionTool]:
    """Turn a typed function (sync or async) into a FunctionTool; usable bare or with options."""

    def build(target: Callable[..., Any]) -> FunctionTool:
        if not callable(target):
            raise ToolDefinitionError(f"function_tool needs a callable, got {type(target).__name__}")
        name = name_override if name_override is not None else getattr(target, "__name__", None)
        if name is None:
            raise ToolDefinitionError(f"{target!r} has no __name__: pass name_override=")
        summary, param_docs = _docstring_parts(target)
        signature_model = _signature_model(target, name, param_docs)
        schema = strict_schema(signature_model.model.model_json_schema())
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        return FunctionTool(
            name=name,
            description=description_override or summary or name,
            params_json_schema=schema,
            on_invoke_tool=_make_invoker(target, signature_model),
            timeout=timeout,
            needs_approval=needs_approval,
            starts_response=starts_response,
        )

    if func is not None:
        return build(func)
    return build


def _json_default(value: Any) -> Any:
    """json.dumps fallback: models and dataclasses as objects, sets as lists, anything else as str."""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # Shallow on purpose: json.dumps recurses, and asdict's deep copy fails on locks and sockets.
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


def serialize_tool_output(output: Any) -> str:
    """Render a tool's return value as the string sent to the model."""
    if isinstance(output, str):
        return output
    try:
        return json.dumps(output, ensure_ascii=False, default=_json_default)
    except (TypeError, ValueError):
        return str(output)
