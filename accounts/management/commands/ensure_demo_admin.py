"""python manage.py ensure_demo_admin: create the demo staff logins once (development only).

Creates a superuser "admin", a teller "teller" (group Tellers) and a privacy officer "privacy"
(group Privacy officers), each with a random password printed once to stdout as
`admin=<username> password=<password> url=/admin/`. An existing user keeps its password.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

# (username, group or None for the superuser)
DEMO_STAFF = (("admin", None), ("teller", "Tellers"), ("privacy", "Privacy officers"))
ADMIN_URL = "/admin/"


def _create(username: str, group_name: str | None) -> str:
    """Create the demo user with a fresh random password and return the password."""
    password = secrets.token_urlsafe(18)
    users = get_user_model().objects
    if group_name is None:
        users.create_superuser(username, email="", password=password)
    else:
        user = users.create_user(username, password=password, is_staff=True)
        user.groups.add(Group.objects.get_or_create(name=group_name)[0])
    return password


class Command(BaseCommand):
    help = "Create the demo staff users admin, teller and privacy with random passwords (DEBUG only)."

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        if not settings.DEBUG:
            raise CommandError(
                "ensure_demo_admin only runs with DJANGO_DEBUG=true: demo staff accounts must never "
                "exist in production."
            )
        with transaction.atomic():
            for username, group_name in DEMO_STAFF:
                if get_user_model().objects.filter(username=username).exists():
                    self.stdout.write(f"admin={username} exists; password unchanged")
                    continue
                password = _create(username, group_name)
                self.stdout.write(f"admin={username} password={password} url={ADMIN_URL}")
