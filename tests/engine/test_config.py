"""Settings translation: every accepted spelling in, the GA session shape out; run and model config."""
from __future__ import annotations

import logging
from typing import Any

import pytest
from openai.types.realtime import RealtimeSessionCreateRequest
from pydantic import BaseModel

from realtime_agents.engine.config import (
    DEFAULT_MODEL_NAME,
    MODEL_SETTINGS_KEYS,
    UNSET,
    ConfigError,
    ModelConfig,
    ModelSettings,
    RunConfig,
    build_session_payload,
    merge_model_settings,
    normalize_model_config,
    normalize_model_settings,
    normalize_run_config,
    resolve_api_key,
    turn_detection_enabled,
    turn_detection_interrupts,
)
from realtime_agents.engine.errors import ConfigError as BaseConfigError

SEED_STYLE = {
    "model_name": "gpt-realtime",
    "voice": "alloy",
    "modalities": ["text", "audio"],
    "input_audio_transcription": {"model": "whisper-1"},
    "turn_detection": {
        "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500,
    },
}


def _extras(model: BaseModel, path: str = "session") -> list[str]:
    """Paths of keys the typed model did not know (openai models allow extras, so look for them)."""
    found = [f"{path}.{key}" for key in (model.model_extra or {})]
    for name in type(model).model_fields:
        value = getattr(model, name)
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, BaseModel):
                found += _extras(child, f"{path}.{name}")
    return found


def assert_valid_ga_session(payload: dict[str, Any]) -> None:
    """The payload must parse as the openai package's GA session request, with no unknown keys."""
    model = RealtimeSessionCreateRequest.model_validate(payload)
    assert _extras(model) == []
    assert model.model_dump(exclude_unset=True) == payload


def test_config_error_is_the_shared_value_error() -> None:
    assert ConfigError is BaseConfigError and issubclass(ConfigError, ValueError)
    assert DEFAULT_MODEL_NAME == "gpt-realtime"
    expected = {"model_name", "modalities", "output_modalities", "audio", "temperature", "tools"}
    assert expected <= MODEL_SETTINGS_KEYS


# -- the seed example -------------------------------------------------------------------------------


def test_seed_style_settings_become_the_exact_ga_session() -> None:
    payload = build_session_payload(normalize_model_settings(SEED_STYLE), instructions="Be brief.", tools=[])
    assert payload == {
        "type": "realtime",
        "model": "gpt-realtime",
        "output_modalities": ["audio"],
        "instructions": "Be brief.",
        "tools": [],
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "whisper-1"},
                "turn_detection": {
                    "type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                },
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy"},
        },
    }
    assert_valid_ga_session(payload)


def test_without_defaults_only_given_fields_are_sent() -> None:
    payload = build_session_payload(normalize_model_settings({"voice": "marin"}), defaults=False)
    assert payload == {"type": "realtime", "audio": {"output": {"voice": "marin"}}}
    assert build_session_payload(ModelSettings(), defaults=False) == {"type": "realtime"}


def test_defaults_fill_what_is_not_given_and_model_is_only_sent_when_set() -> None:
    payload = build_session_payload(ModelSettings())
    assert "model" not in payload
    assert payload["output_modalities"] == ["audio"]
    assert payload["audio"]["output"]["voice"] == "ash"
    assert payload["audio"]["input"]["turn_detection"] == {"type": "semantic_vad", "interrupt_response": True}
    assert payload["audio"]["input"]["transcription"] == {"model": "gpt-4o-mini-transcribe"}
    assert_valid_ga_session(payload)


