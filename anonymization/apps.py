from __future__ import annotations

from django.apps import AppConfig


class AnonymizationConfig(AppConfig):
    name = "anonymization"
    verbose_name = "Anonymized releases"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .release import tasks  # noqa: F401  (registers the Celery tasks, which live below release/)
