"""The SIP calls this process is handling: one named asyncio task per call, bounded, cancelled on shutdown."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Coroutine
from typing import Any

__all__ = ["MAX_CALLS_PER_PROCESS", "CallRegistry", "RegistryFull", "calls"]

logger = logging.getLogger("realtime_agents.telephony.sip")

# A process holds one WebSocket and a few tasks per call; beyond this, new calls get a 503 (and a retry).
MAX_CALLS_PER_PROCESS = 1000


class RegistryFull(Exception):
    """This process already handles as many calls as it may."""


class CallRegistry:
    """Owns the task of every call: started by the webhook view, outliving its request."""

    def __init__(self, *, max_calls: int = MAX_CALLS_PER_PROCESS) -> None:
        if isinstance(max_calls, bool) or not isinstance(max_calls, int) or max_calls < 1:
            raise ValueError(f"max_calls must be a positive integer, got {max_calls!r}")
        self.max_calls = max_calls
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def __len__(self) -> int:
        return len(self._tasks)

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._tasks

    def start(self, call_id: str, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None] | None:
        """Run `coro` for `call_id` on the running loop; None (coro closed) if that call already runs."""
        if call_id in self._tasks:
            coro.close()
            return None
        if len(self._tasks) >= self.max_calls:
            coro.close()
            raise RegistryFull(f"already handling {len(self._tasks)} calls")
        # A fresh context: the call outlives the request, whose per-request database thread (asgiref's
        # ThreadSensitiveContext) is shut down when the response is sent.
        task = asyncio.create_task(coro, name=f"realtime-sip-call-{call_id}", context=contextvars.Context())
        self._tasks[call_id] = task
        task.add_done_callback(lambda done: self._done(call_id, done))
        return task

    def _done(self, call_id: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(call_id) is task:
            del self._tasks[call_id]
        if not task.cancelled() and task.exception() is not None:
            logger.error("SIP call %s failed", call_id, exc_info=task.exception())

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait (bounded) until every call task has finished; polls, so any event loop may wait."""
        async with asyncio.timeout(timeout):
            while self._tasks:
                await asyncio.sleep(0.02)

    async def aclose(self, timeout: float = 5.0) -> None:
        """Cancel every call task (the server is shutting down) and wait for them, bounded."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)


calls = CallRegistry()
