"""System checks of the release settings."""

from __future__ import annotations

from anonymization.checks import release_settings_check


def _ids() -> list[str]:
    return [message.id for message in release_settings_check()]


def test_it_passes_the_test_settings():
    assert _ids() == []


def test_it_refuses_release_files_under_a_public_static_folder(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    assert _ids() == ["anonymization.E003"]


def test_it_needs_a_broker_unless_tasks_run_eagerly_and_a_sane_stale_timeout(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.CELERY_BROKER_URL = ""
    settings.ANONYMIZATION_STALE_SECONDS = -1
    assert _ids() == ["anonymization.E001", "anonymization.E002"]


def test_it_refuses_a_negative_or_fractional_hold_back_limit(settings):
    for bad in (-1, 1.5, True):
        settings.ANONYMIZATION_MAX_HOLD_DAYS = bad
        assert _ids() == ["anonymization.E004"]
    settings.ANONYMIZATION_MAX_HOLD_DAYS = 0
    assert _ids() == []
