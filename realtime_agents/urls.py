"""URL routes of the app's pages: include them with `path("realtime/", include("realtime_agents.urls"))`."""

from __future__ import annotations

from django.urls import include, path

from . import views

app_name = "realtime_agents"

urlpatterns = [
    path("try/<slug:slug>/", views.try_it, name="try_it"),
    path("api/", include("realtime_agents.api.urls")),
    path("", include("realtime_agents.telephony.urls")),
]
