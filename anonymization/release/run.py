"""The stages of one claimed release run, in order: extract, anonymize, write, verify, publish.

Every step refreshes the release's heartbeat and progress under the claim token; if the token no
longer matches (another worker took the release over), the run stops without touching the files.
Files are written into the claim's temporary folder and copied to their final names only after
verification passed; the release row and its artifact rows then change in one transaction.
The policy is the one recorded by the claim (a PolicySpec), validated once more before the run
because a release may be re-run long after its policy was saved.

A run reads its increment: the window the claim recorded plus the entries the policy holds back
from earlier nights; the rows the engine suppressed are then held back or suppressed for good
(holdback.py). The new held set is recorded in the publication transaction, after checking that no
other release of the policy was published meanwhile (increments.py).

The release's public date domain (where local recoding cuts dates and the workload draws months)
runs from its window's first day minus the hold-back days (the oldest entry an earlier night can
still hold) or, for a policy's first release, from the catalog's FIRST_LEDGER_DAY, to its as-of
date. The utility figures (utility.py) are computed on the rows the release read.

Under local recoding the person columns are labelled at the levels of the policy version: the
version's first published release chose and recorded them (its `levels`), every later release of
the version reads them back (selectors.version_person_levels); a release of a new version
chooses again (release/anonymize.py).
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.utils import timezone

from ..exceptions import ReleaseNotRunnable, ReleaseUnsatisfiable
from ..models import Release, ReleasePolicy
from ..policy.catalog import FIRST_LEDGER_DAY
from ..policy.spec import PolicySpec
from ..selectors import identifiers_in_database, version_person_levels
from . import report, write
from .anonymize import DateBounds, Outcome, anonymize
from .extract import Extraction, extract
from .holdback import Holdback, cannot_wait, held_entries, hold_back, max_hold_days, record_held
from .increments import check_still_next
from .publish import publish_files, record_published
from .utility import RawRows, release_utility
from .verify import Verified, verify_written

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


def _extract(run: _Run, spec: PolicySpec, held: dict) -> Extraction:
    """Extract the release's increment: its window's entries plus the entries held from earlier nights."""
    def tick(rows: int) -> None:
        if run.progress:
            run.progress(5, f"extracting ({rows:,} rows)")

    release = run.release
    extraction = extract(source=spec.source, as_of=release.as_of, columns=list(spec.columns), progress=tick,
                         since=release.window_start, held_ids=tuple(held))
    if extraction.rows == 0 and release.window_start is None:
        raise ReleaseUnsatisfiable(f"There is no data to release as of {release.as_of:%Y-%m-%d}.")
    if extraction.rows == 0:
        raise ReleaseUnsatisfiable(f"There are no new entries to release from {release.window_start:%Y-%m-%d} "
                                   f"to {release.as_of:%Y-%m-%d}; the next release will cover these days.")
    return extraction


def _hold_back(run: _Run, extraction: Extraction, outcome: Outcome, held: dict) -> Holdback:
    """Decide which of the rows the engine suppressed wait for a later night and which are suppressed for good."""
    return hold_back(entries=extraction.entries, days=extraction.entry_days, kept=outcome.kept,
                     rows=extraction.rows, as_of=run.release.as_of, max_days=max_hold_days(), previously_held=held)


def date_bounds(release: Release) -> DateBounds:
    """Return the release's public date domain (see the module docstring)."""
    if release.window_start is None:
        return DateBounds(first=min(FIRST_LEDGER_DAY, release.as_of), last=release.as_of)
    return DateBounds(first=release.window_start - datetime.timedelta(days=max_hold_days()), last=release.as_of)


def _due(extraction: Extraction, as_of: datetime.date) -> np.ndarray | None:
    """Return which rows could not be held back again (holdback: `max_hold_days` from their local day)."""
    if extraction.entry_days is None:
        return None
    return cannot_wait(days=extraction.entry_days, as_of=as_of, max_days=max_hold_days())


def _person_levels(release: Release, spec: PolicySpec) -> dict[str, int] | None:
    """Return the person levels of the release's policy version under local recoding (None: choose them now)."""
    if not spec.is_local:
        return None
    return version_person_levels(policy_id=release.policy_id, version=release.policy_version, excluding=release.pk)


def _record_increment(release: Release, holdback: Holdback) -> None:
    """Check, with the policy locked, that the window still follows the last published release; keep the held set."""
    ReleasePolicy.objects.select_for_update().get(pk=release.policy_id)
    check_still_next(release=release)
    record_held(policy_id=release.policy_id, held=holdback.held)


