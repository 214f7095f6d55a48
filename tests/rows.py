"""Row builders shared by the Django-side tests (real rows in the test database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from realtime_agents.models import Agent, Channel, Guardrail, Handoff, Tool


def agent(slug: str, **fields: Any) -> Agent:
    """An active agent named after its slug."""
    values: dict[str, Any] = {"name": slug.replace("-", " ").title(), "instructions": f"You are {slug}."}
    values.update(fields)
    return Agent.objects.create(slug=slug, **values)


def python_tool(name: str, function: str = "toolapp_echo", **fields: Any) -> Tool:
    """A Python tool row pointing at a registered function."""
    return Tool.objects.create(name=name, kind=Tool.Kind.PYTHON, python_function=function, **fields)


def http_tool(name: str, url: str, **fields: Any) -> Tool:
    """An HTTP tool row."""
    values: dict[str, Any] = {
        "parameters_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
    values.update(fields)
    return Tool.objects.create(name=name, kind=Tool.Kind.HTTP, http_url=url, **values)


def phrases_guardrail(name: str, phrases: str = "refund guaranteed", **fields: Any) -> Guardrail:
    """A blocked-phrases output guardrail."""
    return Guardrail.objects.create(
        name=name, kind=Guardrail.Kind.BLOCKED_PHRASES, blocked_phrases=phrases, **fields
    )


def handoff(source: Agent, target: Agent, **fields: Any) -> Handoff:
    """A handoff row."""
    return Handoff.objects.create(from_agent=source, to_agent=target, **fields)


def channel(slug: str, start: Agent | None, **fields: Any) -> Channel:
    """A web channel starting with `start`."""
    fields.setdefault("name", slug.title())
    return Channel.objects.create(slug=slug, starting_agent=start, **fields)


@pytest.fixture
async def close_db_threads() -> AsyncIterator[None]:
    """Close the connection sync_to_async's worker thread opened, so PostgreSQL can drop the test database."""
    yield
    await sync_to_async(connections.close_all)()
