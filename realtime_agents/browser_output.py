"""Session events to the browser: observed by the recorder, audio passed through, the rest as JSON frames."""

from __future__ import annotations

from .asgi_consumer import Send
from .browser_frames import OutboundFrames
from .browser_input import BrowserInput
from .engine import AudioEvent, Session, ToolApprovalRequiredEvent
from .recorder import ConversationRecorder


async def relay_events(session: Session, *, recorder: ConversationRecorder, outbound: OutboundFrames,
                       browser_input: BrowserInput, send: Send) -> None:
    """Forward every session event until the session ends; the one reader of the session."""
    async for event in session:
        recorder.observe(event)
        if type(event) is AudioEvent:
            # The hot path: one binary frame per model chunk, bytes unchanged; JSON only when due.
            for frame in outbound.before_audio(event):
                await send({"type": "websocket.send", "text": frame})
            await send({"type": "websocket.send", "bytes": event.data})
            continue
        if type(event) is ToolApprovalRequiredEvent and await browser_input.decide_by_policy(event):
            continue
        for frame in outbound.frames(event):
            await send({"type": "websocket.send", "text": frame})
    for frame in outbound.flush():
        await send({"type": "websocket.send", "text": frame})
