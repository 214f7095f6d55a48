"""Redaction of e-mail addresses, phone numbers and card numbers in text before it is stored."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from .models import Channel
from .recording.ops import RowOp

EMAIL_MARK = "[email]"
PHONE_MARK = "[phone]"
CARD_MARK = "[card]"

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
# 13 to 19 digits, optionally in groups separated by single spaces or hyphens.
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
# An optional +country code, an optional (area code), then groups of digits; the digit count is checked after.
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ -]?)?(?:\(\d{1,5}\)[ -]?)?\d{2,5}(?:[ -]?\d{2,5}){1,5}(?![\w])")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Event data keys that hold free text (the rest are ids, agent names, codes).
_EVENT_TEXT_KEYS = ("text", "message", "reason")


def luhn_valid(digits: str) -> bool:
    """True when `digits` (only 0-9) passes the Luhn checksum used by payment cards."""
    if not digits or not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return CARD_MARK if luhn_valid(digits) else match.group()


def _phone(match: re.Match[str]) -> str:
    found = match.group()
    digits = re.sub(r"\D", "", found)
    if _ISO_DATE.fullmatch(found):
        return found
    formatted = found.startswith("+") or "(" in found or " " in found or "-" in found
    # A bare run of digits is only a phone number at national length; formatted ones may be shorter.
    low, high = (7, 15) if formatted else (10, 12)
    return PHONE_MARK if low <= len(digits) <= high else found


def redact_text(text: str) -> str:
    """`text` with e-mail addresses, Luhn-valid card numbers and phone numbers replaced by markers."""
    if not isinstance(text, str):
        raise TypeError(f"redact_text takes a str, not {type(text).__name__}")
    if not text:
        return text
    text = _EMAIL.sub(EMAIL_MARK, text)
    # Cards before phones: a card number would otherwise read as a long formatted phone number.
    text = _CARD.sub(_card, text)
    return _PHONE.sub(_phone, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, list):
            return [_redact_value(entry) for entry in value]
        if isinstance(value, dict):
            return {key: _redact_value(entry) for key, entry in value.items()}
        return value
    # A number argument can be a card or phone number too; it becomes the marker (a string) if so.
    text = str(value)
    redacted = redact_text(text)
    return value if redacted == text else redacted


def redact_json_text(text: str) -> str:
    """Redact a JSON document's strings and numbers, keeping it valid JSON; other text as plain text."""
    if not isinstance(text, str):
        raise TypeError(f"redact_json_text takes a str, not {type(text).__name__}")
    try:
        document = json.loads(text)
    except ValueError:
        return redact_text(text)
    redacted = _redact_value(document)
    if redacted == document:
        return text  # unchanged: keep the model's own spelling
    return json.dumps(redacted, ensure_ascii=False)


def redact_op(op: RowOp) -> RowOp:
    """The row operation with its stored texts redacted: message texts, tool arguments and outputs, event texts."""
    fields = dict(op.fields)
    if op.kind in ("item", "item_update"):
        if isinstance(fields.get("text"), str):
            fields["text"] = redact_text(fields["text"])
    elif op.kind == "tool":
        for name in ("arguments", "output"):
            if isinstance(fields.get(name), str):
                fields[name] = redact_json_text(fields[name])
    elif op.kind == "event":
        data = fields.get("data")
        if isinstance(data, dict):
            fields["data"] = {
                key: redact_text(value) if key in _EVENT_TEXT_KEYS and isinstance(value, str) else value
                for key, value in data.items()
            }
    return replace(op, fields=fields)


def channel_redacts(channel_id: int | None) -> bool:
    """Whether the channel asks for personal data to be redacted (False for no or a deleted channel)."""
    if channel_id is None:
        return False
    flags = list(Channel.objects.filter(pk=channel_id).values_list("redact_personal_data", flat=True))
    return bool(flags and flags[0])