def test_every_field_in_ga_spelling_produces_a_valid_session() -> None:
    settings = normalize_model_settings(
        {
            "model": "gpt-realtime-2",
            "instructions": "Hi",
            "prompt": {"id": "pmpt_1", "version": "2", "variables": {"city": "Paris"}},
            "output_modalities": ["text"],
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "transcription": {"model": "gpt-4o-transcribe", "language": "fr", "prompt": ""},
                    "noise_reduction": {"type": "far_field", "strength": 0.5},
                    "turn_detection": {"type": "semantic_vad", "eagerness": "low", "create_response": False},
                },
                "output": {"format": "audio/pcma", "voice": {"id": "voice_123"}, "speed": 1.25},
            },
            "max_output_tokens": "inf",
            "tool_choice": {"type": "function", "name": "lookup"},
            "parallel_tool_calls": True,
            "reasoning": {"effort": "low"},
            "tracing": {"workflow_name": "support", "group_id": "g1", "metadata": {"k": "v"}},
            "truncation": {
                "type": "retention_ratio", "retention_ratio": 0.8,
                "token_limits": {"post_instructions": 1000},
            },
            "include": ["item.input_audio_transcription.logprobs"],
        }
    )
    tools = [
        {"type": "function", "name": "lookup", "description": "Look up", "parameters": {"type": "object"}},
    ]
    payload = build_session_payload(settings, tools=tools)
    assert_valid_ga_session(payload)
    assert payload["model"] == "gpt-realtime-2"
    assert payload["audio"]["input"]["format"] == {"type": "audio/pcmu"}
    assert payload["audio"]["output"] == {
        "format": {"type": "audio/pcma"}, "voice": {"id": "voice_123"}, "speed": 1.25,
    }
    assert payload["tracing"]["metadata"] == {"k": "v"}
    assert payload["tools"] == tools and payload["tools"][0] is not tools[0]


# -- spellings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "field", "expected"),
    [
        ({"model_name": "m1"}, "model_name", "m1"),
        ({"model": "m2"}, "model_name", "m2"),
        ({"model_name": "m1", "model": "m2"}, "model_name", "m1"),
        ({"modalities": ["text", "audio"]}, "output_modalities", ("audio",)),
        ({"modalities": ["text"]}, "output_modalities", ("text",)),
        ({"modalities": ["text"], "output_modalities": ["audio"]}, "output_modalities", ("audio",)),
        ({"input_audio_format": "g711_ulaw"}, "input_format", "g711_ulaw"),
        ({"input_audio_format": "audio/pcma"}, "input_format", "g711_alaw"),
        ({"output_audio_format": {"type": "audio/pcm", "rate": 24000}}, "output_format", "pcm16"),
        ({"max_response_output_tokens": 200}, "max_output_tokens", 200),
        ({"max_output_tokens": 100, "max_response_output_tokens": 200}, "max_output_tokens", 100),
        ({"input_audio_noise_reduction": {"type": "near_field"}}, "noise_reduction", {"type": "near_field"}),
        ({"speed": 0.25}, "speed", 0.25),
        ({"tool_choice": "required"}, "tool_choice", "required"),
        ({"tracing": "auto"}, "tracing", "auto"),
        ({"truncation": "disabled"}, "truncation", "disabled"),
    ],
)
def test_accepted_spellings(given: dict[str, Any], field: str, expected: Any) -> None:
    assert getattr(normalize_model_settings(given), field) == expected


def test_camel_case_turn_detection_keys_become_snake_case() -> None:
    settings = normalize_model_settings(
        {"turn_detection": {"type": "server_vad", "prefixPaddingMs": 200, "silenceDurationMs": 400,
                            "interruptResponse": False, "idleTimeoutMs": 6000}}
    )
    assert settings.turn_detection == {
        "type": "server_vad", "prefix_padding_ms": 200, "silence_duration_ms": 400,
        "interrupt_response": False, "idle_timeout_ms": 6000,
    }


def test_nested_audio_values_win_over_flat_aliases() -> None:
    settings = normalize_model_settings(
        {
            "voice": "alloy", "speed": 1.0, "input_audio_format": "pcm16", "output_audio_format": "pcm16",
            "input_audio_transcription": {"model": "whisper-1"}, "turn_detection": {"type": "server_vad"},
            "audio": {
                "input": {
                    "format": "g711_ulaw", "transcription": None, "turn_detection": {"type": "semantic_vad"},
                },
                "output": {"format": "g711_ulaw", "voice": "cedar", "speed": 1.5},
            },
        }
    )
    assert (settings.voice, settings.speed, settings.input_format, settings.output_format) == (
        "cedar", 1.5, "g711_ulaw", "g711_ulaw",
    )
    assert settings.transcription is None  # an explicit nested null wins over the flat dict
    assert settings.turn_detection == {"type": "semantic_vad"}


def test_temperature_is_dropped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="realtime_agents.engine.config"):
        settings = normalize_model_settings({"temperature": 0.8, "voice": "ash"})
    assert "temperature" in caplog.text
    assert "temperature" not in repr(settings)
    assert "temperature" not in str(build_session_payload(settings))


