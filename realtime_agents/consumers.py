"""The browser WebSocket consumer: authorise, wire one engine session to the socket and recorder, close."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from .admission import CloseCode, Refused, check_origin, client_ip, reserve_slot, scope_header
from .asgi_consumer import WebsocketConsumer, detach
from .browser_frames import OutboundFrames, end_frame, error_frame, ready_frame
from .browser_input import AUDIO_DROPPED, BrowserInput
from .browser_output import relay_events
from .browser_protocol import ProtocolError
from .conversation_end import await_ending, cancel_tasks, close_and_finalise, log_task_failure
from .engine import ConfigError, PlaybackTracker, Runner, SessionError
from .engine.model import TransportError
from .recorder import ClientInfo, ConversationRecorder
from .specs import ChannelUnavailable, LoadedChannel, SpecError, aload_channel
from .transports import TransportChoice, TransportUnavailable, browser_model_settings, choose_transport

logger = logging.getLogger("realtime_agents.consumers")

MAX_STRIKES = 20  # refused frames per connection before it is closed as abusive
GREETING = "Start the conversation now. Greet the user along these lines: {greeting}"


class RealtimeConsumer(WebsocketConsumer):
    """`ws/realtime/<slug>/`: one engine session per browser connection (docs/protocol.md)."""

    def abandoned(self) -> None:
        """Cancelled before `disconnect` (Daphne's application_close_timeout): finalise all the same."""
        if not self._ending and self.recorder is not None:
            detach(asyncio.create_task(self._end("client_disconnected", CloseCode.NORMAL, notify=False),
                                       name=f"realtime-browser-closer-{self.recorder.public_id}"))

    def __init__(self, *, reconnect: Any = None) -> None:
        """`reconnect`: the engine's upstream reconnect policy (`as_asgi(reconnect=False)`); None: default."""
        super().__init__()
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
            await self.send_text(error_frame("upstream_unavailable", "The model is unreachable."))
            return await self._end("upstream_error", CloseCode.UPSTREAM_ERROR)
        # Web widgets put a person on the line; other kinds reach a browser only through staff try-it pages.
        self.input = BrowserInput(
            session=self.session, recorder=recorder, tracker=tracker,
            user_decides=loaded.kind == "web" or bool(getattr(user, "is_staff", False)),
            decided_by=f"user:{user_id}" if user_id is not None else "caller", send_frame=self.send_text)
        await self.send_text(ready_frame(conversation_id=recorder.public_id,
                                         agent=loaded.starting_agent.name, channel=loaded.slug))
        self._spawn(self._pump(OutboundFrames(show_tool_arguments=loaded.show_tool_arguments)), "pump")
        self._spawn(self.input.run_uplink(), "uplink")
        self._spawn(self._expire(float(loaded.max_session_seconds)), "max-duration")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        public_id = self.recorder.public_id if self.recorder else ""
        task = asyncio.create_task(coro, name=f"realtime-browser-{name}-{public_id}")
        self._tasks.append(task)
        task.add_done_callback(log_task_failure)

    async def _pump(self, outbound: OutboundFrames) -> None:
        """Session events to the recorder and the browser; when the session ends, so does the conversation."""
        assert self.recorder is not None and self.input is not None
        reason, code = "upstream_closed", CloseCode.NORMAL
        try:
            await relay_events(self.session, recorder=self.recorder, outbound=outbound,
                               browser_input=self.input, send=self.base_send)
        except Exception as exc:  # noqa: BLE001 - ends this conversation, not the server
            logger.warning("conversation %s: session failed: %s", self.recorder.public_id, type(exc).__name__)
            await self.send_text(error_frame("upstream_error", "The model conversation failed."))
            reason, code = "upstream_error", CloseCode.UPSTREAM_ERROR
        await self._end(reason, code)

    async def _expire(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._end("max_duration", CloseCode.MAX_DURATION)

    async def receive_bytes(self, data: bytes) -> None:
        """Microphone audio: queued for the session's uplink (the hot path)."""
        try:
            if self.input is not None and not self._ending and self.input.audio(data):
                await self.send_text(error_frame(*AUDIO_DROPPED))
        except ProtocolError as exc:
            await self._refused(exc)

    async def receive_text(self, text: str) -> None:
        """A JSON command."""
        try:
            if self.input is not None and not self._ending and await self.input.text(text):
                await self._end("client_ended", CloseCode.NORMAL)
        except ProtocolError as exc:
            await self._refused(exc)
        except (SessionError, TransportError):
            await self.send_text(error_frame("upstream_unavailable", "The model cannot take input now."))

    async def _refused(self, exc: ProtocolError) -> None:
        await self.send_text(error_frame(exc.code, exc.message))
        self._strikes += 1
        if self._strikes >= MAX_STRIKES:
            await self._end("protocol_violation", CloseCode.PROTOCOL_VIOLATION)

    async def disconnect(self, code: int) -> None:
        """The browser went away: close upstream, cancel tasks, finalise the conversation."""
        await self._end("client_disconnected", code, notify=False)

    async def _end(self, reason: str, code: int, *, notify: bool = True) -> None:
        """End once: tell the browser, cancel tasks, close upstream, finalise the recording."""
        if self._ending:
            return await await_ending(self._tasks, self._ended)
        self._ending = True
        try:
            if notify:
                await self.send_text(end_frame(reason))
                await self.close(code=int(code), reason=reason)
            await cancel_tasks(self._tasks)
            await close_and_finalise(self.session, self.recorder, reason, label="browser session")
        finally:
            self._ended.set()

