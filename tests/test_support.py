"""The helpers shared by tests and benchmarks (tests/support): thread harness and deployment environment."""

from __future__ import annotations

import threading

import pytest

from tests.support.deployment import SECRET_NAMES, deployment_env
from tests.support.threads import ThreadsStuck, run_together


def test_it_releases_the_threads_together_and_keeps_results_in_call_order():
    arrived = threading.Barrier(3, timeout=5)  # passes only if all three run at the same time
    closed = []

    def call(number: int):  # type: ignore[no-untyped-def]
        arrived.wait()
        if number == 1:
            raise ValueError("one")
        return number * 10

    outcomes = run_together([lambda n=n: call(n) for n in range(3)], after_each=lambda: closed.append(1))
    assert [outcome.value for outcome in outcomes] == [0, None, 20]
    assert [repr(outcome.error) for outcome in outcomes] == ["None", "ValueError('one')", "None"]
    assert len(closed) == 3


def test_it_gives_up_on_a_stuck_thread():
    release = threading.Event()
    with pytest.raises(ThreadsStuck, match="^1 of 2 threads still running after 0 s$"):
        run_together([lambda: None, lambda: release.wait(5)], timeout=0.2)
    release.set()


def test_it_gives_a_deployment_its_own_settings_and_fresh_secrets(monkeypatch):
    monkeypatch.setenv("DJANGO_DEBUG", "true")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://elsewhere")
    first = deployment_env(database_url="postgres://db/site", CELERY_BROKER_URL="redis://here")
    second = deployment_env(database_url="postgres://db/site")
    assert (first["DJANGO_DEBUG"], first["DATABASE_URL"], first["CELERY_BROKER_URL"]) == (
        "false", "postgres://db/site", "redis://here")
    assert "CELERY_BROKER_URL" not in second
    assert all(len(first[name]) >= 32 and first[name] != second[name] for name in SECRET_NAMES)
