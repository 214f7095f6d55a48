"""URL routes of the demo project."""
from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("realtime/", include("realtime_agents.urls")),
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
]
