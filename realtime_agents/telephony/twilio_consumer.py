"""The Twilio media stream consumer: verify the upgrade, wait for `start`, run one call, close."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Coroutine
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer

from ..admission import Refused
from ..conf import app_settings
from ..conversation_end import await_ending, cancel_tasks, close_and_finalise, log_task_failure
from ..engine import ConfigError, PlaybackTracker, SessionError
from ..engine.model import TransportError
from ..models import Channel
from ..recorder import ClientInfo, ConversationRecorder
from ..specs import ChannelUnavailable, LoadedChannel, SpecError, aload_channel
from ..transports import TransportUnavailable, choose_transport
from .twilio_admission import reserve_call_slot, verify_stream_upgrade
from .twilio_call import TwilioCall, TwilioCallControl
from .twilio_outcomes import CallOutcome, remember_outcome
from .twilio_session import chunk_ms, open_call_session, twilio_model_settings
from .twilio_stream import TwilioConnected, TwilioStart, parse_twilio_frame

__all__ = ["START_TIMEOUT_S", "TwilioStreamConsumer"]

logger = logging.getLogger("realtime_agents.telephony.twilio_consumer")

START_TIMEOUT_S = 10.0  # Twilio sends `start` right after `connected`
_CLOSERS: set[asyncio.Task[None]] = set()  # finalisations that outlive a cancelled consumer


class TwilioStreamConsumer(AsyncWebsocketConsumer):
    """`ws/realtime/twilio/<slug>/`: one engine session per call (docs/telephony.md, Path 1)."""

    channel_layer_alias = None  # type: ignore[assignment]  # nothing is sent to a call through a layer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loaded: LoadedChannel | None = None
        self.call: TwilioCall | None = None
        self.session: Any = None
        self.recorder: ConversationRecorder | None = None
        self.call_sid = ""
        self._tasks: list[asyncio.Task[None]] = []
        self._ending = False
        self._ended = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Run the consumer; if the server cancels it before `disconnect` ran, finalise anyway."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            if not self._ending and self.recorder is not None:
                closer = asyncio.create_task(
                    self._end("stream_closed", close=False), name=f"twilio-closer-{self.recorder.public_id}"
                )
                _CLOSERS.add(closer)
                closer.add_done_callback(_CLOSERS.discard)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Media frames skip Channels' per-message database cleanup (a thread hop per 20 ms frame)."""
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
            return
        await super().dispatch(message)

    async def connect(self) -> None:
        """Refuse the handshake (403) unless it is signed and names an active Twilio channel."""
        slug = str(self.scope["url_route"]["kwargs"]["slug"])
        if not verify_stream_upgrade(self.scope):
            return await self._refuse()
        try:
            loaded = await aload_channel(slug)
        except SpecError as exc:  # ChannelUnavailable included
            if not isinstance(exc, ChannelUnavailable):
                logger.error("channel %s cannot be loaded: %s", slug, exc)
            return await self._refuse()
        if loaded.kind != Channel.Kind.TWILIO:
            logger.warning("refused a Twilio stream for channel %s of kind %s", slug, loaded.kind)
            return await self._refuse()
        # The recorder measures audio in the session's output format: make it the one Twilio uses.
        self.loaded = dataclasses.replace(loaded, model_settings=twilio_model_settings(loaded))
        await self.accept()
        self._spawn(self._expire(START_TIMEOUT_S, "start_timeout"), "start-timeout")

    async def _refuse(self) -> None:
        self._ending = True
        self._ended.set()
        await self.close()  # before accept: the handshake fails with 403

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Every frame is JSON text: before `start` only `connected` is expected, then the call's frames."""
        if self._ending:
            return
        event = parse_twilio_frame(text_data if text_data is not None else bytes_data or b"")
        if self.call is not None:
            reason = await self.call.on_frame(event)
            if reason is not None:
                await self._end(reason)
        elif type(event) is TwilioStart:
            await self._start(event)
        elif type(event) is not TwilioConnected:
            logger.warning("Twilio frame before start ignored: %s", getattr(event, "reason", event.type))

    async def _start(self, start: TwilioStart) -> None:
        assert self.loaded is not None
        loaded, self.call_sid = self.loaded, start.call_sid
        for task in self._tasks:  # the start timeout
            task.cancel()
        self._tasks.clear()
        tracker = PlaybackTracker()
        try:
            choice = choose_transport(loaded, playback_tracker=tracker)
            reservation = await reserve_call_slot(loaded)
        except (TransportUnavailable, Refused) as exc:
            logger.warning("call on channel %s not served: %s", loaded.slug, exc)
            busy = isinstance(exc, Refused)
            await remember_outcome(
                start.call_sid, CallOutcome(action="busy" if busy else "error", channel=loaded.slug)
            )
            return await self._end("refused")
        try:
            client = ClientInfo(
                user_agent="Twilio Media Streams",
                ip="",
                call_id=start.call_sid,
                caller_number=start.custom_parameters.get("from", ""),
            )
            self.recorder = await ConversationRecorder.open(loaded=loaded, user_id=None, client=client)
        finally:
            reservation.release()
        control = TwilioCallControl(call_sid=start.call_sid, channel=loaded.slug)
        try:
            self.session = await open_call_session(loaded, choice, control)
        except (TransportError, SessionError, ConfigError, OSError) as exc:
            logger.warning(
                "call %s: cannot open the model session: %s", self.recorder.public_id, type(exc).__name__
            )
            return await self._end("upstream_error")
        self.call = TwilioCall(
            session=self.session,
            recorder=self.recorder,
            start=start,
            tracker=tracker,
            control=control,
            send=self._send_text,
            chunk_ms=chunk_ms(),
            max_gap_ms=int(app_settings.TWILIO_MAX_GAP_MS),
        )
        self._spawn(self._pump(), "pump")
        self._spawn(self._watch_control(self.call), "control")
        self._spawn(self._expire(float(loaded.max_session_seconds), "max_duration"), "max-duration")

    async def _send_text(self, frame: str) -> None:
        await self.send(text_data=frame)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=f"twilio-{name}-{self.call_sid or 'pending'}")
        self._tasks.append(task)
        task.add_done_callback(log_task_failure)

    async def _pump(self) -> None:
        assert self.call is not None
        try:
            reason = await self.call.pump()
        except Exception as exc:  # noqa: BLE001 - ends this call, not the server
            logger.warning("call %s: session failed: %s", self.call_sid, type(exc).__name__)
            reason = "upstream_error"
        await self._end(reason)

    async def _watch_control(self, call: TwilioCall) -> None:
        await call.ready_to_end.wait()
        # Let the caller hear the goodbye or the transfer notice before the line closes.
        await call.drain()
        await self._end(call.control.reason)

    async def _expire(self, seconds: float, reason: str) -> None:
        await asyncio.sleep(seconds)
        await self._end(reason)

    async def disconnect(self, code: int) -> None:
        """Twilio closed the socket (the call ended): close upstream, finalise the conversation."""
        await self._end("stream_closed", close=False)

    async def _end(self, reason: str, *, close: bool = True) -> None:
        """End once: close the stream (Twilio then fetches the action URL), stop the session, finalise."""
        if self._ending:
            return await await_ending(self._tasks, self._ended)
        self._ending = True
        try:
            if reason in ("upstream_error", "upstream_closed", "protocol_violation") and self.call_sid:
                # The agent's own outcome, if any, stands; otherwise the caller hears an apology.
                outcome = CallOutcome(action="error", channel=self.loaded.slug if self.loaded else "")
                await remember_outcome(self.call_sid, outcome, replace=False)
            if close:
                await self.close()
            if self.call is not None:
                self.call.close()
            await cancel_tasks(self._tasks)
            await close_and_finalise(self.session, self.recorder, reason, label=f"call {self.call_sid or '?'}")
        finally:
            self._ended.set()

