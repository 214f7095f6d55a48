"""What the browser sends, applied to a session: audio (checked, rate limited) and JSON commands."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .browser_frames import error_frame
from .browser_protocol import (
    BYTES_PER_MS,
    ApprovalCommand,
    AudioRateLimiter,
    CommitCommand,
    EndCommand,
    InterruptCommand,
    PlaybackCommand,
    ProtocolError,
    TextCommand,
    check_audio_frame,
    parse_text_frame,
    report_playback,
)
from .engine import PlaybackTracker, Session, SessionError, ToolApprovalRequiredEvent
from .engine.model import TransportError

logger = logging.getLogger("realtime_agents.browser_input")

POLICY_REJECTION = "Tool calls that need approval cannot be approved on this channel."
# Microphone audio the model has not taken yet; beyond this the oldest is dropped (the rate limiter's
# burst allowance, so a legitimate burst always fits).
MAX_BACKLOG_MS = 3000
AUDIO_DROPPED = (
    "upstream_unavailable",
    "The model is not taking audio fast enough; older audio was dropped.",
)


class BrowserInput:
    """Applies one connection's browser frames to its session; ProtocolError for anything refused."""

    def __init__(self, *, session: Session, recorder: Any, tracker: PlaybackTracker, user_decides: bool,
                 decided_by: str, send_frame: Callable[[str], Awaitable[None]],
                 limiter: AudioRateLimiter | None = None) -> None:
        self.session = session
        self.recorder = recorder
        self.tracker = tracker
        self.user_decides = user_decides
        self.decided_by = decided_by
        self.send_frame = send_frame  # a text frame to the browser
        self.limiter = limiter or AudioRateLimiter(now=time.monotonic())
        self.dropped_audio_ms = 0.0  # microphone audio not sent (too fast, or backlogged), over the connection
        self._too_fast = False
        self._backlog: list[bytes] = []
        self._backlog_bytes = 0
        self._max_backlog_bytes = MAX_BACKLOG_MS * BYTES_PER_MS
        self._dropping = False
        self._audio_waiting = asyncio.Event()
        self._uplink = asyncio.Lock()

    def audio(self, data: bytes) -> bool:
        """One binary frame: checked, rate limited, queued for `run_uplink` (hot path: no await).

        True when the model is so far behind that older audio was just dropped (once per backlog).
        Audio beyond the rate is dropped, with one ProtocolError per run of such frames: a server that
        fell behind drains its queue in a burst, and that must not read as one offence per frame.
        """
        check_audio_frame(data)
        if not self.limiter.allow(len(data), time.monotonic()):
            self.dropped_audio_ms += len(data) / BYTES_PER_MS
            if self._too_fast:
                return False
            self._too_fast = True
            raise ProtocolError("audio_too_fast", "Audio arrives much faster than real time; frames dropped.")
        self._too_fast = False
        self._backlog.append(data)
        self._backlog_bytes += len(data)
        self._audio_waiting.set()
        if self._backlog_bytes <= self._max_backlog_bytes:
            return False
        # The model is not taking audio (congested upstream): keep the newest speech, bounded.
        while self._backlog_bytes > self._max_backlog_bytes:
            dropped = self._backlog.pop(0)
            self._backlog_bytes -= len(dropped)
            self.dropped_audio_ms += len(dropped) / BYTES_PER_MS
        if self._dropping:
            return False
        self._dropping = True
        logger.warning("conversation %s: the model is not taking audio; dropping the oldest (%.0f ms so far)",
                       self.recorder.public_id, self.dropped_audio_ms)
        return True

    async def run_uplink(self) -> None:
        """Send queued audio upstream until cancelled; frames that arrived together go as one append."""
        while True:
            await self._audio_waiting.wait()
            self._audio_waiting.clear()
            await self.flush_audio()

    async def flush_audio(self) -> None:
        """Send every queued frame now, in order, as one `send_audio`; a failure is told to the browser."""
        async with self._uplink:
            if not self._backlog:
                return
            backlog, self._backlog, self._backlog_bytes, self._dropping = self._backlog, [], 0, False
            try:
                await self.session.send_audio(backlog[0] if len(backlog) == 1 else b"".join(backlog))
            except (SessionError, TransportError):
                await self.send_frame(error_frame("upstream_unavailable", "The model cannot take input now."))

    async def text(self, text: str) -> bool:
        """One text frame; True when the browser asked to end the conversation."""
        command = parse_text_frame(text)
        # Commands act after the audio that came before them (a commit ends the turn that audio is in).
        await self.flush_audio()
        if isinstance(command, TextCommand):
            await self.session.send_message(command.text)
        elif isinstance(command, PlaybackCommand):
            report_playback(self.tracker, command)
            self.recorder.note_playback(command.item_id, command.ms)
        elif isinstance(command, InterruptCommand):
            await self.session.interrupt()
        elif isinstance(command, ApprovalCommand):
            await self._decide(command)
        elif isinstance(command, CommitCommand):
            await self.session.commit_audio()
        return isinstance(command, EndCommand)

    async def _decide(self, command: ApprovalCommand) -> None:
        if not self.user_decides:
            raise ProtocolError("approval_not_allowed", "Callers cannot approve tool calls on this channel.")
        if command.approve:
            found = await self.session.approve_tool_call(command.call_id, always=command.always)
        else:
            found = await self.session.reject_tool_call(command.call_id, always=command.always)
        if not found:
            raise ProtocolError("unknown_call", "No tool call with that call_id is waiting for approval.")
        # The tool task resumes only after we yield, so the recorder hears the decision first.
        self.recorder.note_approval(command.call_id, approved=command.approve, decided_by=self.decided_by)

    async def decide_by_policy(self, event: ToolApprovalRequiredEvent) -> bool:
        """Reject an approval request nobody on this channel may answer; True when it was handled."""
        if self.user_decides:
            return False
        await self.session.reject_tool_call(event.call_id, message=POLICY_REJECTION)
        self.recorder.note_approval(event.call_id, approved=False, decided_by="channel_policy")
        return True
