"""Fixtures of the fault tests: a fresh database of their own, the machine's PostgreSQL cluster, a private Redis."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from tests.faults.stack import (
    PostgresCluster,
    RedisServer,
    database_drop,
    database_recreate,
    database_url,
    missing_tool,
)

FAULT_DATABASE = "atmsite_fault"


@pytest.fixture
def fault_database() -> Iterator[str]:
    """Yield the URL of an empty database `atmsite_fault` on the suite's server; drop it afterwards."""
    url = database_url(FAULT_DATABASE)
    database_recreate(url)
    yield url
    database_drop(url)


@pytest.fixture
def postgres_cluster(fault_database: str) -> Iterator[PostgresCluster]:
    """Yield the machine's PostgreSQL cluster; make sure it runs again afterwards, whatever happened.

    A restart cuts every connection, including this process's own one to the test database, so
    Django's connections are closed at the end: the next test opens fresh ones.
    """
    if shutil.which("pg_ctlcluster") is None or not os.path.isdir("/etc/postgresql"):
        missing_tool("restarting PostgreSQL needs Debian's pg_ctlcluster and a cluster under /etc/postgresql")
    cluster = PostgresCluster(fault_database)
    try:
        yield cluster
    finally:
        cluster.ensure_up()
        connections.close_all()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """Yield a running redis-server of this test's own; kill it afterwards."""
    if shutil.which("redis-server") is None:
        missing_tool("redis-server is not on PATH (apt-get install redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
