"""Ending a recorded conversation the same way on every path: browser, Twilio stream, SIP call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from .engine.model import TransportError
from .recorder import ConversationRecorder

logger = logging.getLogger("realtime_agents.conversation_end")

UPSTREAM_CLOSE_TIMEOUT_S = 1.0


async def await_ending(tasks: Iterable[asyncio.Task[Any]], ended: asyncio.Event, *, timeout: float = 5.0) -> None:
    """A second caller of an ending waits for the first to finish; a task being cancelled by it does not."""
    if asyncio.current_task() not in tasks:
        async with asyncio.timeout(timeout):
            await ended.wait()


async def cancel_tasks(tasks: Iterable[asyncio.Task[Any]], *, timeout: float = UPSTREAM_CLOSE_TIMEOUT_S) -> None:
    """Cancel a connection's tasks (except the one running this) and wait for them, bounded."""
    others = [task for task in tasks if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    if others:
        await asyncio.wait(others, timeout=timeout)


async def close_and_finalise(session: Any, recorder: ConversationRecorder | None, reason: str, *,
                             label: str = "conversation", timeout: float = UPSTREAM_CLOSE_TIMEOUT_S) -> None:
    """Close the model session (bounded; a failure is logged, not raised), then finalise the recording."""
    if session is not None:
        try:
            async with asyncio.timeout(timeout):
                await session.close()
        except (TimeoutError, TransportError, OSError) as exc:
            logger.warning("%s: closing the model session failed: %s", label, type(exc).__name__)
    if recorder is not None:
        await recorder.close(end_reason=reason)  # logs "conversation ... ended: <reason>" once


def log_task_failure(task: asyncio.Task[Any]) -> None:
    """Done-callback: log a task that died with an exception (cancellation is normal)."""
    if not task.cancelled() and task.exception() is not None:
        logger.error("task %s failed", task.get_name(), exc_info=task.exception())
