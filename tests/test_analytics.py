"""Analytics: exact figures on known data (both databases), the admin page, its permissions and escaping."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from realtime_agents.analytics import (
    DayCount,
    Spread,
    duration_spread,
    latency_spread,
    per_day,
    percentile,
    spread,
    summarise,
    tool_stats,
)
from realtime_agents.charts import Bar, column_chart, nice_ceiling
from realtime_agents.models import TranscriptItem
from realtime_agents.scoping import ConversationScope
from tests import history, rows

pytestmark = pytest.mark.django_db

MAR1 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
MAR3 = datetime(2026, 3, 3, 22, 0, tzinfo=UTC)
WEB_MARCH = ConversationScope(channel="web", since=datetime(2026, 3, 1, tzinfo=UTC),
                              until=datetime(2026, 3, 5, tzinfo=UTC))
EVIL = "<script>alert(1)</script>"
URL = "admin:realtime_agents_conversationanalytics_changelist"


def _known_history() -> None:
    """web in March: durations 10, 20, 30, 40, 100 s (+1 active), latencies 100–400 ms, 7 tool runs, 3 handoffs."""
    start = rows.agent("concierge")
    rows.channel("web", start)
    rows.channel("phone", start)
    first = history.conversation("web", MAR1, duration_s=10, latencies_ms=[100, 200],
                                 tools=[("lookup", "ok"), ("lookup", "ok"), ("lookup", "error")],
                                 events=[("handoff", {}), ("handoff", {}), ("guardrail_tripped", {"text": "x"})])
    history.conversation("web", MAR1 + timedelta(hours=1), duration_s=20, texts=[("user", "no latency here")],
                         latencies_ms=[300], tools=[("refund", "timeout"), ("refund", "ok")],
                         events=[("handoff", {})])
    history.conversation("web", MAR3, duration_s=30, latencies_ms=[400], tools=[("lookup", "ok"), (EVIL, "rejected")])
    history.conversation("web", MAR3 + timedelta(minutes=5), duration_s=40)
    history.conversation("web", MAR3 + timedelta(minutes=9), duration_s=100)
    history.conversation("web", MAR3 + timedelta(minutes=30), duration_s=None)  # still active
    # Outside the scope: another channel, and web before the range.
    history.conversation("phone", MAR3, duration_s=1000, latencies_ms=[5000], tools=[("lookup", "error")],
                         events=[("handoff", {})])
    history.conversation("web", datetime(2026, 2, 20, tzinfo=UTC), duration_s=7, latencies_ms=[9])
    assert first.duration_seconds == 10


def test_percentile_interpolates_like_percentile_cont() -> None:
    assert percentile([10, 20, 30, 40, 100], 0.5) == 30
    assert percentile([10, 20, 30, 40, 100], 0.95) == pytest.approx(88.0)
    assert percentile([100, 200, 300, 400], 0.5) == 250
    assert percentile([7], 0.95) == 7
    assert spread([]) == Spread(count=0, median=None, p95=None)
    with pytest.raises(ValueError, match="percentile of no values"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="fraction must be within 0..1, got 1.5"):
        percentile([1.0], 1.5)


def test_exact_figures_for_one_channel_and_range() -> None:
    _known_history()
    summary = summarise(WEB_MARCH)
    assert summary.conversations == 6
    assert summary.per_day == [DayCount(day=date(2026, 3, 1), count=2), DayCount(day=date(2026, 3, 2), count=0),
                               DayCount(day=date(2026, 3, 3), count=4), DayCount(day=date(2026, 3, 4), count=0)]
    assert summary.duration_s.count == 5
    assert summary.duration_s.median == pytest.approx(30.0, abs=1e-6)
    assert summary.duration_s.p95 == pytest.approx(88.0, abs=1e-6)
    assert summary.latency_ms.count == 4
    assert summary.latency_ms.median == pytest.approx(250.0, abs=1e-9)
    assert summary.latency_ms.p95 == pytest.approx(385.0, abs=1e-9)
    tools = summary.tools
    assert (tools.runs, tools.ok, tools.errors) == (7, 4, 2)
    assert tools.by_status == {"ok": 4, "error": 1, "timeout": 1, "rejected": 1}
    assert tools.success_rate == pytest.approx(4 / 7) and tools.error_rate == pytest.approx(2 / 7)
    assert [(tool.name, tool.runs, tool.ok, tool.errors) for tool in tools.top] == [
        ("lookup", 4, 3, 1), ("refund", 2, 1, 1), (EVIL, 1, 0, 0)]
    assert (summary.handoffs, summary.conversations_with_handoff) == (3, 2)
    assert (summary.guardrail_trips, summary.conversations_with_trip) == (1, 1)


def test_all_channels_and_no_bounds() -> None:
    _known_history()
    everything = ConversationScope()
    durations = duration_spread(everything)
    values = [7.0, 10.0, 20.0, 30.0, 40.0, 100.0, 1000.0]  # the active conversation has no duration
    assert durations.count == 7
    assert durations.median == pytest.approx(30.0, abs=1e-6)
    assert durations.p95 == pytest.approx(spread(values).p95, abs=1e-6) and spread(values).p95 == pytest.approx(730.0)
    latencies = latency_spread(everything)
    assert latencies == Spread(count=6, median=pytest.approx(250.0), p95=pytest.approx(3850.0))
    days = per_day(everything)
    assert days[0] == DayCount(day=date(2026, 2, 20), count=1) and days[-1] == DayCount(day=date(2026, 3, 3), count=5)
    assert len(days) == 12 and sum(day.count for day in days) == 8
    assert tool_stats(everything, top=1).top[0].name == "lookup"
    assert summarise(ConversationScope(channel="none")).per_day == []


def test_the_database_and_python_agree_on_many_values() -> None:
    # Uneven values, so interpolation matters: PostgreSQL's percentile_cont and the Python path must match.
    for n in range(1, 38):
        history.conversation("load", MAR1 + timedelta(minutes=n), duration_s=(n * 7919) % 613 + 0.25,
                             latencies_ms=[(n * 104729) % 997 + 0.5])
    expected_durations = spread([(n * 7919) % 613 + 0.25 for n in range(1, 38)])
    expected_latencies = spread([(n * 104729) % 997 + 0.5 for n in range(1, 38)])
    scope = ConversationScope(channel="load")
    got = duration_spread(scope)
    assert got.count == 37
    assert got.median == pytest.approx(expected_durations.median, abs=1e-6)
    assert got.p95 == pytest.approx(expected_durations.p95, abs=1e-6)
    latency = latency_spread(scope)
    assert latency.median == pytest.approx(expected_latencies.median, abs=1e-9)
    assert latency.p95 == pytest.approx(expected_latencies.p95, abs=1e-9)


def test_bad_input_gets_clear_errors() -> None:
    with pytest.raises(TypeError, match="scope must be a ConversationScope, not str"):
        summarise("web")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top must be a positive int"):
        tool_stats(ConversationScope(), top=0)
    with pytest.raises(ValueError, match="a chart covers at most 366 days"):
        per_day(ConversationScope(since=datetime(2020, 1, 1, tzinfo=UTC), until=datetime(2026, 1, 1, tzinfo=UTC)))
    with pytest.raises(ValueError, match="must be after since"):
        ConversationScope(since=MAR3, until=MAR1)
    with pytest.raises(TypeError, match="channel must be a channel slug"):
        ConversationScope(channel=None)  # type: ignore[arg-type]


def test_charts_label_axes_show_values_and_escape_labels() -> None:
    svg = str(column_chart([Bar(label="Mar 01", value=3, shown="3"), Bar(label=EVIL, value=7, shown="7")],
                           title="Conversations per day", x_label="Day", y_label="Conversations"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert ">Day</text>" in svg and ">Conversations</text>" in svg and ">3</text>" in svg and ">7</text>" in svg
    assert ">10</text>" in svg and ">0</text>" in svg, "y axis from 0 to a round 10"
    assert EVIL not in svg and "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert [nice_ceiling(v) for v in (0, 3, 7, 11, 240, 0.3)] == [1, 5, 10, 20, 250, 0.5]


# -- the admin page ------------------------------------------------------------------------------------


def _client(*, staff: bool = True, perms: tuple[str, ...] = ("view_conversation",)) -> Client:
    user = get_user_model().objects.create_user("analyst", password="pw", is_staff=staff)
    for codename in perms:
        user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="realtime_agents"))
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_the_figures_and_charts_for_staff_who_may_view_conversations() -> None:
    _known_history()
    response = _client().get(reverse(URL), {"channel": "web", "since": "2026-03-01", "until": "2026-03-04"})
    assert response.status_code == 200
    page = response.content.decode()
    for figure in ("30.0 s", "1 min 28 s", "250 ms", "385 ms", "57.1 %", "28.6 %", "in 2 conversations"):
        assert figure in page, figure
    assert page.count('class="ra-chart"') == 3 and 'aria-label="Conversations per day"' in page
    assert ">Mar 03</text>" in page and ">Day (start of conversation)</text>" in page
    assert "<title>Mar 03: 4</title>" in page and ">4 runs, 1 failed</text>" in page
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "cdn" not in page.lower()


def test_the_page_defaults_to_the_last_30_days() -> None:
    response = _client().get(reverse(URL))
    today = timezone.localdate()
    assert response.status_code == 200
    assert f"From {today - timedelta(days=29):%Y-%m-%d} to {today:%Y-%m-%d}" in response.content.decode()
    assert response.context["summary"].conversations == 0 and len(response.context["summary"].per_day) == 30


def test_the_page_is_listed_in_the_admin_index_for_those_allowed() -> None:
    response = _client().get(reverse("admin:index"))
    assert response.status_code == 200 and reverse(URL) in response.content.decode()


@pytest.mark.parametrize("staff, perms, status", [
    (True, (), 403),  # staff without view_conversation
    (True, ("view_channel",), 403),
    (False, ("view_conversation",), 302),  # not staff: the admin sends them to log in
])
def test_the_page_is_refused_otherwise(staff: bool, perms: tuple[str, ...], status: int) -> None:
    _known_history()
    response = _client(staff=staff, perms=perms).get(reverse(URL), {"channel": "web"})
    assert response.status_code == status
    assert b"Tool success rate" not in response.content
    anonymous = Client().get(reverse(URL))
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]


def test_a_bad_filter_gets_a_clear_error() -> None:
    client = _client()
    response = client.get(reverse(URL), {"since": "2026-03-05", "until": "2026-03-01"})
    assert response.status_code == 400 and "The end date is before the start date." in response.content.decode()
    response = client.get(reverse(URL), {"channel": "nope"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    response = client.get(reverse(URL), {"since": "2020-01-01", "until": "2026-01-01"})
    assert response.status_code == 400 and "Choose at most 366 days." in response.content.decode()
    response = client.get(reverse(URL), {"since": "yesterday"})
    assert response.status_code == 400 and "Enter a valid date." in response.content.decode()
    assert TranscriptItem.objects.count() == 0
