"""Response sequencing: at most one active response; follow-up `response.create`s queue and coalesce."""
from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

logger = logging.getLogger("realtime_agents.engine.responses")

Sender = Callable[[dict[str, Any]], Awaitable[None]]
ACTIVE_RESPONSE_CODES = frozenset({"conversation_already_has_active_response", "bad_response_create"})


class ResponseSequencer:
    """Owns `response.create` and `response.cancel` so the server never sees two at once.

    Automatic requests (after user text, tool output, handoff) coalesce into one
    `response.create`; explicit ones carrying a payload are sent one per response, in order.
    """

    def __init__(self, send: Sender) -> None:
        self._send = send
        self._ids = itertools.count(1)
        self.active_response_id: str | None = None
        self._in_flight_event_id: str | None = None
        self._in_flight_payload: dict[str, Any] | None = None
        self._auto_pending = False
        self._explicit: deque[dict[str, Any]] = deque()
        self._cancelled: set[str] = set()
        self.responses_created = 0

    @property
    def busy(self) -> bool:
        """A response is running or a `response.create` awaits its `response.created`."""
        return self.active_response_id is not None or self._in_flight_event_id is not None

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
        if self.busy:
            return
        if self._explicit:
            payload: dict[str, Any] | None = self._explicit.popleft()
        elif self._auto_pending:
            self._auto_pending = False
            payload = None
        else:
            return
        event_id = f"ra_response_create_{next(self._ids)}"
        event: dict[str, Any] = {"type": "response.create", "event_id": event_id}
        if payload:
            event["response"] = payload
        self._in_flight_event_id = event_id
        self._in_flight_payload = payload
        try:
            await self._send(event)
        except Exception:
            # Not sent: keep the request so a reconnect can replay it.
            self._in_flight_event_id = None
            self._requeue(payload)
            raise

    def _requeue(self, payload: dict[str, Any] | None) -> None:
        if payload:
            self._explicit.appendleft(payload)
        else:
            self._auto_pending = True

    def on_response_created(self, response_id: str | None) -> None:
        """`response.created`: whoever asked, that response is now the active one."""
        self._in_flight_event_id = None
        self._in_flight_payload = None
        self.active_response_id = response_id or "unknown"
        self.responses_created += 1

    async def on_response_done(self, response_id: str | None) -> None:
        """`response.done`: the line is free; send what waits."""
        if response_id is None or response_id == self.active_response_id:
            self.active_response_id = None
        self._cancelled.discard(response_id or "")
        await self._flush()

    async def on_error(self, error: Mapping[str, Any]) -> bool:
        """A server error: if it refused our `response.create`, retry after the active response."""
        code = error.get("code")
        if self._in_flight_event_id is None or code not in ACTIVE_RESPONSE_CODES:
            return False
        if error.get("event_id") not in (None, self._in_flight_event_id):
            return False
        payload = self._in_flight_payload
        self._in_flight_event_id = None
        self._in_flight_payload = None
        # Re-ask rather than drop: a missed answer is dead air, a late one is only late.
        self._requeue(payload)
        logger.debug("response.create refused while a response runs; queued again")
        await self._flush()
        return True

    async def cancel(self, response_id: str | None = None) -> bool:
        """Send `response.cancel` once for the active (or given) response; False if nothing to cancel."""
        target = response_id or self.active_response_id
        if target is None or target in self._cancelled or target != self.active_response_id:
            return False
        self._cancelled.add(target)
        await self._send({"type": "response.cancel", "response_id": target})
        return True

    def reset(self, *, keep_pending: bool = True) -> None:
        """Forget the connection's responses (after a disconnect); pending requests survive."""
        if self._in_flight_event_id is not None:
            self._requeue(self._in_flight_payload)
        was_active = self.active_response_id is not None
        self.active_response_id = None
        self._in_flight_event_id = None
        self._in_flight_payload = None
        self._cancelled.clear()
        if was_active and keep_pending:
            # The answer being spoken was lost with the connection: ask for it again.
            self._auto_pending = True
        if not keep_pending:
            self._auto_pending = False
            self._explicit.clear()

    async def resume(self) -> None:
        """Send what waits, after a reconnect restored the conversation."""
        await self._flush()
