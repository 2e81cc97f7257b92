"""One CSV of a period's increments: the published CSV files of a policy, joined in as-of order.

Each increment's rows come in the order they were published, after the rows of the increments
before it; the header is written once. Increments of different columns (a policy version that
changed its columns) cannot share one header, so such a period is refused rather than mislabelled.
The files are read from storage while the response streams, never loaded whole.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..exceptions import IncrementsIncompatible
from ..models import Artifact
from . import write

_READ_CHUNK = 1 << 20


def csv_header(name: str) -> bytes:
    """Return the first line (the header, with its newline) of a stored CSV file."""
    with write.open_stored(name) as handle:
        return handle.readline()


def check_one_header(artifacts: Sequence[Artifact]) -> bytes:
    """Return the header the increments share; raise IncrementsIncompatible when their columns differ."""
    headers = {artifact.release.as_of: csv_header(artifact.name) for artifact in artifacts}
    if len(set(headers.values())) > 1:
        versions = sorted({artifact.release.policy_version or "?" for artifact in artifacts})
        raise IncrementsIncompatible(
            f"The increments of this period have different columns (policy versions {', '.join(versions)}); "
            "download a period within one version, or the increments one by one.")
    return next(iter(headers.values()))


def _body(name: str) -> Iterator[bytes]:
    """Yield a stored CSV file without its header line, in chunks."""
    with write.open_stored(name) as handle:
        handle.readline()
        while chunk := handle.read(_READ_CHUNK):
            yield chunk


def concatenated_csv(artifacts: Sequence[Artifact], header: bytes) -> Iterator[bytes]:
    """Yield one CSV: the shared header (check_one_header), then each increment's rows in as-of order."""
    yield header
    for artifact in artifacts:
        yield from _body(artifact.name)
