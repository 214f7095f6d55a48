"""The demo command: idempotent demo rows that load as a working graph, and the admin login."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from demo.realtime_tools import book_table, current_time, get_weather
from realtime_agents.models import Agent, Channel, Guardrail, Handoff, Tool
from realtime_agents.specs import load_channel
from tests.rows import close_db_threads  # noqa: F401,E402  (fixture)

pytestmark = pytest.mark.django_db


def run(monkeypatch: pytest.MonkeyPatch, password: str | None = None) -> str:
    if password is None:
        monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    else:
        monkeypatch.setenv("DEMO_ADMIN_PASSWORD", password)
    out = StringIO()
    call_command("realtime_agents_demo", stdout=out)
    return out.getvalue()


def counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Agent, Tool, Guardrail, Handoff, Channel, User))


def test_demo_is_idempotent_and_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    first = run(monkeypatch)
    assert counts() == (2, 3, 1, 2, 1, 1)
    assert "password:" in first
    password = first.split("password: ")[1].split()[0]
    assert User.objects.get(username="admin").check_password(password)
    second = run(monkeypatch)
    assert counts() == (2, 3, 1, 2, 1, 1)
    assert password not in second and "user admin" in second
    loaded = load_channel("demo")
    concierge = loaded.starting_agent
    assert concierge.name == "Concierge"
    assert sorted(tool.name for tool in concierge.tools) == ["book_table", "current_time", "get_weather"]
    assert next(t for t in concierge.tools if t.name == "book_table").needs_approval is True
    [to_billing] = concierge.handoffs
    assert to_billing.agent.handoffs[0].agent is concierge
    assert [g.name for g in concierge.output_guardrails] == ["No card numbers"]


def test_admin_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    out = run(monkeypatch, password="demo-pass-1")
    assert "demo-pass-1" in out
    assert User.objects.get(username="admin").check_password("demo-pass-1")
    run(monkeypatch, password="demo-pass-2")
    admin = User.objects.get(username="admin")
    assert admin.check_password("demo-pass-2") and admin.is_staff and admin.is_superuser


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("close_db_threads")
async def test_demo_guardrail_blocks_card_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    from asgiref.sync import sync_to_async

    from realtime_agents.engine.agent import RunContext

    await sync_to_async(run)(monkeypatch)
    loaded = await sync_to_async(load_channel)("demo")
    [guard] = loaded.starting_agent.output_guardrails
    ctx = RunContext()
    assert (
        await guard.check(ctx, loaded.starting_agent, "It is 4111 1111 1111 1111")
    ).tripwire_triggered is True
    assert (await guard.check(ctx, loaded.starting_agent, "Room 101 at 7 pm")).tripwire_triggered is False


def test_demo_tools() -> None:
    assert get_weather("  PARIS ")["condition"] == "light rain"
    # Each result carries a sentence to say, for a voice without a language model (the offline router).
    assert get_weather("Paris")["summary"] == (
        "In Paris today: light rain, 14 degrees, wind 18 kilometres an hour.")
    assert current_time("UTC")["summary"].startswith("It is ")
    assert book_table("Chez Nous", 2, "19:30")["summary"].startswith("Booked: Chez Nous, 2 people, 19:30.")
    assert "the demo knows" in get_weather("Atlantis")["error"]
    assert current_time("Europe/Paris")["timezone"] == "Europe/Paris"
    assert "unknown time zone" in current_time("Mars/Olympus")["error"]
    booking = book_table("Chez Nous", 2, "19:30")
    assert booking["confirmed"] is True and len(booking["reference"]) == 6
    assert "between 1 and 12" in book_table("Chez Nous", 40, "19:30")["error"]
