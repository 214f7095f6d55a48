"""The offline model's GA session object, its `session.update` rules, and the conversation items."""
from __future__ import annotations

import copy
import uuid
from typing import Any

from ..audio import AudioFormatError, from_ga_format
from ..errors import ConfigError

PCM_FORMAT = {"type": "audio/pcm", "rate": 24000}
TURN_DETECTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "server_vad": {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500,
                   "idle_timeout_ms": None, "create_response": True, "interrupt_response": True},
    "semantic_vad": {"type": "semantic_vad", "eagerness": "auto", "create_response": True,
                     "interrupt_response": True},
}
# Semantic VAD has no model here: it becomes Silero with a silence window per eagerness.
SEMANTIC_SILENCE_MS = {"low": 800, "medium": 500, "auto": 500, "high": 400}
SESSION_KEYS = frozenset({"type", "audio", "include", "instructions", "max_output_tokens", "model",
                          "output_modalities", "parallel_tool_calls", "prompt", "reasoning", "tool_choice", "tools",
                          "tracing", "truncation"})


class ClientEventError(ValueError):
    """A client event the offline model refuses; becomes a GA `error` event."""

    def __init__(self, code: str, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


def new_id(prefix: str) -> str:
    """A server-style id ("item_…", "resp_…")."""
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def default_session(model: str) -> dict[str, Any]:
    """The session a new connection starts with (sent in session.created)."""
    return {
        "type": "realtime", "object": "realtime.session", "id": new_id("sess"), "model": model,
        "output_modalities": ["audio"], "instructions": "", "tools": [], "tool_choice": "auto",
        "max_output_tokens": "inf", "tracing": None, "truncation": "auto", "prompt": None, "include": None,
        "audio": {
            "input": {"format": dict(PCM_FORMAT), "transcription": None, "noise_reduction": None,
                      "turn_detection": dict(TURN_DETECTION_DEFAULTS["server_vad"])},
            "output": {"format": dict(PCM_FORMAT), "voice": "alloy", "speed": 1.0},
        },
    }


def _object(value: Any, param: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ClientEventError("invalid_type", f"'{param}' must be an object", param=param)
    return value


def _format(value: Any, param: str) -> dict[str, Any]:
    try:
        from_ga_format(_object(value, param))
    except (AudioFormatError, ConfigError) as exc:
        raise ClientEventError("invalid_value", f"{param}: {exc}", param=param) from exc
    return copy.deepcopy(value)


def _turn_detection(value: Any, param: str) -> dict[str, Any] | None:
    if value is None:
        return None
    value = _object(value, param)
    defaults = TURN_DETECTION_DEFAULTS.get(value.get("type"))  # type: ignore[arg-type]
    if defaults is None:
        raise ClientEventError("invalid_value", f"{param}.type must be server_vad or semantic_vad", param=param)
    merged = {**defaults, **value}
    if merged["type"] == "server_vad" and not (isinstance(merged["threshold"], (int, float))
                                               and 0 < merged["threshold"] < 1):
        raise ClientEventError("invalid_value", f"{param}.threshold must be between 0 and 1", param=param)
    if merged["type"] == "semantic_vad" and merged["eagerness"] not in SEMANTIC_SILENCE_MS:
        raise ClientEventError("invalid_value", f"{param}.eagerness must be low, medium, high or auto", param=param)
    return merged


def apply_session_update(current: dict[str, Any], update: Any) -> dict[str, Any]:
    """The session after a `session.update` (only given fields change); ClientEventError when invalid."""
    update = _object(update, "session")
    unknown = sorted(set(update) - SESSION_KEYS)
    if unknown:
        raise ClientEventError("unknown_parameter", f"Unknown parameter: 'session.{unknown[0]}'.",
                               param=f"session.{unknown[0]}")
    result = copy.deepcopy(current)
    if "tools" in update:
        tools = update["tools"]
        if not isinstance(tools, list) or not all(isinstance(t, dict) and isinstance(t.get("name"), str)
                                                  for t in tools):
            raise ClientEventError("invalid_value", "session.tools must be a list of named function tools",
                                   param="session.tools")
    if "output_modalities" in update and update["output_modalities"] not in (["audio"], ["text"]):
        raise ClientEventError("invalid_value", "output_modalities must be ['audio'] or ['text']",
                               param="session.output_modalities")
    audio = _object(update.get("audio") or {}, "session.audio")
    audio_in = _object(audio.get("input") or {}, "session.audio.input")
    audio_out = _object(audio.get("output") or {}, "session.audio.output")
    if "format" in audio_in:
        result["audio"]["input"]["format"] = _format(audio_in["format"], "session.audio.input.format")
    if "turn_detection" in audio_in:
        result["audio"]["input"]["turn_detection"] = _turn_detection(
            audio_in["turn_detection"], "session.audio.input.turn_detection")
    for key in ("transcription", "noise_reduction"):
        if key in audio_in:
            result["audio"]["input"][key] = copy.deepcopy(audio_in[key])
    if "format" in audio_out:
        result["audio"]["output"]["format"] = _format(audio_out["format"], "session.audio.output.format")
    for key in ("voice", "speed"):
        if key in audio_out:
            result["audio"]["output"][key] = copy.deepcopy(audio_out[key])
    for key, value in update.items():
        if key != "audio":
            result[key] = copy.deepcopy(value)
    return result


def vad_settings(session: dict[str, Any]) -> tuple[float, int, int] | None:
    """(threshold, silence_ms, prefix_ms) for the session's turn detection, or None when it is off."""
    detection = session["audio"]["input"]["turn_detection"]
    if detection is None:
        return None
    if detection["type"] == "semantic_vad":
        return 0.5, SEMANTIC_SILENCE_MS[detection["eagerness"]], 300
    return float(detection["threshold"]), int(detection["silence_duration_ms"]), int(detection["prefix_padding_ms"])


def client_item(item: Any) -> dict[str, Any]:
    """A `conversation.item.create` item, checked and completed with an id and status."""
    item = copy.deepcopy(_object(item, "item"))
    kind = item.get("type")
    if kind == "message":
        if item.get("role") not in ("user", "assistant", "system"):
            raise ClientEventError("invalid_value", "item.role must be user, assistant or system", param="item.role")
        if not isinstance(item.get("content"), list):
            raise ClientEventError("invalid_type", "item.content must be a list", param="item.content")
    elif kind == "function_call_output":
        if not isinstance(item.get("call_id"), str) or not isinstance(item.get("output"), str):
            raise ClientEventError("missing_required_parameter",
                                   "function_call_output needs a string call_id and output", param="item")
    elif kind == "function_call":
        if not isinstance(item.get("name"), str) or not isinstance(item.get("call_id"), str):
            raise ClientEventError("missing_required_parameter", "function_call needs name and call_id", param="item")
        item.setdefault("arguments", "{}")
    else:
        raise ClientEventError("invalid_value", f"unsupported item type {kind!r}", param="item.type")
    item.setdefault("id", new_id("item"))
    item["object"] = "realtime.item"
    item.setdefault("status", "completed")
    return item
