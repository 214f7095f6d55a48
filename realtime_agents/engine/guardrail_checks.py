"""Guardrails at run time: debounced output checks on streaming transcripts, input checks per user turn."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from .events import ErrorEvent, SessionEvent
from .guardrails import GuardrailResult, InputGuardrail, OutputGuardrail

if TYPE_CHECKING:
    from .agent import AgentSpec, RunContext

logger = logging.getLogger("realtime_agents.engine.guardrail_checks")


class GuardrailHost(Protocol):
    """What the guardrail runner needs from its session."""

    run_context: RunContext

    @property
    def closing(self) -> bool:
        """True once the session started closing."""

    def emit(self, event: SessionEvent) -> None:
        """Queue an event for the session's consumers."""

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Run a coroutine in a task the session owns."""

    def assistant_text(self, item_id: str) -> str:
        """The assistant text accumulated so far for an item."""

    async def on_output_tripped(self, results: tuple[GuardrailResult, ...], text: str, *, response_id: str | None,
                                item_id: str) -> None:
        """Cut the response and let the model recover."""

    async def on_input_tripped(self, results: tuple[GuardrailResult, ...], text: str, *, item_id: str) -> None:
        """Cancel or replace the answer to a blocked user turn."""


def _unique(guardrails: Sequence[Any]) -> list[Any]:
    seen: set[int] = set()
    unique = []
    for guardrail in guardrails:
        if id(guardrail) not in seen:
            seen.add(id(guardrail))
            unique.append(guardrail)
    return unique


class GuardrailRunner:
    """Schedules guardrail checks in owned tasks and reports trips once per response (or turn)."""

    def __init__(self, host: GuardrailHost, *, debounce_text_length: int, output_guardrails: Sequence[OutputGuardrail],
                 input_guardrails: Sequence[InputGuardrail]) -> None:
        self._host = host
        self._debounce = max(1, debounce_text_length)
        self._run_output = tuple(output_guardrails)
        self._run_input = tuple(input_guardrails)
        self._next_check: dict[str, int] = {}
        self._checked_length: dict[str, int] = {}
        self._tripped_responses: set[str] = set()

    def output_guardrails(self, agent: AgentSpec) -> list[OutputGuardrail]:
        """The agent's and the run's output guardrails, each once."""
        return _unique([*agent.output_guardrails, *self._run_output])

    def input_guardrails(self, agent: AgentSpec) -> list[InputGuardrail]:
        """The agent's and the run's input guardrails, each once."""
        return _unique([*agent.input_guardrails, *self._run_input])

    def _debounce_for(self, guardrails: Sequence[OutputGuardrail]) -> int:
        lengths = [g.debounce_text_length for g in guardrails if g.debounce_text_length]
        return max(1, min([self._debounce, *lengths]))

    def on_assistant_text(self, agent: AgentSpec, *, response_id: str | None, item_id: str, length: int) -> None:
        """Called per transcript delta: schedule a check when the text crosses the next threshold."""
        next_at = self._next_check.get(item_id)
        if next_at is None:
            guardrails = self.output_guardrails(agent)
            if not guardrails:
                self._next_check[item_id] = 1 << 62
                return
            next_at = self._debounce_for(guardrails)
        if length < next_at or (response_id and response_id in self._tripped_responses):
            self._next_check[item_id] = next_at
            return
        step = self._debounce_for(self.output_guardrails(agent))
        # One delta schedules one check, however many thresholds it crossed.
        self._next_check[item_id] = (length // step + 1) * step
        self._schedule_output(agent, response_id, item_id)

    def on_response_done(self, agent: AgentSpec, *, response_id: str | None, item_ids: Sequence[str]) -> None:
        """Check once more what was said after the last threshold (the anchor never does)."""
        for item_id in item_ids:
            text_length = len(self._host.assistant_text(item_id))
            if text_length and text_length > self._checked_length.get(item_id, 0) and self.output_guardrails(agent):
                self._schedule_output(agent, response_id, item_id)
            self._next_check.pop(item_id, None)

    def _schedule_output(self, agent: AgentSpec, response_id: str | None, item_id: str) -> None:
        self._host.spawn(self._check_output(agent, response_id, item_id), name=f"realtime-guardrail-output-{item_id}")

    async def _run_all(self, guardrails: Sequence[OutputGuardrail | InputGuardrail], agent: AgentSpec,
                       text: str) -> tuple[GuardrailResult, ...]:
        outcomes = await asyncio.gather(*(g.run(self._host.run_context, agent, text) for g in guardrails),
                                        return_exceptions=True)
        results: list[GuardrailResult] = []
        for guardrail, outcome in zip(guardrails, outcomes):
            if isinstance(outcome, asyncio.CancelledError):
                raise outcome
            if isinstance(outcome, BaseException):
                logger.warning("guardrail %s raised %s", guardrail.get_name(), type(outcome).__name__)
                self._host.emit(ErrorEvent(error={"code": "guardrail_error",
                                                  "message": f"guardrail {guardrail.get_name()} failed: {type(outcome).__name__}"}))
                continue
            results.append(outcome)
        return tuple(results)

    async def _check_output(self, agent: AgentSpec, response_id: str | None, item_id: str) -> None:
        text = self._host.assistant_text(item_id)
        self._checked_length[item_id] = len(text)
        results = await self._run_all(self.output_guardrails(agent), agent, text)
        tripped = tuple(r for r in results if r.tripped)
        if not tripped or self._host.closing:
            return
        key = response_id or item_id
        if key in self._tripped_responses:
            return
        self._tripped_responses.add(key)
        await self._host.on_output_tripped(tripped, text, response_id=response_id, item_id=item_id)

    def check_input(self, agent: AgentSpec, *, item_id: str, text: str) -> None:
        """Check a completed user transcript in an owned task."""
        guardrails = self.input_guardrails(agent)
        if guardrails and text.strip():
            self._host.spawn(self._check_input(agent, guardrails, item_id, text), name=f"realtime-guardrail-input-{item_id}")

    async def _check_input(self, agent: AgentSpec, guardrails: Sequence[InputGuardrail], item_id: str, text: str) -> None:
        results = await self._run_all(guardrails, agent, text)
        tripped = tuple(r for r in results if r.tripped)
        if tripped and not self._host.closing:
            await self._host.on_input_tripped(tripped, text, item_id=item_id)

    def forget_response(self, response_id: str | None) -> None:
        """Drop per-response state once a response is over and its checks ran."""
        if response_id:
            self._tripped_responses.discard(response_id)
