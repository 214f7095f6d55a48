"""The model transport interface: connect, send client events, tell listeners what arrives, close."""
from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, Union

if TYPE_CHECKING:
    from .config import ModelConfig


@dataclass(frozen=True, kw_only=True)
class ConnectionStatusEvent:
    """The upstream connection opened or closed; `unexpected` closes may be retried."""

    status: Literal["connected", "disconnected"]
    unexpected: bool = False
    close_code: int | None = None
    reason: str | None = None
    type: Literal["connection_status"] = "connection_status"


@dataclass(frozen=True, kw_only=True)
class TransportErrorEvent:
    """The transport failed in a way the session cannot recover from by itself."""

    exception: BaseException
    context: str = ""
    type: Literal["transport_error"] = "transport_error"


# Server events travel as the parsed JSON dict (GA event names) so the audio path builds no
# wrapper object per delta; transport-level news comes as the dataclasses above.
ModelEvent = Union[dict[str, Any], ConnectionStatusEvent, TransportErrorEvent]


class ModelListener(Protocol):
    """Receives every event a model transport produces, in order."""

    async def on_event(self, event: ModelEvent) -> None:
        """Handle one event (a server event dict, or a transport event)."""


class TransportError(ConnectionError):
    """The model transport cannot connect or lost its connection for good."""


class Model(abc.ABC):
    """A realtime model transport (OpenAI WebSocket, SIP attach, offline, scripted)."""

    #: True when the server owns playback (SIP, WebRTC): no truncation from our side.
    owns_playback: bool = False

    def __init__(self) -> None:
        self._listeners: list[ModelListener] = []

    def add_listener(self, listener: ModelListener) -> None:
        """Register a listener; each event goes to every listener in registration order."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def remove_listener(self, listener: ModelListener) -> None:
        """Unregister a listener (no error if it was not registered)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    async def _emit(self, event: ModelEvent) -> None:
        listeners = self._listeners
        if len(listeners) == 1:
            # The common case (just the session), without a copy per audio delta.
            await listeners[0].on_event(event)
            return
        for listener in tuple(listeners):
            await listener.on_event(event)

    @abc.abstractmethod
    async def connect(self, config: ModelConfig, *, model_name: str | None = None) -> None:
        """Open the connection; raise TransportError when it cannot be opened."""

    @abc.abstractmethod
    async def send_event(self, event: Mapping[str, Any]) -> None:
        """Send one raw client event (GA shape); raise TransportError when not connected."""

    async def append_input_audio(self, audio_b64: str) -> None:
        """Send `input_audio_buffer.append` (the hottest client event; transports may shortcut it)."""
        await self.send_event({"type": "input_audio_buffer.append", "audio": audio_b64})

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the connection and stop every task; idempotent."""

    @property
    @abc.abstractmethod
    def connected(self) -> bool:
        """Whether a connection is open now."""
