"""Django settings of the relay benchmark: the demo project's, with bench limits and a throwaway database."""

from __future__ import annotations

import os

from project.settings import *  # noqa: F403 - the demo project's settings are the point of the bench
from project.settings import REALTIME_AGENTS as _DEMO_REALTIME_AGENTS

# bench.relay sets these; a throwaway SQLite file unless it created a PostgreSQL database.
if os.environ.get("BENCH_DATABASE_URL"):
    import environ

    DATABASES = {"default": environ.Env.db_url_config(os.environ["BENCH_DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_SQLITE_PATH", "/tmp/realtime-agents-bench.sqlite3"),
            # Recorder batches from hundreds of sessions queue on SQLite's one writer.
            "OPTIONS": {"timeout": 30},
        }
    }

# Hundreds of sessions from one address on one channel, each longer than the run.
REALTIME_AGENTS = {
    **_DEMO_REALTIME_AGENTS,
    "MAX_SESSIONS_PER_IP": 100_000,
    "MAX_SESSIONS_PER_CHANNEL": 100_000,
    "MAX_SESSION_SECONDS": 3600,
}
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
SECRET_KEY = "bench-relay-not-a-secret"
# One line per conversation at INFO would be noise at N=200; warnings still show.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"realtime_agents": {"handlers": ["console"], "level": "WARNING"}},
}
