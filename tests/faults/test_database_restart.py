"""PostgreSQL restarted under ATM traffic: no money moves twice or gets lost, and service resumes by itself.

Four customers withdraw, deposit and transfer over HTTP through gunicorn (two workers) while the
machine's PostgreSQL cluster is stopped for a few seconds and started again. A customer whose
request fails presses the button again with the same form (same one-time token) until it gets an
answer. gunicorn is never restarted: its Django connections must heal by themselves.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from tests.faults.stack import (
    Outage,
    PostgresCluster,
    Traffic,
    customers_logged_in,
    gunicorn,
    ledger_read,
    posting_problems,
    site_env,
    site_populate,
    site_prepare,
)

pytestmark = pytest.mark.postgres

CUSTOMERS = 4
# How long the cluster stays down between stop and start.
HOLD_SECONDS = 2.0
# Deadlines, not expectations: hitting one means the stack did not recover at all.
RECOVERY_SECONDS = 30
TRAFFIC_LIMIT_SECONDS = 90


def _summary(outage: Outage, traffic: Traffic) -> str:
    """Return the run's figures in one line (shown with pytest -s)."""
    errors = traffic.attempts("error")
    kinds = Counter(a.detail.split(":")[0] for a in errors).most_common()
    after = [a.ended - outage.back for a in traffic.attempts("ok") if a.started >= outage.back]
    resubmitted = [r for r in traffic.receipts() if r.posts > 1]
    replays = sum(r.replayed for r in resubmitted)
    return (f"PostgreSQL down {outage.seconds:.1f} s; {len(errors)} failed requests {kinds}, all during the outage; "
            f"first success {min(after):.2f} s after it was back; {len(resubmitted)} operations resubmitted, "
            f"{replays} of them answered with the earlier receipt; {len(traffic.receipts())} receipts in all")


def test_it_moves_money_exactly_once_across_a_database_restart(
    fault_database: str, postgres_cluster: PostgresCluster, tmp_path: Path
) -> None:
    env = site_env(fault_database, broker="memory://")
    site_prepare(env)
    cards, before = site_populate(env, CUSTOMERS)

    with gunicorn(env, tmp_path / "gunicorn.log") as base:
        customers = customers_logged_in(base, cards)
        with Traffic(customers, TRAFFIC_LIMIT_SECONDS) as traffic:
            traffic.wait_for_receipts(after=time.monotonic(), each=2, seconds=RECOVERY_SECONDS)
            outage = postgres_cluster.restart(HOLD_SECONDS)
            traffic.wait_for_receipts(after=outage.back, each=3, seconds=RECOVERY_SECONDS)

    errors = traffic.attempts("error")
    assert errors, "no request failed: the restart did not hit the traffic"
    assert [a for a in errors if a.started >= outage.back] == []
    assert traffic.attempts("refused") == []
    assert traffic.unfinished() == []

    after = ledger_read(env)
    assert posting_problems(before, after, traffic.receipts()) == []
    withdrawn = -after.sum_since(before, "withdrawal")
    deposited = after.sum_since(before, "deposit")
    assert withdrawn > 0 and deposited > 0
    assert after.total_minor == before.total_minor - withdrawn + deposited
    assert after.verification.startswith("Ledger OK: "), after.verification
    print(_summary(outage, traffic))
