"""Answering one incoming SIP call: pick the channel, accept it with the channel's agent or reject it."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from asgiref.sync import sync_to_async

from ..admission import ACTIVE_SLACK_S, SLOTS
from ..conf import app_settings
from ..engine.errors import ConfigError
from ..models import Channel
from ..recorder import ConversationRecorder
from ..specs import ChannelUnavailable, LoadedChannel, SpecError, aload_channel
from .call_tools import add_call_control_tools, call_control_tools
from .calls_api import CallGone, CallsApiError, CallsClient, build_accept_session
from .sip import called_numbers, choose_channel, header_values, normalize_e164, number_from_sip_value
from .sip_session import CallPlayback, SipCallControl, run_attached_call

__all__ = [
    "BUSY_STATUS",
    "UNAVAILABLE_STATUS",
    "CallsEndpoint",
    "IncomingCall",
    "PayloadError",
    "answer_call",
    "calls_endpoint",
    "parse_incoming_call",
]

logger = logging.getLogger("realtime_agents.telephony.sip")

INCOMING_EVENT = "realtime.call.incoming"
BUSY_STATUS = 486  # SIP Busy Here: the channel is at its concurrent-session limit
UNAVAILABLE_STATUS = 503  # SIP Service Unavailable: the channel cannot be served (offline model, no key)
_CALL_ID = re.compile(r"[A-Za-z0-9_\-]{1,200}")
_MAX_HEADERS = 200


class PayloadError(ValueError):
    """A signed delivery whose JSON is not a usable `realtime.call.incoming` event."""


@dataclass(frozen=True, kw_only=True)
class IncomingCall:
    """A ringing call from the webhook: its id and the (untrusted) SIP headers, in order."""

    call_id: str
    sip_headers: tuple[Mapping[str, str], ...]

    def caller_number(self, *, default_country_code: str | None = None) -> str:
        """The caller's number from `From` in E.164 form, or "" (withheld, or not a phone number)."""
        for value in header_values(self.sip_headers, "From"):
            number = number_from_sip_value(value, default_country_code=default_country_code)
            if number:
                return number
        return ""


def parse_incoming_call(payload: Any) -> IncomingCall | None:
    """The call in a webhook event; None for other event types; PayloadError when it is malformed."""
    if not isinstance(payload, dict):
        raise PayloadError("the event must be a JSON object")
    if payload.get("type") != INCOMING_EVENT:
        return None
    data = payload.get("data")
    if not isinstance(data, dict):
        raise PayloadError("data must be an object")
    call_id = data.get("call_id")
    if not isinstance(call_id, str) or not _CALL_ID.fullmatch(call_id):
        raise PayloadError("data.call_id must be 1-200 letters, digits, '_' or '-'")
    headers = data.get("sip_headers", [])
    if not isinstance(headers, list):
        raise PayloadError("data.sip_headers must be a list")
    kept = tuple(
        {"name": h["name"], "value": h["value"]}
        for h in headers[:_MAX_HEADERS]
        if isinstance(h, dict) and isinstance(h.get("name"), str) and isinstance(h.get("value"), str)
    )
    return IncomingCall(call_id=call_id, sip_headers=kept)


@dataclass(frozen=True, kw_only=True, repr=False)
class CallsEndpoint:
    """Where calls are controlled (Calls API) and attached (Realtime WebSocket), with the server key."""

    transport: Literal["openai", "azure"]
    api_key: str
    calls_base_url: str
    realtime_url: str

    def __repr__(self) -> str:
        return (f"CallsEndpoint(transport={self.transport!r}, calls_base_url={self.calls_base_url!r}, "
                "api_key='***')")

    def client(self) -> CallsClient:
        """A Calls API client (close it, or use `async with`)."""
        return CallsClient(
            api_key=self.api_key,
            base_url=self.calls_base_url,
            auth="bearer" if self.transport == "openai" else "api-key",
            timeout=float(app_settings.OPENAI_CALLS_TIMEOUT),
        )

    def model_config(self, call_id: str) -> dict[str, Any]:
        """The engine's `model_config` attaching to `call_id` (no model: the accept fixed it)."""
        config: dict[str, Any] = {"url": self.realtime_url, "call_id": call_id}
        if self.transport == "openai":
            config["api_key"] = self.api_key
        else:
            config["headers"] = {"api-key": self.api_key}
        return config