def test_tools_and_handoffs_keys_are_accepted_and_ignored() -> None:
    settings = normalize_model_settings({"tools": [{"type": "function", "name": "x"}], "handoffs": ["a"]})
    assert settings == ModelSettings()
    assert "tools" not in build_session_payload(settings, defaults=False)


def _all_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _all_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _all_keys(v)}
    return set()


def test_beta_names_never_reach_the_wire() -> None:
    payload = build_session_payload(
        normalize_model_settings({
            **SEED_STYLE, "input_audio_noise_reduction": {"type": "near_field"},
            "max_response_output_tokens": 50, "speed": 1.1, "output_audio_format": "g711_alaw",
        }),
    )
    beta = {"modalities", "voice", "speed", "input_audio_format", "output_audio_format",
            "input_audio_transcription", "input_audio_noise_reduction", "turn_detection",
            "max_response_output_tokens", "model_name"}
    assert beta & set(payload) == set()
    assert "max_response_output_tokens" not in _all_keys(payload) and "pcm16" not in repr(payload)
    assert payload["max_output_tokens"] == 50 and payload["audio"]["output"]["speed"] == 1.1
    assert payload["audio"]["output"]["format"] == {"type": "audio/pcma"}
    assert_valid_ga_session(payload)


# -- explicit null vs unset ------------------------------------------------------------------------


def test_explicit_null_is_distinct_from_not_given() -> None:
    unset = normalize_model_settings({})
    assert unset.transcription is UNSET and unset.turn_detection is UNSET and unset.noise_reduction is UNSET
    disabled = normalize_model_settings(
        {"turn_detection": None, "input_audio_transcription": None, "input_audio_noise_reduction": None}
    )
    assert disabled.transcription is None and disabled.turn_detection is None
    assert disabled.noise_reduction is None
    payload = build_session_payload(disabled, defaults=False)
    assert payload == {
        "type": "realtime",
        "audio": {"input": {"transcription": None, "noise_reduction": None, "turn_detection": None}},
    }
    assert_valid_ga_session(payload)
    # With defaults the explicit nulls still win over the default VAD and transcription.
    assert build_session_payload(disabled)["audio"]["input"]["turn_detection"] is None


def test_null_for_an_ordinary_field_means_not_given() -> None:
    assert normalize_model_settings({"voice": None, "speed": None}) == ModelSettings()


