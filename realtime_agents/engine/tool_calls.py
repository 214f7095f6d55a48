"""Tool calls at run time: dedupe, approval, run with a timeout in an owned task, send the output once."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .events import ErrorEvent, SessionEvent, ToolApprovalRequiredEvent, ToolEndEvent, ToolStartEvent, ToolStatus
from .model import TransportError
from .tools import FunctionTool, ToolArgumentsError, ToolContext, parse_arguments, serialize_tool_output

if TYPE_CHECKING:
    from .agent import AgentSpec, RunContext

logger = logging.getLogger("realtime_agents.engine.tool_calls")

ErrorFormatter = Callable[[str, str, "str | None"], str]
DEFAULT_REJECTION = "Tool execution was not approved."


class ToolHost(Protocol):
    """What the tool runner needs from its session."""

    run_context: RunContext

    @property
    def closing(self) -> bool:
        """True once the session started closing: nothing may be sent any more."""

    def emit(self, event: SessionEvent) -> None:
        """Queue an event for the session's consumers."""

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Run a coroutine in a task the session owns and cancels on close."""

    async def send_tool_output(self, call_id: str, output: str, *, start_response: bool) -> None:
        """Record the output in history, send it to the model and maybe ask for a response."""


@dataclass(frozen=True, kw_only=True)
class ApprovalDecision:
    """The app's answer to a tool approval request."""

    approved: bool
    always: bool = False
    message: str | None = None