def calls_endpoint(transport: str) -> CallsEndpoint | None:
    """The endpoint for "openai" or "azure" from settings; None when not configured (or offline)."""
    if transport == "openai" and app_settings.OPENAI_API_KEY:
        return CallsEndpoint(
            transport="openai",
            api_key=str(app_settings.OPENAI_API_KEY),
            calls_base_url=str(app_settings.OPENAI_CALLS_BASE_URL),
            realtime_url=str(app_settings.OPENAI_REALTIME_URL),
        )
    if (
        transport == "azure"
        and app_settings.AZURE_OPENAI_API_KEY
        and app_settings.AZURE_OPENAI_CALLS_BASE_URL
        and app_settings.AZURE_OPENAI_REALTIME_URL
    ):
        return CallsEndpoint(
            transport="azure",
            api_key=str(app_settings.AZURE_OPENAI_API_KEY),
            calls_base_url=str(app_settings.AZURE_OPENAI_CALLS_BASE_URL),
            realtime_url=str(app_settings.AZURE_OPENAI_REALTIME_URL),
        )
    return None


def _any_endpoint() -> CallsEndpoint | None:
    """Whatever endpoint can reject a call that no channel serves."""
    return calls_endpoint("openai") or calls_endpoint("azure")


@dataclass(frozen=True, kw_only=True)
class _SipChannel:
    slug: str
    transfer_numbers: tuple[str, ...]


def _sip_numbers() -> dict[str, _SipChannel]:
    """Every active SIP channel's numbers (E.164) → the channel."""
    table: dict[str, _SipChannel] = {}
    rows = Channel.objects.filter(kind=Channel.Kind.SIP, is_active=True).exclude(phone_numbers="")
    for row in rows.only("slug", "phone_numbers", "transfer_numbers"):
        channel = _SipChannel(slug=row.slug, transfer_numbers=tuple(row.transfer_targets()))
        for number in row.numbers():
            normalised = normalize_e164(number)
            if normalised is None:
                logger.warning("channel %s lists %r, which is not an E.164 number; ignored", row.slug, number)
                continue
            table[normalised] = channel
    return table


async def _reject(call: IncomingCall, endpoint: CallsEndpoint | None, status: int, why: str) -> None:
    if endpoint is None:
        logger.error("call %s cannot be rejected (%s): no Calls API key is configured", call.call_id, why)
        return
    logger.info("rejecting call %s with %d: %s", call.call_id, status, why)
    try:
        async with endpoint.client() as client:
            await client.reject(call.call_id, status)
    except CallGone:
        logger.info("call %s was gone before it could be rejected", call.call_id)
    except CallsApiError as exc:
        logger.warning("rejecting call %s failed: %s", call.call_id, exc)


async def _reserve(loaded: LoadedChannel) -> Callable[[], None] | None:
    """Hold a slot on the channel (same counting as browser sessions); None when it is full."""
    within = float(max(loaded.max_session_seconds, int(app_settings.MAX_SESSION_SECONDS))) + ACTIVE_SLACK_S
    async with SLOTS.lock():
        active = await ConversationRecorder.active_count(channel_id=loaded.channel_id, within_s=within)
        if active + SLOTS.by_channel[loaded.channel_id] >= loaded.max_concurrent_sessions:
            return None
        SLOTS.by_channel[loaded.channel_id] += 1
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            released = True
            SLOTS.by_channel[loaded.channel_id] -= 1

    return release


