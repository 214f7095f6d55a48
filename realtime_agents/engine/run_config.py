"""The runner's `config=` and `model_config=` dicts: validated into frozen RunConfig / ModelConfig."""
from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .config import ModelSettings, normalize_model_settings
from .errors import ConfigError

__all__ = [
    "ModelConfig",
    "ReconnectSettings",
    "RunConfig",
    "normalize_model_config",
    "normalize_run_config",
    "resolve_api_key",
]


def _check_keys(config: Any, allowed: Sequence[str], what: str) -> Mapping[str, Any]:
    if not isinstance(config, Mapping):
        raise ConfigError(f"{what} must be a mapping, got {type(config).__name__}")
    unknown = sorted(str(key) for key in config if key not in allowed)
    if unknown:
        raise ConfigError(f"unknown {what} key '{unknown[0]}'; allowed: {', '.join(allowed)}")
    return config


def _positive(value: Any, name: str, *, integer: bool = False, zero: bool = False, none: bool = False) -> Any:
    if value is None and none:
        return None
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or value < 0 or (value == 0 and not zero):
        kind = "an integer" if integer else "a number"
        bound = ">= 0" if zero else "> 0"
        raise ConfigError(f"'{name}' must be {kind} {bound}{' or None' if none else ''}, got {value!r}")
    return value


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"'{name}' must be true or false, got {value!r}")
    return value


def _objects(value: Any, name: str) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise ConfigError(f"'{name}' must be a list, got {type(value).__name__}")
    return tuple(value)


@dataclass(frozen=True, kw_only=True)
class ReconnectSettings:
    """Reconnect policy for dropped upstream connections; max_attempts=0 disables reconnecting."""

    max_attempts: int = 5
    initial_delay: float = 0.5
    max_delay: float = 8.0


@dataclass(frozen=True, kw_only=True, repr=False)
class RunConfig:
    """The runner's `config=`: base model settings, shared guardrails, tool and reconnect policy."""

    model_settings: ModelSettings = field(default_factory=ModelSettings)
    output_guardrails: tuple[Any, ...] = ()
    input_guardrails: tuple[Any, ...] = ()
    # A read-only mapping, as in the seed: {"debounce_text_length": int} (new transcript characters
    # that accumulate before output guardrails run again).
    guardrails_settings: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({"debounce_text_length": 100})
    )
    tracing_disabled: bool = False
    async_tool_calls: bool = True
    tool_error_formatter: Callable[..., Any] | None = None
    reconnect: ReconnectSettings = field(default_factory=ReconnectSettings)
    tool_timeout: float | None = 30.0
    # Off by default: a raw event per audio delta would double the work on the audio path.
    include_raw_events: bool = False

    def __repr__(self) -> str:
        return (
            f"RunConfig(model_settings={self.model_settings!r}, "
            f"output_guardrails={len(self.output_guardrails)}, "
            f"input_guardrails={len(self.input_guardrails)}, "
            f"guardrails_settings={dict(self.guardrails_settings)!r}, "
            f"tracing_disabled={self.tracing_disabled}, async_tool_calls={self.async_tool_calls}, "
            f"tool_error_formatter={'set' if self.tool_error_formatter else None}, "
            f"reconnect={self.reconnect!r}, tool_timeout={self.tool_timeout!r}, "
            f"include_raw_events={self.include_raw_events})"
        )


_RUN_KEYS = (
    "model_settings", "output_guardrails", "input_guardrails", "guardrails_settings", "tracing_disabled",
    "async_tool_calls", "tool_error_formatter", "reconnect", "tool_timeout", "include_raw_events",
    "tool_execution",
)


def _reconnect(value: Any) -> ReconnectSettings:
    # True/False are shorthands for "the defaults" and "never reconnect".
    if isinstance(value, bool) or value is None:
        return ReconnectSettings() if value in (True, None) else ReconnectSettings(max_attempts=0)
    given = _check_keys(value, ("max_attempts", "initial_delay", "max_delay"), "reconnect")
    settings = ReconnectSettings(
        max_attempts=_positive(
            given.get("max_attempts", 5), "reconnect.max_attempts", integer=True, zero=True
        ),
        initial_delay=_positive(given.get("initial_delay", 0.5), "reconnect.initial_delay", zero=True),
        max_delay=_positive(given.get("max_delay", 8.0), "reconnect.max_delay", zero=True),
    )
    if settings.max_delay < settings.initial_delay:
        raise ConfigError("'reconnect.max_delay' must be >= 'reconnect.initial_delay'")
    return settings


