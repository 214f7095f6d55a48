"""Benchmark: admin list, search, detail and the JSON API over a large synthetic history on PostgreSQL.

    .venv/bin/python -m bench.transcripts [--conversations 100000] [--repeat 30] [--regenerate] [--explain]

Uses its own database (`realtime_agents_bench` on the server of BENCH_DATABASE_URL or DATABASE_URL, default
postgres://postgres@127.0.0.1:5432), never the test suite's; fills it once with `realtime_agents_synthesize`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from urllib.parse import urlsplit, urlunsplit

from bench.common import format_table, machine_notes, positive_int

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432"
DEFAULT_NAME = "realtime_agents_bench"
TARGET_P95_MS = 200.0
SEARCH_WORDS = {"frequent": "refund", "phrase": '"cancellation fee"', "rare": "Ljubljana"}


def bench_url(explicit: str | None) -> str:
    """The bench database URL: given, BENCH_DATABASE_URL, or DATABASE_URL's server with the bench name."""
    if explicit or os.environ.get("BENCH_DATABASE_URL"):
        url = explicit or os.environ["BENCH_DATABASE_URL"]
    else:
        parts = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_SERVER)
        url = urlunsplit(parts._replace(path=f"/{DEFAULT_NAME}"))
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in {"postgres", "postgresql"}:
        raise SystemExit(f"bench.transcripts needs PostgreSQL, got {parts.scheme or url!r}")
    if not name or name == "test" or name.startswith("test_"):
        raise SystemExit(f"Refusing database {name!r}: the test suite uses it; name a dedicated one.")
    return url


def prepare_database(url: str, *, regenerate: bool) -> None:
    """Create the bench database on its server if missing (drop it first with `regenerate`)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as admin:
        if regenerate:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            admin.execute(f'CREATE DATABASE "{name}"')
            print(f"Created database {name!r}.")


def fill(conversations: int, items_per_conversation: int) -> float | None:
    """Run the synthesize command on an empty database; the seconds it took (None when already full)."""
    from django.core.management import call_command
    from django.db import connection

    from realtime_agents.models import Conversation

    existing = Conversation.objects.count()
    if existing:
        if existing != conversations:
            raise SystemExit(f"The bench database holds {existing} conversations, not {conversations}: "
                             f"pass --regenerate to start again.")
        return None
    began = time.perf_counter()
    call_command("realtime_agents_synthesize", conversations=conversations,
                 items_per_conversation=items_per_conversation, stdout=sys.stdout)
    # Bulk-loaded pages are not yet in the visibility map; a live table has had autovacuum visit them.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")
    return time.perf_counter() - began


def describe_database() -> list[str]:
    """Row counts and sizes of the conversation tables and of the whole database."""
    from django.db import connection

    from realtime_agents.models import Conversation, ConversationEvent, ToolRun, TranscriptItem

    lines = []
    with connection.cursor() as cursor:
        for model in (Conversation, TranscriptItem, ToolRun, ConversationEvent):
            table = model._meta.db_table
            cursor.execute(
                f'SELECT count(*), pg_size_pretty(pg_total_relation_size(%s)) FROM "{table}"', [table]
            )
            count, size = cursor.fetchone()
            lines.append(f"{model.__name__}: {count} rows, {size} with indexes")
        cursor.execute("SELECT pg_size_pretty(pg_database_size(current_database())), version()")
        size, version = cursor.fetchone()
    lines.append(f"database {connection.settings_dict['NAME']}: {size}; {version.split(' on ')[0]}")
    return lines


def bench_subjects() -> dict[str, object]:
    """The ids and cursors the scenarios need, read before timing."""
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from realtime_agents.models import Channel, Conversation

    probe = Client()
    probe.force_login(staff_user())
    api = reverse("realtime_agents:api:conversations")
    # One in a thousand synthetic conversations is ten times longer than the others.
    biggest = Conversation.objects.order_by("-turn_count", "pk").values_list("pk", flat=True).first()
    return {
        "phone_channel_id": Channel.objects.get(slug="synthetic-phone").pk,
        "big_conversation_id": biggest,
        "list_cursor": probe.get(api).json()["next_cursor"],
        "search_cursor": probe.get(api, {"q": SEARCH_WORDS["frequent"]}).json()["next_cursor"],
        "words": SEARCH_WORDS,
        "long_ago": (timezone.now() - dt.timedelta(days=60)).date().isoformat(),
    }


def staff_user() -> object:
    """The bench's superuser (no usable password: the bench logs in without one)."""
    from django.contrib.auth.models import User

    user, created = User.objects.get_or_create(username="bench-staff",
                                               defaults={"is_staff": True, "is_superuser": True})
    if created:
        user.set_unusable_password()
        user.save()
    return user


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="PostgreSQL URL of the bench database (see above).")
    parser.add_argument("--conversations", type=positive_int, default=100_000)
    parser.add_argument("--items-per-conversation", type=positive_int, default=20)
    parser.add_argument("--repeat", type=positive_int, default=30,
                        help="Timed requests per scenario (default 30).")
    parser.add_argument("--warmup", type=int, default=3, help="Untimed requests first (default 3).")
    parser.add_argument("--regenerate", action="store_true",
                        help="Drop the bench database and fill it again.")
    parser.add_argument("--only", default="", help="Only scenarios whose name contains this text.")
    parser.add_argument("--explain", action="store_true",
                        help="Print EXPLAIN ANALYZE of each scenario's slowest query.")
    args = parser.parse_args(argv)

    url = bench_url(args.database_url)
    prepare_database(url, regenerate=args.regenerate)
    os.environ["BENCH_DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.transcripts_settings"
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from bench.transcripts_scenarios import explain, measure, scenarios

    call_command("migrate", verbosity=0)
    generated = fill(args.conversations, args.items_per_conversation)
    print(machine_notes())
    if generated is not None:
        print(f"generation (command + VACUUM ANALYZE): {generated:.1f} s")
    print("\n".join(describe_database()))
    client = Client()
    client.force_login(staff_user())
    rows = []
    over = []
    for scenario in scenarios(**bench_subjects()):
        if args.only and args.only not in scenario.name:
            continue
        timing = measure(client, scenario, repeat=args.repeat, warmup=args.warmup)
        rows.append([scenario.name, scenario.group, str(timing.rows), str(timing.queries),
                     f"{timing.p(50):.1f}", f"{timing.p(95):.1f}", f"{max(timing.ms):.1f}"])
        if scenario.group != "detail" and timing.p(95) >= TARGET_P95_MS:
            over.append(scenario.name)
        if args.explain:
            print(f"\n-- {scenario.name}: slowest query\n{timing.slowest_sql}\n{explain(timing)}")
        print(f"  {scenario.name}: p50 {timing.p(50):.1f} ms, p95 {timing.p(95):.1f} ms", flush=True)
    print()
    print(format_table(["scenario", "group", "rows", "queries", "p50 ms", "p95 ms", "max ms"], rows))
    print(f"\n{args.repeat} timed requests per scenario after {args.warmup} warm-up; target p95 < "
          f"{TARGET_P95_MS:.0f} ms for list, search and api: "
          + (f"over in {', '.join(over)}" if over else "met everywhere"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
