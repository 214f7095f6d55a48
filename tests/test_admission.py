"""Admission of browser sessions: Origin rules, session limits with reservations, and transport choice."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
from django.test import override_settings

from realtime_agents.admission import (
    CloseCode,
    Refused,
    SessionSlots,
    check_origin,
    client_ip,
    origin_allowed,
    reserve_slot,
    scope_header,
)
from realtime_agents.engine import AgentSpec
from realtime_agents.engine.openai_realtime import OpenAIRealtimeModel
from realtime_agents.specs import LoadedChannel
from realtime_agents.transports import TransportUnavailable, browser_model_settings, choose_transport
from tests.rows import close_db_threads  # noqa: F401  (fixture)

HOSTS = ["testserver", ".example.org"]


def loaded(**fields: Any) -> LoadedChannel:
    """A LoadedChannel value without database rows."""
    agent = AgentSpec(name="Desk", instructions="Help.")
    values: dict[str, Any] = dict(
        channel_id=7,
        slug="desk",
        name="Desk",
        kind="web",
        transport="openai",
        starting_agent=agent,
        agents={"desk": agent},
        model_settings={"model_name": "gpt-realtime"},
        greeting="",
        allowed_origins=(),
        max_session_seconds=60,
        max_concurrent_sessions=3,
        show_tool_arguments=False,
        retention_days=None,
    )
    values.update(fields)
    return LoadedChannel(**values)


def scope(origin: str | None = "http://testserver", ip: str = "10.0.0.1") -> dict[str, Any]:
    headers = [(b"user-agent", b"pytest")]
    if origin is not None:
        headers.append((b"origin", origin.encode("latin-1")))
    return {"type": "websocket", "headers": headers, "client": (ip, 50000)}


# -- Origin ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("http://testserver", True),
        ("https://testserver:443", True),
        ("http://shop.example.org", True),
        ("https://example.org", True),
        ("http://evil.test", False),
        ("http://testserver.evil.test", False),
        ("null", False),
        ("file://", False),
        ("http://", False),
        ("http://testserver:99999", False),
    ],
)
def test_without_channel_origins_the_site_hosts_decide(origin: str, allowed: bool) -> None:
    assert origin_allowed(origin, allowed_origins=(), allowed_hosts=HOSTS, allow_missing=False) is allowed


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://widget.shop.test", True),
        ("https://WIDGET.shop.test:443", True),
        ("http://widget.shop.test", False),  # scheme differs
        ("https://widget.shop.test:8443", False),  # port differs
        ("http://testserver", False),  # the channel's list replaces the site hosts
        ("http://localhost:8000", True),
    ],
)
def test_channel_origins_replace_the_site_hosts(origin: str, allowed: bool) -> None:
    listed = ("https://widget.shop.test", "http://localhost:8000")
    assert origin_allowed(origin, allowed_origins=listed, allowed_hosts=HOSTS, allow_missing=False) is allowed


def test_star_allows_any_origin_but_not_a_missing_one() -> None:
    assert origin_allowed(
        "https://anything.test", allowed_origins=("*",), allowed_hosts=[], allow_missing=False
    )
    assert not origin_allowed(None, allowed_origins=("*",), allowed_hosts=[], allow_missing=False)
    assert origin_allowed(None, allowed_origins=(), allowed_hosts=[], allow_missing=True)


def test_check_origin_reads_the_header_and_the_setting() -> None:
    check_origin(scope("http://testserver"), loaded())
    with pytest.raises(Refused) as caught:
        check_origin(scope("http://evil.test"), loaded())
    assert (caught.value.code, caught.value.reason) == (CloseCode.ORIGIN_NOT_ALLOWED, "origin not allowed")
    with pytest.raises(Refused):
        check_origin(scope(None), loaded())
    with override_settings(REALTIME_AGENTS={"ALLOW_MISSING_ORIGIN": True}):
        check_origin(scope(None), loaded())
        # Allowing a missing Origin does not allow a wrong one.
        with pytest.raises(Refused):
            check_origin(scope("http://evil.test"), loaded())


def test_scope_helpers() -> None:
    assert scope_header(scope(), "User-Agent") == "pytest"
    assert scope_header(scope(), "cookie") is None
    assert client_ip(scope(ip="192.0.2.4")) == "192.0.2.4"
    assert client_ip({"type": "websocket"}) == ""


# -- limits ----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_threads")
async def test_per_ip_limit_counts_reservations_and_release_frees_them() -> None:
    slots = SessionSlots()
    with override_settings(REALTIME_AGENTS={"MAX_SESSIONS_PER_IP": 2}):
        first = await reserve_slot(scope(ip="10.0.0.9"), loaded(), slots=slots)
        second = await reserve_slot(scope(ip="10.0.0.9"), loaded(), slots=slots)
        with pytest.raises(Refused) as caught:
            await reserve_slot(scope(ip="10.0.0.9"), loaded(), slots=slots)
        assert caught.value.code == CloseCode.TOO_MANY_SESSIONS
        assert "address" in caught.value.reason
        # Another address is not affected.
        (await reserve_slot(scope(ip="10.0.0.10"), loaded(), slots=slots)).release()
        first.release()
        first.release()  # idempotent: frees one slot only
        third = await reserve_slot(scope(ip="10.0.0.9"), loaded(), slots=slots)
        with pytest.raises(Refused):
            await reserve_slot(scope(ip="10.0.0.9"), loaded(), slots=slots)
        second.release()
        third.release()
    assert slots.by_ip["10.0.0.9"] == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_threads")
async def test_per_channel_limit_uses_the_channel_maximum() -> None:
    slots = SessionSlots()
    channel = loaded(max_concurrent_sessions=2)
    held = [await reserve_slot(scope(ip=f"10.1.0.{n}"), channel, slots=slots) for n in range(2)]
    with pytest.raises(Refused) as caught:
        await reserve_slot(scope(ip="10.1.0.9"), channel, slots=slots)
    assert "channel" in caught.value.reason
    # Another channel has its own count.
    (await reserve_slot(scope(ip="10.1.0.9"), loaded(channel_id=8), slots=slots)).release()
    for reservation in held:
        reservation.release()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_threads")
async def test_racing_connects_cannot_both_take_the_last_slot() -> None:
    slots = SessionSlots()
    channel = loaded(max_concurrent_sessions=1)
    results = await asyncio.gather(
        *(reserve_slot(scope(ip=f"10.2.0.{n}"), channel, slots=slots) for n in range(5)),
        return_exceptions=True,
    )
    admitted = [r for r in results if not isinstance(r, BaseException)]
    assert len(admitted) == 1
    assert all(isinstance(r, Refused) for r in results if r not in admitted)


# -- transport choice ------------------------------------------------------------------------


def test_openai_transport_uses_the_settings_key_and_url() -> None:
    with override_settings(
        REALTIME_AGENTS={"OPENAI_API_KEY": "sk-test", "OPENAI_REALTIME_URL": "ws://127.0.0.1:9/v1/realtime"}
    ):
        choice = choose_transport(loaded(), playback_tracker="tracker")
    assert choice.name == "openai"
    assert isinstance(choice.model, OpenAIRealtimeModel)
    assert choice.model_config == {
        "api_key": "sk-test",
        "url": "ws://127.0.0.1:9/v1/realtime",
        "playback_tracker": "tracker",
    }


def test_azure_transport_sends_the_api_key_header() -> None:
    settings = {
        "AZURE_OPENAI_API_KEY": "az-key",
        "AZURE_OPENAI_REALTIME_URL": "wss://x.openai.azure.com/openai/v1/realtime?model=d",
    }
    with override_settings(REALTIME_AGENTS=settings):
        choice = choose_transport(loaded(transport="azure"))
    assert choice.model_config == {
        "headers": {"api-key": "az-key"},
        "url": settings["AZURE_OPENAI_REALTIME_URL"],
    }


@pytest.mark.parametrize(
    ("transport", "settings", "fragment"),
    [
        ("openai", {}, "no API key"),
        ("azure", {"AZURE_OPENAI_API_KEY": "az-secret-value"}, "API key and URL needed"),
        ("carrier-pigeon", {}, "unknown transport"),
    ],
)
def test_unusable_transports_are_refused_clearly(
    transport: str, settings: dict[str, str], fragment: str
) -> None:
    with (
        override_settings(REALTIME_AGENTS=settings),
        pytest.raises(TransportUnavailable, match=fragment) as caught,
    ):
        choose_transport(loaded(transport=transport))
    assert "az-secret-value" not in str(caught.value)


def test_offline_transport_needs_no_key_and_uses_the_settings() -> None:
    pytest.importorskip("faster_whisper", reason="the offline voice model is not installed")
    settings = {"OFFLINE_CHAT_URL": "http://127.0.0.1:9/v1", "OFFLINE_CHAT_MODEL": "tiny", "OFFLINE_TTS": "none"}
    with override_settings(REALTIME_AGENTS=settings):
        choice = choose_transport(loaded(transport="offline"), playback_tracker="tracker")
    assert choice.name == "offline"
    assert type(choice.model).__name__ == "OfflineModel"
    assert choice.model_config == {"playback_tracker": "tracker"}


def test_offline_transport_missing_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    # A None entry in sys.modules makes the import fail, as on a site without the extra.
    monkeypatch.setitem(sys.modules, "faster_whisper", None)
    with pytest.raises(TransportUnavailable, match="install-offline"):
        choose_transport(loaded(transport="offline"))


def test_browser_audio_is_always_pcm16() -> None:
    channel = loaded(
        model_settings={
            "model_name": "m",
            "input_audio_format": "g711_ulaw",
            "output_audio_format": "g711_alaw",
            "voice": "marin",
        }
    )
    settings = browser_model_settings(channel)
    assert settings == {
        "model_name": "m",
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm16",
        "voice": "marin",
    }
    # The loaded channel itself is not changed.
    assert channel.model_settings["input_audio_format"] == "g711_ulaw"
    assert dataclasses.is_dataclass(channel)
