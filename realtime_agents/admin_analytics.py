"""The conversation analytics admin page: a filter form, headline figures and SVG charts."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from .analytics import MAX_DAYS, Summary, summarise
from .charts import Bar, StackedBar, column_chart, stacked_rows_chart
from .models import Channel, ConversationAnalytics
from .scoping import ConversationScope, day_start

logger = logging.getLogger("realtime_agents.admin_analytics")

DEFAULT_DAYS = 30
VIEW_PERMISSION = "realtime_agents.view_conversation"


class AnalyticsFilterForm(forms.Form):
    """Channel and an inclusive date range (the last 30 days by default)."""

    channel = forms.ChoiceField(required=False, label="Channel")
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        slugs = Channel.objects.order_by("slug").values_list("slug", "name")
        self.fields["channel"].choices = [("", "All channels"), *[(slug, f"{name} ({slug})") for slug, name in slugs]]

    def clean(self) -> dict[str, Any]:
        """Fill in the default range and refuse reversed or overlong ones."""
        data = super().clean()
        today = timezone.localdate()
        until: date = data.get("until") or today
        since: date = data.get("since") or until - timedelta(days=DEFAULT_DAYS - 1)
        if until < since:
            raise forms.ValidationError("The end date is before the start date.")
        if (until - since).days >= MAX_DAYS:
            raise forms.ValidationError(f"Choose at most {MAX_DAYS} days.")
        data["since"], data["until"] = since, until
        return data

    def scope(self) -> ConversationScope:
        """The scope of a valid form (both days included)."""
        data = self.cleaned_data
        return ConversationScope(channel=data.get("channel") or "", since=day_start(data["since"]),
                                 until=day_start(data["until"] + timedelta(days=1)))


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value >= 60:
        return f"{int(value // 60)} min {value % 60:.0f} s"
    return f"{value:.1f} s"


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} ms"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def figures(summary: Summary) -> list[tuple[str, str, str]]:
    """The headline numbers as (label, value, explanation)."""
    tools = summary.tools
    return [
        ("Conversations", str(summary.conversations), "started in the range"),
        ("Median duration", _seconds(summary.duration_s.median), f"of {summary.duration_s.count} ended"),
        ("p95 duration", _seconds(summary.duration_s.p95), "95 % were shorter"),
        ("Median response latency", _ms(summary.latency_ms.median),
         f"end of speech to first audio, {summary.latency_ms.count} answers"),
        ("p95 response latency", _ms(summary.latency_ms.p95), "95 % were faster"),
        ("Tool success rate", _rate(tools.success_rate), f"{tools.ok} of {tools.runs} runs"),
        ("Tool error rate", _rate(tools.error_rate), f"{tools.errors} failed (error, timeout, bad arguments, unknown)"),
        ("Handoffs", str(summary.handoffs), f"in {summary.conversations_with_handoff} conversations"),
        ("Guardrail trips", str(summary.guardrail_trips), f"in {summary.conversations_with_trip} conversations"),
    ]


def charts(summary: Summary) -> dict[str, str]:
    """The page's SVG charts."""
    days = [Bar(label=day.day.strftime("%b %d"), value=day.count, shown=str(day.count)) for day in summary.per_day]
    outcomes = sorted(summary.tools.by_status.items(), key=lambda pair: (-pair[1], pair[0]))
    return {
        "per_day": column_chart(days, title="Conversations per day", x_label="Day (start of conversation)",
                                y_label="Conversations"),
        "top_tools": stacked_rows_chart(
            [StackedBar(label=tool.name, ok=tool.ok, errors=tool.errors, other=tool.runs - tool.ok - tool.errors,
                        shown=f"{tool.runs} runs, {tool.errors} failed") for tool in summary.tools.top],
            title="Most used tools"),
        "outcomes": column_chart([Bar(label=status, value=count, shown=str(count)) for status, count in outcomes],
                                 title="Tool runs by outcome", x_label="Outcome", y_label="Tool runs",
                                 height=280, label_every=1, label_room=104),
    }


@admin.register(ConversationAnalytics)
class ConversationAnalyticsAdmin(admin.ModelAdmin):
    """Renders the analytics page as this proxy's changelist; needs view_conversation, nothing is editable."""

    def _allowed(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and user.has_perm(VIEW_PERMISSION))

    def has_module_permission(self, request: HttpRequest) -> bool:
        """Shown in the admin index to whoever may read conversations."""
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        """view_conversation, not a permission of the proxy."""
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """A page of charts: nothing to add."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        """Nothing to change."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        """Nothing to delete here."""
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The filter form, the figures and the charts."""
        if not self._allowed(request):
            raise PermissionDenied
        form = AnalyticsFilterForm(request.GET)
        context: dict[str, Any] = {
            **self.admin_site.each_context(request), "title": "Conversation analytics", "opts": self.model._meta,
            "form": form, **(extra_context or {}),
        }
        if form.is_valid():
            summary = summarise(form.scope())
            context.update(summary=summary, figures=figures(summary), charts=charts(summary),
                           since=form.cleaned_data["since"], until=form.cleaned_data["until"])
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/realtime_agents/conversation_analytics.html", context,
                                status=200 if form.is_valid() else 400)
