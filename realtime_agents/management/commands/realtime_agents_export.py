"""Management command: stream conversations with their rows to a JSONL or CSV file (or stdout)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...exporting import FORMATS, iter_export
from ...models import Channel, Conversation
from ...scoping import ConversationScope, parse_bound


def _bound(option: str, value: str | None, *, end: bool) -> Any:
    if value is None:
        return None
    try:
        return parse_bound(value, end=end)
    except ValueError as exc:
        raise CommandError(f"{option}: {exc}") from None


class Command(BaseCommand):
    """Export conversations filtered by channel and start date, streaming (constant memory)."""

    help = (
        "Export conversations with their transcript items, tool runs and events. JSONL: one conversation per "
        "line, rows nested. CSV: one line per row with the conversation columns. --since and --until take "
        "YYYY-MM-DD (both days included) or an ISO datetime."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """--format, --channel, --since, --until, --output."""
        parser.add_argument("--format", dest="export_format", choices=FORMATS, default="jsonl")
        parser.add_argument("--channel", default="", help="Channel slug; default: every channel.")
        parser.add_argument("--since", default=None, help="First start date or datetime (included).")
        parser.add_argument("--until", default=None, help="Last start date (included) or datetime (excluded).")
        parser.add_argument("--output", default="-", help="File to write; - (the default) for standard output.")

    def handle(self, *args: Any, **options: Any) -> None:
        """Write the export and report how many conversations it holds (on stderr)."""
        slug = str(options["channel"] or "")
        if slug and not Channel.objects.filter(slug=slug).exists() and not Conversation.objects.filter(
                channel_slug=slug).exists():
            raise CommandError(f"--channel: no channel or conversation with slug {slug!r}")
        try:
            scope = ConversationScope(channel=slug, since=_bound("--since", options["since"], end=False),
                                      until=_bound("--until", options["until"], end=True))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        output = str(options["output"])
        export_format = options["export_format"]
        count = scope.conversations().count()
        if output == "-":
            for piece in iter_export(scope.conversations(), export_format):
                self.stdout.write(piece, ending="")
            self.stdout.flush()
        else:
            try:
                # newline="": the csv module writes its own line ends.
                with open(output, "w", encoding="utf-8", newline="") as stream:
                    for piece in iter_export(scope.conversations(), export_format):
                        stream.write(piece)
            except OSError as exc:
                raise CommandError(f"--output: cannot write {output!r}: {exc.strerror}") from None
        self.stderr.write(f"Exported {count} conversation(s) as {export_format}.")
