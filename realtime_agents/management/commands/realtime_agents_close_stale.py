"""Management command: finalise conversations left active by a crashed process."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...recording.stale import close_stale, stale_conversations


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise CommandError(f"--older-than takes a number of seconds, got {value!r}") from None
    if not seconds > 0:
        raise CommandError(f"--older-than must be positive, got {value!r}")
    return seconds


class Command(BaseCommand):
    """Mark stale active conversations ended with reason "abandoned"."""

    help = (
        "Finalise conversations still marked active although no session can be that long: a process "
        "crashed before recording their end. Their end reason becomes 'abandoned'. Safe to run from cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """--older-than SECONDS and --dry-run."""
        parser.add_argument(
            "--older-than", dest="older_than", default=None,
            help="Close active conversations started more than SECONDS ago (default: each channel's maximum "
                 "session length, or MAX_SESSION_SECONDS, plus 60 s).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Only count what would be closed.")

    def handle(self, *args: Any, **options: Any) -> None:
        """Close (or count) the stale conversations."""
        older_than = None if options["older_than"] is None else _seconds(str(options["older_than"]))
        if options["dry_run"]:
            count = len(stale_conversations(older_than_s=older_than))
            self.stdout.write(f"{count} stale conversation(s) would be closed.")
            return
        count = close_stale(older_than_s=older_than)
        self.stdout.write(f"Closed {count} stale conversation(s).")
