"""Reconnecting after an unexpected drop: backoff, re-send the configuration, re-seed history."""
from __future__ import annotations

import asyncio
import logging

from .events import ErrorEvent, ReconnectEvent
from .model import TransportError

logger = logging.getLogger("realtime_agents.engine.reconnect")


def backoff_delays(*, max_attempts: int, initial_delay: float, max_delay: float) -> list[float]:
    """Exponential delays, doubling from `initial_delay`, capped at `max_delay`."""
    return [min(max_delay, initial_delay * (2**attempt)) for attempt in range(max(0, max_attempts))]


class Reconnecting:
    """Mixin of `Session`: the reconnect loop."""

    async def _reconnect(self, reason: str) -> None:
        policy = self._run_config.reconnect
        delays = backoff_delays(max_attempts=policy.max_attempts, initial_delay=policy.initial_delay,
                                max_delay=policy.max_delay)
        self._reconnecting = True
        self._sequencer.reset()
        self._ledger.reset()
        self._muted_responses.clear()
        self._response_agents.clear()
        attached = bool(self._model_config.call_id)
        for attempt, delay in enumerate(delays, start=1):
            self.emit(ReconnectEvent(status="reconnecting", attempt=attempt, delay_s=delay, reason=reason))
            await asyncio.sleep(delay)
            if self._closing:
                return
            try:
                await self._model.connect(self._model_config, model_name=self._model_name())
                if not attached:
                    # A new server session: it has heard no audio yet, so the voice may be sent again.
                    self._audio_seen = False
                await self._send_session_update(initial=True)
                if not attached:
                    for item in self._history.reseed_items():
                        await self._send({"type": "conversation.item.create", "item": item})
            except TransportError as exc:
                reason = str(exc)
                logger.info("reconnect attempt %d failed: %s", attempt, exc)
                await self._model.close()
                continue
            self._reconnecting = False
            logger.info("reconnected after %d attempt(s)", attempt)
            self.emit(ReconnectEvent(status="reconnected", attempt=attempt))
            await self._sequencer.resume()
            return
        self._reconnecting = False
        self.emit(ReconnectEvent(status="failed", attempt=len(delays), reason=reason))
        error = TransportError(f"lost the connection to the model and could not reconnect ({reason})")
        self.emit(ErrorEvent(error={"code": "connection_lost", "message": str(error)}))
        self._fail(error)
