"""One Twilio call wired to one engine session: caller frames in, model audio out as marked media."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..browser_input import POLICY_REJECTION
from ..engine import AudioEvent, PlaybackTracker, SessionError, ToolApprovalRequiredEvent
from ..engine.events import AudioEndEvent, AudioInterruptedEvent, ErrorEvent, ToolEndEvent
from ..engine.model import TransportError
from .twilio_outcomes import CallOutcome, remember_outcome
from .twilio_playback import TwilioPlayback
from .twilio_stream import (
    CallerAudio,
    TwilioConnected,
    TwilioDtmf,
    TwilioFrameError,
    TwilioMark,
    TwilioMedia,
    TwilioStart,
    TwilioStop,
)

__all__ = ["DRAIN_LIMIT_S", "DTMF_GAP_S", "MAX_STRIKES", "TwilioCall", "TwilioCallControl", "dtmf_message"]

logger = logging.getLogger("realtime_agents.telephony.twilio_call")

MAX_STRIKES = 20  # unusable frames per call before it is closed as abusive
DTMF_GAP_S = 1.5  # keys pressed closer together than this reach the agent as one message
DRAIN_LIMIT_S = 30.0  # longest wait for Twilio to play what was sent before the line closes

Send = Callable[[str], Awaitable[None]]


def dtmf_message(digits: list[str]) -> str:
    """The user message the agent sees for keys the caller pressed."""
    return f"[The caller pressed {' '.join(digits)} on the keypad]"


class TwilioCallControl:
    """The Twilio side of the call tools: remember the outcome for the action URL, then end the stream."""

    def __init__(self, *, call_sid: str, channel: str) -> None:
        self.call_sid = call_sid
        self.channel = channel
        self.ending = asyncio.Event()
        self.reason = ""

    async def hang_up(self) -> None:
        """Hang up once the caller heard the goodbye (the action URL answers `<Hangup/>`)."""
        await remember_outcome(self.call_sid, CallOutcome(action="hang_up", channel=self.channel))
        self._request("agent_ended_call")

    async def transfer(self, number: str) -> None:
        """Transfer once the caller heard the announcement (the action URL answers `<Dial>`)."""
        await remember_outcome(
            self.call_sid, CallOutcome(action="transfer", number=number, channel=self.channel)
        )
        self._request("transferred")

    def _request(self, reason: str) -> None:
        self.reason = reason
        self.ending.set()


class TwilioCall:
    """Applies Twilio frames to the session and session events to Twilio; the consumer only moves frames."""

    def __init__(
        self,
        *,
        session: Any,
        recorder: Any,
        start: TwilioStart,
        tracker: PlaybackTracker,
        control: TwilioCallControl,
        send: Send,
        chunk_ms: int = 40,
        max_gap_ms: int = 1000,
    ) -> None:
        self.session = session
        self.recorder = recorder
        self.stream_sid = start.stream_sid
        self.control = control
        self.playback = TwilioPlayback(stream_sid=start.stream_sid, tracker=tracker, chunk_ms=chunk_ms)
        self.caller = CallerAudio(max_gap_ms=max_gap_ms)
        self.strikes = 0
        self._send = send
        self._drained = asyncio.Event()
        self._drained.set()
        # Set once the pump has passed the end-call/transfer tool's end: all audio said before it is sent.
        self.ready_to_end = asyncio.Event()
        self._digits: list[str] = []
        self._dtmf_task: asyncio.Task[None] | None = None

    # -- Twilio to the session ------------------------------------------------------------------

    async def on_frame(self, event: Any) -> str | None:
        """Apply one parsed frame; returns an end reason when the call is over."""
        kind = type(event)
        if kind is TwilioMedia:
            if event.stream_sid != self.stream_sid:
                return self._strike("media for another stream")
            if not self.control.ending.is_set():
                audio = self.caller.feed(event)
                if audio:
                    await self._guarded(self.session.send_audio(audio))
        elif kind is TwilioMark:
            self._on_mark(event)
        elif kind is TwilioDtmf:
            await self._on_dtmf(event.digit)
        elif kind is TwilioStop:
            return "caller_hung_up"
        elif kind is TwilioFrameError:
            logger.warning("unusable Twilio frame (%s): %s", event.event or "no event", event.reason)
            return self._strike(event.reason)
        elif kind is TwilioStart:
            return self._strike("a second start frame")
        elif kind is not TwilioConnected:
            return self._strike(f"unexpected {kind.__name__}")
        return None

    def _strike(self, why: str) -> str | None:
        self.strikes += 1
        logger.debug("call %s: strike %d: %s", self.control.call_sid, self.strikes, why)
        return "protocol_violation" if self.strikes >= MAX_STRIKES else None

    def _on_mark(self, mark: TwilioMark) -> None:
        outcome = self.playback.on_mark(mark.name)
        if outcome.status == "played" and outcome.mark is not None:
            self.recorder.note_playback(outcome.mark.item_id, outcome.played_ms)
        if self.playback.pending_marks == 0:
            self._drained.set()

    async def _on_dtmf(self, digit: str) -> None:
        self._digits.append(digit)
        if self._dtmf_task is not None:
            self._dtmf_task.cancel()
            self._dtmf_task = None
        if digit == "#" or len(self._digits) >= 32:
            await self._send_digits()
        else:
            self._dtmf_task = asyncio.create_task(
                self._digits_after_gap(), name=f"twilio-dtmf-{self.stream_sid}"
            )

    async def _digits_after_gap(self) -> None:
        await asyncio.sleep(DTMF_GAP_S)
        self._dtmf_task = None
        await self._send_digits()

    async def _send_digits(self) -> None:
        digits, self._digits = self._digits, []
        if digits and not self.control.ending.is_set():
            # A user message (recorded in the transcript) the model can act on; it also asks for an answer.
            await self._guarded(self.session.send_message(dtmf_message(digits)))

    async def _guarded(self, call: Awaitable[None]) -> None:
        try:
            await call
        except (SessionError, TransportError) as exc:
            # The upstream is gone: the pump sees the session end and closes the call.
            logger.debug("call %s: input dropped: %s", self.control.call_sid, type(exc).__name__)

    # -- the session to Twilio ------------------------------------------------------------------

    async def pump(self) -> str:
        """Session events to the recorder and to Twilio until the session ends; returns the end reason."""
        playback, send = self.playback, self._send
        async for event in self.session:
            self.recorder.observe(event)
            kind = type(event)
            if kind is AudioEvent:
                frames = playback.audio(event.item_id, event.content_index, event.data)
            elif kind is AudioEndEvent:
                frames = playback.flush()
            elif kind is AudioInterruptedEvent:
                # The engine truncated at the last echoed mark; Twilio drops what it still buffers.
                frames = playback.clear()
                self._drained.set()
            elif kind is ToolApprovalRequiredEvent:
                # Nobody on a phone line may approve tool calls.
                await self.session.reject_tool_call(event.call_id, message=POLICY_REJECTION)
                self.recorder.note_approval(event.call_id, approved=False, decided_by="channel_policy")
                continue
            else:
                if kind is ToolEndEvent and self.control.ending.is_set():
                    self.ready_to_end.set()
                elif kind is ErrorEvent:
                    logger.warning("call %s: model error %s", self.control.call_sid, event.error.get("code"))
                continue
            for frame in frames:
                await send(frame)
            if playback.pending_marks:
                self._drained.clear()
        return "upstream_closed"

    async def drain(self, limit_s: float = DRAIN_LIMIT_S) -> bool:
        """Send held-back audio and wait (bounded) until Twilio echoed every mark; False on timeout."""
        for frame in self.playback.flush():
            await self._send(frame)
        if self.playback.pending_marks:
            self._drained.clear()
        try:
            async with asyncio.timeout(limit_s):
                await self._drained.wait()
        except TimeoutError:
            logger.warning(
                "call %s: Twilio did not confirm playback within %.0f s", self.control.call_sid, limit_s
            )
            return False
        return True

    def close(self) -> None:
        """Cancel the pending keypad flush (digits not yet sent are dropped with the call)."""
        if self._dtmf_task is not None:
            self._dtmf_task.cancel()
            self._dtmf_task = None
