"""Indexes for the conversation list at scale: agent and end-reason filters, tool-error and event flags."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('realtime_agents', '0007_channel_transcription_off'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(fields=['starting_agent_name', 'started_at'], name='ra_conv_start_agent'),
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(fields=['final_agent_name', 'started_at'], name='ra_conv_final_agent'),
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(fields=['end_reason', 'started_at'], name='ra_conv_end_reason'),
        ),
        migrations.AddIndex(
            model_name='conversationevent',
            index=models.Index(fields=['kind', 'conversation'], name='ra_event_kind_conv'),
        ),
        migrations.AddIndex(
            model_name='toolrun',
            index=models.Index(fields=['status', 'conversation'], name='ra_toolrun_status_conv'),
        ),
    ]