def test_turn_detection_helpers() -> None:
    assert turn_detection_enabled(ModelSettings()) and turn_detection_interrupts(ModelSettings())
    off = normalize_model_settings({"turn_detection": None})
    assert not turn_detection_enabled(off) and not turn_detection_interrupts(off)
    quiet = normalize_model_settings({"turn_detection": {"type": "server_vad", "interrupt_response": False}})
    assert turn_detection_enabled(quiet) and not turn_detection_interrupts(quiet)
    assert turn_detection_interrupts(normalize_model_settings({"turn_detection": {"type": "semantic_vad"}}))


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"silence_ms": 5}, "unknown model setting 'silence_ms'"),
        ({"turn_detection": {"type": "server_vad", "silence_ms": 5}},
         "unknown model setting 'turn_detection.silence_ms'"),
        ({"audio": {"input": {"turn_detection": {"type": "semantic_vad", "foo": 1}}}},
         "unknown model setting 'audio.input.turn_detection.foo'"),
        ({"audio": {"inputs": {}}}, "unknown model setting 'audio.inputs'"),
        ({"audio": {"output": {"volume": 3}}}, "unknown model setting 'audio.output.volume'"),
        ({"input_audio_transcription": {"model": "whisper-1", "lang": "en"}},
         "unknown model setting 'input_audio_transcription.lang'"),
        ({"prompt": {"id": "p", "vars": {}}}, "unknown model setting 'prompt.vars'"),
        ({"tracing": {"workflow": "x"}}, "unknown model setting 'tracing.workflow'"),
    ],
)
def test_unknown_keys_at_every_level_are_named(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        normalize_model_settings(given)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("not a dict", "model settings must be a mapping"),
        ({"speed": 2.0}, "'speed' must be a number from 0.25 to 1.5"),
        ({"speed": True}, "'speed' must be a number"),
        ({"voice": ""}, "'voice' must be a non-empty string"),
        ({"voice": {"name": "x"}}, "unknown model setting 'voice.name'"),
        ({"model_name": 3}, "'model_name' must be a non-empty string"),
        ({"modalities": ["video"]}, "'modalities' must be a non-empty list"),
        ({"output_modalities": []}, "'output_modalities' must be a non-empty list"),
        ({"modalities": "audio"}, "'modalities' must be a list of strings"),
        ({"input_audio_format": "mp3"}, "'input_audio_format': unknown audio format 'mp3'"),
        ({"audio": {"output": {"format": {"type": "audio/pcm", "rate": 8000}}}}, "'audio.output.format'"),
        ({"turn_detection": {"threshold": 0.5}}, "'turn_detection.type' must be server_vad or semantic_vad"),
        ({"turn_detection": {"type": "vad"}}, "'turn_detection.type' must be server_vad or semantic_vad"),
        ({"turn_detection": {"type": "server_vad", "threshold": 1.5}},
         "'turn_detection.threshold' must be a number from 0 to 1"),
        ({"turn_detection": {"type": "server_vad", "prefix_padding_ms": -1}},
         "'turn_detection.prefix_padding_ms'"),
        ({"turn_detection": {"type": "server_vad", "silence_duration_ms": 1.5}}, "must be an integer"),
        ({"turn_detection": {"type": "server_vad", "create_response": "yes"}}, "must be true or false"),
        ({"turn_detection": {"type": "semantic_vad", "eagerness": "max"}},
         "must be one of low, medium, high, auto"),
        ({"turn_detection": {"type": "semantic_vad", "threshold": 0.2}}, "only applies to server_vad"),
        ({"turn_detection": "server_vad"}, "'turn_detection' must be a mapping"),
        ({"input_audio_noise_reduction": {"type": "studio"}}, "must be one of near_field, far_field"),
        ({"input_audio_transcription": {"delay": "slow"}}, "'input_audio_transcription.delay'"),
        ({"max_output_tokens": 4097}, 'from 1 to 4096 or "inf"'),
        ({"max_response_output_tokens": "infinite"}, "'max_response_output_tokens'"),
        ({"tool_choice": "always"}, "must be one of auto, none, required"),
        ({"tool_choice": {"type": "function"}}, "'tool_choice.name' is required"),
        ({"tool_choice": {"type": "web"}}, "'tool_choice.type' must be function or mcp"),
        ({"parallel_tool_calls": 1}, "'parallel_tool_calls' must be true or false"),
        ({"reasoning": {"effort": "huge"}}, "'reasoning.effort'"),
        ({"tracing": "on"}, "'tracing' must be one of auto"),
        ({"truncation": {"type": "retention_ratio"}}, "'truncation.retention_ratio' is required"),
        ({"truncation": {"type": "retention_ratio", "retention_ratio": 2}}, "from 0 to 1"),
        ({"include": ["everything"]}, r"'include\[0\]'"),
        ({"prompt": {"version": "1"}}, "'prompt.id' is required"),
        ({"instructions": 5}, "'instructions' must be a string"),
        ({"audio": "pcm"}, "'audio' must be a mapping"),
    ],
)
def test_bad_values_name_the_key_and_what_is_allowed(given: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        normalize_model_settings(given)


def test_shadowed_spellings_are_still_validated() -> None:
    with pytest.raises(ConfigError, match="'modalities'"):
        normalize_model_settings({"output_modalities": ["audio"], "modalities": ["smell"]})


# -- voice / formats switches, merge, immutability --------------------------------------------------


def test_include_voice_and_include_formats_switches() -> None:
    settings = normalize_model_settings({**SEED_STYLE, "input_audio_format": "g711_ulaw", "speed": 1.2})
    no_voice = build_session_payload(settings, include_voice=False)
    assert "voice" not in no_voice["audio"]["output"] and no_voice["audio"]["output"]["speed"] == 1.2
    sip = build_session_payload(settings, include_formats=False, include_voice=False)
    assert "format" not in sip["audio"]["input"] and sip["audio"]["output"] == {"speed": 1.2}
    bare = build_session_payload(normalize_model_settings({"voice": "ash"}), include_voice=False,
                                 include_formats=False, defaults=False)
    assert bare == {"type": "realtime"}
    for payload in (no_voice, sip):
        assert_valid_ga_session(payload)


def test_instructions_argument_wins_over_settings() -> None:
    settings = normalize_model_settings({"instructions": "from settings"})
    assert build_session_payload(settings, defaults=False)["instructions"] == "from settings"
    from_agent = build_session_payload(settings, instructions="from agent", defaults=False)
    assert from_agent["instructions"] == "from agent"
    assert build_session_payload(settings, instructions="", defaults=False)["instructions"] == ""


def test_tools_must_be_a_list_of_mappings() -> None:
    with pytest.raises(ConfigError, match="tools must be a list"):
        build_session_payload(ModelSettings(), tools={"type": "function"})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"'tools\[1\]' must be a mapping"):
        tools = [{"type": "function", "name": "a"}, "b"]
        build_session_payload(ModelSettings(), tools=tools)  # type: ignore[arg-type]


