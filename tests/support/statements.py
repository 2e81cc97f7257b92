"""The SQL statements a piece of work sends through Django's connection (BEGIN and COMMIT are not statements here)."""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection


def statements_of(work: Callable[[], object]) -> list[str]:
    """Run `work` and return the SQL of every statement it sent, in order."""
    sent: list[str] = []

    def note(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        work()
    return sent
