"""Turns session events into row operations as items complete: pure, synchronous, no database."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..engine.events import (
    AgentEndEvent,
    AudioEndEvent,
    AudioEvent,
    AudioInterruptedEvent,
    ErrorEvent,
    GuardrailTrippedEvent,
    HandoffEvent,
    HistoryAddedEvent,
    HistoryUpdatedEvent,
    InputAudioTimeoutTriggeredEvent,
    ReconnectEvent,
    SpeechStartedEvent,
    SpeechStoppedEvent,
    ToolApprovalRequiredEvent,
    ToolEndEvent,
    ToolStartEvent,
    TranscriptDeltaEvent,
    TranscriptDoneEvent,
    UsageEvent,
)
from ..engine.items import InputAudio, MessageItem, ToolCallItem
from ..engine.usage import Usage
from ..models.conversations import TOOL_ERROR_STATUSES
from .ops import MAX_MESSAGE, RowOp, Totals, clip_text
from .tool_runs import ToolRunTracker

logger = logging.getLogger("realtime_agents.recording.tracker")

# Playback positions come every 100-250 ms: a session ending further than this before the end of the
# generated audio means the caller did not hear it all.
UNHEARD_TAIL_MS = 500.0


class _Item:
    """A message seen but not yet written."""

    __slots__ = ("item_id", "role", "agent_name", "sequence", "started", "parts", "text", "audio_bytes",
                 "audio_ms", "audio_done", "first_audio", "first_text", "latency_mark", "interrupted", "truncated")

    def __init__(self, *, item_id: str, role: str, agent_name: str, sequence: int, started: float) -> None:
        self.item_id = item_id
        self.role = role
        self.agent_name = agent_name
        self.sequence = sequence
        self.started = started
        self.parts: list[str] = []
        self.text: str | None = None
        self.audio_bytes = 0
        self.audio_ms: float | None = None
        self.audio_done = False
        self.first_audio: float | None = None
        self.first_text: float | None = None
        self.latency_mark: float | None = None
        self.interrupted = False
        self.truncated = False


@dataclass(kw_only=True)
class _Written:
    """What is remembered of a written item, for a later truncation or playback cut."""

    sequence: int
    role: str
    status: str
    audio_ms: float


class ConversationTracker:
    """Follows one session's events and queues `RowOp`s in conversation order; `ops` is drained by a writer."""

    def __init__(self, *, starting_agent: str, bytes_per_ms: float, transcribes_input: bool,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time,
                 redact: Callable[[RowOp], RowOp] | None = None) -> None:
        self.ops: list[RowOp] = []
        self._redact = redact
        self.current_agent = starting_agent
        self.usage = Usage()
        self.turn_count = 0
        self.tool_run_count = 0
        self.tool_error_count = 0
        self.guardrail_trip_count = 0
        self.output_audio_bytes = 0
        self.input_speech_ms = 0.0
        self._bytes_per_ms = bytes_per_ms
        self._transcribes = transcribes_input
        self._clock = clock
        self._wall = wall
        self._last_activity = wall()
        self._sequence = 0
        self._items: dict[str, _Item] = {}
        self._written: dict[str, _Written] = {}
        self._tools = ToolRunTracker(emit=self._emit, next_sequence=self._next, wall=wall)
        self._played: dict[str, float] = {}
        self._audio_item: _Item | None = None
        self._user_end: float | None = None
        self._speech_start: tuple[int | None, float] | None = None
        self._speech: dict[str, tuple[float, float]] = {}
        self._handlers: dict[type, Callable[[Any], None]] = {
            HistoryAddedEvent: self._on_added,
            HistoryUpdatedEvent: self._on_updated,
            TranscriptDeltaEvent: self._on_delta,
            TranscriptDoneEvent: self._on_transcript,
            AudioInterruptedEvent: self._on_interrupted,
            AudioEndEvent: self._on_audio_end,
            AgentEndEvent: self._on_agent_end,
            UsageEvent: self._on_usage,
            SpeechStartedEvent: self._on_speech_started,
            SpeechStoppedEvent: self._on_speech_stopped,
            ToolApprovalRequiredEvent: self._tools.on_approval_required,
            ToolStartEvent: self._tools.on_start,
            ToolEndEvent: self._tools.on_end,
            HandoffEvent: self._on_handoff,
            GuardrailTrippedEvent: self._on_guardrail,
            ErrorEvent: self._on_error,
            ReconnectEvent: self._on_reconnect,
            InputAudioTimeoutTriggeredEvent: self._on_idle_timeout,
        }

    # -- entry points -------------------------------------------------------------------------

    def observe(self, event: Any) -> None:
        """Fold one session event in; audio only moves counters."""
        if type(event) is AudioEvent:
            size = len(event.data)
            self.output_audio_bytes += size
            item = self._audio_item
            if item is None or item.item_id != event.item_id:
                item = self._audio_target(event.item_id)
            item.audio_bytes += size
            return
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def note_approval(self, call_id: str, *, approved: bool, decided_by: str) -> bool:
        """Remember who decided a pending approval (the engine's event says what); False for an unknown call."""
        return self._tools.note_approval(call_id, decided_by=decided_by)

    def note_playback(self, item_id: str, ms: float) -> None:
        """Remember how much of an assistant item the caller has heard."""
        if item_id in self._items or item_id in self._written:
            # Positions may arrive out of order; the furthest one is what was heard.
            self._played[item_id] = max(ms, self._played.get(item_id, 0.0))

    def finish(self) -> Totals:
        """Write out everything still pending (the session is over) and return the final totals."""
        for item in list(self._items.values()):
            if item.role == "assistant":
                self._finish_assistant(item, cut=True)
            else:
                self._complete(item)
        self._tools.finish()
        self._cut_unheard_tail()
        return self.totals()

    def totals(self) -> Totals:
        """The conversation's running totals."""
        return Totals(
            final_agent_name=self.current_agent,
            turn_count=self.turn_count,
            response_count=self.usage.requests,
            input_tokens=self.usage.input_tokens,
            output_tokens=self.usage.output_tokens,
            cached_tokens=self.usage.cached_tokens,
            input_audio_seconds=round(self.input_speech_ms / 1000, 3),
            output_audio_seconds=round(self.output_audio_bytes / self._bytes_per_ms / 1000, 3),
            last_activity=self._last_activity,
            tool_run_count=self.tool_run_count,
            tool_error_count=self.tool_error_count,
            guardrail_trip_count=self.guardrail_trip_count,
        )

    # -- sequencing ---------------------------------------------------------------------------

    def _next(self) -> int:
        self._sequence += 1
        return self._sequence

    def _emit(self, op: RowOp) -> None:
        self._last_activity = self._wall()
        # Counted where every row passes (never on the audio path), with the admin filters' meanings.
        if op.kind == "tool":
            self.tool_run_count += 1
            if op.fields["status"] in TOOL_ERROR_STATUSES:
                self.tool_error_count += 1
        elif op.kind == "event" and op.fields["kind"] == "guardrail_tripped":
            self.guardrail_trip_count += 1
        # Every row passes here, so redaction at this point covers items, updates, tool runs and events.
        self.ops.append(op if self._redact is None else self._redact(op))

    def _event(self, kind: str, *, sequence: int | None = None, **data: Any) -> None:
        self._emit(RowOp(kind="event", fields={
            "sequence": sequence or self._next(), "kind": kind, "agent_name": self.current_agent[:100], "data": data,
            "created_at": self._wall(),
        }))

    # -- messages -----------------------------------------------------------------------------

    def _new_item(self, item_id: str, role: str, agent_name: str | None) -> _Item:
        item = _Item(item_id=item_id, role=role, sequence=self._next(), started=self._wall(),
                     agent_name=agent_name or (self.current_agent if role == "assistant" else ""))
        if role == "assistant":
            # The first assistant item after the user finished owns the response latency.
            item.latency_mark, self._user_end = self._user_end, None
        self._items[item_id] = item
        return item

    def _assistant(self, item_id: str) -> _Item | None:
        if item_id in self._written:
            return None
        item = self._items.get(item_id)
        return item if item is not None else self._new_item(item_id, "assistant", None)

    def _audio_target(self, item_id: str) -> _Item:
        item = self._items.get(item_id)
        if item is None:
            if item_id in self._written:
                # Late audio of a written item: counted in the totals only, on a holder nobody writes.
                item = _Item(item_id=item_id, role="assistant", agent_name="", sequence=0, started=0.0)
            else:
                item = self._new_item(item_id, "assistant", None)
        if item.first_audio is None:
            item.first_audio = self._clock()
        self._audio_item = item
        return item

    def _on_added(self, event: HistoryAddedEvent) -> None:
        entry = event.item
        if isinstance(entry, ToolCallItem):
            self._tools.on_item(entry, self.current_agent)
            return
        if not isinstance(entry, MessageItem) or entry.item_id in self._items or entry.item_id in self._written:
            return
        item = self._new_item(entry.item_id, entry.role, entry.agent_name)
        if entry.role == "assistant":
            return
        if entry.role == "user":
            if self._user_end is None:
                # Typed text or a push-to-talk commit: the user's turn ends when the item arrives.
                self._user_end = self._clock()
            speech = self._speech.pop(entry.item_id, None)
            if speech is not None:
                item.started, item.audio_ms = speech
            spoken = any(isinstance(part, InputAudio) for part in entry.content)
            if spoken and self._transcribes and not entry.text:
                return  # complete once the transcript arrives
        item.text = entry.text
        self._complete(item)

    def _on_updated(self, event: HistoryUpdatedEvent) -> None:
        entry = event.item
        if not isinstance(entry, MessageItem) or entry.role != "assistant" or entry.status != "truncated":
            return
        heard = entry.audio_ms
        item = self._items.get(entry.item_id)
        if item is not None:
            item.truncated = True
            item.text = entry.text.strip()
            item.audio_ms = heard
            self._finish_assistant(item, cut=True)
            return
        written = self._written.get(entry.item_id)
        if written is not None and written.role == "assistant" and written.status != "truncated":
            # Generation had finished, but the caller barged in while it was still playing.
            written.status, written.audio_ms = "truncated", heard
            self._emit(RowOp(kind="item_update", sequence=written.sequence,
                             fields={"status": "truncated", "text": entry.text.strip(), "audio_ms": heard}))

    def _on_delta(self, event: TranscriptDeltaEvent) -> None:
        if event.role != "assistant":
            return
        item = self._assistant(event.item_id)
        if item is not None:
            if item.first_text is None:
                item.first_text = self._clock()
            item.parts.append(event.delta)

    def _on_audio_end(self, event: AudioEndEvent) -> None:
        item = self._items.get(event.item_id)
        if item is not None:
            item.audio_done = True
            if item.text is not None:
                self._finish_assistant(item, cut=False)

    def _on_transcript(self, event: TranscriptDoneEvent) -> None:
        if event.role == "user":
            item = self._items.get(event.item_id)
            if item is None:
                if event.item_id in self._written:
                    return
                item = self._new_item(event.item_id, "user", None)
            item.text = event.transcript
            self._complete(item)
            return
        item = self._assistant(event.item_id)
        if item is not None:
            item.text = event.transcript
            # Audio may still be streaming after the transcript: wait for its end (or the response's).
            if not item.audio_bytes or item.audio_done:
                self._finish_assistant(item, cut=False)

    def _on_interrupted(self, event: AudioInterruptedEvent) -> None:
        item = self._items.get(event.item_id)
        if item is not None:
            item.interrupted = True
            if event.audio_end_ms is not None:
                item.audio_ms = float(event.audio_end_ms)
        self._event("interruption", item_id=event.item_id, audio_end_ms=event.audio_end_ms, reason=event.reason)

    def _on_agent_end(self, event: AgentEndEvent) -> None:
        # The response is over: whatever of its messages is still open was cut off.
        cut = event.status not in (None, "completed")
        for item in [i for i in self._items.values() if i.role == "assistant"]:
            self._finish_assistant(item, cut=cut or item.interrupted)

    def _finish_assistant(self, item: _Item, *, cut: bool) -> None:
        text = item.text if item.text is not None else "".join(item.parts)
        if not text and not item.audio_bytes:
            # A response cancelled before it said anything (e.g. after an input guardrail) is not a message.
            self._items.pop(item.item_id, None)
            return
        if item.truncated:
            status = "truncated"
        elif cut or item.interrupted:
            status = "interrupted"
        else:
            status = "completed"
        generated = item.audio_bytes / self._bytes_per_ms
        audio_ms = item.audio_ms if item.audio_ms is not None and status != "completed" else generated
        item.text = text
        item.audio_ms = audio_ms
        self._complete(item, status=status)

    def _complete(self, item: _Item, *, status: str = "completed") -> None:
        self._items.pop(item.item_id, None)
        if self._audio_item is item:
            self._audio_item = None
        latency = None
        if item.role == "assistant" and item.latency_mark is not None:
            first = item.first_audio or item.first_text
            if first is not None:
                latency = round(max(0.0, first - item.latency_mark) * 1000, 1)
        if item.role == "user":
            self.turn_count += 1
        text = clip_text(item.text)
        audio_ms = round(item.audio_ms or 0.0, 1)
        self._written[item.item_id] = _Written(sequence=item.sequence, role=item.role, status=status, audio_ms=audio_ms)
        self._emit(RowOp(kind="item", fields={
            "sequence": item.sequence, "role": item.role, "agent_name": item.agent_name[:100], "text": text,
            "item_id": item.item_id[:64], "status": status, "audio_ms": audio_ms, "started_at": item.started,
            "ended_at": self._wall(), "response_latency_ms": latency,
        }))

    def _cut_unheard_tail(self) -> None:
        for item_id, played in self._played.items():
            written = self._written.get(item_id)
            if (written is None or written.role != "assistant" or written.status != "completed"
                    or played >= written.audio_ms - UNHEARD_TAIL_MS):
                continue
            written.status = "interrupted"
            self._emit(RowOp(kind="item_update", sequence=written.sequence,
                             fields={"status": "interrupted", "audio_ms": round(played, 1)}))

    # -- turn detection -----------------------------------------------------------------------

    def _on_speech_started(self, event: SpeechStartedEvent) -> None:
        self._speech_start = (event.audio_start_ms, self._wall())

    def _on_speech_stopped(self, event: SpeechStoppedEvent) -> None:
        self._user_end = self._clock()
        start = self._speech_start
        self._speech_start = None
        if start is None:
            return
        start_ms, start_wall = start
        if start_ms is not None and event.audio_end_ms is not None:
            span = float(max(0, event.audio_end_ms - start_ms))
        else:
            span = max(0.0, (self._wall() - start_wall) * 1000)
        self.input_speech_ms += span
        if event.item_id:
            self._speech[event.item_id] = (start_wall, span)

    # -- typed events -------------------------------------------------------------------------

    def _on_usage(self, event: UsageEvent) -> None:
        self.usage.add(event.usage)

    def _on_handoff(self, event: HandoffEvent) -> None:
        # The handoff takes the place of the model's transfer call.
        sequence = self._tools.discard(event.call_id)
        self._event("handoff", sequence=sequence, from_agent=event.from_agent.name, to_agent=event.to_agent.name,
                    call_id=event.call_id)
        self.current_agent = event.to_agent.name

    def _on_guardrail(self, event: GuardrailTrippedEvent) -> None:
        self._event("guardrail_tripped", guardrails=list(event.guardrail_names), guardrail_kind=event.kind,
                    text=clip_text(event.message, MAX_MESSAGE), item_id=event.item_id, response_id=event.response_id)

    def _on_error(self, event: ErrorEvent) -> None:
        self._event("error", code=clip_text(event.code, 100) or None, message=clip_text(event.message, MAX_MESSAGE))
        failed = event.error.get("item_id")
        item = self._items.get(failed) if isinstance(failed, str) else None
        if item is not None and item.role == "user":
            # Transcription failed: the user item is as complete as it will get.
            self._complete(item)

    def _on_reconnect(self, event: ReconnectEvent) -> None:
        self._event("reconnect", status=event.status, attempt=event.attempt,
                    reason=clip_text(event.reason, MAX_MESSAGE) or None)

    def _on_idle_timeout(self, event: InputAudioTimeoutTriggeredEvent) -> None:
        self._event("idle_timeout", item_id=event.item_id)
