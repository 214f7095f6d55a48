"""Validators for settings dicts: each checks one value and names its key path in any error."""
from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from .audio import AudioFormat, normalize_audio_format
from .errors import ConfigError

Validator = Callable[[Any, str], Any]


def fail(path: str, allowed: str, value: Any) -> ConfigError:
    """The error for a value at path that is not what is allowed."""
    return ConfigError(f"model setting '{path}' must be {allowed}, got {value!r}")


def string(value: Any, path: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise fail(path, "a non-empty string", value)
    return value


def text(value: Any, path: str) -> str:
    """Any string, empty included."""
    if not isinstance(value, str):
        raise fail(path, "a string", value)
    return value


def boolean(value: Any, path: str) -> bool:
    """A real bool (1 and "true" are refused)."""
    if not isinstance(value, bool):
        raise fail(path, "true or false", value)
    return value


def enum(*choices: str) -> Validator:
    """A validator accepting exactly one of the given strings."""
    def check(value: Any, path: str) -> str:
        if not isinstance(value, str) or value not in choices:
            raise fail(path, "one of " + ", ".join(choices), value)
        return value

    return check


def number(low: float, high: float | None = None, *, integer: bool = False) -> Validator:
    """A validator for a number (not a bool) within [low, high]."""
    kind = "an integer" if integer else "a number"
    allowed = f"{kind} from {low} to {high}" if high is not None else f"{kind} >= {low}"

    def check(value: Any, path: str) -> float:
        ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok_type or value < low or (high is not None and value > high):
            raise fail(path, allowed, value)
        return value

    return check


def string_list(value: Any, path: str) -> tuple[str, ...]:
    """A list of non-empty strings."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise fail(path, "a list of strings", value)
    return tuple(string(item, f"{path}[{i}]") for i, item in enumerate(value))


def mapping(value: Any, path: str) -> Mapping[str, Any]:
    """A mapping with string keys, returned unchanged."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise fail(path, "a mapping with string keys", value)
    return value


def record(
    schema: Mapping[str, Validator], *, required: Sequence[str] = (), nullable: Sequence[str] = ()
) -> Validator:
    """A mapping validator: known keys only; None values are dropped unless the key is nullable."""

    def check(value: Any, path: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in mapping(value, path).items():
            if key not in schema:
                raise ConfigError(f"unknown model setting '{path}.{key}'; allowed: {', '.join(schema)}")
            if item is None:
                if key in nullable:
                    out[key] = None
                continue
            out[key] = schema[key](item, f"{path}.{key}")
        for key in required:
            if key not in out:
                raise ConfigError(f"model setting '{path}.{key}' is required")
        return out

    return check


TRANSCRIPTION = record(
    {
        "model": string, "language": string, "prompt": text, "languages": string_list,
        "keywords": string_list, "delay": enum("minimal", "low", "medium", "high", "xhigh"),
    }
)
NOISE_REDUCTION = record({"type": enum("near_field", "far_field"), "strength": number(0)})
VAD_COMMON: dict[str, Validator] = {
    "type": enum("server_vad", "semantic_vad"), "create_response": boolean, "interrupt_response": boolean,
}
SERVER_VAD = record(
    {
        **VAD_COMMON, "threshold": number(0, 1), "prefix_padding_ms": number(0, integer=True),
        "silence_duration_ms": number(0, integer=True), "idle_timeout_ms": number(0, integer=True),
    },
    nullable=("idle_timeout_ms",),
)
SEMANTIC_VAD = record({**VAD_COMMON, "eagerness": enum("low", "medium", "high", "auto")})
PROMPT = record({"id": string, "version": string, "variables": mapping}, required=("id",))
REASONING = record({"effort": enum("minimal", "low", "medium", "high", "xhigh")})
TRACING = record({"workflow_name": string, "group_id": string, "metadata": mapping})
TRUNCATION = record(
    {
        "type": enum("retention_ratio"), "retention_ratio": number(0, 1),
        "token_limits": record({"post_instructions": number(0, integer=True)}),
    },
    required=("type", "retention_ratio"),
)
TOOL_CHOICE = {
    "function": record({"type": enum("function"), "name": string}, required=("name",)),
    "mcp": record({"type": enum("mcp"), "server_label": string, "name": string}, required=("server_label",)),
}
SERVER_VAD_ONLY = frozenset({"threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"})
CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def turn_detection(value: Any, path: str) -> dict[str, Any]:
    """server_vad or semantic_vad settings, camelCase keys accepted."""
    # The seed SDK accepts camelCase keys (JS habits); the wire only knows snake_case.
    snake = {CAMEL.sub("_", key).lower(): item for key, item in mapping(value, path).items()}
    kind = snake.get("type")
    if kind == "server_vad":
        return SERVER_VAD(snake, path)
    if kind == "semantic_vad":
        misplaced = sorted(set(snake) & SERVER_VAD_ONLY)
        if misplaced:
            raise ConfigError(
                f"model setting '{path}.{misplaced[0]}' only applies to server_vad, not semantic_vad"
            )
        return SEMANTIC_VAD(snake, path)
    raise fail(f"{path}.type", "server_vad or semantic_vad", kind)


def modalities(value: Any, path: str) -> tuple[str, ...]:
    """Output modalities collapsed to the single one GA allows."""
    items = string_list(value, path)
    if not items or any(item not in ("text", "audio") for item in items):
        raise fail(path, 'a non-empty list of "text" / "audio"', value)
    # GA allows a single modality; audio output always carries a transcript, so text+audio means audio.
    return ("audio",) if "audio" in items else ("text",)


def voice(value: Any, path: str) -> str | dict[str, Any]:
    """A voice name or a custom voice {"id": ...}."""
    if isinstance(value, Mapping):
        return record({"id": string}, required=("id",))(value, path)
    return string(value, path)


def max_tokens(value: Any, path: str) -> int | str:
    """1..4096 or "inf"."""
    if value == "inf" and isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
        raise fail(path, 'an integer from 1 to 4096 or "inf"', value)
    return value


def tool_choice(value: Any, path: str) -> str | dict[str, Any]:
    """auto/none/required or a forced function or MCP tool."""
    if isinstance(value, str):
        return enum("auto", "none", "required")(value, path)
    kind = mapping(value, path).get("type")
    if kind not in TOOL_CHOICE:
        raise fail(f"{path}.type", "function or mcp", kind)
    return TOOL_CHOICE[kind](value, path)


def tracing(value: Any, path: str) -> str | dict[str, Any]:
    """"auto" or a tracing configuration."""
    return enum("auto")(value, path) if isinstance(value, str) else TRACING(value, path)


def truncation(value: Any, path: str) -> str | dict[str, Any]:
    """auto/disabled or a retention-ratio configuration."""
    return enum("auto", "disabled")(value, path) if isinstance(value, str) else TRUNCATION(value, path)


def include(value: Any, path: str) -> tuple[str, ...]:
    """Extra server output fields (only transcription logprobs exist)."""
    items = string_list(value, path)
    for i, item in enumerate(items):
        enum("item.input_audio_transcription.logprobs")(item, f"{path}[{i}]")
    return items


def audio_format(value: Any, path: str) -> AudioFormat:
    """Any audio format spelling, normalised to the short name."""
    try:
        return normalize_audio_format(value)
    except ConfigError as exc:
        raise ConfigError(f"model setting '{path}': {exc}") from None


def freeze(value: Any) -> Any:
    """A read-only copy: mappings become MappingProxyType, lists become tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A JSON-ready mutable copy of a frozen value."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return copy.deepcopy(value)
