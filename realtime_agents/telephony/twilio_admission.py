"""Who may open a Twilio media stream: a signed upgrade, a Twilio channel, and a free session slot."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ..admission import ACTIVE_SLACK_S, SLOTS, CloseCode, Refused, Reservation, SessionSlots, scope_header
from ..conf import app_settings
from ..recorder import ConversationRecorder
from ..specs import LoadedChannel
from .signatures import TwilioSignatureError, stream_url, verify_twilio_request

__all__ = ["CALL_SLOT_KEY", "reserve_call_slot", "verify_stream_upgrade"]

logger = logging.getLogger("realtime_agents.telephony.twilio_admission")

# Every call reaches us from Twilio's media servers: the caller's address is unknown, so calls hold
# slots under this key and only the per-channel limit applies (MAX_SESSIONS_PER_IP would cap a whole
# Twilio account at a handful of calls).
CALL_SLOT_KEY = "twilio-call"


def _path_below_root(scope: Mapping[str, Any]) -> str:
    path = str(scope.get("path") or "/")
    root = str(scope.get("root_path") or "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    query = scope.get("query_string") or b""
    return path + (f"?{query.decode('latin-1')}" if query else "")


def verify_stream_upgrade(scope: Mapping[str, Any]) -> bool:
    """Whether the upgrade carries Twilio's signature of the `wss://` URL (from TWILIO_PUBLIC_BASE_URL)."""
    try:
        url = stream_url(str(app_settings.TWILIO_PUBLIC_BASE_URL or ""), _path_below_root(scope))
        verify_twilio_request(
            auth_token=str(app_settings.TWILIO_AUTH_TOKEN or ""),
            url=url,
            params=None,
            signature=scope_header(scope, "x-twilio-signature"),
        )
    except ValueError:
        logger.error("TWILIO_PUBLIC_BASE_URL is not an absolute http(s) URL: refusing Twilio streams")
        return False
    except TwilioSignatureError as exc:
        if exc.reason == "bad_config":
            logger.error("TWILIO_AUTH_TOKEN is empty: refusing Twilio streams")
        else:
            logger.warning("refused a Twilio stream upgrade: %s", exc.reason)
        return False
    return True


async def reserve_call_slot(loaded: LoadedChannel, *, slots: SessionSlots = SLOTS) -> Reservation:
    """Refuse with TOO_MANY_SESSIONS when the channel is at its limit; else hold a slot (as browsers do)."""
    within = float(max(loaded.max_session_seconds, int(app_settings.MAX_SESSION_SECONDS))) + ACTIVE_SLACK_S
    # The same per-process lock and counters as browser sessions, so the channel limit covers both.
    async with slots.lock():
        active = await ConversationRecorder.active_count(channel_id=loaded.channel_id, within_s=within)
        if active + slots.by_channel[loaded.channel_id] >= loaded.max_concurrent_sessions:
            logger.info("refused a call: channel %s at its session limit", loaded.slug)
            raise Refused(CloseCode.TOO_MANY_SESSIONS, "too many sessions on this channel")
        return Reservation(slots, loaded.channel_id, CALL_SLOT_KEY)