def test_merge_lets_set_fields_of_the_override_win() -> None:
    base = normalize_model_settings({**SEED_STYLE, "input_audio_format": "g711_ulaw", "speed": 1.2})
    override = normalize_model_settings({"voice": "marin", "turn_detection": None})
    merged = merge_model_settings(base, override)
    assert merged.voice == "marin" and merged.turn_detection is None
    assert merged.input_format == "g711_ulaw" and merged.speed == 1.2 and merged.model_name == "gpt-realtime"
    assert merged.transcription == {"model": "whisper-1"}  # UNSET in the override keeps the base
    assert merge_model_settings(base, ModelSettings()) == base


def test_model_settings_are_immutable() -> None:
    settings = normalize_model_settings(SEED_STYLE)
    with pytest.raises(AttributeError):
        settings.voice = "ash"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.turn_detection["threshold"] = 0.9  # type: ignore[index]
    source = {"type": "server_vad", "threshold": 0.5}
    direct = ModelSettings(turn_detection=source)
    source["threshold"] = 0.1
    assert direct.turn_detection == {"type": "server_vad", "threshold": 0.5}
    payload = build_session_payload(settings)
    payload["audio"]["input"]["turn_detection"]["threshold"] = 0.9  # the payload is a private copy
    assert settings.turn_detection["threshold"] == 0.5  # type: ignore[index]


def test_normalising_twice_is_a_no_op() -> None:
    settings = normalize_model_settings(SEED_STYLE)
    assert normalize_model_settings(settings) is settings
    assert normalize_model_settings(None) == ModelSettings()
    assert repr(settings).startswith("ModelSettings(model_name='gpt-realtime'")


# -- run config -------------------------------------------------------------------------------------


def test_run_config_defaults() -> None:
    config = normalize_run_config(None)
    assert config == RunConfig()
    assert config.guardrails_settings == {"debounce_text_length": 100}
    assert config.async_tool_calls is True and config.tracing_disabled is False
    policy = config.reconnect
    assert (policy.max_attempts, policy.initial_delay, policy.max_delay) == (5, 0.5, 8.0)
    assert config.tool_timeout == 30.0 and config.tool_error_formatter is None
    assert config.output_guardrails == () and config.input_guardrails == ()
    assert config.model_settings == ModelSettings()