async def _route(call: IncomingCall) -> tuple[LoadedChannel, tuple[str, ...]] | None:
    number_header = str(app_settings.SIP_NUMBER_HEADER) or None
    country = str(app_settings.SIP_DEFAULT_COUNTRY_CODE) or None
    numbers = await sync_to_async(_sip_numbers, thread_sensitive=True)()
    choice = choose_channel(
        call.sip_headers, numbers, number_header=number_header, default_country_code=country
    )
    if choice is None:
        names = ((number_header,) if number_header else ()) + ("To", "Diversion")
        found = called_numbers(call.sip_headers, header_names=names, default_country_code=country)
        logger.info("call %s: no active SIP channel has the number called (found %s)", call.call_id,
                    ", ".join(f"{number} in {header}" for number, header in found) or "no number")
        return None
    try:
        return await aload_channel(choice.channel.slug), choice.channel.transfer_numbers
    except ChannelUnavailable:
        logger.info("call %s: channel %s became unavailable", call.call_id, choice.channel.slug)
        return None


async def answer_call(call: IncomingCall) -> None:
    """Reject the call, or accept it with the channel's agent, attach, and run it to its end."""
    try:
        routed = await _route(call)
    except SpecError as exc:
        logger.error("call %s: the channel cannot be loaded: %s", call.call_id, exc)
        return await _reject(call, _any_endpoint(), UNAVAILABLE_STATUS, "channel misconfigured")
    except Exception:  # noqa: BLE001 - e.g. the database is down: the caller should hear a failure at once
        logger.exception("call %s: routing failed", call.call_id)
        return await _reject(call, _any_endpoint(), UNAVAILABLE_STATUS, "routing failed")
    if routed is None:
        return await _reject(call, _any_endpoint(), int(app_settings.SIP_REJECT_STATUS_CODE), "no channel")
    loaded, transfer_numbers = routed
    if loaded.transport not in ("openai", "azure"):
        logger.error("call %s: channel %s uses the %s transport, which cannot answer SIP calls "
                     "(OpenAI carries the audio); choose OpenAI or Azure",
                     call.call_id, loaded.slug, loaded.transport)
        return await _reject(call, _any_endpoint(), UNAVAILABLE_STATUS, "transport cannot serve SIP")
    endpoint = calls_endpoint(loaded.transport)
    if endpoint is None:
        logger.error("call %s: channel %s uses %s, whose API key, Calls URL or Realtime URL is not set",
                     call.call_id, loaded.slug, loaded.transport)
        return await _reject(call, _any_endpoint(), UNAVAILABLE_STATUS, "transport not configured")
    release = await _reserve(loaded)
    if release is None:
        logger.info("call %s: channel %s is at its session limit", call.call_id, loaded.slug)
        return await _reject(call, endpoint, BUSY_STATUS, "channel busy")
    try:
        async with endpoint.client() as client:
            await _accept_and_run(call, loaded, transfer_numbers, endpoint, client, release)
    finally:
        release()


async def _accept_and_run(
    call: IncomingCall,
    loaded: LoadedChannel,
    transfer_numbers: Sequence[str],
    endpoint: CallsEndpoint,
    client: CallsClient,
    release: Callable[[], None],
) -> None:
    playback = CallPlayback()
    control = SipCallControl(client=client, call_id=call.call_id, playback=playback)
    tools = call_control_tools(control, transfer_numbers=transfer_numbers)
    # aload_channel builds fresh specs per call, so adding tools here touches no other call.
    add_call_control_tools(loaded.agents.values(), tools)
    try:
        session = await build_accept_session(loaded.starting_agent, _without_formats(loaded.model_settings))
        await client.accept(call.call_id, session)
    except CallGone:
        logger.warning("call %s was gone before it could be accepted (answer within a few seconds)",
                       call.call_id)
        return
    except (CallsApiError, ConfigError) as exc:
        logger.error("call %s: accept failed: %s", call.call_id, exc)
        return
    logger.info("call %s accepted on channel %s", call.call_id, loaded.slug)
    caller = call.caller_number(default_country_code=str(app_settings.SIP_DEFAULT_COUNTRY_CODE) or None)
    await run_attached_call(call_id=call.call_id, loaded=loaded, endpoint=endpoint, control=control,
                            playback=playback, caller_number=caller, on_recording=release)


def _without_formats(settings: Mapping[str, Any]) -> dict[str, Any]:
    """SIP negotiates the codec: a channel's audio formats never reach the accept or the session."""
    formats = ("input_audio_format", "output_audio_format")
    return {key: value for key, value in settings.items() if key not in formats}
