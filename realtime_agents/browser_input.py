"""What the browser sends, applied to a session: audio (checked, rate limited) and JSON commands."""

from __future__ import annotations

import time
from typing import Any

from .browser_protocol import (
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
from .engine import PlaybackTracker, Session, ToolApprovalRequiredEvent

POLICY_REJECTION = "Tool calls that need approval cannot be approved on this channel."


class BrowserInput:
    """Applies one connection's browser frames to its session; ProtocolError for anything refused."""

    def __init__(self, *, session: Session, recorder: Any, tracker: PlaybackTracker, user_decides: bool,
                 decided_by: str, limiter: AudioRateLimiter | None = None) -> None:
        self.session = session
        self.recorder = recorder
        self.tracker = tracker
        self.user_decides = user_decides
        self.decided_by = decided_by
        self.limiter = limiter or AudioRateLimiter(now=time.monotonic())

    async def audio(self, data: bytes) -> None:
        """One binary frame: PCM16 audio for the session (hot path: no allocation beyond the engine's)."""
        check_audio_frame(data)
        if not self.limiter.allow(len(data), time.monotonic()):
            raise ProtocolError("audio_too_fast", "Audio arrives much faster than real time; frame dropped.")
        await self.session.send_audio(data)

    async def text(self, text: str) -> bool:
        """One text frame; True when the browser asked to end the conversation."""
        command = parse_text_frame(text)
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
