"""What happens to a Twilio call after its stream closes: remembered per call SID in Django's cache.

The agent's end-call and transfer tools run on the stream's WebSocket; Twilio asks for the next
TwiML on another HTTP request (the `<Connect action>` URL), possibly in another process. The
outcome is handed over through the cache, so deployments with several processes need a shared
cache (Redis, database, memcached).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Literal

from asgiref.sync import sync_to_async
from django.core.cache import cache

__all__ = ["OUTCOME_TTL_S", "CallOutcome", "remember_outcome", "take_outcome", "valid_call_sid"]

logger = logging.getLogger("realtime_agents.telephony.twilio_outcomes")

# The action request follows the stream's close within seconds; a generous TTL covers slow drains.
OUTCOME_TTL_S = 600
_CALL_SID = re.compile(r"CA[0-9A-Za-z]{8,62}")
_PREFIX = "realtime_agents:twilio:outcome:"

Action = Literal["hang_up", "transfer", "busy", "error"]


@dataclass(frozen=True, kw_only=True)
class CallOutcome:
    """The agent hung up or transferred, or the call could not be served (busy, error)."""

    action: Action
    number: str = ""
    channel: str = ""

    def as_dict(self) -> dict[str, str]:
        """The cached form (plain strings, safe for any cache serializer)."""
        return {"action": self.action, "number": self.number, "channel": self.channel}


def valid_call_sid(call_sid: object) -> bool:
    """Whether a value looks like a Twilio call SID (and is safe in a cache key)."""
    return isinstance(call_sid, str) and _CALL_SID.fullmatch(call_sid) is not None


def _key(call_sid: str) -> str:
    return _PREFIX + call_sid


def _store(call_sid: str, outcome: CallOutcome, replace: bool) -> None:
    if replace:
        cache.set(_key(call_sid), outcome.as_dict(), OUTCOME_TTL_S)
    else:
        cache.add(_key(call_sid), outcome.as_dict(), OUTCOME_TTL_S)


async def remember_outcome(call_sid: str, outcome: CallOutcome, *, replace: bool = True) -> None:
    """Keep the outcome for the action request; `replace=False` keeps one already there (the agent's)."""
    if not valid_call_sid(call_sid):
        logger.warning("not remembering an outcome for a malformed call SID")
        return
    await sync_to_async(_store, thread_sensitive=False)(call_sid, outcome, replace)


def take_outcome(call_sid: str) -> CallOutcome | None:
    """The outcome remembered for a call, removed so it is used once; None when there is none."""
    if not valid_call_sid(call_sid):
        return None
    raw = cache.get(_key(call_sid))
    if raw is None:
        return None
    cache.delete(_key(call_sid))
    try:
        return CallOutcome(
            action=raw["action"], number=str(raw.get("number", "")), channel=str(raw.get("channel", ""))
        )
    except (KeyError, TypeError):
        logger.warning("ignoring a malformed cached call outcome")
        return None
