"""The browser WebSocket consumer: authorise, wire one engine session to the socket and the recorder, close."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

from .admission import CloseCode, Refused, check_origin, client_ip, reserve_slot, scope_header
from .browser_protocol import (
    ApprovalCommand,
    AudioRateLimiter,
    CommitCommand,
    Command,
    InterruptCommand,
    OutboundFrames,
    PlaybackCommand,
    ProtocolError,
    TextCommand,
    check_audio_frame,
    encode,
    error_frame,
    parse_text_frame,
    report_playback,
)
from .engine import AudioEvent, ConfigError, PlaybackTracker, Runner, Session, SessionError, ToolApprovalRequiredEvent
from .engine.model import TransportError
from .recorder import ClientInfo, ConversationRecorder
from .specs import ChannelUnavailable, LoadedChannel, SpecError, aload_channel
from .transports import TransportChoice, TransportUnavailable, browser_model_settings, choose_transport

logger = logging.getLogger("realtime_agents.consumers")

MAX_STRIKES = 20  # refused frames per connection before it is closed as abusive
UPSTREAM_CLOSE_TIMEOUT_S = 1.0
POLICY_REJECTION = "Tool calls that need approval cannot be approved on this channel."


class RealtimeConsumer(AsyncWebsocketConsumer):
    """`ws/realtime/<slug>/`: one engine session per browser connection (docs/protocol.md)."""

    def __init__(self, *args: Any, reconnect: Any = None, **kwargs: Any) -> None:
        """`reconnect`: the engine's policy for upstream drops (`as_asgi(reconnect=False)`); None: its default."""
        super().__init__(*args, **kwargs)
        self.reconnect = reconnect

    async def connect(self) -> None:
        """Admit or refuse (accept, then close with a documented code), then open the session."""
        self.session: Session | None = None
        self.recorder: ConversationRecorder | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ending = False
        self._ended = asyncio.Event()
        self._strikes = 0
        slug = str(self.scope["url_route"]["kwargs"]["slug"])
        self.tracker = PlaybackTracker()
        try:
            loaded = await aload_channel(slug)
            check_origin(self.scope, loaded)
            choice = choose_transport(loaded, playback_tracker=self.tracker)
            reservation = await reserve_slot(self.scope, loaded)
        except ChannelUnavailable:
            return await self._refuse(CloseCode.CHANNEL_UNAVAILABLE, "channel unavailable")
        except SpecError as exc:
            logger.error("channel %s cannot be loaded: %s", slug, exc)
            return await self._refuse(CloseCode.SERVER_ERROR, "channel misconfigured")
        except TransportUnavailable as exc:
            logger.error("channel %s: %s", slug, exc)
            return await self._refuse(CloseCode.TRANSPORT_UNAVAILABLE, "model transport unavailable")
        except Refused as exc:
            return await self._refuse(exc.code, exc.reason)
        await self.accept()
        try:
            await self._open(loaded, choice)
        finally:
            reservation.release()

    async def _refuse(self, code: int, reason: str) -> None:
        # Accept first: a refused handshake reaches browsers as a bare 1006 with no code.
        self._ending = True
        self._ended.set()
        await self.accept()
        await self.close(code=int(code), reason=reason)

    async def _open(self, loaded: LoadedChannel, choice: TransportChoice) -> None:
        user = self.scope.get("user")
        user_id = user.pk if user is not None and user.is_authenticated else None
        # Web widgets put a person on the line; other channels reach the browser only via staff try-it pages.
        self.user_decides = loaded.kind == "web" or bool(getattr(user, "is_staff", False))
        self.decided_by = f"user:{user_id}" if user_id is not None else "caller"
        client = ClientInfo(user_agent=(scope_header(self.scope, "user-agent") or "")[:500], ip=client_ip(self.scope))
        self.recorder = await ConversationRecorder.open(loaded=loaded, user_id=user_id, client=client)
        self.outbound = OutboundFrames(show_tool_arguments=loaded.show_tool_arguments)
        self.limiter = AudioRateLimiter(now=time.monotonic())
        run_config: dict[str, Any] = {"model_settings": browser_model_settings(loaded)}
        if self.reconnect is not None:
            run_config["reconnect"] = self.reconnect
        try:
            runner = Runner(loaded.starting_agent, model=choice.model, config=run_config)
            self.session = await runner.run(model_config=choice.model_config)
            await self.session.enter()
            if loaded.greeting:
                await self.session.create_response(
                    instructions=f"Start the conversation now. Greet the user along these lines: {loaded.greeting}")
        except (TransportError, SessionError, ConfigError, OSError) as exc:
            logger.warning("conversation %s: cannot open the model session: %s", self.recorder.public_id,
                           type(exc).__name__)
            await self.send(text_data=error_frame("upstream_unavailable", "The model service cannot be reached."))
            await self._end("upstream_error", CloseCode.UPSTREAM_ERROR)
            return
        await self.send(text_data=encode({"type": "ready", "conversation_id": self.recorder.public_id,
                                          "agent": loaded.starting_agent.name, "channel": loaded.slug}))
        self._spawn(self._pump(), "realtime-browser-pump")
        self._spawn(self._expire(float(loaded.max_session_seconds)), "realtime-browser-max-duration")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=f"{name}-{self.recorder.public_id if self.recorder else ''}")
        self._tasks.append(task)
        task.add_done_callback(_log_failure)

    async def _pump(self) -> None:
        """Session events to the recorder and the browser; the one reader of the session."""
        assert self.session is not None and self.recorder is not None
        session, recorder, outbound = self.session, self.recorder, self.outbound
        reason, code = "upstream_closed", CloseCode.NORMAL
        try:
            async for event in session:
                recorder.observe(event)
                if type(event) is AudioEvent:
                    header = outbound.audio_header(event)
                    if header is not None:
                        await self.send(text_data=header)
                    await self.send(bytes_data=event.data)
                    continue
                if type(event) is ToolApprovalRequiredEvent and not self.user_decides:
                    await session.reject_tool_call(event.call_id, message=POLICY_REJECTION)
                    recorder.note_approval(event.call_id, approved=False, decided_by="channel_policy")
                    continue
                for frame in outbound.frames(event):
                    await self.send(text_data=frame)
        except Exception as exc:  # noqa: BLE001 - any upstream failure ends this conversation, not the server
            logger.warning("conversation %s: session failed: %s", recorder.public_id, type(exc).__name__)
            await self.send(text_data=error_frame("upstream_error", "The conversation with the model failed."))
            reason, code = "upstream_error", CloseCode.UPSTREAM_ERROR
        await self._end(reason, code)

    async def _expire(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._end("max_duration", CloseCode.MAX_DURATION)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Binary frames are audio for the session; text frames are JSON commands."""
        if self._ending or self.session is None:
            return
        try:
            if text_data is None:
                audio = bytes_data or b""
                check_audio_frame(audio)
                if not self.limiter.allow(len(audio), time.monotonic()):
                    raise ProtocolError("audio_too_fast", "Audio arrives much faster than real time; frame dropped.")
                await self.session.send_audio(audio)
            else:
                await self._apply(parse_text_frame(text_data))
        except ProtocolError as exc:
            await self.send(text_data=error_frame(exc.code, exc.message))
            self._strikes += 1
            if self._strikes >= MAX_STRIKES:
                await self._end("protocol_violation", CloseCode.PROTOCOL_VIOLATION)
        except (SessionError, TransportError):
            await self.send(text_data=error_frame("upstream_unavailable", "The model cannot take input right now."))

    async def _apply(self, command: Command) -> None:
        session, recorder = self.session, self.recorder
        assert session is not None and recorder is not None
        kind = type(command)
        if kind is TextCommand:
            await session.send_message(command.text)  # type: ignore[union-attr]
        elif kind is PlaybackCommand:
            report_playback(self.tracker, command)  # type: ignore[arg-type]
            recorder.note_playback(command.item_id, command.ms)  # type: ignore[union-attr]
        elif kind is InterruptCommand:
            await session.interrupt()
        elif kind is ApprovalCommand:
            await self._decide(command)  # type: ignore[arg-type]
        elif kind is CommitCommand:
            await session.commit_audio()
        else:
            await self._end("client_ended", CloseCode.NORMAL)

    async def _decide(self, command: ApprovalCommand) -> None:
        assert self.session is not None and self.recorder is not None
        if not self.user_decides:
            raise ProtocolError("approval_not_allowed", "This channel does not let the caller approve tool calls.")
        if command.approve:
            found = await self.session.approve_tool_call(command.call_id, always=command.always)
        else:
            found = await self.session.reject_tool_call(command.call_id, always=command.always)
        if not found:
            raise ProtocolError("unknown_call", "No tool call with that call_id is waiting for approval.")
        # Before the tool task can run (it resumes only after we yield), so the recorder sees it first.
        self.recorder.note_approval(command.call_id, approved=command.approve, decided_by=self.decided_by)

    async def disconnect(self, code: int) -> None:
        """The browser went away: close upstream, cancel tasks, finalise the conversation."""
        await self._end("client_disconnected", code, notify=False)

    async def _end(self, reason: str, code: int, *, notify: bool = True) -> None:
        """End once: tell the browser, cancel tasks, close upstream, finalise the recording."""
        if self._ending:
            if asyncio.current_task() not in self._tasks:
                async with asyncio.timeout(5.0):
                    await self._ended.wait()
            return
        self._ending = True
        try:
            if notify:
                await self.send(text_data=encode({"type": "session.end", "reason": reason}))
                await self.close(code=int(code), reason=reason)
            current = asyncio.current_task()
            others = [task for task in self._tasks if task is not current]
            for task in others:
                task.cancel()
            if others:
                await asyncio.wait(others, timeout=UPSTREAM_CLOSE_TIMEOUT_S)
            if self.session is not None:
                try:
                    async with asyncio.timeout(UPSTREAM_CLOSE_TIMEOUT_S):
                        await self.session.close()
                except (TimeoutError, TransportError, OSError) as exc:
                    logger.warning("closing the model session failed: %s", type(exc).__name__)
            if self.recorder is not None:
                await self.recorder.close(end_reason=reason)
                logger.info("conversation %s ended: %s", self.recorder.public_id, reason)
        finally:
            self._ended.set()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("task %s failed", task.get_name(), exc_info=task.exception())
