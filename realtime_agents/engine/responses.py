"""Response sequencing: at most one active response; follow-up `response.create`s queue and coalesce."""
from __future__ import annotations

import itertools
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

logger = logging.getLogger("realtime_agents.engine.responses")

Sender = Callable[[dict[str, Any]], Awaitable[None]]
ACTIVE_RESPONSE_CODES = frozenset({"conversation_already_has_active_response", "bad_response_create"})
# Our `response.create`s carry this metadata key so `response.created` tells ours from server VAD's.
REQUEST_KEY = "ra_request"
# The active response's id when `response.created` carried none.
UNKNOWN_RESPONSE = "unknown"
# How many requests matched to a response by assumption (no metadata echo) stay open to a late refusal.
ASSUMED_KEPT = 8


class ResponseSequencer:
    """Owns `response.create` and `response.cancel` so the server never sees two at once.

    Automatic requests (after user text, tool output, handoff) coalesce into one
    `response.create`; explicit ones carrying a payload are sent one per response, in order.
    """

    def __init__(self, send: Sender) -> None:
        self._send = send
        self._ids = itertools.count(1)
        self.active_response_id: str | None = None
        # Sent `response.create`s not yet confirmed by `response.created`: event id -> payload.
        self._awaiting: OrderedDict[str, dict[str, Any] | None] = OrderedDict()
        # Requests taken as answered without proof (server echoed no metadata); a refusal may still come.
        self._assumed: OrderedDict[str, dict[str, Any] | None] = OrderedDict()
        self._auto_pending = False
        self._explicit: deque[dict[str, Any]] = deque()
        self._cancelled: set[str] = set()
        self._paused = False
        self.responses_created = 0

    @property
    def busy(self) -> bool:
        """A response is running or a `response.create` awaits its `response.created`."""
        return self.active_response_id is not None or bool(self._awaiting)

    @property
    def pending(self) -> bool:
        """A response has been asked for and not yet sent."""
        return self._auto_pending or bool(self._explicit)

    async def request(self, payload: Mapping[str, Any] | None = None) -> None:
        """Ask for a response; sent now if the line is free, else after the active one ends."""
        if payload:
            self._explicit.append(dict(payload))
        else:
            self._auto_pending = True
        await self._flush()

    async def _flush(self) -> None:
        if self.busy or self._paused:
            return
        if self._explicit:
            payload: dict[str, Any] | None = self._explicit.popleft()
        elif self._auto_pending:
            self._auto_pending = False
            payload = None
        else:
            return
        event_id = f"ra_response_create_{next(self._ids)}"
        response = dict(payload or {})
        response["metadata"] = {**(response.get("metadata") or {}), REQUEST_KEY: event_id}
        self._awaiting[event_id] = payload
        try:
            await self._send({"type": "response.create", "event_id": event_id, "response": response})
        except Exception:
            # Not sent: keep the request so a reconnect can replay it.
            self._awaiting.pop(event_id, None)
            self._requeue(payload)
            raise

    def _requeue(self, payload: dict[str, Any] | None) -> None:
        if payload:
            self._explicit.appendleft(payload)
        else:
            self._auto_pending = True

    def on_response_created(self, response: Mapping[str, Any]) -> bool:
        """`response.created`: that response is now the active one; True when we asked for it."""
        self.active_response_id = response.get("id") or UNKNOWN_RESPONSE
        self.responses_created += 1
        if "metadata" in response:
            request = (response.get("metadata") or {}).get(REQUEST_KEY)
            return request is not None and self._awaiting.pop(request, False) is not False
        if self._awaiting:
            # A server that does not echo metadata: assume the oldest request is the one answered.
            event_id, payload = self._awaiting.popitem(last=False)
            self._assumed[event_id] = payload
            while len(self._assumed) > ASSUMED_KEPT:
                self._assumed.popitem(last=False)
            return True
        return False

    async def on_response_done(self, response_id: str | None) -> None:
        """`response.done`: the line is free; send what waits."""
        if response_id is None or response_id == self.active_response_id:
            self.active_response_id = None
        self._cancelled.discard(response_id or "")
        await self._flush()

    async def on_error(self, error: Mapping[str, Any]) -> bool:
        """A server error: if it refused our `response.create`, retry after the active response."""
        if error.get("code") not in ACTIVE_RESPONSE_CODES:
            return False
        event_id = error.get("event_id")
        if event_id is not None and event_id in self._assumed:
            # We took a server-started response for this request's answer; it was not.
            payload = self._assumed.pop(event_id)
        elif event_id in self._awaiting:
            payload = self._awaiting.pop(event_id)
        elif event_id is None and self._awaiting:
            payload = self._awaiting.pop(next(iter(self._awaiting)))
        else:
            return False
        # Re-ask rather than drop: a missed answer is dead air, a late one is only late. The retry
        # waits for the next `response.done` (the server says a response runs) rather than being
        # sent now, which could ping-pong with the server while we know of no active response.
        self._requeue(payload)
        logger.debug("response.create refused while a response runs; queued again")
        return True

    async def cancel(self, response_id: str | None = None) -> bool:
        """Send `response.cancel` once for the active (or given) response; False if nothing to cancel."""
        target = response_id or self.active_response_id
        if target is None or target in self._cancelled or target != self.active_response_id:
            return False
        self._cancelled.add(target)
        event: dict[str, Any] = {"type": "response.cancel"}
        if target != UNKNOWN_RESPONSE:
            event["response_id"] = target
        # Without an id the server cancels its active response, which is the one we mean.
        await self._send(event)
        return True

    def reset(self, *, keep_pending: bool = True) -> None:
        """Forget the connection's responses after a disconnect; hold requests until `resume()`."""
        for payload in reversed(self._awaiting.values()):
            self._requeue(payload)
        was_active = self.active_response_id is not None
        self._paused = True
        self.active_response_id = None
        self._awaiting.clear()
        self._assumed.clear()
        self._cancelled.clear()
        if was_active and keep_pending:
            # The answer being spoken was lost with the connection: ask for it again.
            self._auto_pending = True
        if not keep_pending:
            self._auto_pending = False
            self._explicit.clear()

    async def resume(self) -> None:
        """Send what waits, after a reconnect restored the conversation."""
        self._paused = False
        await self._flush()
