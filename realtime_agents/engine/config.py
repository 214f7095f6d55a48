"""Model, run and connection settings: accept seed/beta or GA spellings, validate, emit the GA shape."""
from __future__ import annotations

import enum
import importlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Final, Literal

from . import settings_schema as schema
from .audio import AudioFormat, to_ga_format
from .errors import ConfigError

if TYPE_CHECKING:
    from .run_config import (
        ModelConfig,
        ReconnectSettings,
        RunConfig,
        normalize_model_config,
        normalize_run_config,
        resolve_api_key,
    )

__all__ = [
    "DEFAULT_MODEL_NAME",
    "DEFAULT_MODEL_SETTINGS",
    "MODEL_SETTINGS_KEYS",
    "UNSET",
    "ConfigError",
    "ModelConfig",
    "ModelSettings",
    "ReconnectSettings",
    "RunConfig",
    "Unset",
    "build_session_payload",
    "merge_model_settings",
    "normalize_model_config",
    "normalize_model_settings",
    "normalize_run_config",
    "resolve_api_key",
    "turn_detection_enabled",
    "turn_detection_interrupts",
]

logger = logging.getLogger("realtime_agents.engine.config")

DEFAULT_MODEL_NAME = "gpt-realtime"


class Unset(enum.Enum):
    """Marker type for "not given", distinct from an explicit None (= disabled)."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET

# `tools` and `handoffs` are accepted for seed compatibility and ignored: agents supply them.
_IGNORED_KEYS = frozenset({"tools", "handoffs", "temperature"})
MODEL_SETTINGS_KEYS: frozenset[str] = frozenset(
    {
        "model_name", "model", "instructions", "prompt", "modalities", "output_modalities", "voice", "speed",
        "input_audio_format", "output_audio_format", "input_audio_transcription",
        "input_audio_noise_reduction",
        "turn_detection", "audio", "max_output_tokens", "max_response_output_tokens", "tool_choice",
        "parallel_tool_calls", "reasoning", "tracing", "truncation", "include",
    }
) | _IGNORED_KEYS

@dataclass(frozen=True, kw_only=True, repr=False)
class ModelSettings:
    """Normalised, GA-oriented model settings; None means "not given" except where UNSET is the default."""

    model_name: str | None = None
    instructions: str | None = None
    prompt: Mapping[str, Any] | None = None
    output_modalities: tuple[str, ...] | None = None
    input_format: AudioFormat | None = None
    output_format: AudioFormat | None = None
    voice: str | Mapping[str, Any] | None = None
    speed: float | None = None
    # These four: UNSET = not given, None = explicitly disabled (sent as null).
    transcription: Mapping[str, Any] | None | Unset = UNSET
    noise_reduction: Mapping[str, Any] | None | Unset = UNSET
    turn_detection: Mapping[str, Any] | None | Unset = UNSET
    tracing: str | Mapping[str, Any] | None | Unset = UNSET
    max_output_tokens: int | Literal["inf"] | None = None
    tool_choice: str | Mapping[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    reasoning: Mapping[str, Any] | None = None
    truncation: str | Mapping[str, Any] | None = None
    include: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, schema.freeze(getattr(self, f.name)))

    def is_set(self, name: str) -> bool:
        """Whether a field was given (an explicit None counts for the UNSET-default fields)."""
        value = getattr(self, name)
        return value is not UNSET if name in _TRISTATE else value is not None

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{f.name}={schema.thaw(getattr(self, f.name))!r}" for f in fields(self) if self.is_set(f.name)
        )
        return f"ModelSettings({shown})"


_TRISTATE = frozenset({"transcription", "noise_reduction", "turn_detection", "tracing"})
# field -> (validator, candidate spellings, first present wins); "a.b.c" is a nested path.
_FIELD_SOURCES: dict[str, tuple[schema.Validator, tuple[str, ...]]] = {
    "model_name": (schema.string, ("model_name", "model")),
    "instructions": (schema.text, ("instructions",)),
    "prompt": (schema.PROMPT, ("prompt",)),
    "output_modalities": (schema.modalities, ("output_modalities", "modalities")),
    "input_format": (schema.audio_format, ("audio.input.format", "input_audio_format")),
    "output_format": (schema.audio_format, ("audio.output.format", "output_audio_format")),
    "voice": (schema.voice, ("audio.output.voice", "voice")),
    "speed": (schema.number(0.25, 1.5), ("audio.output.speed", "speed")),
    "transcription": (schema.TRANSCRIPTION, ("audio.input.transcription", "input_audio_transcription")),
    "noise_reduction": (
        schema.NOISE_REDUCTION, ("audio.input.noise_reduction", "input_audio_noise_reduction")
    ),
    "turn_detection": (schema.turn_detection, ("audio.input.turn_detection", "turn_detection")),
    "tracing": (schema.tracing, ("tracing",)),
    "max_output_tokens": (schema.max_tokens, ("max_output_tokens", "max_response_output_tokens")),
    "tool_choice": (schema.tool_choice, ("tool_choice",)),
    "parallel_tool_calls": (schema.boolean, ("parallel_tool_calls",)),
    "reasoning": (schema.REASONING, ("reasoning",)),
    "truncation": (schema.truncation, ("truncation",)),
    "include": (schema.include, ("include",)),
}
_AUDIO_KEYS = {"input": ("format", "transcription", "noise_reduction", "turn_detection"),
               "output": ("format", "voice", "speed")}


def _flatten_audio(audio: Any) -> dict[str, Any]:
    """Turn the nested GA `audio` object into {"audio.input.format": ...} entries."""
    flat: dict[str, Any] = {}
    if audio is None:
        return flat
    for side, side_value in schema.mapping(audio, "audio").items():
        if side not in _AUDIO_KEYS:
            raise ConfigError(f"unknown model setting 'audio.{side}'; allowed: input, output")
        if side_value is None:
            continue
        for key, value in schema.mapping(side_value, f"audio.{side}").items():
            if key not in _AUDIO_KEYS[side]:
                raise ConfigError(
                    f"unknown model setting 'audio.{side}.{key}'; allowed: {', '.join(_AUDIO_KEYS[side])}"
                )
            flat[f"audio.{side}.{key}"] = value
    return flat


def normalize_model_settings(settings: Mapping[str, Any] | ModelSettings | None) -> ModelSettings:
    """Validate a settings dict in any accepted spelling and return GA-oriented ModelSettings."""
    if settings is None:
        return ModelSettings()
    if isinstance(settings, ModelSettings):
        return settings
    if not isinstance(settings, Mapping):
        raise ConfigError(f"model settings must be a mapping, got {type(settings).__name__}")
    unknown = sorted(str(key) for key in settings if key not in MODEL_SETTINGS_KEYS)
    if unknown:
        allowed = ", ".join(sorted(MODEL_SETTINGS_KEYS))
        raise ConfigError(f"unknown model setting '{unknown[0]}'; allowed: {allowed}")
    if "temperature" in settings:
        logger.warning("model setting 'temperature' was removed from the GA Realtime API; ignoring it")
    given = {key: value for key, value in settings.items() if key != "audio"}
    given.update(_flatten_audio(settings.get("audio")))
    values: dict[str, Any] = {}
    for name, (validate, sources) in _FIELD_SOURCES.items():
        for source in sources:
            if source not in given:
                continue
            raw = given[source]
            # Every spelling is validated, even one shadowed by a higher-priority spelling.
            checked = None if raw is None else validate(raw, source)
            if name in values:
                continue
            if checked is not None or name in _TRISTATE:
                values[name] = checked
    return ModelSettings(**values)


def merge_model_settings(base: ModelSettings, override: ModelSettings) -> ModelSettings:
    """A copy of base where every field set in override (explicit None included where allowed) wins."""
    changes = {f.name: getattr(override, f.name) for f in fields(override) if override.is_set(f.name)}
    merged = {f.name: getattr(base, f.name) for f in fields(base)}
    merged.update(changes)
    return ModelSettings(**merged)


DEFAULT_MODEL_SETTINGS = ModelSettings(
    output_modalities=("audio",),
    input_format="pcm16",
    output_format="pcm16",
    voice="ash",
    transcription={"model": "gpt-4o-mini-transcribe"},
    turn_detection={"type": "semantic_vad", "interrupt_response": True},
)


def build_session_payload(
    settings: ModelSettings,
    *,
    instructions: str | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    include_voice: bool = True,
    include_formats: bool = True,
    defaults: bool = True,
) -> dict[str, Any]:
    """The GA `session` object for session.update or a Calls accept; only set fields are sent."""
    s = normalize_model_settings(settings)
    if defaults:
        s = merge_model_settings(DEFAULT_MODEL_SETTINGS, s)
    payload: dict[str, Any] = {"type": "realtime"}
    if s.model_name is not None:
        payload["model"] = s.model_name
    if s.output_modalities is not None:
        payload["output_modalities"] = list(s.output_modalities)
    text = instructions if instructions is not None else s.instructions
    if text is not None:
        payload["instructions"] = schema.text(text, "instructions")
    if tools is not None:
        if isinstance(tools, (str, bytes, Mapping)) or not isinstance(tools, Sequence):
            raise ConfigError(f"tools must be a list of tool objects, got {type(tools).__name__}")
        payload["tools"] = [schema.thaw(schema.mapping(tool, f"tools[{i}]")) for i, tool in enumerate(tools)]
    for name in ("prompt", "tool_choice", "parallel_tool_calls", "reasoning", "max_output_tokens",
                 "truncation", "include", "tracing"):
        if s.is_set(name):
            payload[name] = schema.thaw(getattr(s, name))
    audio_in: dict[str, Any] = {}
    audio_out: dict[str, Any] = {}
    if include_formats and s.input_format is not None:
        audio_in["format"] = to_ga_format(s.input_format)
    for name in ("transcription", "noise_reduction", "turn_detection"):
        if s.is_set(name):
            audio_in[name] = schema.thaw(getattr(s, name))
    if include_formats and s.output_format is not None:
        audio_out["format"] = to_ga_format(s.output_format)
    if include_voice and s.voice is not None:
        audio_out["voice"] = schema.thaw(s.voice)
    if s.speed is not None:
        audio_out["speed"] = s.speed
    audio = {side: part for side, part in (("input", audio_in), ("output", audio_out)) if part}
    if audio:
        payload["audio"] = audio
    return payload


def turn_detection_enabled(settings: ModelSettings) -> bool:
    """Whether the server detects turns itself (not given = the server default, which is on)."""
    return settings.turn_detection is not None


def turn_detection_interrupts(settings: ModelSettings) -> bool:
    """Whether the server cancels an in-progress response when the user starts speaking."""
    detection = settings.turn_detection
    if detection is None:
        return False
    if isinstance(detection, Unset):
        return True
    return bool(detection.get("interrupt_response", True))


def turn_detection_creates_responses(settings: ModelSettings) -> bool:
    """Whether the server starts a response by itself when the user stops speaking."""
    detection = settings.turn_detection
    if detection is None:
        return False
    if isinstance(detection, Unset):
        return True
    return bool(detection.get("create_response", True))


_RUN_CONFIG_NAMES = frozenset(
    {"ModelConfig", "ReconnectSettings", "RunConfig", "normalize_model_config",
     "normalize_run_config", "resolve_api_key"}
)


def __getattr__(name: str) -> Any:
    # Run/model config live in run_config.py (which imports this module); re-export them lazily.
    if name in _RUN_CONFIG_NAMES:
        return getattr(importlib.import_module(".run_config", __package__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
