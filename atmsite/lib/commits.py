"""Commits that need not wait for the disk.

On PostgreSQL every commit that wrote something waits until the write-ahead log is flushed to
disk, and the flush carries whatever other work on the server wrote before it: a few
milliseconds on a quiet server, tens to hundreds when a bulk load writes beside it. A
transaction whose effect may be lost in a crash of the database server without harm can commit
asynchronously instead (`synchronous_commit = off` for that transaction alone): it is visible to
every other connection at once, and only a crash in the next few hundred milliseconds can undo
it. Rule: never for money movements, wrong-PIN counts or login throttles, which must outlive a
crash.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections


def commit_without_disk_flush(using: str = DEFAULT_DB_ALIAS) -> None:
    """Let the transaction open on `using` commit without waiting for the disk (PostgreSQL; elsewhere nothing).

    Only the outermost transaction's commit counts: inside a caller's transaction this applies to
    that whole transaction, so call it only where everything the transaction writes may be lost.
    """
    db = connections[using]
    if db.vendor == "postgresql" and db.in_atomic_block:
        with db.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
