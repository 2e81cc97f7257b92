"""Top-level URLs: the web ATM at /, staff admin at /admin/."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "atmsite back office"
admin.site.site_title = "atmsite back office"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
]
