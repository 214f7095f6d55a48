"""Wire-level helpers for the fake Realtime server: ids, error events and the protocol error type."""
from __future__ import annotations

import itertools
import secrets
from typing import Any

# A random run prefix keeps ids unique across servers in one process while a counter keeps them cheap.
_RUN = secrets.token_hex(3)
_COUNTER = itertools.count(1)


def new_id(prefix: str) -> str:
    """Return a fresh id shaped like the real API's, e.g. ``item_1a2b3c000001``."""
    return f"{prefix}_{_RUN}{next(_COUNTER):08x}"


class ProtocolError(Exception):
    """A client mistake answered with an ``error`` event; the session stays open."""

    def __init__(
        self, code: str, message: str, *, param: str | None = None, error_type: str = "invalid_request_error"
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.error_type = error_type


def error_event(
    code: str,
    message: str,
    *,
    param: str | None = None,
    error_type: str = "invalid_request_error",
    client_event_id: str | None = None,
) -> dict[str, Any]:
    """Build a GA ``error`` server event."""
    return {
        "type": "error",
        "event_id": new_id("event"),
        "error": {
            "type": error_type,
            "code": code,
            "message": message,
            "param": param,
            "event_id": client_event_id,
        },
    }
