"""Demo staff (the ensure_demo_admin command): printed passwords, kept on re-runs, only with DEBUG."""

from __future__ import annotations

import io
import re

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory

pytestmark = pytest.mark.django_db

ADMIN_LINE = re.compile(r"^admin=(\w+) password=(\S{20,}) url=/admin/$")


@pytest.fixture(autouse=True)
def debug_on(settings):
    settings.DEBUG = True
    return settings


def _login_request():
    """A login request: the staff lockout (django-axes) authenticates only with one."""
    return RequestFactory().post("/admin/login/")


def _ensure_demo_admin() -> list[str]:
    out = io.StringIO()
    call_command("ensure_demo_admin", stdout=out)
    return out.getvalue().splitlines()


def test_it_creates_demo_staff_with_printed_passwords():
    lines = _ensure_demo_admin()
    logins = dict(ADMIN_LINE.match(line).groups() for line in lines)
    assert list(logins) == ["admin", "teller", "privacy"]
    for username, password in logins.items():
        user = authenticate(_login_request(), username=username, password=password)
        assert user is not None and user.is_staff
    users = get_user_model().objects
    assert users.get(username="admin").is_superuser
    assert list(users.get(username="teller").groups.values_list("name", flat=True)) == ["Tellers"]
    assert list(users.get(username="privacy").groups.values_list("name", flat=True)) == ["Privacy officers"]
    assert not users.get(username="teller").is_superuser


def test_it_keeps_existing_demo_staff_passwords():
    first = dict(ADMIN_LINE.match(line).groups() for line in _ensure_demo_admin())
    again = _ensure_demo_admin()
    assert again == [f"admin={name} exists; password unchanged" for name in ("admin", "teller", "privacy")]
    assert all(authenticate(_login_request(), username=name, password=password) for name, password in first.items())


def test_it_refuses_to_create_demo_staff_without_debug(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="ensure_demo_admin only runs with DJANGO_DEBUG=true"):
        _ensure_demo_admin()
    assert get_user_model().objects.count() == 0
