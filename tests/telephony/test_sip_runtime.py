"""SIP runtime parts: cache-backed dedupe (local memory and Redis), the call registry, playback state."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.test import AsyncClient, override_settings

from realtime_agents.engine.testing import FakeRealtimeServer
from realtime_agents.telephony.dedupe import CacheDeduplicator
from realtime_agents.telephony.sip_registry import CallRegistry, RegistryFull, calls
from realtime_agents.telephony.sip_session import CallPlayback
from realtime_agents.telephony.testing import FakeCallsApi
from tests.rows import close_db_threads  # noqa: F401  (fixture)
from tests.telephony.sip_helpers import (
    API_KEY,
    WEBHOOK_PATH,
    call_conversation,
    delivery,
    requests_for,
    settings_for,
    sip_channel,
)

REDIS_URL = os.environ.get("REDIS_URL", "")
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="REDIS_URL is not set: the Redis-backed dedupe is not tested"
)
REDIS_CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}


# -- dedupe ---------------------------------------------------------------------------------


def _cache(kind: str) -> Any:
    if kind == "redis":
        from django.core.cache.backends.redis import RedisCache

        return RedisCache(REDIS_URL, {})
    return LocMemCache(f"sip-dedupe-{uuid.uuid4().hex}", {})


@pytest.mark.parametrize("kind", ["locmem", pytest.param("redis", marks=needs_redis)])
def test_the_first_claim_wins_until_released(kind: str) -> None:
    dedupe = CacheDeduplicator(ttl_s=60, cache=_cache(kind))
    key = f"wh_{uuid.uuid4().hex}"
    assert dedupe.claim(key) is True
    assert dedupe.claim(key) is False
    assert CacheDeduplicator(ttl_s=60, cache=dedupe.cache).claim(key) is False  # another worker, same cache
    dedupe.release(key)
    assert dedupe.claim(key) is True
    dedupe.release(key)


@pytest.mark.parametrize("kind", ["locmem", pytest.param("redis", marks=needs_redis)])
async def test_async_claims_race_to_one_winner(kind: str) -> None:
    dedupe = CacheDeduplicator(ttl_s=60, cache=_cache(kind))
    key = f"wh_{uuid.uuid4().hex}"
    results = await asyncio.gather(*(dedupe.aclaim(key) for _ in range(8)))
    assert sorted(results) == [False] * 7 + [True]
    await dedupe.arelease(key)
    assert await dedupe.aclaim(key) is True
    await dedupe.arelease(key)


def test_claims_expire_and_odd_ids_are_safe_keys() -> None:
    dedupe = CacheDeduplicator(ttl_s=1, cache=_cache("locmem"))
    odd = "wh id with spaces and ünïcode " + "x" * 400
    assert dedupe.claim(odd) is True
    assert dedupe.cache_key(odd).isascii() and len(dedupe.cache_key(odd)) < 100
    time.sleep(1.1)
    assert dedupe.claim(odd) is True  # forgotten after ttl_s


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        CacheDeduplicator(ttl_s=0)
    with pytest.raises(ValueError, match="non-empty"):
        CacheDeduplicator(ttl_s=1).claim("")


@pytest.fixture
def api() -> Iterator[FakeCallsApi]:
    with FakeCallsApi() as fake:
        yield fake


@needs_redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_threads")
async def test_with_redis_as_the_cache_a_repeated_delivery_is_accepted_once(api: FakeCallsApi) -> None:
    await sip_channel()
    call_id = api.add_call()
    headers, body = delivery(call_id)
    sent = {k: v for k, v in headers.items() if k != "content-type"}
    with override_settings(REALTIME_AGENTS=settings_for(api), CACHES=REDIS_CACHES):
        assert caches["default"].__class__.__name__ == "RedisCache"
        client = AsyncClient()
        first = await client.post(WEBHOOK_PATH, data=body, content_type="application/json", headers=sent)
        second = await client.post(WEBHOOK_PATH, data=body, content_type="application/json", headers=sent)
        await calls.wait_idle()
    assert (first.json(), second.json()) == ({"status": "processing"}, {"status": "duplicate"})
    assert len(requests_for(api, call_id, "accept")) == 1


# -- the registry ---------------------------------------------------------------------------


async def test_the_registry_names_bounds_and_cancels_its_tasks() -> None:
    registry = CallRegistry(max_calls=2)
    gate = asyncio.Event()

    async def call() -> None:
        await gate.wait()

    first = registry.start("rtc_a", call())
    assert first is not None and first.get_name() == "realtime-sip-call-rtc_a"
    assert registry.start("rtc_a", call()) is None  # the same call twice: one task
    registry.start("rtc_b", call())
    with pytest.raises(RegistryFull):
        registry.start("rtc_c", call())
    assert len(registry) == 2 and "rtc_a" in registry
    gate.set()
    await registry.wait_idle(timeout=2)
    assert len(registry) == 0

    gate.clear()
    task = registry.start("rtc_d", call())
    await registry.aclose()
    assert task is not None and task.cancelled() and len(registry) == 0


async def test_a_failing_call_is_logged_and_forgotten(caplog: pytest.LogCaptureFixture) -> None:
    registry = CallRegistry()

    async def broken() -> None:
        raise RuntimeError("boom")

    registry.start("rtc_x", broken())
    await registry.wait_idle(timeout=2)
    assert "SIP call rtc_x failed" in caplog.text
    with pytest.raises(ValueError, match="max_calls"):
        CallRegistry(max_calls=0)


# -- playback state ---------------------------------------------------------------------------


async def test_playback_is_quiet_only_when_no_response_runs_and_nothing_plays() -> None:
    playback = CallPlayback()
    assert playback.quiet
    playback.observe({"type": "response.created", "response": {"id": "r1"}})
    playback.observe({"type": "output_audio_buffer.started", "response_id": "r1"})
    playback.observe({"type": "response.done", "response": {"id": "r1"}})
    assert not playback.quiet  # the response is done but OpenAI is still playing it
    assert await playback.wait_quiet(timeout=0.05) is False
    waiter = asyncio.create_task(playback.wait_quiet(timeout=2))
    playback.observe({"type": "output_audio_buffer.stopped", "response_id": "r1"})
    assert await waiter is True
    playback.observe({"type": "response.created", "response": {"id": "r2"}})
    playback.observe({"type": "output_audio_buffer.cleared"})
    assert not playback.quiet
    playback.observe({"type": "response.done", "response": {"id": "r2"}})
    playback.observe("not an event")
    playback.observe({"type": "response.output_audio.delta", "delta": "AAAA"})
    assert playback.quiet
    playback.observe({"type": "output_audio_buffer.started", "response_id": "r3"})
    playback.reset()  # re-attached: what was playing is unknown, so nothing waits for it
    assert playback.quiet


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_threads")
async def test_closing_the_registry_hangs_up_live_calls_and_finalises_them(api: FakeCallsApi) -> None:
    await sip_channel()
    call_id = api.add_call()
    headers, body = delivery(call_id)
    sent = {k: v for k, v in headers.items() if k != "content-type"}
    async with FakeRealtimeServer(api_key=API_KEY) as server:
        with override_settings(REALTIME_AGENTS=settings_for(api, server.url)):
            # Through the async test client the call task runs on this loop, so it can be closed here.
            response = await AsyncClient().post(WEBHOOK_PATH, data=body, content_type="application/json",
                                                headers=sent)
            assert response.json() == {"status": "processing"}
            await server.wait_for_connection()
            await call_conversation(call_id, ended=False)
            await calls.aclose()
            row = await call_conversation(call_id)
    assert row.end_reason == "server_shutdown"
    assert api.actions(call_id) == ["accept", "hangup"]
    assert len(calls) == 0


@pytest.mark.django_db(transaction=True)
async def test_an_oversized_delivery_gets_413(api: FakeCallsApi) -> None:
    headers, body = delivery(api.add_call())
    sent = {k: v for k, v in headers.items() if k != "content-type"}
    with override_settings(REALTIME_AGENTS=settings_for(api), DATA_UPLOAD_MAX_MEMORY_SIZE=100):
        response = await AsyncClient().post(WEBHOOK_PATH, data=body, content_type="application/json",
                                            headers=sent)
    assert (response.status_code, response.json()) == (413, {"error": "too_large"})
    assert api.requests == []
