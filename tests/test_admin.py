"""The admin through the test client: list, add and change pages, validation messages, staff pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from realtime_agents.models import Agent, Channel, Guardrail, Handoff, Tool
from tests import rows

pytestmark = pytest.mark.django_db

MODELS = ["agent", "tool", "guardrail", "channel"]


@pytest.fixture
def staff(client: Client) -> Client:
    user = User.objects.create_superuser("boss", "boss@example.com", "pw")
    client.force_login(user)
    return client


def inline_management(prefix: str = "outgoing_handoffs", total: int = 0, initial: int = 0) -> dict[str, Any]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def agent_post(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "slug": name.lower(),
        "instructions": "Be nice.",
        "is_active": "on",
        **inline_management(),
        **extra,
    }


@pytest.mark.parametrize("model", MODELS)
def test_list_and_add_pages_render(staff: Client, model: str) -> None:
    agent = rows.agent("concierge")
    rows.python_tool("echo")
    rows.phrases_guardrail("polite")
    rows.channel("demo", agent)
    changelist = staff.get(reverse(f"admin:realtime_agents_{model}_changelist"), {"q": "o"})
    assert changelist.status_code == 200
    add = staff.get(reverse(f"admin:realtime_agents_{model}_add"))
    assert add.status_code == 200


def test_change_pages_render(staff: Client) -> None:
    a, b = rows.agent("a"), rows.agent("b")
    rows.handoff(a, b)
    tool = rows.python_tool("echo")
    guardrail = rows.phrases_guardrail("g")
    channel = rows.channel("demo", a)
    for name, obj in [("agent", a), ("tool", tool), ("guardrail", guardrail), ("channel", channel)]:
        response = staff.get(reverse(f"admin:realtime_agents_{name}_change", args=[obj.pk]))
        assert response.status_code == 200, name
    page = staff.get(reverse("admin:realtime_agents_channel_change", args=[channel.pk])).content.decode()
    assert reverse("realtime_agents:try_it", args=["demo"]) in page
    assert reverse("admin:realtime_agents_channel_graph", args=[channel.pk]) in page


def test_non_staff_are_refused(client: Client) -> None:
    User.objects.create_user("joe", password="pw")
    client.login(username="joe", password="pw")
    channel = rows.channel("demo", rows.agent("a"))
    for url in [
        reverse("admin:realtime_agents_agent_changelist"),
        reverse("realtime_agents:try_it", args=["demo"]),
        reverse("admin:realtime_agents_channel_graph", args=[channel.pk]),
    ]:
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_tool_page_offers_registered_functions_and_shows_their_schema(staff: Client) -> None:
    page = staff.get(reverse("admin:realtime_agents_tool_add")).content.decode()
    assert '<option value="toolapp_echo">toolapp_echo</option>' in page
    assert "What to repeat." in page  # the parameter description in the derived schema
    tool = rows.python_tool("echo", "toolapp_echo")
    page = staff.get(reverse("admin:realtime_agents_tool_change", args=[tool.pk])).content.decode()
    assert "&quot;required&quot;: [" in page and "&quot;text&quot;" in page


def test_unregistered_function_is_refused(staff: Client) -> None:
    data = {
        "name": "echo",
        "kind": "python",
        "python_function": "ghost",
        "http_method": "GET",
        "http_headers": "{}",
        "parameters_schema": "{}",
        "starts_response": "unknown",
    }
    response = staff.post(reverse("admin:realtime_agents_tool_add"), data)
    assert "No Python tool is registered as &#x27;ghost&#x27;" in response.content.decode()
    assert not Tool.objects.exists()


def test_add_python_tool(staff: Client) -> None:
    data = {
        "name": "echo",
        "kind": "python",
        "python_function": "toolapp_echo",
        "http_method": "GET",
        "http_headers": "{}",
        "parameters_schema": "{}",
        "enabled": "on",
        "starts_response": "unknown",
    }
    response = staff.post(reverse("admin:realtime_agents_tool_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Tool.objects.get(name="echo").python_function == "toolapp_echo"


def test_bad_tool_is_refused_with_messages(staff: Client) -> None:
    data = {
        "name": "get-weather",
        "kind": "http",
        "http_url": "https://api.example.com/{town}",
        "http_method": "GET",
        "http_headers": '{"Authorization": "Bearer abc"}',
        "parameters_schema": '{"type": "object", "properties": {"city": {"type": "town"}}}',
        "starts_response": "unknown",
    }
    response = staff.post(reverse("admin:realtime_agents_tool_add"), data)
    assert response.status_code == 200
    page = response.content.decode()
    assert "is not a valid function name" in page
    assert "not a valid JSON Schema" in page
    assert "looks like a credential" in page
    assert not Tool.objects.exists()


def test_add_agent_with_handoffs(staff: Client) -> None:
    billing = rows.agent("billing")
    data = agent_post(
        "Concierge",
        **inline_management(total=1),
        **{"outgoing_handoffs-0-to_agent": str(billing.pk), "outgoing_handoffs-0-order": "0"},
    )
    response = staff.post(reverse("admin:realtime_agents_agent_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    concierge = Agent.objects.get(slug="concierge")
    assert list(concierge.outgoing_handoffs.values_list("to_agent__slug", flat=True)) == ["billing"]


def test_agent_tool_and_handoff_names_must_not_clash(staff: Client) -> None:
    billing = rows.agent("billing")
    clash = rows.python_tool("transfer_to_billing")
    data = agent_post(
        "Concierge",
        tools=[str(clash.pk)],
        **inline_management(total=1),
        **{"outgoing_handoffs-0-to_agent": str(billing.pk), "outgoing_handoffs-0-order": "0"},
    )
    response = staff.post(reverse("admin:realtime_agents_agent_add"), data)
    assert response.status_code == 200
    assert (
        "Two tools of this agent would have the same name (transfer_to_billing)" in response.content.decode()
    )
    assert not Agent.objects.filter(slug="concierge").exists()


def test_self_handoff_and_inactive_target_are_refused(staff: Client) -> None:
    agent = rows.agent("a")
    idle = rows.agent("idle", is_active=False)
    url = reverse("admin:realtime_agents_agent_change", args=[agent.pk])
    for target, message in [(agent, "cannot hand off to itself"), (idle, "is inactive")]:
        data = agent_post(
            "A",
            slug="a",
            **inline_management(total=1),
            **{"outgoing_handoffs-0-to_agent": str(target.pk), "outgoing_handoffs-0-order": "0"},
        )
        response = staff.post(url, data)
        assert response.status_code == 200
        assert message in response.content.decode()
    assert not Handoff.objects.exists()


def test_bad_guardrail_regex_and_unknown_check(staff: Client) -> None:
    url = reverse("admin:realtime_agents_guardrail_add")
    response = staff.post(url, {"name": "g", "kind": "regex", "pattern": "(oops", "applies_to_output": "on"})
    assert "does not compile" in response.content.decode()
    response = staff.post(
        url, {"name": "g", "kind": "python", "python_check": "nope", "applies_to_output": "on"}
    )
    assert "No guardrail check is registered as &#x27;nope&#x27;" in response.content.decode()
    response = staff.post(
        url, {"name": "g", "kind": "python", "python_check": "toolapp_no_banana", "applies_to_output": "on"}
    )
    assert response.status_code == 302
    assert Guardrail.objects.get().python_check == "toolapp_no_banana"


def test_channel_without_starting_agent_is_refused(staff: Client) -> None:
    data = {
        "name": "Demo",
        "slug": "demo",
        "kind": "web",
        "transport": "default",
        "is_active": "on",
        "vad_interrupt_response": "unknown",
        "vad_create_response": "unknown",
    }
    response = staff.post(reverse("admin:realtime_agents_channel_add"), data)
    assert response.status_code == 200
    assert "a channel needs a starting agent" in response.content.decode()
    data["starting_agent"] = str(rows.agent("a").pk)
    response = staff.post(reverse("admin:realtime_agents_channel_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Channel.objects.get().starting_agent.slug == "a"


def test_try_it_page_embeds_the_widget_placeholder_escaped(staff: Client) -> None:
    rows.channel("demo", rows.agent("<b>bold</b>"), name="<script>alert(1)</script>")
    page = staff.get(reverse("realtime_agents:try_it", args=["demo"])).content.decode()
    assert '<realtime-agent-widget data-channel="demo"' in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert staff.get(reverse("realtime_agents:try_it", args=["missing"])).status_code == 404


def test_agent_graph_shows_handoffs_tools_and_problems(staff: Client) -> None:
    concierge = rows.agent("concierge", name="Concierge <i>")
    billing = rows.agent("billing")
    concierge.tools.add(rows.python_tool("echo"))
    rows.handoff(concierge, billing)
    rows.handoff(billing, concierge, tool_name_override="back")
    channel = rows.channel("demo", concierge)
    page = staff.get(reverse("admin:realtime_agents_channel_graph", args=[channel.pk])).content.decode()
    assert "Concierge &lt;i&gt; (starts)" in page
    assert "<code>echo</code>" in page
    assert "<code>transfer_to_billing</code>" in page and "<code>back</code>" in page
    assert "cannot start a session" not in page
    concierge.tools.add(rows.python_tool("ghost", "not_registered"))
    page = staff.get(reverse("admin:realtime_agents_channel_graph", args=[channel.pk])).content.decode()
    assert (
        "cannot start a session" in page
        and "no Python tool is registered as &#x27;not_registered&#x27;" in page
    )
