"""The idle time of an ATM session, for the countdown the page shows (the server enforces it)."""

from __future__ import annotations

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def idle_seconds() -> int:
    """Return how long a session lasts without a request, in seconds."""
    return int(settings.ATM_SESSION_IDLE_SECONDS)
