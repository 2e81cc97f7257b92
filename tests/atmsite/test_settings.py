"""Settings (atmsite/settings.py): production settings pass the deploy check and fail loudly without secrets."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _production_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "ATM_"))}
    env.update({
        "DJANGO_SETTINGS_MODULE": "atmsite.settings", "DJANGO_DEBUG": "false", "DJANGO_ENV_FILE": "",
        "DJANGO_ALLOWED_HOSTS": "atm.example-bank.test",
        **{name: secrets.token_urlsafe(48) for name in (
            "DJANGO_SECRET_KEY", "ATM_PAN_HMAC_KEY", "ATM_PIN_PEPPER", "ATM_FIELD_ENCRYPTION_KEY")},
    })
    env.update(overrides)
    return env


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd="/",
                          capture_output=True, text=True, timeout=120)


def test_it_passes_the_deploy_check_with_production_settings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_it_refuses_to_start_without_a_secret_key():
    env = _production_env()
    del env["DJANGO_SECRET_KEY"]
    result = _manage("check", env=env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set to a random string of at least 32 characters" in result.stderr


def test_it_takes_the_release_storage_from_the_environment():
    code = "from django.conf import settings; print(settings.STORAGES['default'])"
    env = _production_env(DJANGO_DEFAULT_STORAGE_BACKEND="django.core.files.storage.InMemoryStorage",
                          DJANGO_DEFAULT_STORAGE_OPTIONS='{"location": "releases"}')
    result = _manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    assert "InMemoryStorage" in result.stdout and "'location': 'releases'" in result.stdout
