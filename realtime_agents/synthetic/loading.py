"""Writes synthetic conversations (COPY on PostgreSQL, `bulk_create` elsewhere); the scratch-database rule."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from django.db import connections, transaction
from django.db.models import Model

from ..models import Channel, Conversation, ConversationEvent, ToolRun, TranscriptItem
from .history import CHANNELS, SyntheticConversation

# A database may be filled only when a word of its name says it is disposable.
SCRATCH_WORDS = frozenset({
    "bench", "benchmark", "scratch", "synthetic", "test", "tests", "tmp", "temp", "dev", "demo", "sandbox",
    "memory", "memorydb", "load", "perf",
})
_WORDS = re.compile(r"[a-z]+")
_CHILDREN: tuple[tuple[type[Model], str], ...] = (
    (TranscriptItem, "items"), (ToolRun, "tool_runs"), (ConversationEvent, "events")
)


def database_name(using: str) -> str:
    """The configured database name (a SQLite file's name without its folder)."""
    name = str(connections[using].settings_dict.get("NAME") or "")
    if connections[using].vendor == "sqlite" and not name.startswith("file:") and name != ":memory:":
        return PurePath(name).name
    return name


def looks_like_scratch(name: str) -> bool:
    """Whether a database name has a word such as bench, scratch, test or tmp (non-letters split words)."""
    return bool(SCRATCH_WORDS.intersection(_WORDS.findall(name.lower())))


def ensure_channels(using: str) -> dict[str, int]:
    """The synthetic channels' primary keys by slug, created (inactive, without agents) if missing."""
    ids: dict[str, int] = {}
    for plan in CHANNELS:
        channel, _ = Channel.objects.using(using).get_or_create(
            slug=plan.slug, defaults={"name": plan.name, "kind": plan.kind, "is_active": False}
        )
        ids[plan.slug] = channel.pk
    return ids


class HistoryWriter:
    """Writes batches of synthetic conversations, each batch in one transaction."""

    def __init__(self, *, using: str, channel_ids: dict[str, int]) -> None:
        self.using = using
        self.channel_ids = channel_ids
        connection = connections[using]
        # COPY needs psycopg 3; with psycopg2 or another database, batched INSERTs do the same work slower.
        self.copies = connection.vendor == "postgresql" and _has_copy(connection)

    def write(self, batch: Sequence[SyntheticConversation]) -> None:
        """Insert the conversations of `batch` and all their rows."""
        for synthetic in batch:
            row = synthetic.conversation
            row["channel_id"] = self.channel_ids.get(row["channel_slug"])
        with transaction.atomic(using=self.using):
            if self.copies:
                self._copy(batch)
            else:
                self._bulk_create(batch)

    def _bulk_create(self, batch: Sequence[SyntheticConversation]) -> None:
        manager = Conversation.objects.using(self.using)
        manager.bulk_create([Conversation(**synthetic.conversation) for synthetic in batch], batch_size=500)
        ids = dict(manager.filter(public_id__in=[s.conversation["public_id"] for s in batch])
                   .values_list("public_id", "pk"))
        for model, attribute in _CHILDREN:
            rows = [model(conversation_id=ids[synthetic.conversation["public_id"]], **values)
                    for synthetic in batch for values in getattr(synthetic, attribute)]
            model.objects.using(self.using).bulk_create(rows, batch_size=500)

    def _copy(self, batch: Sequence[SyntheticConversation]) -> None:
        with connections[self.using].cursor() as cursor:
            # Ids reserved up front, so children can be copied without reading the conversations back.
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [Conversation._meta.db_table, len(batch)],
            )
            ids = [row[0] for row in cursor.fetchall()]
            raw = cursor.cursor
            pairs = list(zip(ids, batch, strict=True))
            _copy_rows(raw, Conversation, [{"id": pk, **s.conversation} for pk, s in pairs])
            for model, attribute in _CHILDREN:
                rows = [{"conversation_id": pk, **values}
                        for pk, s in pairs for values in getattr(s, attribute)]
                _copy_rows(raw, model, rows)


def _has_copy(connection: Any) -> bool:
    """Whether the driver is psycopg 3 (its cursors have `copy`; psycopg2's have `copy_expert`)."""
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        return hasattr(cursor, "copy")


def _copy_rows(cursor: Any, model: type[Model], rows: list[dict[str, Any]]) -> None:
    """COPY `rows` (dicts with the same keys) into `model`'s table."""
    if not rows:
        return
    names = list(rows[0])
    columns = ", ".join(connection_quote(model._meta.get_field(name).column) for name in names)
    json_names = {name for name in names if model._meta.get_field(name).get_internal_type() == "JSONField"}
    with cursor.copy(f"COPY {connection_quote(model._meta.db_table)} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(row[name]) if name in json_names else row[name] for name in names])


def connection_quote(identifier: str) -> str:
    """A PostgreSQL identifier in double quotes."""
    return '"' + identifier.replace('"', '""') + '"'
