"""Branded error pages (400, 403, 404, 500, CSRF) that reveal nothing, in production and in development.

Each page says what happened in plain words and where to go next; it never echoes the path, the
exception or the URL patterns. Pages under the back office (/admin/, /releases/) look like the
back office, every other page like the web ATM. Under DEBUG Django answers an unknown URL with a
page listing every URL pattern and an error with a traceback: DebugErrorPagesMiddleware puts the
branded page in their place (the traceback still goes to the log).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template import loader

BACK_OFFICE_PREFIXES = ("/admin/", "/releases/")
PAGES = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    403: ("Not allowed", "You do not have access to this page. Ask your administrator if you think you should."),
    404: ("Page not found", "There is no page at this address. Check the address, or start again from the home page."),
    500: ("Something went wrong", "The server could not finish this request. Nothing was changed; please try again "
          "in a moment."),
}
CSRF_PAGE = ("Form expired", "This form was open too long or came from another page, so it was not sent. Go back, "
             "reload the page and send it again.")
# Set on every branded response, so the DEBUG middleware leaves it as it is.
BRANDED = "_atmsite_branded"


def _is_back_office(request: HttpRequest | None) -> bool:
    return request is not None and request.path.startswith(BACK_OFFICE_PREFIXES)


def error_response(request: HttpRequest | None, status: int, page: tuple[str, str] | None = None) -> HttpResponse:
    """Render the branded page for `status` without touching the database or the session."""
    title, text = page or PAGES[status]
    back_office = _is_back_office(request)
    context = {"status": status, "title": title, "text": text,
               "home": "/admin/" if back_office else "/", "back_office": back_office}
    # Rendered without a RequestContext: a 500 may come from a broken database or session store.
    body = loader.get_template("errors/page.html").render(context)
    response = HttpResponse(body, status=status, content_type="text/html; charset=utf-8")
    setattr(response, BRANDED, True)
    return response


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(request, 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(request, 403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_response(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    return error_response(request, 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return error_response(request, 403, CSRF_PAGE)


class DebugErrorPagesMiddleware:
    """Under DEBUG, answer with the branded page where Django would show its technical 404 or 500 page.

    Only HTML responses are replaced: a plain-text 400 or 404 a view wrote on purpose stays. Outside
    DEBUG the handlers in atmsite.urls already render the branded pages.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (settings.DEBUG and response.status_code in PAGES and not getattr(response, BRANDED, False)
                and response.get("Content-Type", "").startswith("text/html")):
            return error_response(request, response.status_code)
        return response
