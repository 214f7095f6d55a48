"""Who may open a browser session: Origin check, concurrent-session limits, close codes of refusals."""

from __future__ import annotations

import ipaddress

import asyncio
import enum
import logging
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.http.request import validate_host

from .conf import app_settings
from .specs import LoadedChannel

logger = logging.getLogger("realtime_agents.admission")

# Rows older than the longest allowed session plus this slack cannot be live sessions (a crashed
# process never finalised them), so they do not count against the limits.
ACTIVE_SLACK_S = 60.0


class CloseCode(enum.IntEnum):
    """WebSocket close codes the browser consumer uses (documented in docs/protocol.md)."""

    NORMAL = 1000
    PROTOCOL_VIOLATION = 4400
    ORIGIN_NOT_ALLOWED = 4403
    CHANNEL_UNAVAILABLE = 4404
    MAX_DURATION = 4408
    TOO_MANY_SESSIONS = 4429
    SERVER_ERROR = 4500
    UPSTREAM_ERROR = 4502
    TRANSPORT_UNAVAILABLE = 4503


class Refused(Exception):
    """A connection is refused with a close code and a short reason (both safe to show)."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def scope_header(scope: Mapping[str, Any], name: str) -> str | None:
    """One request header from an ASGI scope (latin-1 decoded), or None."""
    wanted = name.lower().encode("latin-1")
    for key, value in scope.get("headers") or ():
        if key.lower() == wanted:
            return value.decode("latin-1")
    return None


def client_ip(scope: Mapping[str, Any]) -> str:
    """The peer address ASGI reports, "" when unknown (behind a proxy: Daphne --proxy-headers)."""
    client = scope.get("client")
    if not client or not client[0]:
        return ""
    try:
        # Unix sockets and odd servers report non-addresses: treat those as unknown.
        return str(ipaddress.ip_address(str(client[0])))
    except ValueError:
        return ""


def allow_missing_origin() -> bool:
    """Whether a request without Origin (not a browser) may connect (`ALLOW_MISSING_ORIGIN`)."""
    return app_settings.ALLOW_MISSING_ORIGIN is True


def _normalise_origin(origin: str) -> str | None:
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default_port = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port or default_port
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.hostname}:{port}"


def origin_allowed(
    origin: str | None, *, allowed_origins: Iterable[str], allowed_hosts: list[str], allow_missing: bool
) -> bool:
    """The channel's origins when it lists any ("*" = any), else the host must be in ALLOWED_HOSTS."""
    if origin is None or origin == "":
        return allow_missing
    normalised = _normalise_origin(origin)
    if normalised is None:
        return False
    listed = [item.strip() for item in allowed_origins if item.strip()]
    if listed:
        return "*" in listed or normalised in {_normalise_origin(item) for item in listed}
    host = urlsplit(normalised).hostname or ""
    return validate_host(host, allowed_hosts)


class SessionSlots:
    """Per-process reservations for connections admitted but not yet recorded, so racing connects count."""

    def __init__(self) -> None:
        self.by_channel: Counter[int] = Counter()
        self.by_ip: Counter[str] = Counter()
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def lock(self) -> asyncio.Lock:
        """A lock for this event loop (tests run one loop per test)."""
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock


SLOTS = SessionSlots()


class Reservation:
    """A held slot; `release()` once the conversation row exists or the connection failed (idempotent)."""

    def __init__(self, slots: SessionSlots, channel_id: int, ip: str) -> None:
        self._slots = slots
        self.channel_id = channel_id
        self.ip = ip
        self._held = True
        slots.by_channel[channel_id] += 1
        slots.by_ip[ip] += 1

    def release(self) -> None:
        """Give the slot back."""
        if not self._held:
            return
        self._held = False
        self._slots.by_channel[self.channel_id] -= 1
        self._slots.by_ip[self.ip] -= 1


def check_origin(scope: Mapping[str, Any], loaded: LoadedChannel) -> None:
    """Refuse with ORIGIN_NOT_ALLOWED unless the Origin header passes `origin_allowed`."""
    origin = scope_header(scope, "origin")
    if not origin_allowed(
        origin,
        allowed_origins=loaded.allowed_origins,
        allowed_hosts=list(django_settings.ALLOWED_HOSTS),
        allow_missing=allow_missing_origin(),
    ):
        logger.info("refused origin %r for channel %s", (origin or "")[:100], loaded.slug)
        raise Refused(CloseCode.ORIGIN_NOT_ALLOWED, "origin not allowed")


async def reserve_slot(
    scope: Mapping[str, Any], loaded: LoadedChannel, *, slots: SessionSlots = SLOTS
) -> Reservation:
    """Refuse with TOO_MANY_SESSIONS when the IP or the channel is at its limit; else hold a slot."""
    from .recorder import ConversationRecorder

    ip = client_ip(scope)
    within = float(max(loaded.max_session_seconds, int(app_settings.MAX_SESSION_SECONDS))) + ACTIVE_SLACK_S
    # Serialised per process so two racing connects cannot both take the last slot.
    async with slots.lock():
        per_ip = await ConversationRecorder.active_count(ip=ip, within_s=within) + slots.by_ip[ip]
        if per_ip >= int(app_settings.MAX_SESSIONS_PER_IP):
            logger.info("refused: client at its session limit (%d) on channel %s", per_ip, loaded.slug)
            raise Refused(CloseCode.TOO_MANY_SESSIONS, "too many sessions from this address")
        per_channel = (
            await ConversationRecorder.active_count(channel_id=loaded.channel_id, within_s=within)
            + slots.by_channel[loaded.channel_id]
        )
        if per_channel >= loaded.max_concurrent_sessions:
            logger.info("refused: channel %s at its session limit (%d)", loaded.slug, per_channel)
            raise Refused(CloseCode.TOO_MANY_SESSIONS, "too many sessions on this channel")
        return Reservation(slots, loaded.channel_id, ip)
