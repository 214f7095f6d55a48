"""Follows tool calls from first sighting to their end and queues one `ToolRun` row each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..engine.events import ToolApprovalRequiredEvent, ToolEndEvent, ToolStartEvent
from ..engine.items import ToolCallItem
from .ops import RowOp, clip_text

MAX_DECIDER = 150


@dataclass(kw_only=True)
class _Call:
    """A tool call between its first sighting and its end."""

    call_id: str
    name: str
    arguments: str
    agent_name: str
    sequence: int
    seen: float
    started: float | None = None


class ToolRunTracker:
    """Tool calls of one conversation; rows go to `emit`, sequence numbers come from `next_sequence`."""

    def __init__(self, *, emit: Callable[[RowOp], None], next_sequence: Callable[[], int],
                 wall: Callable[[], float]) -> None:
        self._emit = emit
        self._next = next_sequence
        self._wall = wall
        self._calls: dict[str, _Call] = {}
        self._decisions: dict[str, str] = {}
        self._deciders: dict[str, str] = {}

    def _call(self, call_id: str, name: str, arguments: str, agent_name: str) -> _Call:
        call = self._calls.get(call_id)
        if call is None:
            # The sequence is taken when the model made the call, so the row sits where the call happened.
            call = _Call(call_id=call_id, name=name, arguments=arguments, agent_name=agent_name,
                         sequence=self._next(), seen=self._wall())
            self._calls[call_id] = call
        return call

    def on_item(self, item: ToolCallItem, agent_name: str) -> None:
        """The model's function call entered the history."""
        self._call(item.call_id, item.name, item.arguments, item.agent_name or agent_name)

    def on_approval_required(self, event: ToolApprovalRequiredEvent) -> None:
        """The call waits for a person."""
        self._call(event.call_id, event.tool.name, event.arguments, event.agent.name)

    def on_start(self, event: ToolStartEvent) -> None:
        """The tool function starts running."""
        self._call(event.call_id, event.tool.name, event.arguments, event.agent.name).started = self._wall()

    def note_approval(self, call_id: str, *, decided_by: str) -> bool:
        """Remember who decided; False when the call is unknown (nothing is kept for it)."""
        call = self._calls.get(call_id)
        if call is None:
            return False
        self._decisions[call_id] = decided_by[:MAX_DECIDER]
        self._deciders[call.name] = decided_by[:MAX_DECIDER]
        return True

    def on_end(self, event: ToolEndEvent) -> None:
        """The output went to the model: queue the row."""
        call = self._call(event.call_id, event.tool_name, event.arguments, event.agent.name)
        approval = event.approval or ""
        decided_by = self._decisions.pop(event.call_id, "")
        if not decided_by and approval:
            # A standing ("always") decision: credit whoever last decided for this tool.
            decided_by = self._deciders.get(event.tool_name, "")
        self._write(call, output=clip_text(event.output), status=event.status, approval=approval,
                    decided_by=decided_by, started=self._wall() - event.duration_s,
                    duration_ms=event.duration_s * 1000, arguments=event.arguments)

    def discard(self, call_id: str | None) -> int | None:
        """Forget a call that was no tool run (a handoff); returns its sequence number."""
        call = self._calls.pop(call_id, None) if call_id else None
        return None if call is None else call.sequence

    def finish(self) -> None:
        """The session ended: calls still waiting or running are recorded as cancelled."""
        now = self._wall()
        for call in list(self._calls.values()):
            begun = call.started if call.started is not None else call.seen
            self._write(call, output="", status="cancelled", approval="",
                        decided_by=self._decisions.pop(call.call_id, ""), started=begun,
                        duration_ms=(now - begun) * 1000, arguments=call.arguments)

    def _write(self, call: _Call, *, output: str, status: str, approval: str, decided_by: str, started: float,
               duration_ms: float, arguments: str) -> None:
        self._calls.pop(call.call_id, None)
        self._emit(RowOp(kind="tool", fields={
            "sequence": call.sequence, "agent_name": call.agent_name[:100], "tool_name": call.name[:100],
            "call_id": call.call_id[:64], "arguments": clip_text(arguments), "output": output, "status": status,
            "approval": approval, "decided_by": decided_by, "started_at": started,
            "duration_ms": round(max(0.0, duration_ms), 1),
        }))
