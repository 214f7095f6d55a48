"""Shared fixtures for the whole suite."""
from __future__ import annotations

import os

import pytest


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say which database and channel layer this run uses, so skips are never silent."""
    database = os.environ.get("DATABASE_URL", "") or "sqlite (in memory); set DATABASE_URL for PostgreSQL"
    redis = os.environ.get("REDIS_URL", "") or "in-memory channel layer; set REDIS_URL for channels-redis"
    return [f"realtime_agents database: {database.split('@')[-1]}", f"realtime_agents channel layer: {redis}"]


# The session-wide live Daphne, for every test module that needs a real server.
from tests.live_server import daphne  # noqa: E402,F401