def _overall_sensitive(extraction: Extraction, spec: PolicySpec) -> pd.Series | None:
    """Return the extracted sensitive column (a copy: the rest of the extraction can go), if the policy has one."""
    return extraction.frame[spec.sensitive_column].copy() if spec.sensitive_column else None


def _verify(written: list[write.Written], outcome: Outcome, spec: PolicySpec, overall: pd.Series | None) -> Verified:
    """Check the written files against the policy, independently of the search; return the figures."""
    return verify_written(written=written, individuals=outcome.individuals, positions=outcome.positions, spec=spec,
                          ids=identifiers_in_database(), overall_sensitive=overall)


def _summary(outcome: Outcome, verified_figures: dict, class_customers: np.ndarray, spec: PolicySpec,
             holdback: Holdback, utility: dict) -> dict:
    """Return the release fields recorded at publication (also the data of the report)."""
    return {
        "rows_in": outcome.rows_in, "rows_out": len(outcome.released), "suppressed_rows": holdback.suppressed,
        "held_rows": len(holdback.held), "carried_rows": holdback.carried,
        "levels": outcome.levels, "information_loss": outcome.information_loss,
        "class_stats": report.class_statistics(class_customers, spec.k, verified_figures, outcome.heights),
        "risk": outcome.risk, "nodes_checked": outcome.nodes_checked, "engine_version": outcome.engine_version,
        "distributions": report.distributions(outcome, spec), "label_stats": outcome.label_stats,
        "utility": utility,
    }


def _write_documents(run: _Run, spec: PolicySpec, summary: dict, checksums: dict[str, str],
                     data_files: list[write.Written], temp: str) -> list[write.Written]:
    """Write the report, then the metadata (which records the SHA-256 of every other file)."""
    html = write.write_text(write.Kind.REPORT, report.render_standalone(run.release, spec, summary), temp)
    metadata = report.metadata(run.release, spec, summary, checksums, [*data_files, html])
    return [html, write.write_text(write.Kind.METADATA, json.dumps(metadata, indent=2, sort_keys=True), temp)]


def run_stages(*, release_id: int, token: str, progress: Progress | None = None) -> None:
    """Run a claimed release from extraction to publication; raise a ReleaseError to fail it."""
    started = time.perf_counter()
    release = Release.objects.get(pk=release_id)
    run = _Run(release=release, token=token, progress=progress)
    spec = PolicySpec.from_json(release.policy_snapshot)
    spec.validate()
    folder = write.folder_of(release)
    write.remove_folder(folder)  # leftovers of a run whose worker died
    run.step(5, "extracting")
    held = held_entries(policy_id=release.policy_id)
    extraction = _extract(run, spec, held)
    run.step(25, "anonymizing")
    dates = date_bounds(release)
    # what the utility figures and the verifier need of the extracted rows is taken now: the search may
    # then let the frame's columns go (`consume`), which at ten million rows weigh hundreds of MiB
    raw = RawRows.of(extraction.frame, spec)
    overall = _overall_sensitive(extraction, spec)
    outcome = anonymize(extraction.frame, spec, on_check=run.searching, dates=dates,
                        person_levels=_person_levels(release, spec), due=_due(extraction, release.as_of),
                        consume=True)
    holdback = _hold_back(run, extraction, outcome, held)
    if not len(outcome.released) and holdback.held:
        raise ReleaseUnsatisfiable(
            f"Nothing to publish as of {release.as_of:%Y-%m-%d}: all {len(holdback.held):,} new entries wait until "
            f"their cells hold enough customers (at most {max_hold_days()} days); the next release takes them in.")
    run.step(55, "measuring utility")
    utility = release_utility(raw=raw, outcome=outcome, spec=spec, dates=dates)
    del extraction, raw  # the extracted rows are not needed any more: ten million of them weigh hundreds of MiB
    run.step(60, "writing")
    temp = write.temp_folder(folder, token)
    data_files = write.write_data(outcome.released, temp)
    run.step(75, "verifying", status=Release.Status.VERIFYING)
    verified = _verify(data_files, outcome, spec, overall)
    summary = _summary(outcome, verified.figures, verified.class_customers, spec, holdback, utility)
    documents = _write_documents(run, spec, summary, outcome.checksums, data_files, temp)
    run.step(90, "publishing", status=Release.Status.VERIFYING)
    published = publish_files([*data_files, *documents], folder)
    run.step(99, "recording", status=Release.Status.VERIFYING)
    summary.update(timings=run.timings, duration_seconds=round(time.perf_counter() - started, 3))
    record_published(release_id=release.pk, token=token, published=published, summary=summary,
                     also=lambda: _record_increment(release, holdback))
    write.remove_folder(temp)
