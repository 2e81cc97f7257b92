"""Top-level URLs: the web ATM at /, staff admin at /admin/."""

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "atmsite back office"
admin.site.site_title = "atmsite back office"

urlpatterns = [
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
]
