"""A recorded call shows its call SID and caller number in the conversation admin (staff only)."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conversation_rows import conversation, staff

pytestmark = pytest.mark.django_db

CALL_SID = "CA" + "c" * 32


def test_call_details_are_shown_to_staff_only() -> None:
    conv = conversation(
        messages=[("assistant", "Hello")],
        channel_slug="support",
        call_id=CALL_SID,
        caller_number="+15550001111",
    )
    url = f"/admin/realtime_agents/conversation/{conv.pk}/change/"
    reader = Client()
    reader.force_login(staff("reader"))
    page = reader.get(url).content.decode()
    assert CALL_SID in page and "+15550001111" in page
    outsider = Client()
    outsider.force_login(staff("outsider", view=False))
    response = outsider.get(url)
    assert response.status_code == 403
    assert CALL_SID.encode() not in response.content
