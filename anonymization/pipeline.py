"""The steps of one claimed release run: extract, anonymize, write, verify, publish.

Every step refreshes the release's heartbeat and progress under the claim token; if the token no
longer matches (another worker took the release over), the run stops without touching the files.
Files are written into the claim's temporary folder and copied to their final names only after
verification passed; the release row and its artifact rows then change in one transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.db import transaction
from django.utils import timezone

from . import artifacts, reports
from .anonymizer import Outcome, anonymize
from .exceptions import ReleaseNotRunnable, ReleaseUnsatisfiable, VerificationFailed
from .extract import Extraction, extract
from .models import Artifact, Release
from .policies import check_snapshot, sensitive_is_ordered
from .selectors import identifiers_in_database
from .verify import Expectations, Verified, verify

Progress = Callable[[int, str], None]
# During the search the heartbeat is refreshed at most this often (seconds), so a long search is
# never mistaken for a dead worker while it stays far below ANONYMIZATION_STALE_SECONDS.
HEARTBEAT_SECONDS = 10.0
PROGRESS_STEP_CHARS = Release._meta.get_field("progress_step").max_length


@dataclass
class _Run:
    """One claimed run: reports progress under the claim token and keeps step timings."""

    release: Release
    token: str
    progress: Progress | None
    timings: dict[str, float] = field(default_factory=dict)
    _clock: float = field(default_factory=time.perf_counter)
    _last_beat: float = field(default_factory=time.monotonic)

    def step(self, percent: int, name: str, status: str = Release.Status.RUNNING) -> None:
        """Record the step and heartbeat; stop when another worker has taken the release over."""
        now = time.perf_counter()
        if self.release.progress_step:
            self.timings[self.release.progress_step] = round(now - self._clock, 3)
        self._clock = now
        updated = Release.objects.filter(pk=self.release.pk, claim_token=self.token).update(
            progress=percent, progress_step=name, status=status, heartbeat_at=timezone.now())
        if not updated:
            raise ReleaseNotRunnable(f"Release #{self.release.pk} was taken over by another worker.")
        self.release.progress_step = name
        self._last_beat = time.monotonic()
        if self.progress:
            self.progress(percent, name)

    def searching(self, nodes_checked: int, lattice_size: int) -> None:
        """Refresh the heartbeat during the search, at most every HEARTBEAT_SECONDS; stop if taken over."""
        if time.monotonic() - self._last_beat < HEARTBEAT_SECONDS:
            return
        self._last_beat = time.monotonic()
        updated = Release.objects.filter(pk=self.release.pk, claim_token=self.token).update(
            progress_step=f"searching: {nodes_checked:,}/{lattice_size:,} checked"[:PROGRESS_STEP_CHARS],
            heartbeat_at=timezone.now())
        if not updated:
            raise ReleaseNotRunnable(f"Release #{self.release.pk} was taken over by another worker.")


def _folder(release: Release) -> str:
    return artifacts.release_folder(policy_id=release.policy_id, as_of=release.as_of.isoformat(),
                                    release_id=release.pk)


def discard_files(release_id: int) -> None:
    """Delete every stored file of a release (temporary or final)."""
    release = Release.objects.get(pk=release_id)
    artifacts.remove_folder(_folder(release))


def _extract(run: _Run, snapshot: dict) -> Extraction:
    def tick(rows: int) -> None:
        if run.progress:
            run.progress(5, f"extracting ({rows:,} rows)")

    extraction = extract(source=snapshot["source"], as_of=run.release.as_of, columns=snapshot["columns"],
                         progress=tick)
    if extraction.rows == 0:
        raise ReleaseUnsatisfiable(f"There is no data to release as of {run.release.as_of:%Y-%m-%d}.")
    return extraction


def _expectations(snapshot: dict) -> Expectations:
    return Expectations(
        columns=list(snapshot["columns"]), quasi_identifiers=[qi["column"] for qi in snapshot["quasi_identifiers"]],
        k=snapshot["k"], sensitive=snapshot.get("sensitive_column") or "", l_diversity=snapshot.get("l_diversity"),
        t_closeness=snapshot.get("t_closeness"), ordered_sensitive=sensitive_is_ordered(snapshot))


def _same_table(parquet: pd.DataFrame, data: pd.DataFrame) -> None:
    """Require the Parquet file to hold the CSV's table, value for value (compared as text, column by column)."""
    same = list(parquet.columns) == list(data.columns) and len(parquet) == len(data) and all(
        (parquet[name].astype(str).to_numpy() == data[name].astype(str).to_numpy()).all() for name in data.columns)
    if not same:
        raise VerificationFailed("Verification failed: the Parquet file differs from the CSV file.")


