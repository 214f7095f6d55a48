"""Management command: delete conversations older than their channel's retention period."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...retention import DEFAULT_BATCH_SIZE, PurgeReport, purge_expired


def _line(report: PurgeReport) -> str:
    verb = "would delete" if report.dry_run else "deleted"
    return (f"{report.channel}: {verb} {report.conversations} conversation(s) started before "
            f"{report.cutoff.isoformat(timespec='seconds')} (retention {report.retention_days} day(s)), "
            f"{report.items} transcript item(s), {report.tool_runs} tool run(s), {report.events} event(s).")


class Command(BaseCommand):
    """Apply each channel's retention_days; idempotent, so safe to run from cron."""

    help = (
        "Delete conversations (with their transcript items, tool runs and events) that started more than the "
        "channel's retention days ago. Channels without retention days keep everything. Safe to run from cron: "
        "a second run deletes nothing more."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """--dry-run, --channel, --batch-size."""
        parser.add_argument("--dry-run", action="store_true", help="Only report what would be deleted.")
        parser.add_argument("--channel", default="", help="Only this channel (slug).")
        parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                            help=f"Conversations deleted per transaction (default {DEFAULT_BATCH_SIZE}).")

    def handle(self, *args: Any, **options: Any) -> None:
        """Purge and print one line per channel."""
        if options["batch_size"] < 1:
            raise CommandError(f"--batch-size must be at least 1, got {options['batch_size']}")
        try:
            reports = purge_expired(channel=str(options["channel"] or ""), dry_run=bool(options["dry_run"]),
                                    batch_size=options["batch_size"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if not reports:
            self.stdout.write("No channel has retention days set: nothing to purge.")
            return
        for report in reports:
            self.stdout.write(_line(report))
        total = sum(report.conversations for report in reports)
        self.stdout.write(f"{'Would delete' if options['dry_run'] else 'Deleted'} {total} conversation(s) in all.")
