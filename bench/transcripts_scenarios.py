"""The requests bench.transcripts times: admin list, filters, search and detail; API pages and search."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.test import Client
from django.urls import reverse

from bench.common import percentile

ADMIN_LIST = "admin:realtime_agents_conversation_changelist"
API_LIST = "realtime_agents:api:conversations"


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """One request to time: a name, the group it counts for (list, search, api, detail) and its URL."""

    name: str
    group: str
    url: str
    params: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class Timing:
    """What one scenario measured: request times, queries per request, rows on the page."""

    scenario: Scenario
    ms: list[float]
    queries: int
    rows: int
    slowest_sql: str
    slowest_params: Any

    def p(self, q: float) -> float:
        """The q-th percentile in milliseconds."""
        return percentile(self.ms, q)


def scenarios(*, phone_channel_id: int, big_conversation_id: int, list_cursor: str, search_cursor: str,
              words: dict[str, str], long_ago: str) -> list[Scenario]:
    """Every timed request; `words` names the frequent, phrase and rare searches."""
    admin = reverse(ADMIN_LIST)
    api = reverse(API_LIST)
    detail = reverse("admin:realtime_agents_conversation_change", args=[big_conversation_id])
    return [
        Scenario(name="admin list", group="list", url=admin, params={}),
        Scenario(name="admin list, channel+status", group="list", url=admin,
                 params={"channel__id__exact": str(phone_channel_id), "status__exact": "ended"}),
        Scenario(name="admin list, tool error", group="list", url=admin, params={"tool_error": "yes"}),
        Scenario(name="admin list, guardrail", group="list", url=admin, params={"guardrail_tripped": "yes"}),
        Scenario(name="admin list, agent", group="list", url=admin, params={"agent": "Billing"}),
        Scenario(name="admin list, page 50", group="list", url=admin, params={"p": "50"}),
        # Sorted by a count column: "o" is the column's place, counting the actions' checkbox as 0.
        *(
            Scenario(name=f"admin list, sorted by {label}{' desc' if desc else ''}", group="list", url=admin,
                     params={"o": f"{'-' if desc else ''}{column}"})
            for label, column in (("tool runs", 7), ("tool errors", 8), ("guardrail trips", 9))
            for desc in (False, True)
        ),
        *(
            Scenario(name=f"admin search {words[kind]}", group="search", url=admin, params={"q": words[kind]})
            for kind in ("frequent", "phrase", "rare")
        ),
        Scenario(name="admin detail (biggest)", group="detail", url=detail, params={}),
        Scenario(name="api list", group="api", url=api, params={}),
        Scenario(name="api list, next page", group="api", url=api, params={"cursor": list_cursor}),
        Scenario(name="api list, tool error", group="api", url=api, params={"tool_error": "true"}),
        Scenario(name=f"api search {words['frequent']}", group="search", url=api,
                 params={"q": words["frequent"]}),
        Scenario(name=f"api search {words['frequent']}, next", group="search", url=api,
                 params={"q": words["frequent"], "cursor": search_cursor}),
        Scenario(name=f"api search {words['rare']}", group="search", url=api, params={"q": words["rare"]}),
        # Filtered searches: a sparse list (one channel in ten) and a date range two months back.
        Scenario(name=f"api search {words['frequent']}, sip channel", group="search", url=api,
                 params={"q": words["frequent"], "channel": "synthetic-sip"}),
        Scenario(name=f"api search {words['frequent']}, 60+ days ago", group="search", url=api,
                 params={"q": words["frequent"], "started_before": long_ago}),
    ]


def _rows(scenario: Scenario, response: Any) -> int:
    """Conversations on the page (API results, admin result rows) or messages shown (detail)."""
    if scenario.url.startswith(reverse(API_LIST)):
        return len(response.json()["results"])
    body = response.content.decode()
    if scenario.group == "detail":
        return body.count("data-sequence=")
    return body.count('name="_selected_action"')


def get(client: Client, scenario: Scenario) -> Any:
    """One request; anything but 200 stops the bench (a fast error page would be a false figure)."""
    response = client.get(scenario.url, scenario.params)
    if response.status_code != 200:
        raise RuntimeError(f"{scenario.name}: HTTP {response.status_code}: {response.content[:500]!r}")
    return response


def measure(client: Client, scenario: Scenario, *, repeat: int, warmup: int,
            clock: Callable[[], float] = time.perf_counter) -> Timing:
    """Warm up, count the queries of one request, then time `repeat` requests."""
    for _ in range(warmup):
        get(client, scenario)
    queries: list[tuple[float, str, Any]] = []

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        began = clock()
        try:
            return execute(sql, params, many, context)
        finally:
            queries.append((clock() - began, sql, params))

    # A wrapper, not CaptureQueriesContext: the request's start signal empties the latter's query log.
    with connection.execute_wrapper(record):
        response = get(client, scenario)
    slowest = max(queries, key=lambda query: query[0], default=(0.0, "", None))
    samples: list[float] = []
    for _ in range(repeat):
        began = clock()
        get(client, scenario)
        samples.append((clock() - began) * 1000)
    return Timing(scenario=scenario, ms=samples, queries=len(queries), rows=_rows(scenario, response),
                  slowest_sql=slowest[1], slowest_params=slowest[2])


def explain(timing: Timing) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a scenario's slowest query (they are SELECTs: nothing is changed)."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {timing.slowest_sql}", timing.slowest_params)
        return "\n".join(row[0] for row in cursor.fetchall())
