"""Twilio's HTTP webhooks: the voice webhook (answer with a stream) and the stream's after-action."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, HttpResponseNotFound
from django.urls import get_script_prefix, reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ..conf import app_settings
from ..models import Channel
from . import twilio_twiml
from .signatures import TwilioSignatureError, public_url, stream_url, verify_twilio_request
from .twilio_outcomes import take_outcome

__all__ = ["STREAM_PATH", "after_stream", "voice"]

logger = logging.getLogger("realtime_agents.telephony.twilio_views")

# The stream consumer's route (telephony/routing.py); WebSocket routes cannot be reversed.
STREAM_PATH = "/ws/realtime/twilio/{slug}/"
UNAVAILABLE = "Sorry, this line is not available right now. Please call again later."
BUSY = "Sorry, all our lines are busy. Please call again later."
FAILED = "Sorry, we cannot take your call right now. Please call again later."
_SAY = {"busy": BUSY, "error": FAILED}


def _site_path(request: HttpRequest) -> str:
    """The path (and query) below the public base URL: the script prefix belongs to the base URL."""
    query = request.META.get("QUERY_STRING", "")
    return request.path_info + (f"?{query}" if query else "")


def _verify(request: HttpRequest) -> HttpResponse | None:
    """None when X-Twilio-Signature matches the configured public URL and the form; else a 403."""
    base = str(app_settings.TWILIO_PUBLIC_BASE_URL or "")
    try:
        url = public_url(base, _site_path(request))
        verify_twilio_request(
            auth_token=str(app_settings.TWILIO_AUTH_TOKEN or ""),
            url=url,
            params=dict(request.POST.lists()),
            signature=request.headers.get("X-Twilio-Signature"),
        )
    except ValueError:
        logger.error("TWILIO_PUBLIC_BASE_URL is not an absolute http(s) URL: refusing Twilio requests")
        return HttpResponseForbidden("Twilio requests are not configured.", content_type="text/plain")
    except TwilioSignatureError as exc:
        if exc.reason == "bad_config":
            logger.error("TWILIO_AUTH_TOKEN is empty: refusing Twilio requests")
        else:
            logger.warning("refused a Twilio request to %s: %s", request.path_info[:200], exc.reason)
        return HttpResponseForbidden("Invalid Twilio signature.", content_type="text/plain")
    return None


def _twiml(document: str) -> HttpResponse:
    return HttpResponse(document, content_type=twilio_twiml.TWIML_CONTENT_TYPE)


def _below_prefix(path: str) -> str:
    prefix = get_script_prefix()
    return "/" + path[len(prefix) :] if path.startswith(prefix) else path


@csrf_exempt
@require_POST
def voice(request: HttpRequest, slug: str) -> HttpResponse:
    """A call came in: answer with `<Connect><Stream>` to this channel's stream endpoint."""
    refused = _verify(request)
    if refused is not None:
        return refused
    channel = Channel.objects.filter(slug=slug, kind=Channel.Kind.TWILIO).only("slug", "is_active").first()
    if channel is None:
        logger.warning("Twilio voice webhook for unknown channel %r", slug[:100])
        return HttpResponseNotFound("No such Twilio channel.", content_type="text/plain")
    if not channel.is_active:
        # A signed call to a switched-off line: a spoken apology beats Twilio's "application error".
        return _twiml(twilio_twiml.hang_up(UNAVAILABLE))
    base = str(app_settings.TWILIO_PUBLIC_BASE_URL)
    action = _below_prefix(reverse("realtime_agents:twilio_after_stream", kwargs={"slug": slug}))
    document = twilio_twiml.connect_stream(
        stream_url=stream_url(base, STREAM_PATH.format(slug=slug)),
        action_url=public_url(base, action),
        parameters={"channel": slug, "from": request.POST.get("From", "")[:40]},
    )
    return _twiml(document)


@csrf_exempt
@require_POST
def after_stream(request: HttpRequest, slug: str) -> HttpResponse:
    """The stream closed: `<Dial>` when the agent transferred, else hang up (with an apology if it failed)."""
    refused = _verify(request)
    if refused is not None:
        return refused
    outcome = take_outcome(request.POST.get("CallSid", ""))
    if outcome is None or outcome.channel != slug:
        return _twiml(twilio_twiml.hang_up())
    if outcome.action == "transfer":
        channel = Channel.objects.filter(slug=slug, kind=Channel.Kind.TWILIO).first()
        # Checked again here: only numbers staff listed are ever dialled, whatever reached the cache.
        if channel is not None and outcome.number in channel.transfer_targets():
            logger.info("transferring call on channel %s", slug)
            return _twiml(twilio_twiml.dial(outcome.number))
        logger.warning("refused a transfer to an unlisted number on channel %s", slug)
        return _twiml(twilio_twiml.hang_up(FAILED))
    return _twiml(twilio_twiml.hang_up(_SAY.get(outcome.action, "")))
