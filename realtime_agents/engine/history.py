"""The session's ordered conversation history, built from server items, deltas and local changes."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal, get_args

from .items import (AssistantAudio, AssistantText, HistoryItem, InputAudio, InputImage, InputText, ItemStatus,
                    MessageItem, ToolCallItem)

__all__ = ["History", "HistoryError"]

logger = logging.getLogger("realtime_agents.engine.history")

_STATUSES: frozenset[str] = frozenset(get_args(ItemStatus))
_ROLES = ("user", "assistant", "system")
_TEXT_KINDS = ("input_text", "output_text", "text")
_AUDIO_KINDS = ("input_audio", "output_audio", "audio")
_Part = InputText | InputAudio | InputImage | AssistantText | AssistantAudio


class HistoryError(ValueError):
    """A history call got input it cannot use (wrong type, missing id, unknown role or status)."""


class _Deltas:
    """Streamed text of one assistant item, joined only when read."""

    __slots__ = ("chunks", "kind", "length")

    def __init__(self, kind: Literal["audio", "text"]) -> None:
        self.chunks: list[str] = []
        self.length = 0
        self.kind = kind

    def text(self) -> str:
        if len(self.chunks) > 1:
            # Keep the joined string so repeated reads do not join again.
            self.chunks[:] = ["".join(self.chunks)]
        return self.chunks[0] if self.chunks else ""


def _require_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise HistoryError(f"{what} must be a non-empty string, got {value!r}")
    return value


def _value(part: _Part) -> str | None:
    """The readable text of a part (text or transcript), None for images."""
    return part.transcript if isinstance(part, (InputAudio, AssistantAudio)) else getattr(part, "text", None)


def _with_value(part: _Part, value: str) -> _Part:
    if isinstance(part, (InputAudio, AssistantAudio)):
        return replace(part, transcript=value)
    return replace(part, text=value) if isinstance(part, (InputText, AssistantText)) else part


def _parse_part(raw: Any, role: str) -> _Part | None:
    """One GA or beta content part; None for parts history does not keep."""
    if not isinstance(raw, Mapping):
        raise HistoryError(f"content parts must be objects, got {type(raw).__name__}")
    kind, text, transcript = raw.get("type"), raw.get("text"), raw.get("transcript")
    if kind in _TEXT_KINDS:
        text = text if isinstance(text, str) else ""
        return AssistantText(text=text) if role == "assistant" else InputText(text=text)
    if kind in _AUDIO_KINDS:
        heard = transcript if isinstance(transcript, str) else None
        return AssistantAudio(transcript=heard) if role == "assistant" else InputAudio(transcript=heard)
    if kind == "input_image" and role != "assistant":
        url = raw.get("image_url")
        return InputImage(image_url=url if isinstance(url, str) else "", detail=raw.get("detail"))
    logger.debug("ignoring %s content part of type %r", role, kind)
    return None


def _merge_content(old: tuple[_Part, ...], new: tuple[_Part, ...]) -> tuple[_Part, ...]:
    """New content, index by index, with values the server left out taken from the old content."""
    if not new:
        return old
    old_images = [p for p in old if isinstance(p, InputImage) and p.image_url]
    if old_images and not any(isinstance(p, InputImage) for p in new):
        # Retrieved copies can drop images; the anchor SDK puts them back in front.
        new = (*old_images, *new)
    merged: list[_Part] = []
    for index, part in enumerate(new):
        previous = old[index] if index < len(old) else None
        if previous is not None:
            if isinstance(part, InputImage):
                if not part.image_url and isinstance(previous, InputImage):
                    part = replace(part, image_url=previous.image_url, detail=part.detail or previous.detail)
            elif not _value(part):
                known = _value(previous)
                if known:
                    part = _with_value(part, known)
        merged.append(part)
    return tuple(merged)


def _cut_at_word(text: str, share: float) -> str:
    """The first `share` of text, cut back to the end of the last whole word."""
    if share >= 1.0:
        return text
    limit = int(len(text) * share)
    if limit <= 0:
        return ""
    if not text[limit].isspace():
        # Mid-word: drop the partly heard word.
        while limit > 0 and not text[limit - 1].isspace():
            limit -= 1
    return text[:limit].rstrip()


class History:
    """Ordered conversation items keyed by id; items ordered by previous_item_id."""

    def __init__(self) -> None:
        self._order: list[str] = []
        self._base: dict[str, HistoryItem] = {}
        self._views: dict[str, HistoryItem] = {}
        self._deltas: dict[str, _Deltas] = {}
        self._audio_ms: dict[str, float] = {}
        self._calls: dict[str, str] = {}  # call_id -> item id
        self._dirty: set[str] = set()
        self._unannounced: set[str] = set()
        self._ordered: tuple[HistoryItem, ...] | None = None

    def items(self) -> tuple[HistoryItem, ...]:
        """All items, in conversation order."""
        if self._dirty:
            self._refresh()
        if self._ordered is None:
            self._ordered = tuple(self._views[item_id] for item_id in self._order)
        return self._ordered

    def get(self, item_id: str) -> HistoryItem | None:
        """The item with this id, or None."""
        if item_id in self._dirty:
            self._refresh()
        return self._views.get(item_id)

    def find_call(self, call_id: str) -> ToolCallItem | None:
        """The tool call item with this call id, or None."""
        item_id = self._calls.get(call_id)
        item = self._views.get(item_id) if item_id is not None else None
        return item if isinstance(item, ToolCallItem) else None

    def assistant_text(self, item_id: str) -> str:
        """The assistant text of an item so far: streamed deltas, else the stored text."""
        deltas = self._deltas.get(item_id)
        if deltas is not None:
            return deltas.text()
        item = self.get(item_id)
        return item.text if item is not None else ""

    def assistant_text_length(self, item_id: str) -> int:
        """Length of `assistant_text(item_id)` without joining the streamed deltas (O(1) when streaming)."""
        deltas = self._deltas.get(item_id)
        return deltas.length if deltas is not None else len(self.assistant_text(item_id))

    def upsert_server_item(self, item: Mapping[str, Any], *, previous_item_id: str | None = None,
                           agent_name: str | None = None) -> tuple[HistoryItem | None, bool]:
        """Add or update an item from a GA or beta server item dict; returns (item, added)."""
        if not isinstance(item, Mapping):
            raise HistoryError(f"a server item must be a mapping, got {type(item).__name__}")
        kind = item.get("type")
        if kind == "function_call":
            return self.add_tool_call(
                item_id=item.get("id"), call_id=item.get("call_id"),  # type: ignore[arg-type]
                name=item.get("name") or "", arguments=item.get("arguments") or "",
                previous_item_id=previous_item_id, agent_name=agent_name)
        if kind == "function_call_output":
            call_id = _require_id(item.get("call_id"), "function_call_output call_id")
            output = item.get("output")
            return self.set_tool_output(call_id, output if isinstance(output, str) else ""), False
        if kind != "message":
            logger.debug("ignoring server item of type %r", kind)
            return None, False
        item_id = _require_id(item.get("id"), "message item id")
        role = item.get("role")
        if role not in _ROLES:
            raise HistoryError(f"message role must be one of {', '.join(_ROLES)}, got {role!r}")
        raw_content = item.get("content") or []
        if not isinstance(raw_content, (list, tuple)):
            raise HistoryError(f"message content must be a list, got {type(raw_content).__name__}")
        content = tuple(p for p in (_parse_part(raw, role) for raw in raw_content) if p is not None)
        status = item.get("status")
        status = status if isinstance(status, str) and status in _STATUSES else None
        existing = self._base.get(item_id)
        if existing is None:
            new = MessageItem(item_id=item_id, role=role, content=content, status=status,
                              previous_item_id=_previous(previous_item_id), agent_name=agent_name)
            self._insert(new, previous_item_id)
            return self._view(item_id), True
        if not isinstance(existing, MessageItem):
            raise HistoryError(f"item {item_id!r} is a {existing.type}, not a message")
        if existing.status == "truncated":
            # What the user heard stays; the server's copy still holds the unheard rest.
            content, status = existing.content, "truncated"
        previous = existing.previous_item_id if previous_item_id is None else _previous(previous_item_id)
        updated = replace(existing, role=role, content=_merge_content(existing.content, content),
                          status=status or existing.status, agent_name=agent_name or existing.agent_name,
                          previous_item_id=previous)
        added = self._announce(item_id, previous_item_id)
        self._store(updated)
        return self._view(item_id), added

    def append_assistant_delta(self, item_id: str, delta: str, *, response_id: str | None = None,
                               agent_name: str | None = None,
                               part: Literal["audio", "text"] = "audio") -> None:
        """Add streamed transcript or text to an assistant item (no event; joined lazily)."""
        if not isinstance(delta, str):
            raise HistoryError(f"delta must be a string, got {type(delta).__name__}")
        deltas = self._deltas.get(item_id)
        if deltas is None:
            _require_id(item_id, "item_id")
            existing = self._base.get(item_id)
            if existing is None:
                self._insert(MessageItem(item_id=item_id, role="assistant", status="in_progress",
                                         agent_name=agent_name), None)
                self._unannounced.add(item_id)
            elif not isinstance(existing, MessageItem) or existing.role != "assistant":
                raise HistoryError(f"item {item_id!r} is not an assistant message")
            elif existing.status == "truncated":
                return  # the user stopped hearing this item; later text was never heard
            deltas = self._deltas[item_id] = _Deltas(part)
        deltas.chunks.append(delta)
        deltas.length += len(delta)
        self._dirty.add(item_id)
        self._ordered = None

    def add_audio_ms(self, item_id: str, ms: float) -> None:
        """Count ms of assistant audio received for an item (shown as `audio_ms`)."""
        if ms < 0:
            raise HistoryError(f"audio ms must not be negative, got {ms!r}")
        item = self._base.get(item_id)
        if isinstance(item, MessageItem) and item.status == "truncated":
            return  # truncate() already recorded what was heard
        self._audio_ms[item_id] = self._audio_ms.get(item_id, 0.0) + ms
        self._dirty.add(item_id)
        self._ordered = None

    def set_user_transcript(self, item_id: str, transcript: str) -> tuple[HistoryItem, bool]:
        """Fill a user item's input_audio transcript (status completed); unknown ids get a new item."""
        _require_id(item_id, "item_id")
        if not isinstance(transcript, str):
            raise HistoryError(f"transcript must be a string, got {type(transcript).__name__}")
        existing = self._base.get(item_id)
        if existing is None:
            spoken = (InputAudio(transcript=transcript),)
            self._insert(MessageItem(item_id=item_id, role="user", content=spoken, status="completed"), None)
            return self._view(item_id), True
        if not isinstance(existing, MessageItem) or existing.role != "user":
            raise HistoryError(f"item {item_id!r} is not a user message")
        content = list(existing.content)
        index = next((i for i, p in enumerate(content) if isinstance(p, InputAudio)), len(content))
        content[index:index + 1] = [InputAudio(transcript=transcript)]
        self._store(replace(existing, content=tuple(content), status="completed"))
        return self._view(item_id), self._announce(item_id, None)

    def set_status(self, item_id: str, status: ItemStatus) -> HistoryItem | None:
        """Change an item's status; None when the item is unknown."""
        if status not in _STATUSES:
            raise HistoryError(f"status must be one of {', '.join(sorted(_STATUSES))}, got {status!r}")
        existing = self._base.get(item_id)
        if existing is None:
            return None
        if isinstance(existing, ToolCallItem) and status not in ("in_progress", "completed"):
            raise HistoryError(f"a tool call's status is in_progress or completed, got {status!r}")
        self._store(replace(existing, status=status))  # type: ignore[arg-type]
        return self._view(item_id)

    def add_tool_call(self, *, item_id: str, call_id: str, name: str, arguments: str,
                      previous_item_id: str | None = None,
                      agent_name: str | None = None) -> tuple[ToolCallItem, bool]:
        """Add a function call item, or update its name/arguments; returns (item, added)."""
        _require_id(item_id, "tool call item id")
        _require_id(call_id, "tool call call_id")
        if not isinstance(name, str) or not isinstance(arguments, str):
            raise HistoryError("tool call name and arguments must be strings")
        existing = self._base.get(item_id)
        if existing is None:
            new = ToolCallItem(item_id=item_id, call_id=call_id, name=name, arguments=arguments,
                               previous_item_id=_previous(previous_item_id), agent_name=agent_name)
            self._insert(new, previous_item_id)
            self._calls[call_id] = item_id
            return new, True
        if not isinstance(existing, ToolCallItem):
            raise HistoryError(f"item {item_id!r} is a message, not a tool call")
        updated = replace(existing, call_id=call_id, name=name or existing.name,
                          arguments=arguments or existing.arguments,
                          agent_name=agent_name or existing.agent_name)
        if existing.call_id != call_id and self._calls.get(existing.call_id) == item_id:
            del self._calls[existing.call_id]
        self._calls[call_id] = item_id
        added = self._announce(item_id, previous_item_id)
        self._store(updated)
        return updated, added

    def set_tool_output(self, call_id: str, output: str) -> ToolCallItem | None:
        """Attach a tool's output to its call (status completed); None when the call is unknown."""
        if not isinstance(output, str):
            raise HistoryError(f"tool output must be a string, got {type(output).__name__}")
        call = self.find_call(call_id)
        if call is None:
            logger.debug("output for unknown call %s not recorded", call_id)
            return None
        updated = replace(call, output=output, status="completed")
        self._store(updated)
        return updated

    def truncate(self, item_id: str, *, audio_end_ms: int, total_ms: float) -> HistoryItem | None:
        """Keep the heard share (audio_end_ms of total_ms) of the text, cut at a word; status truncated."""
        if audio_end_ms < 0 or total_ms < 0:
            raise HistoryError(f"audio_end_ms and total_ms must not be negative: {audio_end_ms}, {total_ms}")
        view = self.get(item_id)
        if view is None:
            return None
        if not isinstance(view, MessageItem):
            raise HistoryError(f"item {item_id!r} is a tool call; only messages can be truncated")
        share = audio_end_ms / total_ms if total_ms > 0 else (1.0 if audio_end_ms > 0 else 0.0)
        content = view.content or (AssistantAudio(transcript=""),)
        cut = tuple(p if _value(p) is None else _with_value(p, _cut_at_word(_value(p) or "", share))
                    for p in content)
        self._deltas.pop(item_id, None)
        self._audio_ms[item_id] = float(audio_end_ms)
        self._store(replace(view, content=cut, status="truncated", audio_ms=0.0))
        return self._view(item_id)

    def delete(self, item_id: str) -> bool:
        """Remove an item; False when it was not there."""
        item = self._base.pop(item_id, None)
        if item is None:
            return False
        self._order.remove(item_id)
        for side in (self._views, self._deltas, self._audio_ms):
            side.pop(item_id, None)  # type: ignore[attr-defined]
        self._dirty.discard(item_id)
        self._unannounced.discard(item_id)
        if isinstance(item, ToolCallItem) and self._calls.get(item.call_id) == item_id:
            del self._calls[item.call_id]
        self._ordered = None
        return True

    def reseed_items(self) -> list[dict[str, Any]]:
        """GA `item` dicts that recreate this conversation on a fresh server session, in order."""
        seeded: list[dict[str, Any]] = []
        for item in self.items():
            if isinstance(item, ToolCallItem):
                seeded.append({"type": "function_call", "id": item.item_id, "call_id": item.call_id,
                               "name": item.name, "arguments": item.arguments or "{}"})
                if item.output is not None:
                    seeded.append({"type": "function_call_output", "call_id": item.call_id,
                                   "output": item.output})
                continue
            if item.role == "assistant":
                text = item.text
                if text:
                    seeded.append({"type": "message", "id": item.item_id, "role": "assistant",
                                   "content": [{"type": "output_text", "text": text}]})
                continue
            parts: list[dict[str, Any]] = []
            for part in item.content:
                if isinstance(part, InputImage):
                    if item.role == "user" and part.image_url:
                        detail = {"detail": part.detail} if part.detail else {}
                        parts.append({"type": "input_image", "image_url": part.image_url, **detail})
                elif _value(part):
                    parts.append({"type": "input_text", "text": _value(part)})
            if parts:
                seeded.append({"type": "message", "id": item.item_id, "role": item.role, "content": parts})
        return seeded

    def _insert(self, item: HistoryItem, previous_item_id: str | None) -> None:
        self._place(item.item_id, previous_item_id)
        self._store(item)

    def _place(self, item_id: str, previous_item_id: str | None) -> None:
        if previous_item_id == "root":
            self._order.insert(0, item_id)
        elif previous_item_id is not None and previous_item_id in self._base and previous_item_id != item_id:
            self._order.insert(self._order.index(previous_item_id) + 1, item_id)
        else:
            self._order.append(item_id)

    def _announce(self, item_id: str, previous_item_id: str | None) -> bool:
        """True the first time an item made silently (by deltas) is seen by the session's callers."""
        if item_id not in self._unannounced:
            return False
        self._unannounced.discard(item_id)
        if previous_item_id is not None and (previous_item_id == "root" or previous_item_id in self._base):
            # Nobody has been told where it is yet, so it may still move to its real place.
            self._order.remove(item_id)
            self._place(item_id, previous_item_id)
        return True

    def _store(self, item: HistoryItem) -> None:
        self._base[item.item_id] = item
        self._views[item.item_id] = item
        if item.item_id in self._deltas or item.item_id in self._audio_ms:
            self._dirty.add(item.item_id)
        self._ordered = None

    def _view(self, item_id: str) -> HistoryItem:
        return self.get(item_id)  # type: ignore[return-value]

    def _refresh(self) -> None:
        for item_id in self._dirty:
            base = self._base.get(item_id)
            if isinstance(base, MessageItem):
                self._views[item_id] = self._derive(base)
        self._dirty.clear()
        self._ordered = None

    def _derive(self, base: MessageItem) -> MessageItem:
        """The base item with streamed text filling parts the server left empty, and audio ms."""
        item = base
        ms = self._audio_ms.get(base.item_id)
        if ms is not None:
            item = replace(item, audio_ms=ms)
        deltas = self._deltas.get(base.item_id)
        if deltas is None or not deltas.length:
            return item
        text = deltas.text()
        content = list(item.content)
        for index, part in enumerate(content):
            if isinstance(part, (AssistantAudio, AssistantText)) and not _value(part):
                content[index] = _with_value(part, text)
                break
        else:
            if not any(_value(p) for p in content):
                audio = deltas.kind == "audio"
                content.append(AssistantAudio(transcript=text) if audio else AssistantText(text=text))
        return replace(item, content=tuple(content))


def _previous(previous_item_id: str | None) -> str | None:
    return None if previous_item_id == "root" else previous_item_id