def normalize_run_config(config: Mapping[str, Any] | RunConfig | None) -> RunConfig:
    """Validate the runner's `config=` dict (seed RealtimeRunConfig keys plus ours) into a RunConfig."""
    if isinstance(config, RunConfig):
        return config
    given = _check_keys({} if config is None else config, _RUN_KEYS, "run config")
    guardrails = _check_keys(
        given.get("guardrails_settings") or {}, ("debounce_text_length",), "guardrails_settings"
    )
    # Seed key for tool input guardrails, which this engine does not have: accepted, checked, unused.
    _check_keys(given.get("tool_execution") or {}, ("pre_approval_tool_input_guardrails",), "tool_execution")
    formatter = given.get("tool_error_formatter")
    if formatter is not None and not callable(formatter):
        raise ConfigError(f"'tool_error_formatter' must be callable or None, got {type(formatter).__name__}")
    return RunConfig(
        model_settings=normalize_model_settings(given.get("model_settings")),
        output_guardrails=_objects(given.get("output_guardrails"), "output_guardrails"),
        input_guardrails=_objects(given.get("input_guardrails"), "input_guardrails"),
        guardrails_settings=MappingProxyType({
            "debounce_text_length": _positive(
                guardrails.get("debounce_text_length", 100), "guardrails_settings.debounce_text_length",
                integer=True,
            )
        }),
        tracing_disabled=_flag(given.get("tracing_disabled", False), "tracing_disabled"),
        async_tool_calls=_flag(given.get("async_tool_calls", True), "async_tool_calls"),
        tool_error_formatter=formatter,
        reconnect=_reconnect(given.get("reconnect")),
        tool_timeout=_positive(given.get("tool_timeout", 30.0), "tool_timeout", none=True),
        include_raw_events=_flag(given.get("include_raw_events", False), "include_raw_events"),
    )


ApiKey = str | Callable[[], str | Awaitable[str]]
_SECRET_QUERY = re.compile(r"((?:key|token|secret|sig)[^=&]*=)[^&]*", re.IGNORECASE)


@dataclass(frozen=True, kw_only=True, repr=False)
class ModelConfig:
    """`runner.run(model_config=)`: where and how to connect; the api_key is resolved at connect time."""

    api_key: ApiKey | None = None
    url: str | None = None
    headers: Mapping[str, str] | None = None
    call_id: str | None = None
    initial_model_settings: ModelSettings = field(default_factory=ModelSettings)
    playback_tracker: Any = None
    open_timeout: float | None = 10.0
    max_message_size: int | None = 8 * 1024 * 1024
    ping_interval: float | None = 20.0

    def __repr__(self) -> str:
        # Keys may sit in api_key, in header values (Azure `api-key`) or in the URL query.
        key = None if self.api_key is None else ("<callable>" if callable(self.api_key) else "'***'")
        headers = None if self.headers is None else {name: "***" for name in self.headers}
        url = None if self.url is None else _SECRET_QUERY.sub(r"\1***", self.url)
        return (
            f"ModelConfig(api_key={key}, url={url!r}, headers={headers!r}, call_id={self.call_id!r}, "
            f"initial_model_settings={self.initial_model_settings!r}, "
            f"playback_tracker={type(self.playback_tracker).__name__ if self.playback_tracker else None}, "
            f"open_timeout={self.open_timeout!r}, max_message_size={self.max_message_size!r}, "
            f"ping_interval={self.ping_interval!r})"
        )


_MODEL_CONFIG_KEYS = (
    "api_key", "url", "headers", "call_id", "initial_model_settings", "playback_tracker", "open_timeout",
    "max_message_size", "ping_interval",
)


def normalize_model_config(config: Mapping[str, Any] | ModelConfig | None) -> ModelConfig:
    """Validate `runner.run(model_config=)` (seed RealtimeModelConfig keys plus transport limits)."""
    if isinstance(config, ModelConfig):
        return config
    given = _check_keys({} if config is None else config, _MODEL_CONFIG_KEYS, "model config")
    api_key = given.get("api_key")
    if api_key is not None and not callable(api_key) and not (isinstance(api_key, str) and api_key):
        # Never echo the value: it may be a secret of the wrong type.
        raise ConfigError(f"'api_key' must be a non-empty string or a callable, got {type(api_key).__name__}")
    url = given.get("url")
    if url is not None and not (isinstance(url, str) and re.match(r"wss?://[^/?#]+", url)):
        raise ConfigError("'url' must be a ws:// or wss:// URL")
    headers = given.get("headers")
    if headers is not None:
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and k and isinstance(v, str) for k, v in headers.items()
        ):
            raise ConfigError("'headers' must be a mapping of header names to string values")
        headers = MappingProxyType(dict(headers))
    call_id = given.get("call_id")
    if call_id is not None and not (isinstance(call_id, str) and call_id):
        raise ConfigError(f"'call_id' must be a non-empty string, got {call_id!r}")
    initial = normalize_model_settings(given.get("initial_model_settings"))
    if call_id is not None and initial.model_name is not None:
        raise ConfigError(
            "'call_id' attaches to an existing call whose model is fixed; do not also set model_name"
        )
    return ModelConfig(
        api_key=api_key,
        url=url,
        headers=headers,
        call_id=call_id,
        initial_model_settings=initial,
        playback_tracker=given.get("playback_tracker"),
        open_timeout=_positive(given.get("open_timeout", 10.0), "open_timeout", none=True),
        max_message_size=_positive(given.get("max_message_size", 8 * 1024 * 1024), "max_message_size",
                                   integer=True, none=True),
        ping_interval=_positive(given.get("ping_interval", 20.0), "ping_interval", none=True),
    )


async def resolve_api_key(config: ModelConfig, environ: Mapping[str, str]) -> str | None:
    """The API key: the string, the (async) callable's result, else OPENAI_API_KEY from environ."""
    key = config.api_key
    if key is None:
        return environ.get("OPENAI_API_KEY") or None
    if isinstance(key, str):
        return key
    result = key()
    if inspect.isawaitable(result):
        result = await result
    if not isinstance(result, str) or not result:
        raise ConfigError(f"the api_key callable must return a non-empty string, got {type(result).__name__}")
    return result
