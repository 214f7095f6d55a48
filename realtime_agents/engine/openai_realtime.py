"""OpenAI Realtime over a server-side WebSocket (also Azure, and SIP attach by `call_id`)."""
from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from .config import resolve_api_key
from .model import ConnectionStatusEvent, Model, TransportError

if TYPE_CHECKING:
    from .config import ModelConfig

logger = logging.getLogger("realtime_agents.engine.openai_realtime")

DEFAULT_REALTIME_URL = "wss://api.openai.com/v1/realtime"
USER_AGENT = "realtime_agents/0.1"

# Beta servers still use these names; one handler set serves both once they are renamed.
BETA_EVENT_NAMES = {
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "conversation.item.created": "conversation.item.added",
}
NORMAL_CLOSE_CODES = frozenset({1000})


def build_url(base_url: str | None, *, model_name: str | None, call_id: str | None) -> str:
    """The WebSocket URL with `model` (new session) or `call_id` (attach) in the query."""
    parts = urlsplit(base_url or DEFAULT_REALTIME_URL)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    if call_id:
        query.pop("model", None)
        query["call_id"] = call_id
    elif model_name and "model" not in query:
        query["model"] = model_name
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def redact_url(url: str) -> str:
    """The URL without its query, for logs and error messages."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


async def build_headers(config: ModelConfig, environ: Mapping[str, str]) -> dict[str, str]:
    """Explicit headers as given (Azure `api-key`), else a bearer token from the API key."""
    headers = dict(config.headers or {})
    lowered = {name.lower() for name in headers}
    if "authorization" in lowered or "api-key" in lowered:
        return headers
    api_key = await resolve_api_key(config, environ)
    if not api_key:
        raise TransportError("no API key: pass model_config['api_key'] or set OPENAI_API_KEY")
    headers["Authorization"] = f"Bearer {api_key}"
    return headers


class OpenAIRealtimeModel(Model):
    """GA Realtime protocol over one WebSocket; reconnecting is the session's decision."""

    def __init__(self, *, environ: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self._environ = environ if environ is not None else os.environ
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self.owns_playback = False

    @property
    def connected(self) -> bool:
        """Whether the socket is open."""
        return self._ws is not None

    async def connect(self, config: ModelConfig, *, model_name: str | None = None) -> None:
        """Open the socket and start reading; raise TransportError on any failure."""
        if self._ws is not None:
            raise TransportError("already connected")
        self._closing = False
        self.owns_playback = bool(config.call_id)
        base_url = config.url or self._environ.get("OPENAI_REALTIME_URL") or None
        url = build_url(base_url, model_name=model_name, call_id=config.call_id)
        headers = await build_headers(config, self._environ)
        try:
            self._ws = await connect(
                url,
                additional_headers=headers,
                user_agent_header=USER_AGENT,
                open_timeout=config.open_timeout,
                ping_interval=config.ping_interval,
                max_size=config.max_message_size,
                compression=None,
            )
        except InvalidStatus as exc:
            raise TransportError(
                f"{redact_url(url)} refused the connection: HTTP {exc.response.status_code}"
            ) from exc
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            raise TransportError(f"cannot connect to {redact_url(url)}: {exc}") from exc
        logger.info("connected to %s", redact_url(url))
        self._reader = asyncio.create_task(self._read(self._ws), name="realtime-openai-reader")
        await self._emit(ConnectionStatusEvent(status="connected"))

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    message = message.decode("utf-8", "replace")
                try:
                    data = json.loads(message)
                except ValueError:
                    data = {"type": "error", "error": {"type": "client_error", "code": "invalid_json",
                                                       "message": "the server sent a frame that is not JSON"}}
                if not isinstance(data, dict):
                    continue
                renamed = BETA_EVENT_NAMES.get(data.get("type"))  # type: ignore[arg-type]
                if renamed:
                    data["type"] = renamed
                await self._emit(data)
        except ConnectionClosed:
            pass
        finally:
            if self._ws is ws:
                self._ws = None
        if not self._closing:
            code = ws.close_code
            unexpected = code not in NORMAL_CLOSE_CODES
            logger.info("upstream closed (code %s, unexpected=%s)", code, unexpected)
            await self._emit(
                ConnectionStatusEvent(status="disconnected", unexpected=unexpected, close_code=code,
                                      reason=ws.close_reason or None)
            )

    async def send_event(self, event: Mapping[str, Any]) -> None:
        """Send one client event as a JSON text frame."""
        ws = self._ws
        if ws is None:
            raise TransportError("not connected")
        try:
            await ws.send(json.dumps(event, separators=(",", ":")))
        except ConnectionClosed as exc:
            raise TransportError(f"connection closed while sending {event.get('type')}") from exc

    async def append_input_audio(self, audio_b64: str) -> None:
        """`input_audio_buffer.append` built as a string: base64 needs no JSON escaping, json.dumps is slow."""
        ws = self._ws
        if ws is None:
            raise TransportError("not connected")
        try:
            await ws.send('{"type":"input_audio_buffer.append","audio":"' + audio_b64 + '"}')
        except ConnectionClosed as exc:
            raise TransportError("connection closed while sending audio") from exc

    async def close(self) -> None:
        """Close the socket and stop the reader; safe to call from a listener and twice."""
        self._closing = True
        ws, self._ws = self._ws, None
        reader, self._reader = self._reader, None
        if ws is not None:
            await ws.close()
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            try:
                await reader
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - the reader's end is not ours to report
                pass


class OpenAIRealtimeSIPModel(OpenAIRealtimeModel):
    """Attach to a SIP call answered by the Realtime API: `model_config` must carry a `call_id`."""

    async def connect(self, config: ModelConfig, *, model_name: str | None = None) -> None:
        """Refuse to connect without a `call_id`, then attach like the WebSocket model."""
        if not config.call_id:
            raise TransportError("OpenAIRealtimeSIPModel needs model_config['call_id'] (from the call webhook)")
        await super().connect(config, model_name=None)
