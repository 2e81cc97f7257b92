"""Run calls in threads released together, to provoke races; collect what each returned or raised."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

START_TIMEOUT_SECONDS = 30


class ThreadsStuck(AssertionError):
    """A thread was still running when the harness gave up waiting for it."""


@dataclass(frozen=True)
class Outcome:
    """What one call returned, or the exception it raised (then `value` is None)."""

    value: Any = None
    error: BaseException | None = None


def run_together(
    calls: Sequence[Callable[[], Any]], *, after_each: Callable[[], None] | None = None, timeout: float = 120.0
) -> list[Outcome]:
    """Run each call in its own thread, all released at once by a barrier; return the outcomes in call order.

    `after_each` runs in every thread once its call is done, raised or not: Django tests and
    benchmarks pass `lambda: connection.close()`, as each thread opened its own database connection
    (a bound `connection.close` would be the caller's connection, which another thread may not close).
    Raise ThreadsStuck when a thread is still running `timeout` seconds after the start.
    """
    start = threading.Barrier(len(calls))
    outcomes: list[Outcome] = [Outcome()] * len(calls)

    def run(index: int) -> None:
        try:
            start.wait(timeout=START_TIMEOUT_SECONDS)
            outcomes[index] = Outcome(value=calls[index]())
        except BaseException as exc:  # an outcome for the caller to judge, not a crash of the harness
            outcomes[index] = Outcome(error=exc)
        finally:
            if after_each is not None:
                after_each()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        raise ThreadsStuck(f"{stuck} of {len(threads)} threads still running after {timeout:.0f} s")
    return outcomes
