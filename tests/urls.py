"""URL routes used by the test suite."""
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("realtime/", include("realtime_agents.urls")),
    path("browser-tests/", include("tests.browser.pages")),
]
