"""An accepted SIP call: the engine session attached by call_id, recorded, with hang-up and transfer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..browser_input import POLICY_REJECTION
from ..consumers import GREETING
from ..conversation_end import close_and_finalise
from ..engine import (
    ConfigError,
    OpenAIRealtimeSIPModel,
    RawModelEvent,
    ReconnectEvent,
    Runner,
    SessionError,
    ToolApprovalRequiredEvent,
)
from ..engine.model import TransportError
from ..recorder import ClientInfo, ConversationRecorder
from ..specs import LoadedChannel
from .calls_api import CallGone, CallsApiError, CallsClient

if TYPE_CHECKING:
    from ..engine import Session
    from .sip_answer import CallsEndpoint

__all__ = ["CALLER_USER_AGENT", "SIP_RECONNECT", "CallPlayback", "SipCallControl", "run_attached_call"]

logger = logging.getLogger("realtime_agents.telephony.sip")

CALLER_USER_AGENT = "SIP call"
# A sideband that drops mid-call may come back; a call that ended answers 404 and the session ends.
SIP_RECONNECT: dict[str, float] = {"max_attempts": 3, "initial_delay": 0.5, "max_delay": 2.0}
DRAIN_TIMEOUT_S = 15.0  # longest wait for the caller to hear the agent's last words before a hang-up/transfer
HANGUP_CLOSE_WAIT_S = 2.0  # after our hang-up, how long OpenAI gets to close the sideband itself
CLOSE_TIMEOUT_S = 2.0


class CallPlayback:
    """Whether OpenAI is still producing or playing the agent's audio, from the server's events."""

    def __init__(self) -> None:
        self._responses: set[str] = set()
        self._playing = False
        self._quiet = asyncio.Event()
        self._quiet.set()

    def reset(self) -> None:
        """Forget what was playing (the sideband re-attached: events in between are lost)."""
        self._responses.clear()
        self._playing = False
        self._quiet.set()

    @property
    def quiet(self) -> bool:
        """No response in progress and nothing left in OpenAI's output buffer."""
        return self._quiet.is_set()

    def observe(self, event: Any) -> None:
        """Fold in one raw server event (`response.*`, `output_audio_buffer.*`; others are ignored)."""
        if not isinstance(event, Mapping):
            return
        kind = event.get("type")
        if kind == "response.created":
            response = event.get("response")
            self._responses.add(str(response.get("id")) if isinstance(response, Mapping) else "")
        elif kind == "response.done":
            response = event.get("response")
            self._responses.discard(str(response.get("id")) if isinstance(response, Mapping) else "")
        elif kind == "output_audio_buffer.started":
            self._playing = True
        elif kind in ("output_audio_buffer.stopped", "output_audio_buffer.cleared"):
            self._playing = False
        else:
            return
        if self._responses or self._playing:
            self._quiet.clear()
        else:
            self._quiet.set()

    async def wait_quiet(self, timeout: float = DRAIN_TIMEOUT_S) -> bool:
        """Wait until `quiet` (bounded); False when the time ran out."""
        try:
            async with asyncio.timeout(timeout):
                await self._quiet.wait()
        except TimeoutError:
            return False
        return True


class SipCallControl:
    """`CallControl` for a SIP call: hang up and transfer through the Calls API, after the agent finishes."""

    def __init__(
        self,
        *,
        client: CallsClient,
        call_id: str,
        playback: CallPlayback,
        drain_timeout_s: float = DRAIN_TIMEOUT_S,
    ) -> None:
        self._client = client
        self.call_id = call_id
        self._playback = playback
        self._drain_timeout_s = drain_timeout_s
        self.hung_up = asyncio.Event()
        self.transferred_to: str | None = None

    async def hang_up(self) -> None:
        """End the call once the caller has heard what the agent already said."""
        if not await self._playback.wait_quiet(self._drain_timeout_s):
            logger.info("call %s: hanging up although the agent's audio is still playing", self.call_id)
        try:
            await self._client.hangup(self.call_id)
        except CallGone:
            logger.info("call %s had already ended", self.call_id)
        self.hung_up.set()

    async def transfer(self, number: str) -> None:
        """Refer the call to `number` (E.164) once the caller has heard what the agent already said."""
        await self._playback.wait_quiet(self._drain_timeout_s)
        await self._client.refer(self.call_id, f"tel:{number}")
        self.transferred_to = number
        logger.info("call %s transferred", self.call_id)

    async def hang_up_now(self) -> None:
        """End the call at once (errors, time limit, shutdown); never raises."""
        try:
            await self._client.hangup(self.call_id)
        except CallGone:
            pass
        except CallsApiError as exc:
            logger.warning("call %s: hang-up failed: %s", self.call_id, exc)


def _session_settings(loaded: LoadedChannel) -> dict[str, Any]:
    # The accept fixed the model, and SIP negotiated the codec: neither may be sent again.
    dropped = ("model_name", "input_audio_format", "output_audio_format")
    return {key: value for key, value in loaded.model_settings.items() if key not in dropped}


