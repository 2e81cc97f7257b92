"""Staff login cost: server time of a POST to /admin/login/ with the configured staff hasher.

Runs the real Django stack in process (django.test.Client) on a throwaway SQLite database, with
the production settings' password hashing (STAFF_ARGON2_*), and prints the median server time of
a right and a wrong password, beside the median of one verify at Django's default Argon2 cost
(100 MiB, 8 lanes) that staff hashes had before.

    .venv/bin/python -m benchmarks.staff_login [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_django(folder: str) -> None:
    """Point Django at a fresh SQLite database in `folder` with throwaway secrets, and migrate."""
    import secrets

    for name in ("DJANGO_SECRET_KEY", "ATM_PAN_HMAC_KEY", "ATM_PIN_PEPPER", "ATM_FIELD_ENCRYPTION_KEY"):
        os.environ.setdefault(name, secrets.token_urlsafe(48))
    os.environ.update({"DATABASE_URL": f"sqlite:///{folder}/staff_login.sqlite3", "DJANGO_LOG_LEVEL": "WARNING",
                       "DJANGO_SECURE_SSL_REDIRECT": "false", "DJANGO_SECURE_COOKIES": "false",
                       "DJANGO_ENV_FILE": "", "STAFF_LOGIN_FAILURE_LIMIT": "1000000",
                       "DJANGO_ALLOWED_HOSTS": "testserver",
                       "DJANGO_DEBUG": "true"})  # DEBUG: static files without a collectstatic manifest
    os.environ["DJANGO_SETTINGS_MODULE"] = "atmsite.settings"
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def login_times(password: str, runs: int) -> list[float]:
    """Return the seconds each of `runs` logins as bob with `password` took, from a fresh client."""
    from django.test import Client

    times = []
    for _ in range(runs):
        client = Client()
        started = time.perf_counter()
        response = client.post("/admin/login/", {"username": "bob", "password": password, "next": "/admin/"})
        times.append(time.perf_counter() - started)
        assert response.status_code == (302 if password == "teller-password-1" else 200), response.status_code
    return times


def django_default_verify(runs: int) -> float:
    """Return the median seconds of one verify at Django's default Argon2 parameters."""
    from django.contrib.auth.hashers import Argon2PasswordHasher

    hasher = Argon2PasswordHasher()
    encoded = hasher.encode("teller-password-1", hasher.salt())
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        hasher.verify("teller-password-1", encoded)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        setup_django(folder)
        from django.conf import settings
        from django.contrib.auth.models import User

        User.objects.create_user("bob", password="teller-password-1", is_staff=True)
        right = statistics.median(login_times("teller-password-1", args.runs))
        wrong = statistics.median(login_times("wrong-password-9", args.runs))
        default = django_default_verify(args.runs)
        cost = (settings.STAFF_ARGON2_MEMORY_KIB, settings.STAFF_ARGON2_TIME_COST, settings.STAFF_ARGON2_PARALLELISM)
        print(f"staff hasher: argon2id m={cost[0]} KiB t={cost[1]} p={cost[2]}")
        print(f"login, right password: median {right * 1000:.0f} ms over {args.runs}")
        print(f"login, wrong password: median {wrong * 1000:.0f} ms over {args.runs}")
        print(f"one verify at Django's default Argon2 (100 MiB, p=8): median {default * 1000:.0f} ms")


if __name__ == "__main__":
    main()
