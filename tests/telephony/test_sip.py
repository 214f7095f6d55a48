"""Tests for SIP call routing: phone numbers from untrusted SIP headers, channel choice, webhook dedupe."""

from __future__ import annotations

import threading

import pytest

from realtime_agents.telephony.sip import (
    ChannelChoice,
    MemoryDeduplicator,
    called_numbers,
    choose_channel,
    header_values,
    normalize_e164,
    number_from_sip_value,
)

# As a SIP trunk forwards a call to sip:proj_...@sip.api.openai.com (the webhook's sip_headers).
HEADERS = [
    {"name": "From", "value": '"Caller" <sip:+15550001111@carrier.example;user=phone>;tag=abc'},
    {"name": "To", "value": "<sip:proj_123@sip.api.openai.com;transport=tls>"},
    {
        "name": "Diversion",
        "value": "<sip:+15557770000@pbx.example>;reason=unconditional, "
        "<tel:+1-555-222-3333>;reason=user-busy",
    },
    {"name": "X-Called-Number", "value": "+44 20 7946 0958"},
    {"name": "Call-ID", "value": "abc@carrier"},
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+15551234567", "+15551234567"),
        ("+1 (555) 123-4567", "+15551234567"),
        ("tel:+1-555-123-4567;phone-context=x", "+15551234567"),
        ("0044 20 7946 0958", "+442079460958"),
        ("15551234567", "+15551234567"),
        ("+0123456789", None),
        ("+1234", None),
        ("+1234567890123456", None),
        ("alice", None),
        ("+١٢٣٤٥٦٧٨", None),
        ("", None),
        ("1" * 100, None),
    ],
)
def test_normalize_e164(value: str, expected: str | None) -> None:
    assert normalize_e164(value) == expected


def test_national_numbers_need_a_default_country_code() -> None:
    assert normalize_e164("020 7946 0958") is None
    assert normalize_e164("020 7946 0958", default_country_code="44") == "+442079460958"
    assert normalize_e164("020 7946 0958", default_country_code="+44") == "+442079460958"
    assert normalize_e164(None) is None  # type: ignore[arg-type]


def test_numbers_from_sip_header_values() -> None:
    assert number_from_sip_value('"Desk" <sip:+15551234567@host;user=phone>;tag=1') == "+15551234567"
    assert number_from_sip_value("sip:15551234567@host") == "+15551234567"
    assert number_from_sip_value("<tel:+15551234567>") == "+15551234567"
    assert number_from_sip_value("<sips:+15551234567;isub=1@host>") == "+15551234567"
    assert number_from_sip_value("<sip:proj_123@sip.api.openai.com>") is None
    assert number_from_sip_value("<sip:sip.example.com>") is None
    assert number_from_sip_value("+1 555 123 4567") == "+15551234567"
    assert number_from_sip_value("<sip:" + "9" * 2000 + "@x>") is None


def test_header_values_are_case_insensitive_ordered_and_tolerant() -> None:
    headers = [
        {"name": "to", "value": "a"},
        {"name": "T", "value": "b"},
        {"name": "To", "value": 5},
        "junk",
        {"value": "c"},
        {"name": "TO", "value": "d"},
    ]
    assert header_values(headers, "To") == ["a", "b", "d"]  # type: ignore[arg-type]
    assert header_values("not a list", "To") == []  # type: ignore[arg-type]


def test_called_numbers_in_order_to_try() -> None:
    assert called_numbers(HEADERS) == [("+15557770000", "Diversion"), ("+15552223333", "Diversion")]
    assert called_numbers(HEADERS, header_names=["X-Called-Number", "To"]) == [
        ("+442079460958", "X-Called-Number")
    ]


def test_choose_channel_by_number_called() -> None:
    channels = {"+1 555 222 3333": "sales", "+15557770000": "support"}
    assert choose_channel(HEADERS, channels) == ChannelChoice(
        channel="support", number="+15557770000", header="Diversion"
    )
    direct = [{"name": "To", "value": "<sip:+15552223333@sip.api.openai.com>"}, *HEADERS[2:]]
    assert choose_channel(direct, channels) == ChannelChoice(
        channel="sales", number="+15552223333", header="To"
    )
    # The configured header wins over To and Diversion.
    by_header = choose_channel(HEADERS, {"+442079460958": "uk", **channels}, number_header="X-Called-Number")
    assert by_header is not None and by_header.channel == "uk"
    assert choose_channel(HEADERS, {"+19999999999": "other"}) is None
    assert choose_channel([], channels) is None


def test_choose_channel_refuses_a_misconfigured_number() -> None:
    with pytest.raises(ValueError, match="not a phone number"):
        choose_channel(HEADERS, {"support line": "support"})


def test_dedupe_first_delivery_only_until_the_ttl() -> None:
    now = [1000.0]
    dedupe = MemoryDeduplicator(ttl_s=60, clock=lambda: now[0])
    assert dedupe.claim("wh_1") is True
    assert dedupe.claim("wh_1") is False
    assert dedupe.claim("wh_2") is True
    now[0] += 61
    assert dedupe.claim("wh_1") is True, "remembered for ttl_s only"
    assert len(dedupe) == 1, "expired ids are dropped"
    dedupe.release("wh_1")
    assert dedupe.claim("wh_1") is True, "a released id (failed handling) is processed again"


def test_dedupe_is_bounded_and_thread_safe() -> None:
    dedupe = MemoryDeduplicator(max_entries=3)
    for key in ("a", "b", "c", "d"):
        assert dedupe.claim(key)
    assert len(dedupe) == 3 and dedupe.claim("a") is True, "the oldest was evicted"
    results: list[bool] = []
    lock = threading.Lock()

    def claim() -> None:
        outcome = dedupe.claim("race")
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)
    assert sorted(results) == [False] * 15 + [True]


def test_dedupe_bad_arguments() -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        MemoryDeduplicator(ttl_s=0)
    with pytest.raises(ValueError, match="max_entries"):
        MemoryDeduplicator(max_entries=0)
    with pytest.raises(ValueError, match="dedupe key"):
        MemoryDeduplicator().claim("")
