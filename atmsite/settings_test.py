"""Settings for the test suite: the real settings, with throwaway secrets and cheap PIN hashing.

Secrets are random per test run; services (PostgreSQL, Redis) come from DATABASE_URL and
CELERY_BROKER_URL exactly as in production.
"""

from __future__ import annotations

import os
import secrets

for _name in ("DJANGO_SECRET_KEY", "ATM_PAN_HMAC_KEY", "ATM_PIN_PEPPER", "ATM_FIELD_ENCRYPTION_KEY"):
    os.environ.setdefault(_name, secrets.token_urlsafe(48))
os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("DJANGO_SECURE_COOKIES", "false")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")

from .settings import *  # noqa: E402,F403
from .settings import VAR_DIR  # noqa: E402

# Argon2 at its minimum cost: the rules (pepper, lockout) are tested, not the hash's strength.
ATM_ARGON2_TIME_COST = 1
ATM_ARGON2_MEMORY_KIB = 8
ATM_ARGON2_PARALLELISM = 1
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = VAR_DIR / "test-media" / str(os.getpid())
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_TASK_ALWAYS_EAGER", "true").lower() == "true"
CELERY_TASK_EAGER_PROPAGATES = True
# Tests run without collectstatic; let WhiteNoise find files through the finders.
WHITENOISE_AUTOREFRESH = True
