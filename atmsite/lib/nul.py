"""NUL characters, which PostgreSQL text and jsonb cannot hold, refused where requests enter.

A NUL that reaches a query is a server error on PostgreSQL (SQLite accepts it), so a URL path or
query string holding one is answered 400 before any view runs. Form fields refuse NUL themselves
(Django's CharField validator); uploaded files and parsed JSON are checked by `refuse_nul`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from .admin import has_nul

NUL_MESSAGE = "Null characters are not allowed."


def holds_nul(value: Any) -> bool:
    """Return True when a string, or any key or string inside parsed JSON, holds a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    return "\\u0000" in json.dumps(value)


def refuse_nul(value: Any, message: str = NUL_MESSAGE) -> Any:
    """Return `value`; raise a form ValidationError with `message` when it holds a NUL character."""
    if holds_nul(value):
        raise ValidationError(message, code="null_characters_not_allowed")
    return value


class RefuseNulMiddleware:
    """Answer 400 to a request whose path or query string holds a NUL character."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or has_nul(request.GET):
            return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
