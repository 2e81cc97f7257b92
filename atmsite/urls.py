"""Top-level URLs: the web ATM at /, staff admin at /admin/."""

from django.contrib import admin
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

admin.site.site_header = "atmsite back office"
admin.site.site_title = "atmsite back office"

# Branded pages that reveal nothing (atmsite/errors.py); DebugErrorPagesMiddleware does the same under DEBUG.
handler400 = "atmsite.errors.bad_request"
handler403 = "atmsite.errors.permission_denied"
handler404 = "atmsite.errors.page_not_found"
handler500 = "atmsite.errors.server_error"


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Send browsers asking for /favicon.ico to the static icon (resolved per request, after collectstatic)."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("releases/", include("anonymization.urls")),
    path("", include("atm.urls")),
]
