"""Records one live session as rows: events are buffered in memory and written by a background task."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.utils import timezone

from .conf import app_settings
from .engine.audio import AudioFormatError, bytes_per_ms
from .engine.errors import ConfigError
from .models import Conversation
from .recording.tracker import ConversationTracker, RowOp
from .redaction import channel_redacts, redact_op, redact_text
from .recording.writer import create_conversation, finalise, write_batch
from .specs import LoadedChannel

logger = logging.getLogger("realtime_agents.recorder")

MAX_END_REASON = 50
MAX_USER_AGENT = 512


def hash_ip(ip: str) -> str:
    """HMAC-SHA256 of a client address with the site's IP hash secret; "" for an unknown address."""
    if not ip:
        return ""
    return hmac.new(app_settings.ip_hash_secret.encode(), ip.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, kw_only=True)
class ClientInfo:
    """Who connected: user agent and address ("" when unknown; the address is only hashed); for calls, the call."""

    user_agent: str
    ip: str
    call_id: str = ""
    caller_number: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.user_agent, str):
            raise TypeError(f"ClientInfo.user_agent must be a str, not {type(self.user_agent).__name__}")
        for name in ("ip", "call_id", "caller_number"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"ClientInfo.{name} must be a str, not {type(getattr(self, name)).__name__}")
        if self.ip:
            try:
                ipaddress.ip_address(self.ip)
            except ValueError:
                raise ValueError(f"ClientInfo.ip must be an IPv4 or IPv6 address or '', got {self.ip!r}") from None


def _output_bytes_per_ms(loaded: LoadedChannel) -> int:
    try:
        return bytes_per_ms(loaded.model_settings.get("output_audio_format") or "pcm16")
    except (AudioFormatError, ConfigError):
        return bytes_per_ms("pcm16")


