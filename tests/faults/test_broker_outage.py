"""Redis down under ATM traffic: the ATM does not need the broker, and Celery works again once it is back.

gunicorn and a Celery worker use a redis-server of the test's own (never the machine's shared one),
which is killed with SIGKILL during the traffic and started again on the same port, empty. Neither
gunicorn, the worker nor the client that queues tasks is restarted.
"""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path

import psycopg
import pytest
from celery import Celery
from kombu.exceptions import OperationalError

from tests.faults.stack import (
    AtmCustomer,
    RedisServer,
    Traffic,
    celery_worker,
    customers_logged_in,
    gunicorn,
    ledger_read,
    posting_problems,
    site_env,
    site_populate,
    site_prepare,
    wait_until,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

CUSTOMERS = 3
PRUNE_TASK = "accounts.prune_login_attempts"
# Deadlines, not expectations: the worker's reconnection backs off for a few seconds.
TASK_SECONDS = 60
TRAFFIC_SECONDS = 30


class TaskClient:
    """A long-lived client queueing tasks on one broker; it fails at once, without retrying, while that is down."""

    def __init__(self, broker_url: str) -> None:
        self.app = Celery("atmsite-faults", set_as_current=False)
        self.app.conf.update(broker_connection_timeout=2, broker_connection_retry=False, task_publish_retry=False)
        # An explicit connection: Celery would prefer a CELERY_BROKER_URL variable over broker=.
        self.connection = self.app.connection_for_write(broker_url)

    def send(self) -> str:
        """Queue the login-attempt pruning task; return its id."""
        return self.app.send_task(PRUNE_TASK, retry=False, connection=self.connection).id

    def close(self) -> None:
        self.connection.release()


def _task_status(database_url: str, task_id: str) -> str | None:
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        row = conn.execute("SELECT status FROM django_celery_results_taskresult WHERE task_id = %s",
                           [task_id]).fetchone()
    return row[0] if row else None


def _run_task(producer: TaskClient, database_url: str) -> str:
    """Queue the login-attempt pruning task, wait until the worker has run it; return its id."""
    task_id = producer.send()
    wait_until(lambda: _task_status(database_url, task_id) == "SUCCESS", f"the worker to run {task_id}",
               TASK_SECONDS)
    return task_id


def test_it_serves_the_atm_while_redis_is_down_and_queues_tasks_again_after(
    fault_database: str, private_redis: RedisServer, tmp_path: Path
) -> None:
    env = site_env(fault_database, broker=private_redis.url)
    site_prepare(env)
    cards, before = site_populate(env, CUSTOMERS + 1)
    with (
        closing(TaskClient(private_redis.url)) as producer,
        gunicorn(env, tmp_path / "gunicorn.log") as base,
        celery_worker(env, tmp_path / "worker.log") as worker,
    ):
        _run_task(producer, fault_database)
        customers = customers_logged_in(base, cards[:CUSTOMERS])
        with Traffic(customers, TRAFFIC_SECONDS * 3) as traffic:
            traffic.wait_for_receipts(after=time.monotonic(), each=2, seconds=TRAFFIC_SECONDS)
            private_redis.kill()
            down_at = time.monotonic()
            with pytest.raises(OperationalError, match="Connection refused"):
                producer.send()
            late_customer = AtmCustomer(base, cards[-1], [cards[0].number], seed=99)
            assert late_customer.login() and late_customer.step(), late_customer.attempts
            traffic.wait_for_receipts(after=down_at, each=5, seconds=TRAFFIC_SECONDS)
            private_redis.start()
            up_at = time.monotonic()
            _run_task(producer, fault_database)
            resumed_at = time.monotonic()
        assert worker.poll() is None, "the Celery worker died with the broker"

    assert traffic.attempts("error") == []
    assert traffic.attempts("refused") == []
    assert traffic.unfinished() == []
    after = ledger_read(env)
    assert posting_problems(before, after, traffic.receipts() + late_customer.receipts) == []
    assert after.verification.startswith("Ledger OK: "), after.verification
    during = sum(down_at <= r.started < up_at for r in traffic.receipts())
    print(f"Redis down {up_at - down_at:.1f} s; {during} receipts meanwhile, no failed request; "
          f"a task queued and run {resumed_at - up_at:.1f} s after Redis was back")
