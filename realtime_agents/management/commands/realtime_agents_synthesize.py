"""Management command: fill a scratch database with a large synthetic conversation history."""

from __future__ import annotations

import argparse
import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone

from ...models import Conversation, ConversationEvent, ToolRun, TranscriptItem
from ...synthetic.history import HistoryGenerator, SyntheticConversation
from ...synthetic.loading import (
    SCRATCH_WORDS,
    HistoryWriter,
    database_name,
    ensure_channels,
    looks_like_scratch,
)

_TABLES = (Conversation, TranscriptItem, ToolRun, ConversationEvent)


_SIZES = ("conversations", "items_per_conversation", "days", "batch_size")


def _positive(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


class Command(BaseCommand):
    """Generate N conversations (default 100 000) of about 20 messages each, with tool runs and events."""

    help = (
        "Fill a scratch database with a synthetic conversation history (for benchmarks): conversations on "
        "three channels over the last days, user and assistant messages from a phrase bank, tool runs (some "
        "failing), handoffs, guardrail trips and usage. Seeded: the same options give the same text. "
        "Refuses a database whose name does not look disposable (see --any-database) and one that "
        "already holds conversations (see --yes)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Sizes, seed, safety switches."""
        parser.add_argument("--conversations", type=_positive, default=100_000,
                            help="How many conversations (default 100000).")
        parser.add_argument("--items-per-conversation", type=_positive, default=20,
                            help="Average transcript messages per conversation (default 20: 2M for 100k).")
        parser.add_argument("--days", type=_positive, default=90,
                            help="Spread conversations over this many days up to now (default 90).")
        parser.add_argument("--seed", type=int, default=7, help="Random seed (default 7).")
        parser.add_argument("--batch-size", type=_positive, default=1000,
                            help="Conversations per transaction (default 1000).")
        parser.add_argument("--yes", action="store_true",
                            help="Add to a database that already holds conversations.")
        parser.add_argument("--any-database", action="store_true",
                            help="Allow a database whose name has none of the words "
                                 f"{', '.join(sorted(SCRATCH_WORDS))}.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS,
                            help="Database alias (default 'default').")

    def handle(self, *args: Any, **options: Any) -> None:
        """Check the target, generate, write batch by batch, print progress and totals."""
        for size in _SIZES:
            if options[size] < 1:
                raise CommandError(f"--{size.replace('_', '-')} must be at least 1, got {options[size]}.")
        using = options["database"]
        if using not in connections:
            raise CommandError(f"Unknown database alias {using!r}.")
        self._check_target(using, options)
        generator = HistoryGenerator(
            count=options["conversations"], items_per_conversation=options["items_per_conversation"],
            days=options["days"], end=timezone.now().replace(microsecond=0), seed=options["seed"],
        )
        writer = HistoryWriter(using=using, channel_ids=ensure_channels(using))
        method = "COPY" if writer.copies else "bulk_create"
        self.stdout.write(
            f"Writing {generator.count} conversations to {database_name(using)!r} "
            f"({connections[using].vendor}, {method}, {options['batch_size']} per transaction)..."
        )
        began = time.perf_counter()
        totals = {"conversations": 0, "items": 0, "tool_runs": 0, "events": 0}
        step = max(options["batch_size"], generator.count // 20)
        reported = 0
        batch: list[SyntheticConversation] = []
        for synthetic in generator:
            batch.append(synthetic)
            if len(batch) >= options["batch_size"]:
                self._flush(writer, batch, totals)
            if totals["conversations"] - reported >= step:
                reported = totals["conversations"]
                self._progress(totals, generator.count, began)
        self._flush(writer, batch, totals)
        written_in = time.perf_counter() - began
        self._analyze(using)
        seconds = time.perf_counter() - began
        self.stdout.write(
            f"Done: {totals['conversations']} conversations, {totals['items']} transcript items, "
            f"{totals['tool_runs']} tool runs, {totals['events']} events in {seconds:.1f} s "
            f"(writing {written_in:.1f} s, "
            f"{totals['conversations'] / max(written_in, 1e-9):.0f} conversations/s)."
        )

    def _check_target(self, using: str, options: dict[str, Any]) -> None:
        """Refuse production-looking databases and, without --yes, databases with history."""
        name = database_name(using)
        if not options["any_database"] and not looks_like_scratch(name):
            raise CommandError(
                f"Refusing to fill database {name!r}: its name does not look like a scratch database "
                f"(no word such as bench, scratch, test or tmp). Use a dedicated database, or pass "
                f"--any-database if you are sure."
            )
        existing = Conversation.objects.using(using).count()
        if existing and not options["yes"]:
            raise CommandError(
                f"Database {name!r} already holds {existing} conversation(s); pass --yes to add "
                f"{options['conversations']} synthetic ones to them."
            )

    @staticmethod
    def _flush(writer: HistoryWriter, batch: list[SyntheticConversation], totals: dict[str, int]) -> None:
        if not batch:
            return
        writer.write(batch)
        totals["conversations"] += len(batch)
        totals["items"] += sum(len(s.items) for s in batch)
        totals["tool_runs"] += sum(len(s.tool_runs) for s in batch)
        totals["events"] += sum(len(s.events) for s in batch)
        batch.clear()

    def _progress(self, totals: dict[str, int], count: int, began: float) -> None:
        elapsed = time.perf_counter() - began
        rate = totals["conversations"] / max(elapsed, 1e-9)
        left = dt.timedelta(seconds=round((count - totals["conversations"]) / max(rate, 1e-9)))
        self.stdout.write(f"  {totals['conversations']}/{count} conversations, {totals['items']} items, "
                          f"{elapsed:.1f} s, about {left} left")

    def _analyze(self, using: str) -> None:
        """Fresh planner statistics: a bulk load otherwise leaves PostgreSQL planning for empty tables."""
        connection = connections[using]
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            for model in _TABLES:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
