"""`{% realtime_agent_widget "channel-slug" %}`: the voice widget's element and module script."""

from __future__ import annotations

import logging
from django import template
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from ..models import Channel

register = template.Library()
logger = logging.getLogger("realtime_agents.templatetags")

WS_PATH = "/ws/realtime/{slug}/"
MODES = ("hands-free", "push-to-talk")
# Labels a page may override (`label_start="Talk to us"`); the widget has English defaults.
LABELS = frozenset({"title", "start", "end", "mute", "unmute", "talk", "stop", "send", "placeholder", "allow",
                    "deny", "retry"})
UNAVAILABLE = mark_safe("<!-- realtime_agent_widget: this channel is unavailable -->")


def channel_mode(channel: Channel) -> str:
    """Push-to-talk for channels with turn detection off; hands-free (server VAD) otherwise."""
    return "push-to-talk" if channel.turn_detection == Channel.TurnDetection.NONE else "hands-free"


def _find(channel: Channel | str) -> Channel | None:
    if isinstance(channel, Channel):
        return channel
    if not isinstance(channel, str) or not channel:
        raise template.TemplateSyntaxError("realtime_agent_widget needs a channel slug or a Channel")
    return Channel.objects.filter(slug=channel).only("slug", "name", "is_active", "turn_detection").first()


def _nonce(context: template.Context, nonce: str | None) -> str:
    """The CSP nonce: explicit, else the context's `csp_nonce`, else django-csp's `request.csp_nonce`."""
    if nonce:
        return str(nonce)
    if context.get("csp_nonce"):
        return str(context["csp_nonce"])
    request = context.get("request")
    return str(getattr(request, "csp_nonce", "") or "")


@register.simple_tag(takes_context=True)
def realtime_agent_widget(
    context: template.Context,
    channel: Channel | str,
    *,
    mode: str = "",
    nonce: str | None = None,
    url: str = "",
    show_inactive: bool = False,
    **labels: str,
) -> SafeString:
    """Render `<realtime-agent-widget>` for a channel (a slug or a Channel row) with its module script.

    An unknown slug raises ImproperlyConfigured when DEBUG is on (a typo should be loud while
    developing) and renders an HTML comment otherwise, like an inactive channel does.
    """
    if mode and mode not in MODES:
        raise template.TemplateSyntaxError(f"realtime_agent_widget: mode must be one of {', '.join(MODES)}")
    unknown = sorted(name for name in labels if not name.startswith("label_") or name[6:] not in LABELS)
    if unknown:
        raise template.TemplateSyntaxError(
            f"realtime_agent_widget: unknown argument {unknown[0]!r}; labels are "
            + ", ".join(sorted(f"label_{name}" for name in LABELS))
        )
    row = _find(channel)
    if row is None:
        if settings.DEBUG:
            raise ImproperlyConfigured(
                f"realtime_agent_widget: no channel with the slug {channel!r}; create it in the admin"
            )
        logger.warning("realtime_agent_widget: no channel with the slug %r", channel)
        return UNAVAILABLE
    if not row.is_active and not show_inactive:
        return UNAVAILABLE
    attributes = {f"data-label-{name[6:]}": str(value) for name, value in sorted(labels.items())}
    return render_to_string("realtime_agents/widget.html", {
        "slug": row.slug,
        "ws_url": url or WS_PATH.format(slug=row.slug),
        "mode": mode or channel_mode(row),
        "nonce": _nonce(context, nonce),
        "labels": attributes.items(),
    })

