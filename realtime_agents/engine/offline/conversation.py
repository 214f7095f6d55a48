"""The offline server's conversation: its items in order, and how much audio each assistant item has."""
from __future__ import annotations

import math
from typing import Any

from .state import ClientEventError, client_item


class ServerConversation:
    """The conversation as the server keeps it; client mistakes raise `ClientEventError` (a GA error)."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        # Milliseconds of audio sent per assistant item: a truncation may not go past them.
        self.audio_ms: dict[str, float] = {}

    def find(self, item_id: Any) -> dict[str, Any]:
        """The item with this id."""
        for item in self.items:
            if item.get("id") == item_id:
                return item
        raise ClientEventError("invalid_value", f"Item {item_id!r} not found in the conversation.", param="item_id")

    def insert(self, item: dict[str, Any], previous_id: str | None = None) -> str | None:
        """Add an item after `previous_id` (default: at the end); returns the id before it."""
        index = len(self.items)
        if previous_id is not None:
            index = self.items.index(self.find(previous_id)) + 1
        self.items.insert(index, item)
        return self.items[index - 1]["id"] if index > 0 else None

    def create(self, raw_item: Any, previous_id: Any) -> tuple[dict[str, Any], str | None]:
        """A client's `conversation.item.create`: the validated item and the id before it."""
        item = client_item(raw_item)
        if any(existing.get("id") == item["id"] for existing in self.items):
            raise ClientEventError("invalid_value", f"Item {item['id']!r} already exists.", param="item.id")
        return item, self.insert(item, previous_id)

    def delete(self, item_id: Any) -> dict[str, Any]:
        """Remove an item; returns it."""
        item = self.find(item_id)
        self.items.remove(item)
        return item

    def truncate(self, item_id: Any, content_index: Any, end_ms: Any) -> dict[str, Any]:
        """Cut an assistant item's audio at `end_ms`, and its transcript to the share that was heard."""
        item = self.find(item_id)
        if item.get("type") != "message" or item.get("role") != "assistant":
            raise ClientEventError("invalid_value", "Only assistant messages can be truncated.", param="item_id")
        if content_index != 0:
            raise ClientEventError("invalid_value", "content_index must be 0.", param="content_index")
        if not isinstance(end_ms, int) or isinstance(end_ms, bool) or end_ms < 0:
            raise ClientEventError("invalid_value", "audio_end_ms must be a non-negative integer.",
                                   param="audio_end_ms")
        sent_ms = self.audio_ms.get(item["id"], 0.0)
        if end_ms > sent_ms:
            raise ClientEventError("invalid_value", f"Audio content of {math.floor(sent_ms)}ms is already shorter "
                                   f"than {end_ms}ms.", param="audio_end_ms")
        for part in item.get("content") or ():
            # Keep the share of the words that was heard, so the brain knows what the user heard.
            if isinstance(part, dict) and isinstance(part.get("transcript"), str) and sent_ms:
                text = part["transcript"]
                part["transcript"] = text[: int(len(text) * end_ms // sent_ms)].rsplit(" ", 1)[0] if end_ms else ""
        self.audio_ms[item["id"]] = end_ms
        return item