def _verify(written: list[artifacts.Written], outcome: Outcome, snapshot: dict,
            extraction: Extraction) -> Verified:
    """Re-read the written files and check them independently of the search; return the figures."""
    by_kind = {item.kind: item for item in written}
    data = artifacts.read_csv(by_kind[artifacts.CSV].name)
    _same_table(artifacts.read_parquet(by_kind[artifacts.PARQUET].name), data)
    sensitive = snapshot.get("sensitive_column") or ""
    overall = extraction.frame[sensitive] if sensitive else None
    return verify(data=data, individuals=outcome.individuals, expected=_expectations(snapshot),
                  ids=identifiers_in_database(), overall_sensitive=overall)


def _summary(outcome: Outcome, verified_figures: dict, class_customers: np.ndarray, snapshot: dict) -> dict:
    """Return the release fields recorded at publication (also the data of the report)."""
    return {
        "rows_in": outcome.rows_in, "rows_out": len(outcome.released), "suppressed_rows": outcome.suppressed,
        "levels": outcome.levels, "information_loss": outcome.information_loss,
        "class_stats": reports.class_statistics(class_customers, snapshot["k"], verified_figures, outcome.heights),
        "risk": outcome.risk, "nodes_checked": outcome.nodes_checked, "engine_version": outcome.engine_version,
        "distributions": reports.distributions(outcome, snapshot),
    }


def _write_documents(run: _Run, snapshot: dict, summary: dict, checksums: dict[str, str],
                     data_files: list[artifacts.Written], temp: str) -> list[artifacts.Written]:
    """Write the report, then the metadata (which records the SHA-256 of every other file)."""
    report = artifacts.write_text(artifacts.REPORT, reports.render_standalone(run.release, snapshot, summary), temp)
    metadata = reports.metadata(run.release, snapshot, summary, checksums, [*data_files, report])
    return [report, artifacts.write_text(artifacts.METADATA, json.dumps(metadata, indent=2, sort_keys=True), temp)]


def _finish(run: _Run, published: list[artifacts.Written], summary: dict) -> None:
    """Mark the release published and record its artifacts, in one transaction, under our claim."""
    now = timezone.now()
    with transaction.atomic():
        updated = Release.objects.filter(pk=run.release.pk, claim_token=run.token).update(
            status=Release.Status.PUBLISHED, progress=100, progress_step="published", finished_at=now,
            heartbeat_at=now, error="", **summary)
        if not updated:
            raise ReleaseNotRunnable(f"Release #{run.release.pk} was taken over by another worker.")
        Artifact.objects.filter(release_id=run.release.pk).delete()
        Artifact.objects.bulk_create([
            Artifact(release_id=run.release.pk, kind=item.kind, name=item.name, size=item.size, sha256=item.sha256)
            for item in published])


def execute(*, release_id: int, token: str, progress: Progress | None = None) -> None:
    """Run a claimed release from extraction to publication; raise a ReleaseError to fail it."""
    started = time.perf_counter()
    release = Release.objects.get(pk=release_id)
    run = _Run(release=release, token=token, progress=progress)
    snapshot = release.policy_snapshot
    check_snapshot(snapshot)
    folder = _folder(release)
    artifacts.remove_folder(folder)  # leftovers of a run whose worker died
    run.step(5, "extracting")
    extraction = _extract(run, snapshot)
    run.step(25, "anonymizing")
    outcome = anonymize(extraction.frame, snapshot, on_check=run.searching)
    run.step(60, "writing")
    temp = artifacts.temp_folder(folder, token)
    data_files = artifacts.write_data(outcome.released, temp)
    run.step(75, "verifying", status=Release.Status.VERIFYING)
    verified = _verify(data_files, outcome, snapshot, extraction)
    summary = _summary(outcome, verified.figures, verified.class_customers, snapshot)
    documents = _write_documents(run, snapshot, summary, outcome.checksums, data_files, temp)
    run.step(90, "publishing", status=Release.Status.VERIFYING)
    published = artifacts.publish([*data_files, *documents], folder)
    run.step(99, "recording", status=Release.Status.VERIFYING)
    summary.update(timings=run.timings, duration_seconds=round(time.perf_counter() - started, 3))
    _finish(run, published, summary)
    artifacts.remove_folder(temp)