def test_run_config_values_are_kept() -> None:
    guard_a, guard_b = object(), object()

    def formatter(kind: str) -> str:
        return kind

    config = normalize_run_config(
        {
            "model_settings": {"voice": "ash", "modalities": ["text"]},
            "output_guardrails": [guard_a],
            "input_guardrails": (guard_b,),
            "guardrails_settings": {"debounce_text_length": 20},
            "tracing_disabled": True,
            "async_tool_calls": False,
            "tool_error_formatter": formatter,
            "reconnect": {"max_attempts": 2, "max_delay": 1.0},
            "tool_timeout": 5,
        }
    )
    assert config.model_settings.output_modalities == ("text",)
    assert config.output_guardrails == (guard_a,) and config.input_guardrails[0] is guard_b
    assert config.guardrails_settings["debounce_text_length"] == 20
    assert config.tracing_disabled and not config.async_tool_calls
    assert config.tool_error_formatter is formatter
    policy = config.reconnect
    assert (policy.max_attempts, policy.initial_delay, policy.max_delay) == (2, 0.5, 1.0)
    assert config.tool_timeout == 5
    assert normalize_run_config({"reconnect": False}).reconnect.max_attempts == 0
    assert normalize_run_config(config) is config


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"model_setting": {}}, "unknown run config key 'model_setting'"),
        ({"model_settings": {"volume": 1}}, "unknown model setting 'volume'"),
        ({"output_guardrails": "g"}, "'output_guardrails' must be a list"),
        ({"guardrails_settings": {"debounce": 3}}, "unknown guardrails_settings key 'debounce'"),
        ({"guardrails_settings": {"debounce_text_length": 0}},
         "debounce_text_length' must be an integer > 0"),
        ({"async_tool_calls": "yes"}, "'async_tool_calls' must be true or false"),
        ({"tool_error_formatter": "oops"}, "'tool_error_formatter' must be callable"),
        ({"reconnect": {"tries": 3}}, "unknown reconnect key 'tries'"),
        ({"reconnect": {"max_attempts": -1}}, "'reconnect.max_attempts' must be an integer >= 0"),
        ({"reconnect": {"initial_delay": 5.0, "max_delay": 1.0}}, "max_delay' must be >= "),
        ({"tool_timeout": 0}, "'tool_timeout' must be a number > 0"),
        ([("tool_timeout", 1)], "run config must be a mapping"),
    ],
)
def test_run_config_errors(given: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        normalize_run_config(given)


# -- model config and api keys ----------------------------------------------------------------------


def test_model_config_defaults_and_values() -> None:
    config = normalize_model_config(None)
    assert config == ModelConfig()
    assert config.max_message_size == 8 * 1024 * 1024 and config.api_key is None and config.call_id is None
    tracker = object()
    config = normalize_model_config(
        {"api_key": "sk-test", "url": "wss://example.invalid/openai/v1/realtime?model=dep",
         "headers": {"api-key": "k"},
         "initial_model_settings": {"input_audio_format": "g711_ulaw"}, "playback_tracker": tracker,
         "open_timeout": 3, "max_message_size": None, "ping_interval": None}
    )
    assert config.initial_model_settings.input_format == "g711_ulaw" and config.playback_tracker is tracker
    assert config.headers == {"api-key": "k"} and config.max_message_size is None and config.open_timeout == 3
    attached = normalize_model_config({"call_id": "rtc_123", "initial_model_settings": {"voice": "ash"}})
    assert attached.call_id == "rtc_123"


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"call_id": "rtc_1", "initial_model_settings": {"model_name": "gpt-realtime"}}, "call_id"),
        ({"api_keys": "x"}, "unknown model config key 'api_keys'"),
        ({"api_key": 12345}, "'api_key' must be a non-empty string or a callable, got int"),
        ({"url": "https://api.openai.com/v1/realtime"}, "'url' must be a ws:// or wss:// URL"),
        ({"headers": {"api-key": 1}}, "'headers' must be a mapping"),
        ({"call_id": ""}, "'call_id' must be a non-empty string"),
        ({"max_message_size": 0}, "'max_message_size' must be an integer > 0 or None"),
        ({"open_timeout": -1}, "'open_timeout' must be a number > 0 or None"),
        ({"initial_model_settings": {"turn_detection": {"type": "x"}}}, "turn_detection.type"),
    ],
)
def test_model_config_errors(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        normalize_model_config(given)


async def test_api_key_resolution() -> None:
    environ = {"OPENAI_API_KEY": "sk-env"}

    async def async_key() -> str:
        return "sk-async"

    assert await resolve_api_key(normalize_model_config({"api_key": "sk-str"}), environ) == "sk-str"
    assert await resolve_api_key(normalize_model_config({"api_key": lambda: "sk-sync"}), environ) == "sk-sync"
    assert await resolve_api_key(normalize_model_config({"api_key": async_key}), environ) == "sk-async"
    assert await resolve_api_key(normalize_model_config(None), environ) == "sk-env"
    assert await resolve_api_key(normalize_model_config(None), {}) is None
    assert await resolve_api_key(normalize_model_config(None), {"OPENAI_API_KEY": ""}) is None
    with pytest.raises(ConfigError, match="must return a non-empty string, got NoneType"):
        await resolve_api_key(normalize_model_config({"api_key": lambda: None}), environ)


def test_reprs_never_show_secrets() -> None:
    secret = "sk-very-secret-123"
    config = normalize_model_config(
        {"api_key": secret, "headers": {"api-key": secret, "X-Trace": "t"},
         "url": f"wss://example.invalid/realtime?model=m&api-key={secret}"}
    )
    text = repr(config)
    assert secret not in text and "api_key='***'" in text and "X-Trace" in text and "model=m" in text
    assert secret not in str(config)
    assert "<callable>" in repr(normalize_model_config({"api_key": lambda: secret}))
    run = normalize_run_config({"model_settings": SEED_STYLE})
    assert "voice='alloy'" in repr(run) and secret not in repr(run)
