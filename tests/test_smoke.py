"""The project skeleton: settings load, the admin answers, the ASGI application imports."""
from __future__ import annotations

import pytest
from django.conf import settings


def test_the_app_is_installed_after_daphne() -> None:
    apps = settings.INSTALLED_APPS
    assert apps[0] == "daphne"
    assert "realtime_agents" in apps


@pytest.mark.django_db
def test_admin_login_page_renders(client) -> None:
    response = client.get("/admin/login/")
    assert response.status_code == 200
