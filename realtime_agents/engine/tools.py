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
from typing import TYPE_CHECKING, Any, get_type_hints, overload

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
        if self.timeout is not None and self.timeout <= 0:
            raise ToolDefinitionError(f"tool {self.name!r}: timeout must be positive, got {self.timeout}")

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
    for raw in doc.splitlines():
        line = raw.strip()
        if line.lower() in ("args:", "arguments:", "parameters:", "params:"):
            section = "args"
            continue
        if line.lower() in ("returns:", "raises:", "yields:", "example:", "examples:"):
            section = "other"
            continue
        sphinx = re.match(r"^:param\s+(\w+):\s*(.*)$", line)
        if sphinx:
            params[sphinx.group(1)] = sphinx.group(2)
            continue
        if section == "summary":
            if not line and summary_lines:
                section = "body"
            elif line:
                summary_lines.append(line)
        elif section == "args":
            match = re.match(r"^(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$", line)
            if match:
                params[match.group(1)] = match.group(2)
    return " ".join(summary_lines), params


def _is_context_parameter(param: inspect.Parameter, hints: dict[str, Any]) -> bool:
    """A first parameter typed as ToolContext (or RunContext) receives the context, not an argument."""
    hint = hints.get(param.name)
    name = getattr(hint, "__name__", "") if hint is not None else ""
    return name in ("ToolContext", "RunContext")


def _strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Close every object (no extra keys), as the Realtime API's strict function schemas expect."""
    if schema.get("type") == "object" or "properties" in schema:
        schema.setdefault("additionalProperties", False)
    for key in ("properties", "$defs", "definitions"):
        for sub in schema.get(key, {}).values():
            if isinstance(sub, dict):
                _strict_schema(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _strict_schema(schema[key])
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            if isinstance(sub, dict):
                _strict_schema(sub)
    return schema


@dataclass(frozen=True)
class _SignatureModel:
    """The pydantic model that validates a function's arguments, and how to call the function."""

    model: type[pydantic.BaseModel]
    takes_context: bool
    parameter_names: tuple[str, ...]


def _signature_model(func: Callable[..., Any], tool_name: str, param_docs: dict[str, str]) -> _SignatureModel:
    signature = inspect.signature(func)
    try:
        hints = get_type_hints(func)
    except (NameError, TypeError) as exc:
        raise ToolDefinitionError(f"tool {tool_name!r}: cannot resolve type hints: {exc}") from exc
    params = list(signature.parameters.values())
    takes_context = bool(params) and _is_context_parameter(params[0], hints)
    if takes_context:
        params = params[1:]
    fields: dict[str, Any] = {}
    for param in params:
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise ToolDefinitionError(f"tool {tool_name!r}: *args/**kwargs parameters are not supported")
        annotation = hints.get(param.name, Any)
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (annotation, pydantic.Field(default, description=param_docs.get(param.name)))
    model = pydantic.create_model(
        f"{tool_name}_arguments",
        __config__=pydantic.ConfigDict(extra="forbid"),
        **fields,
    )
    return _SignatureModel(model=model, takes_context=takes_context, parameter_names=tuple(fields))


def _format_validation_error(exc: pydantic.ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        problems.append(f"{where}: {error['msg']}")
    return "invalid arguments: " + "; ".join(problems)


def _make_invoker(func: Callable[..., Any], signature_model: _SignatureModel) -> ToolInvoker:
    is_async = inspect.iscoroutinefunction(func)

    async def invoke(ctx: ToolContext, arguments: str) -> Any:
        raw = parse_arguments(arguments)
        try:
            validated = signature_model.model.model_validate(raw)
        except pydantic.ValidationError as exc:
            raise ToolArgumentsError(_format_validation_error(exc)) from exc
        kwargs = {name: getattr(validated, name) for name in signature_model.parameter_names}
        args: tuple[Any, ...] = (ctx,) if signature_model.takes_context else ()
        if is_async:
            return await func(*args, **kwargs)
        # Sync tools run in a thread so a slow one never stalls the session's event loop.
        return await asyncio.to_thread(functools.partial(func, *args, **kwargs))

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
        name = name_override or target.__name__
        summary, param_docs = _docstring_parts(target)
        signature_model = _signature_model(target, name, param_docs)
        schema = _strict_schema(signature_model.model.model_json_schema())
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


def serialize_tool_output(output: Any) -> str:
    """Render a tool's return value as the string sent to the model."""
    if isinstance(output, str):
        return output
    if isinstance(output, pydantic.BaseModel):
        return output.model_dump_json()
    if dataclasses.is_dataclass(output) and not isinstance(output, type):
        output = dataclasses.asdict(output)
    try:
        return json.dumps(output, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(output)
