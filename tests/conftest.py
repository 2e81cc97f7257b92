"""Shared fixtures and the rules for service-backed tests.

Tests marked `postgres` need DATABASE_URL to point at PostgreSQL; tests marked `redis` need
CELERY_BROKER_URL to point at a reachable Redis; tests marked `browser` need /usr/bin/chromium; tests
marked `nginx` need Debian's nginx. Outside CI a missing service skips the test
with a message saying how to enable it; in CI (CI=true) it fails, so a broken CI set-up is
never mistaken for a pass.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings

from atmsite.nginx import nginx_binary

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _redis_reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), timeout=2):
            return True
    except OSError:
        return False


def _service_problem(item: pytest.Item) -> str | None:
    if item.get_closest_marker("postgres") and settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        return "needs PostgreSQL: set DATABASE_URL=postgres://postgres@127.0.0.1:5432/atmsite (see .ci/run)"
    if item.get_closest_marker("redis"):
        url = os.environ.get("CELERY_BROKER_URL", "")
        if not url.startswith("redis://"):
            return "needs Redis: set CELERY_BROKER_URL=redis://127.0.0.1:6379/0 (see .ci/run)"
        if not _redis_reachable(url):
            return f"Redis at {url} is unreachable"
    if item.get_closest_marker("browser") and not os.path.exists("/usr/bin/chromium"):
        return "needs Debian's Chromium: apt-get install chromium (.ci/run installs it)"
    if item.get_closest_marker("nginx") and nginx_binary() is None:
        return "needs Debian's nginx: apt-get install nginx (.ci/run installs it)"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    problem = _service_problem(item)
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"CI must provide this service: {problem}", pytrace=False)
    pytest.skip(problem)


@pytest.fixture
def alice_customer(db):
    """Alice: an ATM customer with a checking account holding 500.00 and a card (PIN 2468)."""
    from tests.factories import funded_card

    return funded_card(first_name="Alice", balance_minor=50_000, pin="2468")


@pytest.fixture
def charlie_customer(db):
    """Charlie: another customer (an outsider to Alice's account) with 100.00 (PIN 1357)."""
    from tests.factories import funded_card

    return funded_card(first_name="Charlie", balance_minor=10_000, pin="1357")


@pytest.fixture
def bob_teller(db):
    """Bob: a staff user in the Tellers group."""
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user("bob", password="teller-password-1", is_staff=True)
    group, _ = Group.objects.get_or_create(name="Tellers")
    user.groups.add(group)
    return user


@pytest.fixture
def admin_client_(client):
    """A client logged in as a superuser."""
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", "root@example.com", "root-password-1"))
    return client


@pytest.fixture
def teller_client(client, bob_teller):
    """A client logged in as Bob the teller."""
    client.force_login(bob_teller)
    return client