class ConversationRecorder:
    """Turns a session's events into a `Conversation` and its rows, off the audio path."""

    batch_delay_s = 0.05  # coalesce events arriving together into one transaction
    max_batch = 200
    close_timeout_s = 10.0

    def __init__(self, *, conversation: Conversation, tracker: ConversationTracker) -> None:
        self.conversation_id: int = conversation.pk
        self.public_id: str = str(conversation.public_id)
        self._tracker = tracker
        self._wake = asyncio.Event()
        self._stopping = False
        self._closed = False
        self._closer: asyncio.Task[None] | None = None
        self.lost_rows = 0
        self._writer = asyncio.create_task(self._write_loop(), name=f"realtime-recorder-{self.public_id}")

    # -- opening ------------------------------------------------------------------------------

    @classmethod
    async def open(cls, *, loaded: LoadedChannel, user_id: int | None, client: ClientInfo) -> ConversationRecorder:
        """Create the `Conversation` row and start the background writer."""
        if not isinstance(loaded, LoadedChannel):
            raise TypeError(f"loaded must be a LoadedChannel, not {type(loaded).__name__}")
        if user_id is not None and (isinstance(user_id, bool) or not isinstance(user_id, int)):
            raise TypeError(f"user_id must be an int or None, not {type(user_id).__name__}")
        if not isinstance(client, ClientInfo):
            raise TypeError(f"client must be a ClientInfo, not {type(client).__name__}")
        redacts = await database_sync_to_async(channel_redacts)(loaded.channel_id)
        caller_number = client.caller_number[:40]
        conversation = await database_sync_to_async(create_conversation)(
            channel_id=loaded.channel_id,
            channel_slug=loaded.slug[:100],
            starting_agent_name=loaded.starting_agent.name[:100],
            final_agent_name=loaded.starting_agent.name[:100],
            user_id=user_id,
            user_agent=client.user_agent[:MAX_USER_AGENT],
            ip_hash=hash_ip(client.ip),
            call_id=client.call_id[:100],
            caller_number=redact_text(caller_number)[:40] if redacts else caller_number,
        )
        tracker = ConversationTracker(
            starting_agent=loaded.starting_agent.name,
            bytes_per_ms=_output_bytes_per_ms(loaded),
            # The offline model always recognises speech; OpenAI unless transcription is explicitly off
            # (absent means the engine's default transcription model).
            transcribes_input=loaded.model_settings.get("input_audio_transcription", "default") is not None
            or loaded.transport == "offline",
            redact=redact_op if redacts else None,
        )
        logger.info("conversation %s started on channel %s", conversation.public_id, loaded.slug)
        return cls(conversation=conversation, tracker=tracker)

    # -- the hot path -------------------------------------------------------------------------

    def observe(self, event: Any) -> None:
        """Take one session event: O(1), no I/O, never raises; ignored after close."""
        if self._closed:
            return
        tracker = self._tracker
        try:
            tracker.observe(event)
        except Exception:  # noqa: BLE001 - recording must never break the session it records
            logger.exception("conversation %s: could not record a %s event", self.public_id,
                             getattr(event, "type", type(event).__name__))
            return
        if tracker.ops:
            self._wake.set()

    def note_approval(self, call_id: str, *, approved: bool, decided_by: str) -> bool:
        """Record who decided a tool approval; False when no such approval is pending."""
        if not isinstance(call_id, str) or not isinstance(decided_by, str) or not isinstance(approved, bool):
            raise TypeError("note_approval takes call_id: str, approved: bool, decided_by: str")
        if self._closed:
            return False
        return self._tracker.note_approval(call_id, approved=approved, decided_by=decided_by)

    def note_playback(self, item_id: str, ms: float) -> None:
        """Record how much of an assistant item the caller has heard (from the browser's playback position)."""
        if not isinstance(item_id, str) or isinstance(ms, bool) or not isinstance(ms, (int, float)):
            raise TypeError("note_playback takes item_id: str, ms: float")
        if ms < 0:
            raise ValueError(f"note_playback: ms must be >= 0, got {ms!r}")
        if not self._closed:
            self._tracker.note_playback(item_id, float(ms))

    # -- the writer ---------------------------------------------------------------------------

    def _take(self) -> list[RowOp]:
        ops = self._tracker.ops
        if len(ops) <= self.max_batch:
            self._tracker.ops = []
            return ops
        batch, self._tracker.ops = ops[: self.max_batch], ops[self.max_batch:]
        return batch

    async def _write_loop(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            if not self._stopping:
                await asyncio.sleep(self.batch_delay_s)
            self._wake.clear()
            while self._tracker.ops and not self._stopping:
                await self._write(self._take())

    async def _write(self, ops: list[RowOp]) -> None:
        try:
            self.lost_rows += await database_sync_to_async(write_batch)(
                self.conversation_id, ops, self._tracker.totals())
        except Exception:  # noqa: BLE001 - a database outage must not end the writer: later batches may land
            self.lost_rows += len(ops)
            logger.exception("conversation %s: lost %d rows", self.public_id, len(ops))

    # -- closing ------------------------------------------------------------------------------

    async def close(self, end_reason: str) -> None:
        """Write what is pending and finalise the conversation; idempotent, never raises."""
        if self._closer is None:
            self._closed = True
            self._closer = asyncio.create_task(self._finish(end_reason), name=f"realtime-recorder-close-{self.public_id}")
        try:
            # Shielded: a caller cancelled mid-close must not leave the conversation half finalised.
            await asyncio.shield(self._closer)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - close never raises
            logger.exception("conversation %s: close failed", self.public_id)

    async def _finish(self, end_reason: str) -> None:
        if not isinstance(end_reason, str) or not end_reason:
            logger.warning("conversation %s: end_reason must be a non-empty str, got %r; using 'unknown'",
                           self.public_id, end_reason)
            end_reason = "unknown"
        self._stopping = True
        self._wake.set()
        try:
            # Let a batch in flight land; the writer then stops without taking more.
            async with asyncio.timeout(self.close_timeout_s):
                await asyncio.wait({self._writer})
        except TimeoutError:
            logger.warning("conversation %s: the writer was still busy at close; cancelling it", self.public_id)
            self._writer.cancel()
        totals = self._tracker.finish()
        ops, self._tracker.ops = self._tracker.ops, []
        self.lost_rows += await database_sync_to_async(finalise)(
            self.conversation_id, ops, totals, end_reason[:MAX_END_REASON], recount=self.lost_rows > 0)
        logger.info("conversation %s ended: %s", self.public_id, end_reason[:MAX_END_REASON])

    # -- limits -------------------------------------------------------------------------------

    @classmethod
    async def active_count(cls, *, channel_id: int | None = None, ip: str | None = None, within_s: float) -> int:
        """Active conversations started within the last `within_s` seconds, per channel and/or client address."""
        if isinstance(within_s, bool) or not isinstance(within_s, (int, float)) or within_s <= 0:
            raise ValueError(f"within_s must be a positive number of seconds, got {within_s!r}")
        if channel_id is not None and (isinstance(channel_id, bool) or not isinstance(channel_id, int)):
            raise TypeError(f"channel_id must be an int or None, not {type(channel_id).__name__}")
        if ip is not None and not isinstance(ip, str):
            raise TypeError(f"ip must be a str or None, not {type(ip).__name__}")
        return await database_sync_to_async(_count_active)(channel_id, ip, float(within_s))


def _count_active(channel_id: int | None, ip: str | None, within_s: float) -> int:
    # Rows older than the window were left by a crashed process: they must not hold a slot forever.
    rows = Conversation.objects.filter(status=Conversation.Status.ACTIVE)
    try:
        rows = rows.filter(started_at__gte=timezone.now() - timedelta(seconds=within_s))
    except OverflowError:
        pass  # a window reaching before year 1 holds every row
    if channel_id is not None:
        rows = rows.filter(channel_id=channel_id)
    if ip is not None:
        rows = rows.filter(ip_hash=hash_ip(ip))
    return rows.count()
