"""What a release reports: class statistics, before/after distributions, the metadata JSON and the HTML report.

The standalone report (a published artifact) shows only released figures; the admin report page
also shows each column's distribution before anonymization, which stays inside the back office.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.template.loader import render_to_string

from ..models import Release
from ..policy.catalog import catalog_for
from ..policy.hierarchies import level_names
from ..policy.spec import PolicySpec
from . import charts
from .anonymize import text_counts
from .write import FILENAMES, Written

TOP_VALUES = 12
STYLESHEET = Path(__file__).resolve().parents[1] / "static" / "anonymization" / "report.css"
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


def _shares(counts: pd.Series) -> list[list[Any]]:
    top = (counts / counts.sum()).sort_values(ascending=False).head(TOP_VALUES) if len(counts) else counts
    return [[str(label), round(float(share), 6)] for label, share in top.items()]


def distributions(outcome: Any, spec: PolicySpec) -> dict[str, dict[str, Any]]:
    """Return, for every released column, its most common values' shares before and after anonymization.

    "Before" is the column as the hierarchy's leaves (numbers already in their narrowest bands), or
    the released values for the sensitive column, which is not generalized. Each side also records
    its number of distinct values, so the report can say how much the top values leave out.
    """
    result = {}
    for column in spec.columns:
        before = outcome.leaf_counts.get(column)
        before = text_counts(outcome.released[column]) if before is None else before
        after = text_counts(outcome.released[column])
        result[column] = {"before": _shares(before), "after": _shares(after),
                          "before_values": len(before), "after_values": len(after)}
    return result


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
        "metrics": {"metric": spec.metric if not spec.is_local else None, **_metric_options(spec),
                    "information_loss": summary["information_loss"], "nodes_checked": summary["nodes_checked"]},
        "utility": summary["utility"],
        "rows": {"in": summary["rows_in"], "out": summary["rows_out"], "suppressed": summary["suppressed_rows"],
                 "held_back": summary["held_rows"], "taken_in_from_earlier_nights": summary["carried_rows"]},
        "class_statistics": summary["class_stats"], "risk": summary["risk"],
        "files": [{"name": FILENAMES[item.kind], "kind": item.kind, "size": item.size, "sha256": item.sha256}
                  for item in files],
        "engine": {"name": "mondrian" if spec.is_local else "flash", "version": summary["engine_version"]},
    }


def _metric_options(spec: PolicySpec) -> dict[str, Any]:
    """Return the metric options a full-domain policy sets (gs_factor, attribute_weights), as the engine got them."""
    if spec.is_local:
        return {}
    options = {"gs_factor": spec.gs_factor, "attribute_weights": dict(spec.attribute_weights)}
    return {key: value for key, value in options.items() if value not in (None, {})}


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


def level_meanings(spec: PolicySpec, summary: dict) -> dict[str, str]:
    """Return what each column's chosen level releases ("quarter", "bands of 10 years", "hidden (*)")."""
    heights = (summary.get("class_stats") or {}).get("hierarchy_heights") or {}
    catalog = catalog_for(spec.source)
    meanings = {}
    for qi in spec.class_hierarchies:
        level = (summary.get("levels") or {}).get(qi.column)
        if level is None or qi.column not in heights:
            continue
        scale = catalog[qi.column].scale if qi.column in catalog else None
        names = level_names(builder=qi.builder, params=qi.params, height=heights[qi.column],
                            unit=scale.unit if scale else "")
        meanings[qi.column] = names[min(level, len(names) - 1)]
    return meanings


def _with_rest(shares: list, distinct: int | None) -> list[tuple[str, float]]:
    """Return the top shares plus one "other N values" bar for what the top values leave out."""
    items = [(str(label), float(share)) for label, share in shares]
    rest = 1 - sum(share for _, share in items)
    if distinct and distinct > len(items) and rest > 0.0005:
        others = distinct - len(items)
        items.append((f"({others:,} other value{'s' * (others != 1)})", rest))
    return items


