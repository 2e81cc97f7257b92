"""Release file downloads, under the "releases" namespace (mounted at /releases/)."""

from __future__ import annotations

from django.urls import path

from . import views

app_name = "releases"

urlpatterns = [
    path("<int:release_id>/files/<str:kind>/", views.download, name="download"),
    path("policies/<int:policy_id>/increments.csv", views.download_period, name="download_period"),
]
