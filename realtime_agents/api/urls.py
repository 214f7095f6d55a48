"""URL routes of the JSON API, included under `api/` by `realtime_agents.urls`."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "api"

urlpatterns = [
    path("conversations/", views.conversation_list, name="conversations"),
    path("conversations/<uuid:public_id>/", views.conversation_detail, name="conversation"),
]
