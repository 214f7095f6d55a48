"""Stored tool-run, tool-error and guardrail-trip counts on conversations, backfilled from their rows."""

from typing import Any

from django.db import migrations, models
from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

# Frozen here on purpose (a migration must not follow later code): the failing outcomes as the admin's
# "had a tool error" filter and its former tool_error_total column counted them.
TOOL_ERROR_STATUSES = ("error", "timeout", "invalid_arguments", "not_found")
GUARDRAIL_TRIPPED = "guardrail_tripped"


def _count(rows: Any) -> Coalesce:
    """A correlated COUNT(*) of `rows` belonging to the conversation being updated."""
    counted = rows.filter(conversation=OuterRef("pk")).order_by().values("conversation")
    return Coalesce(Subquery(counted.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0)


def backfill_counts(apps: Any, schema_editor: Any) -> None:
    """Set the counts of existing conversations from their rows: two set-based UPDATEs, no row loop."""
    Conversation = apps.get_model("realtime_agents", "Conversation")
    ToolRun = apps.get_model("realtime_agents", "ToolRun")
    ConversationEvent = apps.get_model("realtime_agents", "ConversationEvent")
    db = schema_editor.connection.alias
    conversations = Conversation.objects.using(db)
    tool_runs = ToolRun.objects.using(db)
    trips = ConversationEvent.objects.using(db).filter(kind=GUARDRAIL_TRIPPED)
    # Only conversations that have such rows: the rest already hold the default 0, and rewriting
    # every row of a large table would only leave dead rows behind.
    conversations.filter(Exists(tool_runs.filter(conversation=OuterRef("pk")))).update(
        tool_run_count=_count(tool_runs),
        tool_error_count=_count(tool_runs.filter(status__in=TOOL_ERROR_STATUSES)),
    )
    conversations.filter(Exists(trips.filter(conversation=OuterRef("pk")))).update(
        guardrail_trip_count=_count(trips),
    )


class Migration(migrations.Migration):

    dependencies = [
        ('realtime_agents', '0008_conversation_list_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='conversation',
            name='guardrail_trip_count',
            field=models.PositiveIntegerField(db_default=0, default=0, help_text='Guardrail trips.', verbose_name='guardrail trips'),
        ),
        migrations.AddField(
            model_name='conversation',
            name='tool_error_count',
            field=models.PositiveIntegerField(db_default=0, default=0, help_text='Failed tool runs: error, timeout, invalid arguments, unknown tool.', verbose_name='tool errors'),
        ),
        migrations.AddField(
            model_name='conversation',
            name='tool_run_count',
            field=models.PositiveIntegerField(db_default=0, default=0, help_text='Tool runs, whatever their outcome.', verbose_name='tool runs'),
        ),
        # Before the indexes: filling the columns then indexing them is cheaper than updating indexes.
        migrations.RunPython(backfill_counts, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(fields=['tool_run_count', '-id'], name='ra_conv_tool_runs'),
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(fields=['tool_error_count', '-id'], name='ra_conv_tool_errors'),
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(fields=['guardrail_trip_count', '-id'], name='ra_conv_guardrail_trips'),
        ),
    ]
