"""The Celery tasks keep the names stored in beat rows and routed by the service."""

from __future__ import annotations

from celery import current_app

from anonymization.release import service, tasks


def test_it_registers_the_tasks_under_their_stored_names():
    assert service.RUN_TASK == "anonymization.tasks.run_release"
    assert service.NIGHTLY_TASK == "anonymization.tasks.run_nightly_release"
    assert tasks.run_release.name == service.RUN_TASK
    assert tasks.run_nightly_release.name == service.NIGHTLY_TASK
    assert {service.RUN_TASK, service.NIGHTLY_TASK} <= set(current_app.tasks)


def test_it_answers_a_missing_release_without_running_anything(db):
    assert tasks.run_release.apply(args=[999]).get() == "Release #999 does not exist."