def distribution_notes(summary: dict, *, include_before: bool) -> dict[str, str]:
    """Return, per column, how many of its values the charts show ("all 3 values", "12 most common of 240")."""
    notes = {}
    for column, shares in (summary.get("distributions") or {}).items():
        parts = []
        for side in ("before", "after") if include_before else ("after",):
            distinct = shares.get(f"{side}_values")
            if distinct is None:
                continue
            shown = len(shares[side])
            parts.append(f"{side}: all {distinct:,} value{'s' * (distinct != 1)}" if shown >= distinct
                         else f"{side}: the {shown} most common of {distinct:,} values, the rest as one bar")
        notes[column] = "; ".join(parts)
    return notes


def report_charts(spec: PolicySpec, summary: dict, *, include_before: bool) -> dict[str, Any]:
    """Return the report's SVG charts built from a summary: one distribution per released column."""
    stats = summary.get("class_stats") or {}
    pairs = []
    for column, shares in (summary.get("distributions") or {}).items():
        after = _with_rest(shares["after"], shares.get("after_values"))
        if include_before:
            before = _with_rest(shares["before"], shares.get("before_values"))
            pairs.append((column, charts.before_after(column, before, after)))
        else:
            pairs.append((column, charts.bar_chart(f"{column} after", after, fmt="{:.1%}", colour=charts.AFTER)))
    return {
        "class_sizes": charts.bar_chart("Equivalence classes by number of customers",
                                        [(label, count) for label, count in stats.get("histogram", [])]),
        "levels": None if spec.is_local else charts.levels_chart(summary.get("levels") or {},
                                                                  stats.get("hierarchy_heights") or {},
                                                                  level_meanings(spec, summary)),
        "suppression": charts.suppression_chart(summary.get("rows_in") or 0, summary.get("suppressed_rows") or 0,
                                                spec.suppression_limit),
        "distributions": pairs,
    }


def _number(value: float) -> str:
    """Return a policy figure as typed ("3", "0.25"), without a trailing ".0"."""
    return f"{value:g}"


def privacy_criteria(spec: PolicySpec) -> str:
    """Return the policy's privacy criteria as the report states them, engine options included:
    "k = 5 customers, recursive-(3, 2)-diversity, t = 0.4 (hierarchical distance) on kind"."""
    parts = [f"k = {spec.k}" + (" customers" if spec.source == "transactions" else "")]
    if spec.l_diversity:
        parts.append(f"recursive-({_number(spec.recursive_c)}, {spec.l_diversity})-diversity"
                     if spec.recursive_c is not None else f"l = {spec.l_diversity}")
    if spec.t_closeness is not None:
        parts.append(f"t = {_number(spec.t_closeness)}" + (" (hierarchical distance)" if spec.t_hierarchy else ""))
    text = ", ".join(parts)
    return f"{text} on {spec.sensitive_column}" if spec.sensitive_column else text


def metric_options(spec: PolicySpec) -> str:
    """Return the metric's options the policy sets ("gs-factor 0.25; weights age 2, amount 0.5"), or ""."""
    parts = []
    if spec.gs_factor is not None:
        parts.append(f"gs-factor {_number(spec.gs_factor)}")
    if spec.attribute_weights:
        weights = ", ".join(f"{column} {_number(weight)}" for column, weight in spec.attribute_weights.items())
        parts.append(f"weights {weights} (others 0.5)")
    return "; ".join(parts)


def report_context(release: Release, spec: PolicySpec, summary: dict, *, include_before: bool) -> dict[str, Any]:
    """Return what the report body (templates/anonymization/_report_body.html) shows, in the admin or the file."""
    notes = distribution_notes(summary, include_before=include_before)
    charts_ = report_charts(spec, summary, include_before=include_before)
    return {
        "release": release, "snapshot": spec, "summary": summary, "charts": charts_,
        "distribution_rows": [(column, chart, notes.get(column, "")) for column, chart in charts_["distributions"]],
        "warnings": (summary.get("utility") or {}).get("warnings", []),
        "level_meanings": level_meanings(spec, summary), "include_before": include_before,
        "privacy_criteria": privacy_criteria(spec), "metric_options": metric_options(spec),
    }


def render_standalone(release: Release, spec: PolicySpec, summary: dict) -> str:
    """Return the HTML report published with the release (released figures only).

    The file stands alone: the admin's report stylesheet is copied into it, and it loads nothing.
    """
    context = {**report_context(release, spec, summary, include_before=False),
               "stylesheet": STYLESHEET.read_text(encoding="utf-8")}
    return render_to_string("anonymization/report_standalone.html", context)
