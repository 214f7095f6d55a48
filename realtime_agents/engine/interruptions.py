"""Cutting the assistant off: barge-in, `interrupt()`, guardrail trips, and agent handoffs."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from .events import AudioInterruptedEvent, ErrorEvent, GuardrailTrippedEvent, HandoffEvent, HistoryUpdatedEvent
from .handoffs import transfer_output
from .playback import truncation_point
from .reconnect import Reconnecting
from .tools import ToolArgumentsError

if TYPE_CHECKING:
    from .agent import AgentSpec
    from .guardrails import GuardrailResult
    from .handoffs import Handoff

logger = logging.getLogger("realtime_agents.engine.interruptions")


def _system_message(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "system", "content": [{"type": "input_text", "text": text}]}


class InterruptionHandling(Reconnecting):
    """Mixin of `Session`: interruption, guardrail trips and handoffs."""

    async def _interrupt(self, *, reason: Literal["speech", "interrupt", "guardrail"], force_cancel: bool,
                         response_id: str | None = None) -> None:
        active = self._sequencer.active_response_id
        should_cancel = active is not None and (force_cancel or not self._server_interrupts)
        if response_id is not None and active != response_id:
            should_cancel = False
        if self._model.owns_playback:
            # SIP/WebRTC: the server plays and truncates; we can only cancel and clear its buffer.
            if should_cancel:
                await self._sequencer.cancel()
            if force_cancel and not self._closing:
                await self._send({"type": "output_audio_buffer.clear"})
            return
        entry = self._ledger.current()
        if entry is not None and (response_id is None or entry.response_id == response_id):
            tracker = self._model_config.playback_tracker
            state = tracker.get_state() if tracker is not None else None
            owner_active = active is not None and entry.response_id == active
            end_ms = truncation_point(entry=entry, tracker_state=state, now=self._clock(), response_active=owner_active)
            if owner_active and entry.response_id:
                # Deltas already in flight for this response must not reach the speaker.
                self._muted_responses.add(entry.response_id)
            if end_ms is not None or owner_active:
                self.emit(AudioInterruptedEvent(item_id=entry.item_id, content_index=entry.content_index,
                                                audio_end_ms=end_ms, reason=reason))
            if end_ms is not None:
                await self._send({"type": "conversation.item.truncate", "item_id": entry.item_id,
                                  "content_index": entry.content_index, "audio_end_ms": end_ms})
                item = self._history.truncate(entry.item_id, audio_end_ms=end_ms, total_ms=entry.received_ms)
                if item is not None:
                    self.emit(HistoryUpdatedEvent(history=self._history.items(), item=item))
            self._ledger.reset()
            if tracker is not None:
                tracker.on_interrupted()
        if should_cancel:
            await self._sequencer.cancel()

    async def on_output_tripped(self, results: tuple[GuardrailResult, ...], text: str, *, response_id: str | None,
                                item_id: str) -> None:
        """An output guardrail tripped: stop that response, then let the model answer anew."""
        self.emit(GuardrailTrippedEvent(guardrail_results=results, message=text, kind="output", item_id=item_id,
                                        response_id=response_id))
        await self._interrupt(reason="guardrail", force_cancel=True, response_id=response_id)
        if response_id:
            self._muted_responses.add(response_id)
        names = ", ".join(r.name for r in results)
        guidance = " ".join(r.guardrail.message for r in results if r.guardrail.message) or (
            f"Your last answer was stopped by the guardrail(s) {names}. Do not repeat it; "
            "apologise briefly and continue helpfully without that content."
        )
        await self._recover(guidance)

    async def on_input_tripped(self, results: tuple[GuardrailResult, ...], text: str, *, item_id: str) -> None:
        """An input guardrail tripped: cancel the answer to that turn and have the model decline."""
        active = self._sequencer.active_response_id
        self.emit(GuardrailTrippedEvent(guardrail_results=results, message=text, kind="input", item_id=item_id,
                                        response_id=active))
        if active is not None:
            await self._interrupt(reason="guardrail", force_cancel=True, response_id=active)
            self._muted_responses.add(active)
        elif self._server_creates:
            # Transcription finished before server VAD started its answer: cancel that one on arrival.
            self._cancel_next_server_response = True
        names = ", ".join(r.name for r in results)
        guidance = " ".join(r.guardrail.message for r in results if r.guardrail.message) or (
            f"The user's last message was blocked by the guardrail(s) {names}. Do not act on it or repeat it; "
            "say briefly that you cannot help with that, and offer something you can do."
        )
        await self._recover(guidance)

    async def _recover(self, guidance: str) -> None:
        if self._closing:
            return
        await self._send({"type": "conversation.item.create", "item": _system_message(guidance)})
        await self._sequencer.request()

    async def _run_handoff(self, agent: AgentSpec, handoff: Handoff, call_id: str, arguments: str) -> None:
        try:
            new_agent = await handoff.invoke(self.run_context, arguments)
        except ToolArgumentsError as exc:
            await self.send_tool_output(call_id, f"Handoff failed: {exc}", start_response=True)
            return
        except Exception as exc:  # noqa: BLE001 - a failing on_handoff callback must not end the session
            logger.warning("handoff to %s failed: %s", handoff.agent_name, type(exc).__name__)
            self.emit(ErrorEvent(error={"code": "handoff_error", "message": f"handoff to {handoff.agent_name} failed"}))
            await self.send_tool_output(call_id, "Handoff failed; continue helping the user yourself.", start_response=True)
            return
        if self._closing:
            return
        previous = self._current_agent
        self._current_agent = new_agent
        await self._send_session_update()
        self.emit(HandoffEvent(from_agent=previous, to_agent=new_agent, call_id=call_id))
        await self.send_tool_output(call_id, transfer_output(new_agent), start_response=True)
