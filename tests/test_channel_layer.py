"""The configured channel layer (in memory, or channels-redis when REDIS_URL is set) works end to end."""
from __future__ import annotations

import asyncio
import os

from channels.layers import get_channel_layer
from django.conf import settings


def test_the_layer_follows_redis_url() -> None:
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    redis = bool(os.environ.get("REDIS_URL"))
    assert backend == ("channels_redis.core.RedisChannelLayer" if redis else "channels.layers.InMemoryChannelLayer")


async def test_group_messages_reach_every_member_and_only_them() -> None:
    layer = get_channel_layer()
    assert layer is not None
    members = [await layer.new_channel() for _ in range(2)]
    outsider = await layer.new_channel()
    for name in members:
        await layer.group_add("realtime-agents-test", name)
    await layer.group_send("realtime-agents-test", {"type": "conversation.end", "reason": "staff"})
    async with asyncio.timeout(5):
        received = [await layer.receive(name) for name in members]
    assert received == [{"type": "conversation.end", "reason": "staff"}] * 2
    for name in members:
        await layer.group_discard("realtime-agents-test", name)
    await layer.send(outsider, {"type": "ping"})
    async with asyncio.timeout(5):
        assert await layer.receive(outsider) == {"type": "ping"}
