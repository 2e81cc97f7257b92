"""What a release reports: class statistics, before/after distributions, the metadata JSON and the HTML report.

The standalone report (a published artifact) shows only released figures; the admin report page
also shows each column's distribution before anonymization, which stays inside the back office.
"""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import pandas as pd
from django.template.loader import render_to_string

from ..models import Release
from ..policy.spec import PolicySpec
from . import charts
from .write import FILENAMES, Written

TOP_VALUES = 12
DISTRIBUTION_COLUMNS = 4
SUMMARY_FIELDS = ("rows_in", "rows_out", "suppressed_rows", "held_rows", "carried_rows", "levels", "information_loss", "class_stats", "risk",
                  "nodes_checked", "engine_version", "distributions", "label_stats", "utility", "timings",
                  "duration_seconds")


def _histogram(sizes: np.ndarray, k: int) -> list[list[Any]]:
    """Return [label, classes] buckets of class sizes: k..2k-1, 2k..4k-1, ... (doubling)."""
    buckets, low = [], k
    largest = int(sizes.max()) if len(sizes) else k
    while low <= largest:
        high = low * 2
        count = int(((sizes >= low) & (sizes < high)).sum())
        buckets.append([f"{low}–{high - 1}", count])
        low = high
    below = int((sizes < k).sum())
    return ([[f"< {k}", below]] if below else []) + buckets


def class_statistics(class_customers: np.ndarray, k: int, verified: dict, heights: dict[str, int]) -> dict:
    """Return the size statistics of the equivalence classes (in customers) as JSON-ready data."""
    sizes = np.asarray(class_customers)
    return {
        "classes": int(len(sizes)), "smallest": int(sizes.min()), "largest": int(sizes.max()),
        "median": float(np.median(sizes)), "mean": round(float(sizes.mean()), 2),
        "histogram": _histogram(sizes, k), "verified": verified, "hierarchy_heights": heights,
    }


def _shares(series: pd.Series) -> list[list[Any]]:
    counts = series.astype(str).value_counts(normalize=True).head(TOP_VALUES)
    return [[str(label), round(float(share), 6)] for label, share in counts.items()]


def distributions(outcome: Any, spec: PolicySpec) -> dict[str, dict[str, list]]:
    """Return, for the first few quasi-identifiers, the top value shares before and after anonymization."""
    columns = spec.qi_columns[:DISTRIBUTION_COLUMNS]
    return {column: {"before": _shares(outcome.leaves[column]), "after": _shares(outcome.released[column])}
            for column in columns}


def metadata(release: Release, spec: PolicySpec, summary: dict, checksums: dict[str, str],
             files: list[Written]) -> dict:
    """Return the metadata document: policy as run, hierarchy checksums, levels, metrics, counts, file hashes."""
    policy = spec.to_json()
    policy["quasi_identifiers"] = [
        {"column": qi.column, "builder": qi.builder, "params": qi.params,
         "hierarchy_sha256": checksums[qi.column]} for qi in spec.class_hierarchies]
    return {
        "release": {"id": release.pk, "as_of": release.as_of.isoformat(), "policy": spec.name,
                    "policy_version": release.policy_version, "window": window_of(release),
                    "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")},
        "policy": policy, "recoding": spec.recoding, **_recoding_figures(spec, summary),
        "metrics": {"metric": spec.metric if not spec.is_local else None,
                    "information_loss": summary["information_loss"], "nodes_checked": summary["nodes_checked"]},
        "utility": summary["utility"],
        "rows": {"in": summary["rows_in"], "out": summary["rows_out"], "suppressed": summary["suppressed_rows"],
                 "held_back": summary["held_rows"], "taken_in_from_earlier_nights": summary["carried_rows"]},
        "class_statistics": summary["class_stats"], "risk": summary["risk"],
        "files": [{"name": FILENAMES[item.kind], "kind": item.kind, "size": item.size, "sha256": item.sha256}
                  for item in files],
        "engine": {"name": "mondrian" if spec.is_local else "flash", "version": summary["engine_version"]},
    }


def _recoding_figures(spec: PolicySpec, summary: dict) -> dict[str, dict]:
    """Return what the recoding chose: full-domain levels per column, or local labels per column.

    Local recoding reports each column's distinct labels and the median extent of a class's label
    (in years, EUR, days or values), and the policy version's fixed person levels.
    """
    if spec.is_local:
        return {"labels": summary["label_stats"], "person_levels": summary["levels"]}
    return {"levels": summary["levels"]}


def window_of(release: Release) -> dict[str, str | None]:
    """Return the local days the release's increment covers ("from" is None for a policy's first release)."""
    start = release.window_start
    return {"from": start.isoformat() if start else None, "to": release.as_of.isoformat()}


def release_summary(release: Release) -> dict:
    """Return the recorded summary fields of a release."""
    return {name: getattr(release, name) for name in SUMMARY_FIELDS}


def report_charts(spec: PolicySpec, summary: dict, *, include_before: bool) -> dict[str, Any]:
    """Return the report's SVG charts built from a summary."""
    stats = summary.get("class_stats") or {}
    pairs = []
    for column, shares in (summary.get("distributions") or {}).items():
        after = [(label, share) for label, share in shares["after"]]
        if include_before:
            pairs.append((column, charts.before_after(column, [tuple(x) for x in shares["before"]], after)))
        else:
            pairs.append((column, charts.bar_chart(f"{column} after", after, fmt="{:.1%}", colour=charts.AFTER)))
    return {
        "class_sizes": charts.bar_chart("Equivalence classes by number of customers",
                                        [(label, count) for label, count in stats.get("histogram", [])]),
        "levels": None if spec.is_local else charts.levels_chart(summary.get("levels") or {},
                                                                  stats.get("hierarchy_heights") or {}),
        "suppression": charts.suppression_chart(summary.get("rows_in") or 0, summary.get("suppressed_rows") or 0,
                                                spec.suppression_limit),
        "distributions": pairs,
    }


def render_standalone(release: Release, spec: PolicySpec, summary: dict) -> str:
    """Return the HTML report published with the release (released figures only)."""
    context = {"release": release, "snapshot": spec, "summary": summary,
               "charts": report_charts(spec, summary, include_before=False)}
    return render_to_string("anonymization/report_standalone.html", context)
