"""System checks for the release settings (run by `manage.py check` and at start-up)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register()
def release_settings_check(app_configs: object = None, **kwargs: object) -> list[CheckMessage]:
    """Require a broker unless tasks run eagerly, sane stale and hold-back limits, and unpublished media."""
    problems: list[CheckMessage] = []
    if not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False) and not getattr(settings, "CELERY_BROKER_URL", ""):
        problems.append(Error("CELERY_BROKER_URL is empty, so nightly releases can never be queued.",
                              hint="Set CELERY_BROKER_URL (redis://... in production).", id="anonymization.E001"))
    stale = settings.ANONYMIZATION_STALE_SECONDS
    if isinstance(stale, bool) or not isinstance(stale, int) or stale < 0:
        problems.append(Error(f"ANONYMIZATION_STALE_SECONDS must be a whole number of seconds >= 0, not {stale!r}.",
                              id="anonymization.E002"))
    hold = settings.ANONYMIZATION_MAX_HOLD_DAYS
    if isinstance(hold, bool) or not isinstance(hold, int) or hold < 0:
        problems.append(Error(f"ANONYMIZATION_MAX_HOLD_DAYS must be a whole number of days >= 0, not {hold!r}.",
                              id="anonymization.E004"))
    media = Path(settings.MEDIA_ROOT).resolve()
    public = [Path(p).resolve() for p in [settings.STATIC_ROOT, *getattr(settings, "STATICFILES_DIRS", [])] if p]
    if any(media == folder or folder in media.parents for folder in public):
        problems.append(Error("MEDIA_ROOT lies inside a static files folder, so release files would be public.",
                              hint="Keep MEDIA_ROOT outside STATIC_ROOT and STATICFILES_DIRS.",
                              id="anonymization.E003"))
    return problems
