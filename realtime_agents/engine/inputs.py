"""Typed shapes of what apps send: structured user messages (seed `RealtimeUserInputMessage`)."""
from __future__ import annotations

from typing import Literal, NotRequired, TypedDict, Union


class UserInputText(TypedDict):
    """A text part of a user message."""

    type: Literal["input_text"]
    text: str


class UserInputImage(TypedDict):
    """An image part of a user message, as a data URL."""

    type: Literal["input_image"]
    image_url: str
    detail: NotRequired[Literal["auto", "low", "high"]]


class UserInputMessage(TypedDict):
    """A structured user message for `Session.send_message`."""

    type: Literal["message"]
    role: Literal["user"]
    content: list[Union[UserInputText, UserInputImage]]
