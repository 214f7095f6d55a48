"""TwiML documents the Twilio path answers with: connect a stream, dial a number, say and hang up."""

from __future__ import annotations

from collections.abc import Mapping
from xml.etree.ElementTree import Element, SubElement, tostring

__all__ = ["TWIML_CONTENT_TYPE", "connect_stream", "dial", "hang_up"]

TWIML_CONTENT_TYPE = "text/xml; charset=utf-8"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def _document(response: Element) -> str:
    # ElementTree escapes attribute values and text, so caller-supplied values cannot break the XML.
    return _DECLARATION + tostring(response, encoding="unicode")


def connect_stream(*, stream_url: str, action_url: str, parameters: Mapping[str, str]) -> str:
    """`<Connect action=…><Stream url=…>` with `<Parameter>`s: a bidirectional stream, then the action URL."""
    response = Element("Response")
    connect = SubElement(response, "Connect", {"action": action_url, "method": "POST"})
    stream = SubElement(connect, "Stream", {"url": stream_url})
    # Twilio drops query strings from stream URLs: per-call values travel as parameters.
    for name, value in parameters.items():
        SubElement(stream, "Parameter", {"name": name, "value": value})
    return _document(response)


def dial(number: str) -> str:
    """Transfer the caller: `<Dial>` the number (the call ends when that leg does)."""
    response = Element("Response")
    SubElement(response, "Dial").text = number
    return _document(response)


def hang_up(say: str = "") -> str:
    """End the call, after saying `say` when given."""
    response = Element("Response")
    if say:
        SubElement(response, "Say").text = say
    SubElement(response, "Hangup")
    return _document(response)
