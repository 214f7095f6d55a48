"""The proxy model that gives the conversation analytics page its place in the admin."""

from __future__ import annotations

from .conversations import Conversation


class ConversationAnalytics(Conversation):
    """Conversations seen as charts: the admin page of `realtime_agents.admin_analytics`."""

    class Meta:
        proxy = True
        verbose_name = "conversation analytics"
        verbose_name_plural = "conversation analytics"
        # The page is guarded by view_conversation; no permissions of its own to hand out.
        default_permissions = ()