class ToolCallRunner:
    """Runs function calls concurrently; each call id runs at most once per session."""

    def __init__(self, host: ToolHost, *, default_timeout: float, error_formatter: ErrorFormatter | None) -> None:
        self._host = host
        self._default_timeout = default_timeout
        self._error_formatter = error_formatter
        self._seen: set[str] = set()
        self._unsent: dict[str, tuple[str, bool]] = {}
        self._approvals: dict[str, asyncio.Future[ApprovalDecision]] = {}
        self._sticky: dict[str, bool] = {}

    def handle_call(self, *, agent: AgentSpec, tool: FunctionTool | None, name: str, call_id: str, arguments: str) -> None:
        """Start one call (ignored if this call id was seen; a failed send is retried instead)."""
        if call_id in self._seen:
            if call_id in self._unsent:
                output, start = self._unsent.pop(call_id)
                self._host.spawn(self._send(call_id, output, start), name=f"realtime-tool-resend-{call_id}")
            return
        self._seen.add(call_id)
        self._host.spawn(self._run(agent, tool, name, call_id, arguments), name=f"realtime-tool-{name}-{call_id}")

    def claim(self, call_id: str) -> bool:
        """Mark a call id as handled elsewhere (handoffs); False when it was already seen."""
        if call_id in self._seen:
            return False
        self._seen.add(call_id)
        return True

    def pending_approvals(self) -> tuple[str, ...]:
        """Call ids waiting for a decision."""
        return tuple(self._approvals)

    def decide(self, call_id: str, decision: ApprovalDecision) -> bool:
        """Resolve a pending approval; False when no such call waits."""
        future = self._approvals.get(call_id)
        if future is None or future.done():
            return False
        future.set_result(decision)
        return True

    def cancel_approvals(self) -> None:
        """Wake approval waiters at close (their tasks are being cancelled too)."""
        for future in self._approvals.values():
            if not future.done():
                future.cancel()
        self._approvals.clear()

    def _tool_context(self, agent: AgentSpec, name: str, call_id: str, arguments: str) -> ToolContext:
        return ToolContext(run_context=self._host.run_context, call_id=call_id, tool_name=name, agent=agent,
                           arguments=arguments)

    async def _run(self, agent: AgentSpec, tool: FunctionTool | None, name: str, call_id: str, arguments: str) -> None:
        started = time.monotonic()
        if tool is None:
            output = f"Tool {name} not found."
            self._host.emit(ErrorEvent(error={"code": "tool_not_found", "message": f"the model called unknown tool {name!r}"}))
            await self._finish(agent, None, name, call_id, arguments, output, output, "not_found", started, None, True)
            return
        ctx = self._tool_context(agent, name, call_id, arguments)
        decision = await self._approval(agent, tool, ctx, arguments)
        approval = None if decision is None else ("approved" if decision.approved else "rejected")
        if decision is not None and not decision.approved:
            text = decision.message or self._format_error("approval_rejected", name, None) or DEFAULT_REJECTION
            await self._finish(agent, tool, name, call_id, arguments, text, text, "rejected", started, approval, True)
            return
        self._host.emit(ToolStartEvent(agent=agent, tool=tool, call_id=call_id, arguments=arguments))
        status: ToolStatus = "ok"
        timeout = tool.timeout or self._default_timeout
        try:
            async with asyncio.timeout(timeout):
                result: Any = await tool.on_invoke_tool(ctx, arguments)
            text = serialize_tool_output(result)
        except ToolArgumentsError as exc:
            status, result = "invalid_arguments", None
            text = f"Invalid arguments for tool {name}: {exc}"
        except TimeoutError:
            status, result = "timeout", None
            text = f"Tool {name} timed out after {timeout:g} seconds."
            self._host.emit(ErrorEvent(error={"code": "tool_timeout", "message": text, "call_id": call_id}))
        except Exception as exc:  # noqa: BLE001 - any tool failure becomes model-visible output
            status, result = "error", None
            logger.warning("tool %s failed: %s", name, type(exc).__name__)
            text = self._format_error("tool_error", name, type(exc).__name__) or (
                f"Tool {name} failed with an error ({type(exc).__name__}). Tell the user it did not work."
            )
            self._host.emit(ErrorEvent(error={"code": "tool_error", "message": f"tool {name} raised {type(exc).__name__}: {exc}",
                                              "call_id": call_id}))
        await self._finish(agent, tool, name, call_id, arguments, text, result if status == "ok" else text, status,
                           started, approval, tool.starts_response)

    async def _approval(self, agent: AgentSpec, tool: FunctionTool, ctx: ToolContext, arguments: str) -> ApprovalDecision | None:
        try:
            needed = await tool.requires_approval(ctx, parse_arguments(arguments))
        except Exception:  # noqa: BLE001 - a predicate that cannot decide fails closed: ask a person
            needed = True
        if not needed:
            return None
        if tool.name in self._sticky:
            return ApprovalDecision(approved=self._sticky[tool.name], always=True)
        future: asyncio.Future[ApprovalDecision] = asyncio.get_running_loop().create_future()
        self._approvals[ctx.call_id] = future
        self._host.emit(ToolApprovalRequiredEvent(agent=agent, tool=tool, call_id=ctx.call_id, arguments=arguments))
        try:
            decision = await future
        finally:
            self._approvals.pop(ctx.call_id, None)
        if decision.always:
            self._sticky[tool.name] = decision.approved
        return decision

    def _format_error(self, kind: str, name: str, detail: str | None) -> str | None:
        if self._error_formatter is None:
            return None
        try:
            return self._error_formatter(kind, name, detail)
        except Exception:  # noqa: BLE001 - a broken formatter must not lose the output
            logger.warning("tool_error_formatter raised; using the default text")
            return None

    async def _finish(self, agent: AgentSpec, tool: FunctionTool | None, name: str, call_id: str, arguments: str,
                      text: str, output: Any, status: ToolStatus, started: float, approval: Any, start_response: bool) -> None:
        if self._host.closing:
            return
        sent = await self._send(call_id, text, start_response)
        if not sent or self._host.closing:
            return
        self._host.emit(ToolEndEvent(agent=agent, tool=tool, tool_name=name, call_id=call_id, arguments=arguments,
                                     output=output, status=status, duration_s=time.monotonic() - started,
                                     approval=approval))

    async def _send(self, call_id: str, text: str, start_response: bool) -> bool:
        if self._host.closing:
            return False
        try:
            await self._host.send_tool_output(call_id, text, start_response=start_response)
        except TransportError:
            # Keep the output: a reconnect re-seeds it, and a repeated call id resends it without re-running.
            self._unsent[call_id] = (text, start_response)
            self._host.emit(ErrorEvent(error={"code": "tool_output_not_sent", "call_id": call_id,
                                              "message": "the tool output could not be sent; it will be retried"}))
            return False
        return True


