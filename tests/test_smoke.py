"""The project skeleton: settings load, the admin answers, the ASGI application imports."""
from __future__ import annotations

import pytest
from django.conf import settings


def test_the_app_is_installed_after_daphne() -> None:
    apps = settings.INSTALLED_APPS
    assert apps[0] == "daphne"
    assert "realtime_agents" in apps


@pytest.mark.django_db
def test_admin_login_page_renders(client) -> None:
    response = client.get("/admin/login/")
    assert response.status_code == 200


@pytest.mark.parametrize(("redis_url", "cache_backend"), [
    ("", "django.core.cache.backends.locmem.LocMemCache"),
    ("redis://127.0.0.1:6379/0", "django.core.cache.backends.redis.RedisCache"),
])
def test_the_demo_project_shares_its_cache_through_redis_when_configured(redis_url: str, cache_backend: str) -> None:
    """Several server processes must see one another's webhook dedupe and call decisions."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings", "REDIS_URL": redis_url}
    script = ("import django, json; django.setup(); from django.conf import settings; "
              "print(json.dumps([settings.CACHES['default']['BACKEND'], "
              "settings.CHANNEL_LAYERS['default']['BACKEND']]))")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60,
                         check=True)
    cache, layer = json.loads(out.stdout.strip().splitlines()[-1])
    assert cache == cache_backend
    assert layer.endswith("RedisChannelLayer" if redis_url else "InMemoryChannelLayer")
