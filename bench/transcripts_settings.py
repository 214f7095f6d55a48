"""Django settings of the transcripts benchmark: the demo project's, on the dedicated bench database."""

from __future__ import annotations

import os

import environ

from project.settings import *  # noqa: F403 - the demo project's admin and API are what the bench times

# bench.transcripts sets this to its own database, never the test suite's.
DATABASES = {"default": environ.Env.db_url_config(os.environ["BENCH_DATABASE_URL"])}
# Persistent connections, as a production site has: the figures are the queries', not connection setup's.
DATABASES["default"]["CONN_MAX_AGE"] = 600
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1"]
SECRET_KEY = "bench-transcripts-not-a-secret"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"realtime_agents": {"handlers": ["console"], "level": "WARNING"}},
}
