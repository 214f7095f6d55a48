"""`{% realtime_agent_widget %}` without a browser: what it renders, escaping, nonces, unknown channels."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.template import Context, Engine, TemplateSyntaxError, engines
from django.test import Client
from django.urls import reverse

from realtime_agents.models import Channel
from tests import rows

pytestmark = pytest.mark.django_db

UNAVAILABLE = "<!-- realtime_agent_widget: this channel is unavailable -->"


def render(source: str, **context: Any) -> str:
    template = engines["django"].from_string("{% load realtime_agents %}" + source)
    return template.render(context)


def test_renders_the_element_its_module_script_and_a_noscript_line() -> None:
    rows.channel("desk", rows.agent("desk"))
    html = render('{% realtime_agent_widget "desk" %}')
    assert '<script type="module" src="/static/realtime_agents/widget.js"></script>' in html
    assert '<realtime-agent-widget data-channel="desk" data-url="/ws/realtime/desk/"' in html
    assert 'data-mode="hands-free"></realtime-agent-widget>' in html
    assert "<noscript>" in html
    assert "nonce" not in html


@pytest.mark.parametrize(
    ("turn_detection", "mode"),
    [("", "hands-free"), ("server_vad", "hands-free"), ("semantic_vad", "hands-free"),
     ("none", "push-to-talk")],
)
def test_mode_follows_the_channels_turn_detection(turn_detection: str, mode: str) -> None:
    rows.channel("desk", rows.agent("desk"), turn_detection=turn_detection)
    assert f'data-mode="{mode}"' in render('{% realtime_agent_widget "desk" %}')


def test_arguments_override_mode_url_and_labels() -> None:
    rows.channel("desk", rows.agent("desk"))
    html = render('{% realtime_agent_widget "desk" mode="push-to-talk" '
                  'url="wss://voice.example.com/ws/realtime/desk/" '
                  'label_start="Talk to us" label_title="Front desk" %}')
    assert 'data-mode="push-to-talk"' in html
    assert 'data-url="wss://voice.example.com/ws/realtime/desk/"' in html
    assert 'data-label-start="Talk to us"' in html and 'data-label-title="Front desk"' in html


def test_a_channel_row_needs_no_query(django_assert_num_queries: Any) -> None:
    channel = rows.channel("desk", rows.agent("desk"))
    with django_assert_num_queries(0):
        html = render("{% realtime_agent_widget channel %}", channel=channel)
    assert 'data-channel="desk"' in html


def test_attribute_values_are_escaped_whether_variables_or_literals() -> None:
    # An unsaved row can carry any slug; the tag must not trust it.
    channel = Channel(slug='x"><script>alert(1)</script>', name="X", is_active=True)
    html = render('{% realtime_agent_widget channel label_title=title label_send="<b>Go</b> & \'run\'" %}',
                  channel=channel, title='"><img src=x onerror=alert(2)>')
    assert "<script>alert(1)" not in html and "<img" not in html and "<b>" not in html
    assert 'data-channel="x&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html
    assert 'data-label-title="&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"' in html
    assert 'data-label-send="&lt;b&gt;Go&lt;/b&gt; &amp; &#x27;run&#x27;"' in html


def test_nonce_from_the_argument_the_context_or_the_request() -> None:
    rows.channel("desk", rows.agent("desk"))
    assert 'nonce="abc"' in render('{% realtime_agent_widget "desk" nonce="abc" %}')
    assert 'nonce="ctx"' in render('{% realtime_agent_widget "desk" %}', csp_nonce="ctx")
    request = SimpleNamespace(csp_nonce="req")
    assert 'nonce="req"' in render('{% realtime_agent_widget "desk" %}', request=request)
    # The explicit argument wins; a hostile nonce cannot break out of the attribute.
    html = render('{% realtime_agent_widget "desk" nonce=n %}', n='"><script>', request=request)
    assert 'nonce="&quot;&gt;&lt;script&gt;"' in html and "req" not in html


def test_unknown_channel_raises_while_debugging_and_renders_a_comment_otherwise(settings: Any) -> None:
    settings.DEBUG = True
    with pytest.raises(ImproperlyConfigured, match="no channel with the slug 'nope'"):
        render('{% realtime_agent_widget "nope" %}')
    settings.DEBUG = False
    html = render('{% realtime_agent_widget slug %}', slug="nope--><script>")
    assert html == UNAVAILABLE


def test_inactive_channel_renders_a_comment_unless_asked_to_show_it(settings: Any) -> None:
    settings.DEBUG = True
    rows.channel("closed", rows.agent("closed"), is_active=False)
    assert render('{% realtime_agent_widget "closed" %}') == UNAVAILABLE
    assert 'data-channel="closed"' in render('{% realtime_agent_widget "closed" show_inactive=True %}')


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('{% realtime_agent_widget "desk" mode="walkie-talkie" %}', "mode must be one of"),
        ('{% realtime_agent_widget "desk" colour="red" %}', "unknown argument 'colour'"),
        ('{% realtime_agent_widget "desk" label_shout="Hey" %}', "unknown argument 'label_shout'"),
        ('{% realtime_agent_widget "" %}', "needs a channel slug"),
    ],
)
def test_bad_arguments_are_template_errors(source: str, message: str) -> None:
    rows.channel("desk", rows.agent("desk"))
    with pytest.raises(TemplateSyntaxError, match=message):
        render(source)


def test_try_it_page_embeds_the_widget_even_for_an_inactive_channel(client: Client) -> None:
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw"))
    rows.channel("quiet", rows.agent("quiet"), is_active=False, turn_detection="none")
    page = client.get(reverse("realtime_agents:try_it", args=["quiet"])).content.decode()
    assert '<realtime-agent-widget data-channel="quiet" data-url="/ws/realtime/quiet/"' in page
    assert 'data-mode="push-to-talk"' in page
    assert "This channel is inactive" in page


def test_the_demo_home_page_embeds_the_demo_channel() -> None:
    rows.channel("demo", rows.agent("concierge"))
    root = Path(__file__).resolve().parent.parent
    engine = Engine(dirs=[str(root / "templates")], app_dirs=True,
                    libraries={"realtime_agents": "realtime_agents.templatetags.realtime_agents"})
    html = engine.get_template("home.html").render(Context({}))
    assert '<realtime-agent-widget data-channel="demo"' in html
    assert reverse("realtime_agents:try_it", args=["demo"]) in html
