"""Staff password hashing: Django's argon2id hasher at a bounded, configured cost.

Django's default (100 MiB, 8 lanes) took ~280 ms of CPU a guess here, and fifty concurrent
guesses at /admin/login/ starved the web ATM. This hasher uses the cost of the PIN hashes
(OWASP's baseline, 19 MiB, t=2, p=1 by default: STAFF_ARGON2_*), and lets at most
STAFF_PASSWORD_VERIFY_CONCURRENCY verifications run at once per process. Its algorithm name is
Django's ("argon2"), so existing hashes still verify, and Django re-hashes them at the configured
cost on the next successful login (`must_update`).
"""

from __future__ import annotations

import threading
from functools import cache

from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher


@cache
def _verify_slots(limit: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(limit)


class StaffArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2id with the cost from settings and a bound on concurrent verifications."""

    @property  # type: ignore[override]
    def time_cost(self) -> int:
        return int(settings.STAFF_ARGON2_TIME_COST)

    @property  # type: ignore[override]
    def memory_cost(self) -> int:
        return int(settings.STAFF_ARGON2_MEMORY_KIB)

    @property  # type: ignore[override]
    def parallelism(self) -> int:
        return int(settings.STAFF_ARGON2_PARALLELISM)

    def verify(self, password: str, encoded: str) -> bool:
        """Check a password; wait while STAFF_PASSWORD_VERIFY_CONCURRENCY checks are running."""
        with _verify_slots(settings.STAFF_PASSWORD_VERIFY_CONCURRENCY):
            return bool(super().verify(password, encoded))
