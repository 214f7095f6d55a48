"""Model validation: every kind of bad row is refused with a message saying what to fix."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import override_settings

from realtime_agents.engine.config import normalize_model_settings
from realtime_agents.models import Channel, Guardrail, Handoff, Tool
from tests import rows

pytestmark = pytest.mark.django_db


def errors_of(instance: object) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as info:
        instance.full_clean()  # type: ignore[attr-defined]
    return info.value.message_dict


def test_valid_rows_pass() -> None:
    a, b = rows.agent("a"), rows.agent("b")
    for instance in (
        a,
        rows.python_tool("echo"),
        rows.phrases_guardrail("g"),
        rows.handoff(a, b),
        rows.channel("c", a),
    ):
        instance.full_clean()  # raises ValidationError on any problem
        assert instance.pk is not None


@pytest.mark.parametrize("name", ["get-weather", "1st", "has space", "x" * 65, ""])
def test_tool_name_must_be_a_function_name(name: str) -> None:
    tool = Tool(name=name, kind=Tool.Kind.PYTHON, python_function="toolapp_echo")
    assert "name" in errors_of(tool)


def test_python_tool_needs_a_registered_function() -> None:
    messages = errors_of(Tool(name="t", kind=Tool.Kind.PYTHON, python_function="nope"))["python_function"]
    assert "No Python tool is registered as 'nope'" in messages[0]
    assert "toolapp_echo" in messages[0]
    assert "Choose" in errors_of(Tool(name="t", kind=Tool.Kind.PYTHON))["python_function"][0]


def test_http_tool_refuses_a_bad_json_schema() -> None:
    tool = Tool(
        name="t",
        kind=Tool.Kind.HTTP,
        http_url="https://api.example.com/x",
        parameters_schema={"type": "object", "properties": {"city": {"type": "town"}}},
    )
    message = errors_of(tool)["parameters_schema"][0]
    assert "not a valid JSON Schema" in message and "properties/city/type" in message


def test_http_tool_schema_must_describe_an_object() -> None:
    tool = Tool(
        name="t",
        kind=Tool.Kind.HTTP,
        http_url="https://api.example.com/x",
        parameters_schema={"type": "string"},
    )
    assert '"type": "object"' in errors_of(tool)["parameters_schema"][0]


def test_http_tool_url_placeholders_must_be_parameters() -> None:
    tool = Tool(
        name="t",
        kind=Tool.Kind.HTTP,
        http_url="https://api.example.com/{town}",
        parameters_schema={"type": "object", "properties": {"city": {"type": "string"}}},
    )
    assert "{town}" in errors_of(tool)["http_url"][0]


def test_http_tool_needs_a_url() -> None:
    assert "Enter the URL" in errors_of(Tool(name="t", kind=Tool.Kind.HTTP))["http_url"][0]


@override_settings(REALTIME_AGENTS={"SECRETS": {"WEATHER_KEY": "k"}})
def test_http_headers_reference_known_secrets_only() -> None:
    good = Tool(
        name="t",
        kind=Tool.Kind.HTTP,
        http_url="https://api.example.com/x",
        http_headers={"Authorization": "Bearer {secret:WEATHER_KEY}"},
    )
    good.full_clean()
    unknown = Tool(
        name="t",
        kind=Tool.Kind.HTTP,
        http_url="https://api.example.com/x",
        http_headers={"Authorization": "Bearer {secret:NOT_SET_ANYWHERE_42}"},
    )
    assert "unknown secret 'NOT_SET_ANYWHERE_42'" in errors_of(unknown)["http_headers"][0]


def test_credentials_must_not_be_pasted_into_headers() -> None:
    tool = Tool(
        name="t",
        kind=Tool.Kind.HTTP,
        http_url="https://api.example.com/x",
        http_headers={"X-Api-Key": "abc123"},
    )
    assert "looks like a credential" in errors_of(tool)["http_headers"][0]


def test_headers_must_be_an_object_of_strings() -> None:
    base = {"name": "t", "kind": Tool.Kind.HTTP, "http_url": "https://api.example.com/x"}
    assert "JSON object" in errors_of(Tool(**base, http_headers=["a"]))["http_headers"][0]
    assert "must be a string" in errors_of(Tool(**base, http_headers={"Accept": 1}))["http_headers"][0]
    assert (
        "not a valid header name"
        in errors_of(Tool(**base, http_headers={"Bad Header": "x"}))["http_headers"][0]
    )


def test_guardrail_regex_must_compile() -> None:
    guardrail = Guardrail(name="g", kind=Guardrail.Kind.REGEX, pattern="(unclosed")
    assert "does not compile" in errors_of(guardrail)["pattern"][0]


def test_guardrail_needs_a_direction_and_its_kind_field() -> None:
    errors = errors_of(Guardrail(name="g", applies_to_output=False, applies_to_input=False))
    assert "output, the input, or both" in errors["applies_to_output"][0]
    assert "at least one phrase" in errors["blocked_phrases"][0]
    python = errors_of(Guardrail(name="g", kind=Guardrail.Kind.PYTHON, python_check="nope"))
    assert "No guardrail check is registered as 'nope'" in python["python_check"][0]


def test_self_handoff_is_refused_by_clean_and_by_the_database() -> None:
    a = rows.agent("a")
    assert "cannot hand off to itself" in errors_of(Handoff(from_agent=a, to_agent=a))["to_agent"][0]
    with pytest.raises(IntegrityError), transaction.atomic():
        Handoff.objects.create(from_agent=a, to_agent=a)


def test_handoff_to_an_inactive_agent_is_refused() -> None:
    a, b = rows.agent("a"), rows.agent("b", is_active=False)
    assert "'B' is inactive" in errors_of(Handoff(from_agent=a, to_agent=b))["to_agent"][0]


def test_handoff_tool_name_must_not_clash_with_a_tool() -> None:
    a, b = rows.agent("a"), rows.agent("b")
    a.tools.add(rows.python_tool("transfer_to_b"))
    message = errors_of(Handoff(from_agent=a, to_agent=b))["tool_name_override"][0]
    assert "'transfer_to_b' is already used" in message
    Handoff(from_agent=a, to_agent=b, tool_name_override="go_to_b").full_clean()


def test_handoff_override_must_be_a_function_name() -> None:
    a, b = rows.agent("a"), rows.agent("b")
    assert "tool_name_override" in errors_of(Handoff(from_agent=a, to_agent=b, tool_name_override="go to b"))


def test_deactivating_a_handoff_target_or_starting_agent_is_refused() -> None:
    a, b, c = rows.agent("a"), rows.agent("b"), rows.agent("c")
    rows.handoff(a, b)
    rows.channel("main", c)
    b.is_active = False
    assert "Active agents hand off to this agent (A)" in errors_of(b)["is_active"][0]
    c.is_active = False
    assert "Active channels start with this agent (Main)" in errors_of(c)["is_active"][0]


def test_channel_needs_an_active_starting_agent() -> None:
    assert "needs a starting agent" in errors_of(Channel(name="c", slug="c"))["starting_agent"][0]
    idle = rows.agent("idle", is_active=False)
    assert (
        "'Idle' is inactive"
        in errors_of(Channel(name="c", slug="c", starting_agent=idle))["starting_agent"][0]
    )


def test_channel_origins_must_be_origins() -> None:
    a = rows.agent("a")
    channel = Channel(
        name="c",
        slug="c",
        starting_agent=a,
        allowed_origins="https://example.com\nhttp://localhost:8000\n*\nexample.com/path",
    )
    assert errors_of(channel)["allowed_origins"] == [
        "'example.com/path' is not an origin: write scheme://host[:port] (for example https://example.com), "
        "one per line, or * for any."
    ]


def test_channel_phone_numbers_must_be_unique_e164_on_telephony_channels() -> None:
    a = rows.agent("a")
    web = Channel(name="w", slug="w", starting_agent=a, phone_numbers="+15551234567")
    assert errors_of(web)["phone_numbers"] == ["Phone numbers apply to Twilio and SIP channels only."]
    bad = Channel(name="s", slug="s", kind="sip", starting_agent=a, phone_numbers="+15551234567\n555-1234")
    assert errors_of(bad)["phone_numbers"] == ["'555-1234' is not an E.164 number (+ and 8 to 15 digits)."]
    twice = Channel(name="s", slug="s", kind="sip", starting_agent=a, phone_numbers="+15551234567\n+15551234567")
    assert errors_of(twice)["phone_numbers"] == ["A number is listed twice."]
    first = Channel(name="t", slug="t", kind="twilio", starting_agent=a, phone_numbers=" +15551234567 \n\n")
    first.full_clean()
    first.save()
    assert first.numbers() == ["+15551234567"]
    second = Channel(name="s", slug="s", kind="sip", starting_agent=a, phone_numbers="+15551234567")
    assert errors_of(second)["phone_numbers"] == ["+15551234567 already reaches channel 't'."]
    first.full_clean()  # a channel does not collide with itself
    first.transfer_numbers = "+442079460958\n0800 123"
    assert errors_of(first)["transfer_numbers"] == ["'0800 123' is not an E.164 number (+ and 8 to 15 digits)."]
    web.phone_numbers = ""
    web.transfer_numbers = "+442079460958"
    assert errors_of(web)["transfer_numbers"] == ["Transfers apply to Twilio and SIP channels only."]


def test_channel_transcription_none_turns_the_default_off() -> None:
    a = rows.agent("a")
    assert "input_audio_transcription" not in Channel(name="c", starting_agent=a).engine_model_settings()
    off = Channel(name="c", slug="c", starting_agent=a, transcription_model="none")
    assert off.engine_model_settings()["input_audio_transcription"] is None
    off.transcription_language = "en"
    assert "Choose a transcription model" in errors_of(off)["transcription_model"][0]


def test_channel_vad_options_must_fit_the_vad_type() -> None:
    a = rows.agent("a")
    errors = errors_of(Channel(name="c", slug="c", starting_agent=a, vad_threshold=0.5))
    assert "Set a turn detection type" in errors["vad_threshold"][0]
    errors = errors_of(
        Channel(
            name="c", slug="c", starting_agent=a, turn_detection="semantic_vad", vad_silence_duration_ms=500
        )
    )
    assert "only applies to server VAD" in errors["vad_silence_duration_ms"][0]
    errors = errors_of(
        Channel(name="c", slug="c", starting_agent=a, turn_detection="server_vad", vad_eagerness="low")
    )
    assert "only applies to semantic VAD" in errors["vad_eagerness"][0]
    errors = errors_of(
        Channel(
            name="c", slug="c", starting_agent=a, speed=2.0, vad_threshold=1.5, turn_detection="server_vad"
        )
    )
    assert set(errors) == {"speed", "vad_threshold"}


def test_channel_model_settings_hold_only_what_is_set() -> None:
    a = rows.agent("a")
    assert rows.channel("bare", a).engine_model_settings() == {}
    assert rows.channel("named", a).engine_model_settings(default_model="gpt-realtime") == {
        "model_name": "gpt-realtime"
    }


def test_channel_model_settings_in_the_engine_spelling() -> None:
    a = rows.agent("a")
    channel = rows.channel(
        "full",
        a,
        model_name="gpt-realtime-mini",
        voice="marin",
        output_modalities="audio",
        input_audio_format="g711_ulaw",
        output_audio_format="g711_ulaw",
        transcription_model="gpt-4o-mini-transcribe",
        transcription_language="fr",
        transcription_prompt="Hotel names",
        turn_detection="server_vad",
        vad_threshold=0.6,
        vad_prefix_padding_ms=300,
        vad_silence_duration_ms=500,
        vad_idle_timeout_ms=6000,
        vad_interrupt_response=True,
        vad_create_response=False,
        noise_reduction="far_field",
        speed=1.1,
    )
    channel.full_clean()
    settings = channel.engine_model_settings(default_model="ignored")
    assert settings == {
        "model_name": "gpt-realtime-mini",
        "voice": "marin",
        "output_modalities": ["audio"],
        "input_audio_format": "g711_ulaw",
        "output_audio_format": "g711_ulaw",
        "input_audio_transcription": {
            "model": "gpt-4o-mini-transcribe",
            "language": "fr",
            "prompt": "Hotel names",
        },
        "turn_detection": {
            "type": "server_vad",
            "threshold": 0.6,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 500,
            "idle_timeout_ms": 6000,
            "interrupt_response": True,
            "create_response": False,
        },
        "input_audio_noise_reduction": {"type": "far_field"},
        "speed": 1.1,
    }
    normalized = normalize_model_settings(settings)
    assert normalized.model_name == "gpt-realtime-mini"
    assert normalized.speed == 1.1


def test_channel_can_switch_vad_and_noise_reduction_off() -> None:
    a = rows.agent("a")
    channel = rows.channel("ptt", a, turn_detection="none", noise_reduction="none")
    settings = channel.engine_model_settings()
    assert settings == {"turn_detection": None, "input_audio_noise_reduction": None}
    normalized = normalize_model_settings(settings)
    assert normalized.turn_detection is None and normalized.noise_reduction is None
    semantic = rows.channel("sem", a, turn_detection="semantic_vad", vad_eagerness="high")
    assert semantic.engine_model_settings()["turn_detection"] == {"type": "semantic_vad", "eagerness": "high"}
