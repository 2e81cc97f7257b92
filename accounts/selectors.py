"""Read paths over customers."""

from __future__ import annotations

from django.db.models import QuerySet

from .crypto import blind_index
from .models import Customer


def customer_list_by_email(*, email: str) -> QuerySet[Customer]:
    """Return the customers whose (encrypted) email equals `email`, ignoring case, via the blind index."""
    return Customer.objects.filter(email_index=blind_index(email)) if email.strip() else Customer.objects.none()
