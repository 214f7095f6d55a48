"""One connection's default conversation: ordered items and the rules for client-created items."""
from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from .protocol import ProtocolError, new_id

_ROLE_CONTENT = {
    "system": frozenset({"input_text"}),
    "user": frozenset({"input_text", "input_audio", "input_image"}),
    "assistant": frozenset({"output_text", "output_audio", "text", "audio"}),
}
_COMMON_KEYS = frozenset({"id", "type", "object", "status"})
_ITEM_KEYS = {
    "message": _COMMON_KEYS | {"role", "content"},
    "function_call": _COMMON_KEYS | {"call_id", "name", "arguments"},
    "function_call_output": _COMMON_KEYS | {"call_id", "output"},
}
_PART_KEYS = frozenset({"type", "text", "audio", "transcript", "image_url", "detail"})


def _missing(param: str) -> ProtocolError:
    return ProtocolError("missing_required_parameter", f"Missing required parameter: '{param}'.", param=param)


def _reject_unknown(value: dict[str, Any], allowed: frozenset[str], param: str) -> None:
    for key in value:
        if key not in allowed:
            raise ProtocolError("unknown_parameter", f"Unknown parameter: '{param}.{key}'.", param=f"{param}.{key}")


def normalise_client_item(item: Any) -> dict[str, Any]:
    """Check an item from ``conversation.item.create`` and return the server's copy of it."""
    if not isinstance(item, dict):
        if item is None:
            raise _missing("item")
        raise ProtocolError("invalid_type", "'item' must be an object", param="item")
    kind = item.get("type")
    if kind is None:
        raise _missing("item.type")
    if kind not in _ITEM_KEYS:
        raise ProtocolError("invalid_value", f"Invalid item type {kind!r}", param="item.type")
    _reject_unknown(item, _ITEM_KEYS[kind], "item")
    result = copy.deepcopy(item)
    if kind == "message":
        role = item.get("role")
        if role not in _ROLE_CONTENT:
            raise ProtocolError("invalid_value", f"Invalid message role {role!r}", param="item.role")
        content = item.get("content")
        if not isinstance(content, list):
            raise _missing("item.content")
        for index, part in enumerate(content):
            part_type = part.get("type") if isinstance(part, dict) else None
            if part_type is not None:
                _reject_unknown(part, _PART_KEYS, f"item.content[{index}]")
            if part_type not in _ROLE_CONTENT[role]:
                raise ProtocolError(
                    "invalid_value", f"Invalid content type {part_type!r} for a {role} message",
                    param=f"item.content[{index}].type",
                )
            if role == "assistant" and (part_type in ("output_audio", "audio") or part.get("audio")):
                raise ProtocolError(
                    "invalid_value", "Assistant messages with audio content cannot be created by the client",
                    param=f"item.content[{index}].type",
                )
    elif kind == "function_call":
        for key in ("call_id", "name", "arguments"):
            if not isinstance(item.get(key), str):
                raise _missing(f"item.{key}")
    else:
        for key in ("call_id", "output"):
            if not isinstance(item.get(key), str):
                raise _missing(f"item.{key}")
    result.setdefault("id", new_id("item"))
    result["object"] = "realtime.item"
    result.setdefault("status", "completed")
    return result


class Conversation:
    """Items in conversation order, addressable by id."""

    def __init__(self) -> None:
        self._items: list[dict[str, Any]] = []
        self._by_id: dict[str, dict[str, Any]] = {}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[dict[str, Any]]:
        """A copy of the items in order."""
        return list(self._items)

    def get(self, item_id: Any) -> dict[str, Any] | None:
        """The item with this id, or None."""
        return self._by_id.get(item_id) if isinstance(item_id, str) else None

    def last_id(self) -> str | None:
        """Id of the last item, or None when empty."""
        return self._items[-1]["id"] if self._items else None

    def insert(self, item: dict[str, Any], previous_item_id: Any = None, *, append: bool = True) -> str | None:
        """Insert after ``previous_item_id`` ("root" = first; append when not given); return the previous id."""
        if item["id"] in self._by_id:
            raise ProtocolError("invalid_value", f"Item id {item['id']!r} already exists", param="item.id")
        if append:
            previous = self.last_id()
            self._items.append(item)
        elif previous_item_id == "root":
            previous = None
            self._items.insert(0, item)
        else:
            anchor = self.get(previous_item_id)
            if anchor is None:
                raise ProtocolError(
                    "invalid_value", f"Previous item {previous_item_id!r} not found", param="previous_item_id"
                )
            previous = anchor["id"]
            self._items.insert(self._items.index(anchor) + 1, item)
        self._by_id[item["id"]] = item
        return previous

    def previous_id(self, item_id: str) -> str | None:
        """Id of the item before ``item_id``, or None."""
        item = self._by_id[item_id]
        index = self._items.index(item)
        return self._items[index - 1]["id"] if index else None

    def delete(self, item_id: Any) -> None:
        """Remove an item; unknown ids raise ProtocolError."""
        item = self.get(item_id)
        if item is None:
            raise ProtocolError("invalid_value", f"Item {item_id!r} not found", param="item_id")
        self._items.remove(item)
        del self._by_id[item["id"]]
