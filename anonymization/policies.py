"""A policy as data: its snapshot (what a release records and runs) and the rules a snapshot must meet.

The same checks serve the admin forms and the release run, so a policy that saved cleanly can
only fail at run time because of the data (a value an uploaded hierarchy does not cover, or
criteria no generalization can meet), never because of its own shape.
"""

from __future__ import annotations

from typing import Any

from .columns import CATALOGS, DIRECT_IDENTIFIERS, NUMERIC, catalog_for
from .exceptions import PolicyInvalid
from .hierarchies import check_definition
from .models import ReleasePolicy

Snapshot = dict[str, Any]


def metric_names() -> list[str]:
    """Return the quality metrics the engine offers."""
    from .engine import METRICS

    return sorted(METRICS)


def policy_snapshot(policy: ReleasePolicy) -> Snapshot:
    """Return the policy with its hierarchies as plain JSON data: what a release runs and records."""
    return {
        "id": policy.pk, "name": policy.name, "source": policy.source, "columns": list(policy.columns),
        "quasi_identifiers": [
            {"column": qi.column, "builder": qi.builder, "params": qi.params, "arx_csv": qi.arx_csv}
            for qi in policy.quasi_identifiers.order_by("pk")
        ],
        "sensitive_column": policy.sensitive_column, "l_diversity": policy.l_diversity,
        "t_closeness": policy.t_closeness, "k": policy.k, "suppression_limit": policy.suppression_limit,
        "metric": policy.metric,
    }


def check_columns(source: str, columns: object) -> list[str]:
    """Return the released columns, or raise PolicyInvalid naming the unknown or forbidden ones."""
    if source not in CATALOGS:
        raise PolicyInvalid(f"Unknown source {source!r}.")
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
        raise PolicyInvalid("Choose at least one column to release.")
    forbidden = [c for c in columns if c.lower() in DIRECT_IDENTIFIERS]
    if forbidden:
        raise PolicyInvalid(f"Direct identifiers are never released: {', '.join(forbidden)}.")
    unknown = [c for c in columns if c not in catalog_for(source)]
    if unknown:
        raise PolicyInvalid(f"The {source} source has no column(s) {', '.join(unknown)}.")
    if len(set(columns)) != len(columns):
        raise PolicyInvalid("Each column can be released only once.")
    return columns


def check_criteria(snapshot: Snapshot, qi_columns: list[str]) -> None:
    """Raise PolicyInvalid unless k, suppression, metric and the sensitive-column criteria fit together."""
    sensitive = snapshot.get("sensitive_column") or ""
    if not isinstance(snapshot.get("k"), int) or snapshot["k"] < 2:
        raise PolicyInvalid("k must be a whole number of at least 2.")
    limit = snapshot.get("suppression_limit")
    if not isinstance(limit, int | float) or not 0 <= limit <= 1:
        raise PolicyInvalid("The suppression limit must be a fraction between 0 and 1.")
    if snapshot.get("metric") not in metric_names():
        raise PolicyInvalid(f"Unknown metric {snapshot.get('metric')!r}; choose one of {', '.join(metric_names())}.")
    if sensitive and sensitive not in snapshot["columns"]:
        raise PolicyInvalid(f"The sensitive column {sensitive} must be one of the released columns.")
    if sensitive in qi_columns:
        raise PolicyInvalid(f"The sensitive column {sensitive} cannot also be a quasi-identifier.")
    if (snapshot.get("l_diversity") or snapshot.get("t_closeness") is not None) and not sensitive:
        raise PolicyInvalid("l-diversity and t-closeness need a sensitive column.")
    if sensitive and not snapshot.get("l_diversity") and snapshot.get("t_closeness") is None:
        raise PolicyInvalid(f"Give l or t for the sensitive column {sensitive}.")


def check_snapshot(snapshot: Snapshot) -> None:
    """Raise PolicyInvalid (or HierarchyInvalid) with a clear message unless the policy can run."""
    columns = check_columns(snapshot.get("source", ""), snapshot.get("columns"))
    qis = snapshot.get("quasi_identifiers") or []
    if not qis:
        raise PolicyInvalid("Give at least one quasi-identifier with a hierarchy.")
    qi_columns = [qi["column"] for qi in qis]
    outside = [c for c in qi_columns if c not in columns]
    if outside:
        raise PolicyInvalid(f"Quasi-identifier(s) {', '.join(outside)} must be released columns.")
    if len(set(qi_columns)) != len(qi_columns):
        raise PolicyInvalid("Each quasi-identifier can have only one hierarchy.")
    catalog = catalog_for(snapshot["source"])
    for qi in qis:
        check_definition(column=qi["column"], kind=catalog[qi["column"]].kind, builder=qi["builder"],
                         params=qi.get("params"), arx_csv=qi.get("arx_csv") or "")
    check_criteria(snapshot, qi_columns)


def sensitive_is_ordered(snapshot: Snapshot) -> bool:
    """Return True when the sensitive column is numeric (t-closeness then uses the ordered distance)."""
    sensitive = snapshot.get("sensitive_column") or ""
    return bool(sensitive) and catalog_for(snapshot["source"])[sensitive].kind == NUMERIC
