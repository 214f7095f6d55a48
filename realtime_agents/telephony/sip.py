"""SIP calls: the number called from untrusted SIP headers, the channel it picks, and webhook dedupe."""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

__all__ = [
    "DEFAULT_NUMBER_HEADERS",
    "ChannelChoice",
    "Deduplicator",
    "MemoryDeduplicator",
    "called_numbers",
    "choose_channel",
    "header_values",
    "normalize_e164",
    "number_from_sip_value",
]

T = TypeVar("T")

DEFAULT_NUMBER_HEADERS: tuple[str, ...] = ("To", "Diversion")
# Compact forms (RFC 3261 §7.3.3) that carriers may use instead of the long names.
_COMPACT = {"t": "to", "f": "from"}
_MAX_VALUE_CHARS = 512
_MAX_HEADERS = 200
_URI = re.compile(r"<\s*((?:sips?|tel):[^>]*)>|((?:sips?|tel):[^\s;,>]+)", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s\-.()/]")


def normalize_e164(value: str, *, default_country_code: str | None = None) -> str | None:
    """`+<digits>` for a phone number in any common spelling; None when it is not a phone number."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = _SEPARATORS.sub("", value.strip())
    if text.lower().startswith("tel:"):
        text = text[4:]
    text = text.split(";", 1)[0]
    if text.startswith("+"):
        digits = text[1:]
    elif text.startswith("00"):
        digits = text[2:]
    elif text.startswith("0") and default_country_code:
        # A national number with its trunk prefix (e.g. 020... in the UK).
        digits = default_country_code.lstrip("+") + text[1:]
    else:
        # Carriers often drop the '+' from international numbers (15551234567).
        digits = text
    if not digits.isascii() or not digits.isdigit() or not 6 <= len(digits) <= 15 or digits[0] == "0":
        return None
    return "+" + digits


def header_values(sip_headers: Sequence[Mapping[str, Any]], name: str) -> list[str]:
    """Values of a header in the order received (names case-insensitive, compact forms understood)."""
    wanted = name.lower()
    values: list[str] = []
    if not isinstance(sip_headers, Sequence) or isinstance(sip_headers, (str, bytes)):
        return values
    for header in list(sip_headers)[:_MAX_HEADERS]:
        if not isinstance(header, Mapping):
            continue
        header_name, value = header.get("name"), header.get("value")
        if not isinstance(header_name, str) or not isinstance(value, str):
            continue
        header_name = header_name.strip().lower()
        if _COMPACT.get(header_name, header_name) == wanted:
            values.append(value[:_MAX_VALUE_CHARS])
    return values


def number_from_sip_value(value: str, *, default_country_code: str | None = None) -> str | None:
    """The phone number in a header value such as `"Desk" <sip:+15551234567@host;user=phone>;tag=1`."""
    if not isinstance(value, str):
        return None
    value = value[:_MAX_VALUE_CHARS]
    match = _URI.search(value)
    if match is None:
        # Some trunks put the bare number in a custom header.
        return normalize_e164(value, default_country_code=default_country_code)
    uri = (match.group(1) or match.group(2)).strip()
    scheme, _, rest = uri.partition(":")
    if scheme.lower() == "tel":
        return normalize_e164(rest, default_country_code=default_country_code)
    user = rest.split("@", 1)[0] if "@" in rest else ""
    return normalize_e164(user.split(";", 1)[0], default_country_code=default_country_code) if user else None


def called_numbers(
    sip_headers: Sequence[Mapping[str, Any]],
    *,
    header_names: Iterable[str] = DEFAULT_NUMBER_HEADERS,
    default_country_code: str | None = None,
) -> list[tuple[str, str]]:
    """Every (number, header name) candidate for the number called, in the order to try them."""
    found: list[tuple[str, str]] = []
    for name in header_names:
        # Diversion may hold several comma-separated entries; the last is the number first dialled.
        for value in header_values(sip_headers, name):
            for part in value.split(",") if name.lower() == "diversion" else [value]:
                number = number_from_sip_value(part, default_country_code=default_country_code)
                if number is not None and (number, name) not in found:
                    found.append((number, name))
    return found


@dataclass(frozen=True, kw_only=True)
class ChannelChoice(Generic[T]):
    """The channel picked for a call, the number that picked it, and the header it came from."""

    channel: T
    number: str
    header: str


def choose_channel(
    sip_headers: Sequence[Mapping[str, Any]],
    channels_by_number: Mapping[str, T],
    *,
    number_header: str | None = None,
    default_country_code: str | None = None,
) -> ChannelChoice[T] | None:
    """The first channel whose number was called: the configured header first, then To, then Diversion."""
    names = ((number_header,) if number_header else ()) + DEFAULT_NUMBER_HEADERS
    table: dict[str, T] = {}
    for number, channel in channels_by_number.items():
        normalised = normalize_e164(number, default_country_code=default_country_code)
        if normalised is None:
            raise ValueError(
                f"channel number {number!r:.40} is not a phone number (use E.164, e.g. +15551234567)"
            )
        table[normalised] = channel
    for number, header in called_numbers(
        sip_headers, header_names=names, default_country_code=default_country_code
    ):
        if number in table:
            return ChannelChoice(channel=table[number], number=number, header=header)
    return None


class Deduplicator(Protocol):
    """Remembers webhook ids: `claim(id)` is True for the first delivery and False for repeats."""

    def claim(self, key: str) -> bool:
        """Record `key`; True if it was not seen within the retention time."""
        ...

    def release(self, key: str) -> None:
        """Forget `key` (the first delivery failed and a retry should be processed)."""
        ...


class MemoryDeduplicator:
    """A per-process Deduplicator: a TTL set with a size cap (one per process; share one across workers)."""

    def __init__(
        self,
        *,
        ttl_s: float = 72 * 3600,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if isinstance(ttl_s, bool) or not isinstance(ttl_s, (int, float)) or ttl_s <= 0:
            raise ValueError(f"ttl_s must be a positive number, got {ttl_s!r}")
        if isinstance(max_entries, bool) or not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be a positive integer, got {max_entries!r}")
        self._ttl = float(ttl_s)
        self._max = max_entries
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        # Sync Django views may run in several threads.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def claim(self, key: str) -> bool:
        """Record `key`; True if it was not seen within the retention time."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"a dedupe key must be a non-empty string, got {key!r:.60}")
        with self._lock:
            now = self._clock()
            while self._seen:
                oldest, expires = next(iter(self._seen.items()))
                if expires > now and len(self._seen) < self._max:
                    break
                del self._seen[oldest]
            expires = self._seen.get(key)
            if expires is not None and expires > now:
                return False
            self._seen[key] = now + self._ttl
            self._seen.move_to_end(key)
            return True

    def release(self, key: str) -> None:
        """Forget `key` (the first delivery failed and a retry should be processed)."""
        with self._lock:
            self._seen.pop(key, None)
