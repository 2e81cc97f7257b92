"""The environment of a production-like deployment run as child processes (gunicorn, Celery, manage.py)."""

from __future__ import annotations

import os
import secrets

# Settings the parent's environment must not leak into the deployment: it gets its own.
OWN_PREFIXES = ("DJANGO_", "ATM_", "CELERY_", "DATABASE_")
SECRET_NAMES = ("DJANGO_SECRET_KEY", "ATM_PAN_HMAC_KEY", "ATM_PIN_PEPPER", "ATM_FIELD_ENCRYPTION_KEY")


def deployment_env(*, database_url: str, **extra: str) -> dict[str, str]:
    """Return a deployment's environment: DEBUG off, plain HTTP on 127.0.0.1, fresh random secrets.

    No .env file is read and the login throttle is out of the way (simulated customers share one
    address). `extra` adds or overrides variables, such as CELERY_BROKER_URL.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith(OWN_PREFIXES)}
    env.update({
        "DATABASE_URL": database_url, "DJANGO_ENV_FILE": "",
        "DJANGO_DEBUG": "false", "DJANGO_SECURE_SSL_REDIRECT": "false", "DJANGO_SECURE_COOKIES": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_LOG_LEVEL": "WARNING",
        "ATM_LOGIN_THROTTLE_ATTEMPTS": "100000",
        **{name: secrets.token_urlsafe(48) for name in SECRET_NAMES},
        **extra,
    })
    return env
