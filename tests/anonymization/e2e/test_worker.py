"""Releases through a real Celery worker on Redis, with PostgreSQL shared between the test and the worker.

The worker in a thread (celery.contrib.testing) sees the data only on a real shared database, so
these tests are marked postgres and redis.
"""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from celery import current_app
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.db import connection

from anonymization.models import Release, ReleasePolicy
from anonymization.release import service, write
from transactions.demo import population_generate as populate

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
AS_OF = datetime.date(2025, 3, 31)
DEADLINE_SECONDS = 120
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def queue():
    """Turn eager execution off; return the queue the release task is routed to."""
    conf = current_app.conf
    saved = conf.task_always_eager
    conf.task_always_eager = False
    # The router is built once per app, so read the queue from it rather than setting a new one.
    yield current_app.amqp.router.route({}, "anonymization.tasks.run_release")["queue"].name
    conf.task_always_eager = saved


@pytest.fixture
def nightly(db) -> ReleasePolicy:
    populate(customers=60, entries=800, last_day=AS_OF, days=20, seed=11)
    return ReleasePolicy.objects.get(name="Nightly transactions")


def _wait_for(condition, what: str):  # type: ignore[no-untyped-def]
    """Poll until `condition()` is truthy; fail after a generous deadline (not a timing assertion)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


def _settled(release_id: int) -> Release | None:
    release = Release.objects.get(pk=release_id)
    return release if release.status in (Release.Status.PUBLISHED, Release.Status.FAILED) else None


def test_it_publishes_a_release_through_a_worker(queue, nightly):
    with start_worker(current_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        queued = service.release_enqueue(policy_id=nightly.pk, as_of=AS_OF)
        assert queued.status == Release.Status.QUEUED
        release = _wait_for(lambda: _settled(queued.pk), "the release to settle")
    assert release.status == Release.Status.PUBLISHED, release.error
    assert release.artifacts.count() == 4


_KILLABLE_WORKER = textwrap.dedent("""
    import os, sys, time
    import django
    from django.conf import settings
    settings.MEDIA_ROOT = sys.argv[2]
    django.setup()
    from anonymization.release import write
    original = write.write_data

    def write_then_hang(frame, folder):
        original(frame.head(5), folder)
        open(sys.argv[3], "w").close()
        time.sleep(600)

    write.write_data = write_then_hang
    from atmsite.celery import app
    app.worker_main(["worker", "--pool=solo", "-Q", sys.argv[1], "--loglevel=WARNING", "--without-heartbeat",
                     "--without-gossip", "--without-mingle"])
""")


def _killable_worker(queue: str, marker: Path) -> subprocess.Popen:
    database = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "atmsite.settings_test", "CELERY_TASK_ALWAYS_EAGER": "false",
           "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"}
    return subprocess.Popen([sys.executable, "-c", _KILLABLE_WORKER, queue, str(django_settings.MEDIA_ROOT),
                             str(marker)], cwd=ROOT, env=env)


def test_it_leaves_no_artifact_when_a_worker_is_killed_and_the_rerun_publishes(queue, nightly, tmp_path,
                                                                               settings):
    marker = tmp_path / "writing"
    worker = _killable_worker(queue, marker)
    try:
        queued = service.release_enqueue(policy_id=nightly.pk, as_of=AS_OF)
        _wait_for(marker.exists, "the worker to start writing")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    release = Release.objects.get(pk=queued.pk)
    assert release.status in (Release.Status.RUNNING, Release.Status.VERIFYING)
    assert not release.artifacts.exists()
    folder = write.release_folder(policy_id=nightly.pk, as_of="2025-03-31", release_id=release.pk)
    assert default_files(folder) == []

    settings.ANONYMIZATION_STALE_SECONDS = 0  # the dead worker's heartbeat is now stale
    with start_worker(current_app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
        service.release_enqueue(policy_id=nightly.pk, as_of=AS_OF)
        rerun = _wait_for(lambda: _settled(release.pk), "the rerun to settle")
    assert rerun.status == Release.Status.PUBLISHED, rerun.error
    assert rerun.attempts == 2
    assert sorted(Path(name).name for name in default_files(folder)) == [
        "metadata.json", "release.csv", "release.parquet", "report.html"]


def default_files(folder: str) -> list[str]:
    """Return the published (non-temporary) files of a release folder."""
    from django.core.files.storage import default_storage

    try:
        _folders, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return []
    return [f"{folder}/{name}" for name in files]