async def run_attached_call(
    *,
    call_id: str,
    loaded: LoadedChannel,
    endpoint: CallsEndpoint,
    control: SipCallControl,
    playback: CallPlayback,
    caller_number: str,
    on_recording: Callable[[], None],
) -> None:
    """Record the call, attach a session to it, greet, and run until it ends; finalise with the reason."""
    client = ClientInfo(user_agent=CALLER_USER_AGENT, ip="", call_id=call_id, caller_number=caller_number)
    try:
        recorder = await ConversationRecorder.open(loaded=loaded, user_id=None, client=client)
    except Exception:  # noqa: BLE001 - an unrecorded call must not go on without us: end it
        logger.exception("call %s: cannot record the conversation; hanging up", call_id)
        await control.hang_up_now()
        return
    finally:
        # Once the row exists it counts against the channel's limit by itself.
        on_recording()
    call = _AttachedCall(
        call_id=call_id, loaded=loaded, control=control, playback=playback, recorder=recorder
    )
    reason = "server_error"
    try:
        reason = await call.run(endpoint)
    except asyncio.CancelledError:
        # The server is shutting down: a call left running would talk to a model whose tools never run.
        reason = "server_shutdown"
        await asyncio.shield(control.hang_up_now())
        raise
    finally:
        await call.finish(reason)


class _AttachedCall:
    """The session attached to one accepted call, and the tasks around it."""

    def __init__(
        self,
        *,
        call_id: str,
        loaded: LoadedChannel,
        control: SipCallControl,
        playback: CallPlayback,
        recorder: ConversationRecorder,
    ) -> None:
        self.call_id = call_id
        self.loaded = loaded
        self.control = control
        self.playback = playback
        self.recorder = recorder
        self.session: Session | None = None

    async def run(self, endpoint: CallsEndpoint) -> str:
        """Attach, greet, pump events until the call ends; the end reason."""
        config: dict[str, Any] = {
            "model_settings": _session_settings(self.loaded),
            # No audio on the sideband: raw events are cheap, and they say when the agent stops talking.
            "include_raw_events": True,
            "reconnect": dict(SIP_RECONNECT),
        }
        try:
            model = OpenAIRealtimeSIPModel(environ={})
            runner = Runner(self.loaded.starting_agent, model=model, config=config)
            self.session = await runner.run(model_config=endpoint.model_config(self.call_id))
            await self.session.enter()
            if self.loaded.greeting:
                persona = await self.session.current_agent.get_system_prompt(self.session.run_context) or ""
                greeting = GREETING.format(greeting=self.loaded.greeting)
                await self.session.create_response(instructions=f"{persona}\n\n{greeting}".strip())
        except (TransportError, SessionError, ConfigError, OSError) as exc:
            logger.warning("call %s: cannot attach to the call: %s", self.call_id, exc)
            await self.control.hang_up_now()
            return "upstream_error"
        logger.info("call %s attached (conversation %s)", self.call_id, self.recorder.public_id)
        pump = asyncio.create_task(self._pump(), name=f"realtime-sip-pump-{self.call_id}")
        hung_up = asyncio.create_task(self.control.hung_up.wait(), name=f"realtime-sip-hangup-{self.call_id}")
        try:
            done, _ = await asyncio.wait({pump, hung_up}, timeout=float(self.loaded.max_session_seconds),
                                         return_when=asyncio.FIRST_COMPLETED)
            if pump in done:
                return pump.result()
            if hung_up in done:
                # OpenAI ends the sideband after a hang-up; give it a moment, then stop waiting.
                await asyncio.wait({pump}, timeout=HANGUP_CLOSE_WAIT_S)
                return "agent_hung_up"
            logger.info("call %s reached the channel's maximum duration", self.call_id)
            await self.control.hang_up_now()
            return "max_duration"
        finally:
            for task in (pump, hung_up):
                task.cancel()
            await asyncio.wait({pump, hung_up}, timeout=CLOSE_TIMEOUT_S)

    async def _pump(self) -> str:
        """Session events to the recorder (and playback state); the reason the call ended."""
        assert self.session is not None
        try:
            async for event in self.session:
                if type(event) is RawModelEvent:
                    self.playback.observe(event.data)
                    continue
                self.recorder.observe(event)
                if type(event) is ReconnectEvent and event.status == "reconnected":
                    self.playback.reset()
                elif type(event) is ToolApprovalRequiredEvent:
                    # Nobody on a phone line can press "approve": the policy answers.
                    await self.session.reject_tool_call(event.call_id, message=POLICY_REJECTION)
                    self.recorder.note_approval(event.call_id, approved=False, decided_by="channel_policy")
        except Exception as exc:  # noqa: BLE001 - ends this call, not the server
            logger.warning("call %s: session failed: %s", self.call_id, type(exc).__name__)
            await self.control.hang_up_now()
            return "upstream_error"
        if self.control.hung_up.is_set():
            return "agent_hung_up"
        return "transferred" if self.control.transferred_to else "call_ended"

    async def finish(self, reason: str) -> None:
        """Close the session and finalise the conversation; safe after any failure."""
        await close_and_finalise(self.session, self.recorder, reason, label=f"call {self.call_id}",
                                 timeout=CLOSE_TIMEOUT_S)
