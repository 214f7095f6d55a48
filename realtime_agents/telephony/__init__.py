"""Telephony building blocks: Twilio Media Streams, webhook signatures, the Realtime Calls API and SIP."""

from __future__ import annotations
