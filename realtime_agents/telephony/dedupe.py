"""Webhook dedupe shared by every process: a `Deduplicator` backed by a Django cache (`cache.add`)."""

from __future__ import annotations

import hashlib

from django.core.cache import BaseCache, caches

__all__ = ["CacheDeduplicator"]

KEY_PREFIX = "realtime_agents:webhook:"


class CacheDeduplicator:
    """Remembers webhook ids in a Django cache: `cache.add` is atomic on Redis and within one process.

    The local-memory cache only dedupes within a process; several workers need a shared cache
    (Redis, Memcached, database) for duplicate deliveries reaching different workers.
    """

    def __init__(self, *, ttl_s: int, cache: BaseCache | None = None, alias: str = "default") -> None:
        if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or ttl_s <= 0:
            raise ValueError(f"ttl_s must be a positive whole number of seconds, got {ttl_s!r}")
        self._ttl = ttl_s
        self._cache = cache
        self._alias = alias

    @property
    def cache(self) -> BaseCache:
        """The cache in use (looked up per call so `override_settings(CACHES=...)` takes effect)."""
        return self._cache if self._cache is not None else caches[self._alias]

    @staticmethod
    def cache_key(key: str) -> str:
        """The cache key for a webhook id: hashed, so any id is a valid key on every backend."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"a dedupe key must be a non-empty string, got {key!r:.60}")
        return KEY_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()

    def claim(self, key: str) -> bool:
        """Record `key`; True if it was not seen within the retention time."""
        return bool(self.cache.add(self.cache_key(key), 1, timeout=self._ttl))

    def release(self, key: str) -> None:
        """Forget `key` (the first delivery failed and a retry should be processed)."""
        self.cache.delete(self.cache_key(key))

    async def aclaim(self, key: str) -> bool:
        """`claim` for async callers (the cache call runs off the event loop)."""
        return bool(await self.cache.aadd(self.cache_key(key), 1, timeout=self._ttl))

    async def arelease(self, key: str) -> None:
        """`release` for async callers."""
        await self.cache.adelete(self.cache_key(key))
