"""The browser WebSocket consumer: authorise, wire one engine session to the socket and recorder, close."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

from .admission import CloseCode, Refused, check_origin, client_ip, reserve_slot, scope_header
from .browser_input import BrowserInput
from .browser_protocol import OutboundFrames, ProtocolError, end_frame, error_frame, ready_frame
from .engine import AudioEvent, ConfigError, PlaybackTracker, Runner, SessionError, ToolApprovalRequiredEvent
from .engine.model import TransportError
from .recorder import ClientInfo, ConversationRecorder
from .specs import ChannelUnavailable, LoadedChannel, SpecError, aload_channel
from .transports import TransportChoice, TransportUnavailable, browser_model_settings, choose_transport

logger = logging.getLogger("realtime_agents.consumers")

MAX_STRIKES = 20  # refused frames per connection before it is closed as abusive
UPSTREAM_CLOSE_TIMEOUT_S = 1.0
# Finalisations that outlive a consumer the server cancelled (kept so they are not garbage-collected).
_CLOSERS: set[asyncio.Task[None]] = set()
GREETING = "Start the conversation now. Greet the user along these lines: {greeting}"


class RealtimeConsumer(AsyncWebsocketConsumer):
    """`ws/realtime/<slug>/`: one engine session per browser connection (docs/protocol.md)."""

    # No channel layer: nothing is sent to a conversation through it, and a subscription costs each
    # connection a blocking read that times out (and kills the consumer) when the loop is busy.
    channel_layer_alias = None  # type: ignore[assignment]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Run the consumer; if the server cancels it before `disconnect` ran, finalise anyway."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            if not self._ending and self.recorder is not None:
                # Daphne cancels an app whose disconnect waits behind a backlog of frames: the
                # conversation must still be closed and recorded, in a task that outlives us.
                closer = asyncio.create_task(self._end("client_disconnected", CloseCode.NORMAL, notify=False),
                                             name=f"realtime-browser-closer-{self.recorder.public_id}")
                _CLOSERS.add(closer)
                closer.add_done_callback(_CLOSERS.discard)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Browser frames skip Channels' per-message database cleanup (a thread hop per audio frame)."""
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
            return
        await super().dispatch(message)

    def __init__(self, *args: Any, reconnect: Any = None, **kwargs: Any) -> None:
        """`reconnect`: the engine's upstream reconnect policy (`as_asgi(reconnect=False)`); None: default."""
        super().__init__(*args, **kwargs)
        self.reconnect = reconnect
        self.session: Any = None
        self.recorder: ConversationRecorder | None = None
        self.input: BrowserInput | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ending = False
        self._ended = asyncio.Event()
        self._strikes = 0

    async def connect(self) -> None:
        """Admit or refuse (accept, then close with a documented code), then open the session."""
        slug = str(self.scope["url_route"]["kwargs"]["slug"])
        tracker = PlaybackTracker()
        try:
            loaded = await aload_channel(slug)
            check_origin(self.scope, loaded)
            choice = choose_transport(loaded, playback_tracker=tracker)
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
            await self._open(loaded, choice, tracker)
        finally:
            reservation.release()

    async def _refuse(self, code: int, reason: str) -> None:
        # Accept first: a refused handshake reaches browsers as a bare 1006 with no code.
        self._ending = True
        self._ended.set()
        await self.accept()
        await self.close(code=int(code), reason=reason)

    async def _open(self, loaded: LoadedChannel, choice: TransportChoice, tracker: PlaybackTracker) -> None:
        user = self.scope.get("user")
        user_id = user.pk if user is not None and user.is_authenticated else None
        client = ClientInfo(user_agent=scope_header(self.scope, "user-agent") or "", ip=client_ip(self.scope))
        recorder = await ConversationRecorder.open(loaded=loaded, user_id=user_id, client=client)
        self.recorder = recorder
        run_config: dict[str, Any] = {"model_settings": browser_model_settings(loaded)}
        if self.reconnect is not None:
            run_config["reconnect"] = self.reconnect
        try:
            runner = Runner(loaded.starting_agent, model=choice.model, config=run_config)
            self.session = await runner.run(model_config=choice.model_config)
            await self.session.enter()
            if loaded.greeting:
                # Per-response instructions replace the session's: keep the agent's own with the greeting.
                persona = await self.session.current_agent.get_system_prompt(self.session.run_context) or ""
                greeting = GREETING.format(greeting=loaded.greeting)
                await self.session.create_response(instructions=f"{persona}\n\n{greeting}".strip())
        except (TransportError, SessionError, ConfigError, OSError) as exc:
            logger.warning("conversation %s: cannot open the model session: %s", recorder.public_id,
                           type(exc).__name__)
            await self.send(text_data=error_frame("upstream_unavailable", "The model is unreachable."))
            return await self._end("upstream_error", CloseCode.UPSTREAM_ERROR)
        # Web widgets put a person on the line; other kinds reach a browser only through staff try-it pages.
        self.input = BrowserInput(
            session=self.session, recorder=recorder, tracker=tracker,
            user_decides=loaded.kind == "web" or bool(getattr(user, "is_staff", False)),
            decided_by=f"user:{user_id}" if user_id is not None else "caller")
        await self.send(text_data=ready_frame(conversation_id=recorder.public_id,
                                              agent=loaded.starting_agent.name, channel=loaded.slug))
        self._spawn(self._pump(OutboundFrames(show_tool_arguments=loaded.show_tool_arguments)), "pump")
        self._spawn(self._expire(float(loaded.max_session_seconds)), "max-duration")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        public_id = self.recorder.public_id if self.recorder else ""
        task = asyncio.create_task(coro, name=f"realtime-browser-{name}-{public_id}")
        self._tasks.append(task)
        task.add_done_callback(_log_failure)

    async def _pump(self, outbound: OutboundFrames) -> None:
        """Session events to the recorder and the browser; the one reader of the session."""
        assert self.recorder is not None and self.input is not None
        recorder, browser_input = self.recorder, self.input
        reason, code = "upstream_closed", CloseCode.NORMAL
        try:
            async for event in self.session:
                recorder.observe(event)
                if type(event) is AudioEvent:
                    header = outbound.audio_header(event)
                    if header is not None:
                        await self.send(text_data=header)
                    await self.send(bytes_data=event.data)
                    continue
                if type(event) is ToolApprovalRequiredEvent and await browser_input.decide_by_policy(event):
                    continue
                for frame in outbound.frames(event):
                    await self.send(text_data=frame)
        except Exception as exc:  # noqa: BLE001 - ends this conversation, not the server
            logger.warning("conversation %s: session failed: %s", recorder.public_id, type(exc).__name__)
            await self.send(text_data=error_frame("upstream_error", "The model conversation failed."))
            reason, code = "upstream_error", CloseCode.UPSTREAM_ERROR
        await self._end(reason, code)

    async def _expire(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._end("max_duration", CloseCode.MAX_DURATION)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Binary frames are audio for the session; text frames are JSON commands."""
        if self._ending or self.input is None:
            return
        try:
            if text_data is None:
                await self.input.audio(bytes_data or b"")
            elif await self.input.text(text_data):
                await self._end("client_ended", CloseCode.NORMAL)
        except ProtocolError as exc:
            await self.send(text_data=error_frame(exc.code, exc.message))
            self._strikes += 1
            if self._strikes >= MAX_STRIKES:
                await self._end("protocol_violation", CloseCode.PROTOCOL_VIOLATION)
        except (SessionError, TransportError):
            await self.send(text_data=error_frame("upstream_unavailable", "The model cannot take input now."))

    async def disconnect(self, code: int) -> None:
        """The browser went away: close upstream, cancel tasks, finalise the conversation."""
        await self._end("client_disconnected", code, notify=False)

    async def _end(self, reason: str, code: int, *, notify: bool = True) -> None:
        """End once: tell the browser, cancel tasks, close upstream, finalise the recording."""
        if self._ending:
            # A task of ours must not wait for the ending that is cancelling it.
            if asyncio.current_task() not in self._tasks:
                async with asyncio.timeout(5.0):
                    await self._ended.wait()
            return
        self._ending = True
        try:
            if notify:
                await self.send(text_data=end_frame(reason))
                await self.close(code=int(code), reason=reason)
            others = [task for task in self._tasks if task is not asyncio.current_task()]
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
