"""A release policy as one typed value: what the admin edits, what a release runs and records.

`PolicySpec.validate()` holds every rule a policy must meet, each worded once. The model's
`clean()`, the admin's hierarchy formset and the release run all call it, so a policy that saved
cleanly can only fail at run time because of the data (a value an uploaded hierarchy does not
cover, or criteria no generalization can meet), never because of its own shape. The database's
CheckConstraints on k and the suppression limit stay as a backstop for writes that skip validation.

Classes are formed over every released column but the sensitive one: a column the catalog says
must be generalized needs a hierarchy; a descriptive column without one gets the trivial hierarchy
value -> `*` (`class_hierarchies`). Two rules keep a file from linking its own rows: no hierarchy
level may repeat another released column, and `balance_after` and `amount` are released together
only when one of them is cut into bands of at least LINK_BAND (previous balance + amount = next
balance would otherwise chain a customer's entries).

Recoding. `full_domain` (the default, and what a snapshot without the key means) runs Flash: one
hierarchy level per column for every row, the optimum of the policy's metric. `local` runs Mondrian
multidimensional local recoding: each equivalence class gets its own labels (numbers and dates cut
into ranges inside public domains, categories along the policy's hierarchy), so dense regions stay
precise. Mondrian checks k only, so a local policy has no l or t.

Engine options (full-domain recoding only; ARX's models and metric options, docs/engine.md):
`recursive_c` with l turns distinct l-diversity into recursive-(c,l)-diversity; `t_hierarchy` (an
ARX CSV over the sensitive column's values) with t measures t-closeness by the hierarchical
distance; `gs_factor` balances generalization against suppression in the metrics that take it,
and `attribute_weights` ({column: weight >= 0}, unnamed columns 0.5) weighs the quasi-identifiers.
`criteria()` and `engine_metric()` hand them to the engine. Snapshots record them only when set,
so a policy without them keeps its version fingerprint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..engine import (
    METRICS,
    Criterion,
    DistinctLDiversity,
    Hierarchy,
    HierarchyError,
    KAnonymity,
    Metric,
    RecursiveCLDiversity,
    TCloseness,
)
from ..engine.metrics import create_metric
from ..exceptions import PolicyInvalid
from .catalog import CATALOGS, DESCRIPTIVE, DIRECT_IDENTIFIERS, NUMERIC, catalog_for
from .hierarchies import check_definition

MIN_K = 2
MIN_L = 2
# The narrowest band (major units, i.e. EUR) that breaks the balance_after/amount chain.
LINK_BAND = 10
CHAINED = ("balance_after", "amount")
# (column, builder) whose hierarchy has a level equal to another column: card_number's card
# hierarchy goes BIN -> prefixes -> network -> *, so its network level repeats card_network.
REPEATED_LEVELS = {("card_number", "card"): "card_network"}
TRIVIAL_BUILDER, TRIVIAL_PARAMS = "categories", {"levels": [{"*": "*"}]}
FULL_DOMAIN, LOCAL = "full_domain", "local"
RECODINGS = (FULL_DOMAIN, LOCAL)


class PolicyRecord(Protocol):
    """The fields of a ReleasePolicy row that a spec is made of (the model is not imported here)."""

    @property
    def pk(self) -> int | None: ...

    name: str
    source: str
    columns: list[str]
    sensitive_column: str
    l_diversity: int | None
    t_closeness: float | None
    k: int
    suppression_limit: float
    metric: str
    recoding: str
    recursive_c: float | None
    t_hierarchy: str
    gs_factor: float | None
    attribute_weights: dict[str, float]


def metric_names() -> list[str]:
    """Return the quality metrics the engine offers."""
    return sorted(METRICS)


def metrics_taking(option: str) -> list[str]:
    """Return the metrics that accept an option ("gs_factor" or "weights")."""
    return sorted(name for name, metric in METRICS.items() if option in metric.options)


def _is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class QuasiIdentifierSpec:
    """A released column generalized by a hierarchy: a builder with parameters, or an ARX CSV."""

    column: str
    builder: str
    params: dict[str, Any] = field(default_factory=dict)
    arx_csv: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> QuasiIdentifierSpec:
        return cls(column=data["column"], builder=data["builder"], params=data.get("params") or {},
                   arx_csv=data.get("arx_csv") or "")

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "builder": self.builder, "params": self.params, "arx_csv": self.arx_csv}


@dataclass(frozen=True)
class PolicySpec:
    """A release policy with its hierarchies; validated by `validate()`, then carried typed."""

    name: str
    source: str
    columns: tuple[str, ...]
    quasi_identifiers: tuple[QuasiIdentifierSpec, ...]
    k: int
    suppression_limit: float
    metric: str
    sensitive_column: str = ""
    l_diversity: int | None = None
    t_closeness: float | None = None
    recoding: str = FULL_DOMAIN
    recursive_c: float | None = None
    t_hierarchy: str = ""
    gs_factor: float | None = None
    attribute_weights: dict[str, float] = field(default_factory=dict)
    id: int | None = None

    # --- construction ------------------------------------------------------------------------------

    @classmethod
    def from_model(cls, policy: PolicyRecord,
                   quasi_identifiers: Iterable[Mapping[str, Any]] | None = None) -> PolicySpec:
        """Return the spec of a policy row; its hierarchies are read from the database unless given."""
        if quasi_identifiers is None:
            quasi_identifiers = policy.quasi_identifiers.order_by("pk").values(  # type: ignore[attr-defined]
                "column", "builder", "params", "arx_csv")
        return cls(
            id=policy.pk, name=policy.name, source=policy.source,
            columns=tuple(policy.columns) if isinstance(policy.columns, list | tuple) else policy.columns,
            quasi_identifiers=tuple(QuasiIdentifierSpec.from_mapping(qi) for qi in quasi_identifiers),
            sensitive_column=policy.sensitive_column or "", l_diversity=policy.l_diversity,
            t_closeness=policy.t_closeness, k=policy.k, suppression_limit=policy.suppression_limit,
            metric=policy.metric, recoding=policy.recoding, recursive_c=policy.recursive_c,
            t_hierarchy=policy.t_hierarchy or "", gs_factor=policy.gs_factor,
            attribute_weights=policy.attribute_weights if policy.attribute_weights is not None else {})

    @classmethod
    def from_form(cls, policy: PolicyRecord, quasi_identifiers: Iterable[Mapping[str, Any]]) -> PolicySpec:
        """Return the spec of a policy being edited: its fields plus the hierarchy forms' cleaned data."""
        return cls.from_model(policy, quasi_identifiers=quasi_identifiers)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PolicySpec:
        """Return the spec recorded on a release (`to_json()`, or the snapshot dict of earlier releases).

        Snapshots from before the recoding option have no "recoding" key: they ran Flash, i.e. full_domain.
        """
        return cls(
            id=data.get("id"), name=data.get("name", ""), source=data.get("source", ""),
            columns=tuple(data.get("columns") or ()),
            quasi_identifiers=tuple(QuasiIdentifierSpec.from_mapping(qi) for qi in data.get("quasi_identifiers") or ()),
            sensitive_column=data.get("sensitive_column") or "", l_diversity=data.get("l_diversity"),
            t_closeness=data.get("t_closeness"), k=data.get("k", 0), suppression_limit=data.get("suppression_limit", 0.0),
            metric=data.get("metric", ""), recoding=data.get("recoding") or FULL_DOMAIN,
            recursive_c=data.get("recursive_c"), t_hierarchy=data.get("t_hierarchy") or "",
            gs_factor=data.get("gs_factor"), attribute_weights=data.get("attribute_weights") or {})

    def to_json(self) -> dict[str, Any]:
        """Return the spec as JSON data: the keys of the snapshot releases have always recorded, then
        the engine options that are set (so policies without them keep their version fingerprint)."""
        data = {
            "id": self.id, "name": self.name, "source": self.source, "columns": list(self.columns),
            "quasi_identifiers": [qi.to_json() for qi in self.quasi_identifiers],
            "sensitive_column": self.sensitive_column, "l_diversity": self.l_diversity,
            "t_closeness": self.t_closeness, "k": self.k, "suppression_limit": self.suppression_limit,
            "metric": self.metric, "recoding": self.recoding,
        }
        options = {"recursive_c": self.recursive_c, "t_hierarchy": self.t_hierarchy, "gs_factor": self.gs_factor,
                   "attribute_weights": dict(self.attribute_weights)}
        return data | {key: value for key, value in options.items() if value not in (None, "", {})}

    # --- derived values ------------------------------------------------------------------------------

    @property
    def qi_columns(self) -> list[str]:
        """Return the columns the policy gives a hierarchy (the admin's quasi-identifiers)."""
        return [qi.column for qi in self.quasi_identifiers]

    @property
    def class_hierarchies(self) -> tuple[QuasiIdentifierSpec, ...]:
        """Return a hierarchy for every released column but the sensitive one: the policy's, then
        the trivial value -> `*` for each descriptive column the policy releases without one."""
        given = set(self.qi_columns)
        implicit = tuple(
            QuasiIdentifierSpec(column=name, builder=TRIVIAL_BUILDER, params=TRIVIAL_PARAMS)
            for name in self.columns if name not in given and name != self.sensitive_column
            and catalog_for(self.source)[name].role == DESCRIPTIVE)
        return (*self.quasi_identifiers, *implicit)

    @property
    def is_local(self) -> bool:
        """Return True when the policy recodes locally (Mondrian) rather than by full-domain levels (Flash)."""
        return self.recoding == LOCAL

    @property
    def sensitive_is_ordered(self) -> bool:
        """Return True when the sensitive column is numeric (t-closeness then uses the ordered distance)."""
        return bool(self.sensitive_column) and catalog_for(self.source)[self.sensitive_column].kind == NUMERIC

    def criteria(self) -> list[Criterion]:
        """Return the engine criteria: k over customers, then l (distinct, or recursive-(c,l) with
        `recursive_c`) and t (hierarchical distance with `t_hierarchy`, else ordered for a numeric
        sensitive column and equal otherwise) on the sensitive column if set."""
        criteria: list[Criterion] = [KAnonymity(self.k)]
        if self.sensitive_column and self.l_diversity:
            if self.recursive_c is not None:
                criteria.append(RecursiveCLDiversity(self.sensitive_column, self.recursive_c, self.l_diversity))
            else:
                criteria.append(DistinctLDiversity(self.sensitive_column, self.l_diversity))
        if self.sensitive_column and self.t_closeness is not None:
            if self.t_hierarchy:
                criteria.append(TCloseness(self.sensitive_column, self.t_closeness, "hierarchical",
                                           self.t_hierarchy_tree()))
            else:
                distance = "ordered" if self.sensitive_is_ordered else "equal"
                criteria.append(TCloseness(self.sensitive_column, self.t_closeness, distance=distance))
        return criteria

    def t_hierarchy_tree(self) -> Hierarchy:
        """Return the sensitive column's hierarchy for hierarchical t-closeness (HierarchyError if malformed)."""
        return Hierarchy.from_csv_text(self.t_hierarchy, name=self.sensitive_column or "sensitive")

    def engine_metric(self) -> str | Metric:
        """Return the metric for the engine: its name, or a configured metric when the policy sets
        a gs-factor or attribute weights."""
        if self.gs_factor is None and not self.attribute_weights:
            return self.metric
        return create_metric(self.metric, gs_factor=self.gs_factor, weights=dict(self.attribute_weights) or None)

    # --- rules ---------------------------------------------------------------------------------------

    def validate(self) -> None:
        """Raise PolicyInvalid (or HierarchyInvalid) with a clear message unless the policy can run."""
        self.validate_settings()
        self.validate_quasi_identifiers()

    def validate_settings(self) -> None:
        """Raise PolicyInvalid unless the source, columns and privacy criteria are valid and fit together.

        These are the rules of the policy row alone (its hierarchies are checked apart), so the
        model's `clean()` can apply them before the hierarchies are saved.
        """
        self._validate_columns()
        self._validate_numbers()
        self._validate_sensitive()
        self._validate_engine_options()
        self._validate_recoding()

    def _validate_columns(self) -> None:
        if self.source not in CATALOGS:
            raise PolicyInvalid(f"Unknown source {self.source!r}.", field="source")
        columns = self.columns
        if not isinstance(columns, tuple) or not columns or not all(isinstance(c, str) for c in columns):
            raise PolicyInvalid("Choose at least one column to release.", field="columns")
        forbidden = [c for c in columns if c.lower() in DIRECT_IDENTIFIERS]
        if forbidden:
            raise PolicyInvalid(f"Direct identifiers are never released: {', '.join(forbidden)}.", field="columns")
        unknown = [c for c in columns if c not in catalog_for(self.source)]
        if unknown:
            raise PolicyInvalid(f"The {self.source} source has no column(s) {', '.join(unknown)}.", field="columns")
        if len(set(columns)) != len(columns):
            raise PolicyInvalid("Each column can be released only once.", field="columns")

    def _validate_numbers(self) -> None:
        if not _is_whole(self.k) or self.k < MIN_K:
            raise PolicyInvalid(f"k must be a whole number of at least {MIN_K}.", field="k")
        if not _is_number(self.suppression_limit) or not 0 <= self.suppression_limit <= 1:
            raise PolicyInvalid("The suppression limit must be a fraction between 0 and 1.", field="suppression_limit")
        if self.metric not in METRICS:
            raise PolicyInvalid(f"Unknown metric {self.metric!r}; choose one of {', '.join(metric_names())}.",
                                field="metric")
        if self.l_diversity is not None and (not _is_whole(self.l_diversity) or self.l_diversity < MIN_L):
            raise PolicyInvalid(f"l must be a whole number of at least {MIN_L}.", field="l_diversity")
        if self.t_closeness is not None and (not _is_number(self.t_closeness) or not 0 <= self.t_closeness <= 1):
            raise PolicyInvalid("t must be a number between 0 and 1.", field="t_closeness")

    def _validate_sensitive(self) -> None:
        sensitive = self.sensitive_column
        if sensitive and sensitive not in self.columns:
            raise PolicyInvalid(f"The sensitive column {sensitive} must be one of the released columns.",
                                field="sensitive_column")
        if (self.l_diversity or self.t_closeness is not None) and not sensitive:
            raise PolicyInvalid("l-diversity and t-closeness need a sensitive column.", field="sensitive_column")
        if sensitive and not self.l_diversity and self.t_closeness is None:
            raise PolicyInvalid(f"Give l or t for the sensitive column {sensitive}.", field="sensitive_column")

    def _validate_engine_options(self) -> None:
        c = self.recursive_c
        if c is not None and (not _is_number(c) or not c > 0):
            raise PolicyInvalid("c must be a number greater than 0.", field="recursive_c")
        if c is not None and not self.l_diversity:
            raise PolicyInvalid("Recursive-(c,l)-diversity needs l: give l or remove c.", field="recursive_c")
        if self.t_hierarchy:
            if self.t_closeness is None:
                raise PolicyInvalid("A t-closeness hierarchy needs t: give t or remove the hierarchy.",
                                    field="t_hierarchy")
            try:
                self.t_hierarchy_tree()
            except HierarchyError as exc:
                raise PolicyInvalid(f"The t-closeness hierarchy is invalid: {exc}.", field="t_hierarchy") from exc
        if self.gs_factor is not None:
            if not _is_number(self.gs_factor) or not 0 <= self.gs_factor <= 1:
                raise PolicyInvalid("The gs-factor must be a number between 0 and 1.", field="gs_factor")
            if self.metric in METRICS and self.metric not in metrics_taking("gs_factor"):
                raise PolicyInvalid(f"The metric {self.metric} takes no gs-factor; choose "
                                    f"{', '.join(metrics_taking('gs_factor'))}.", field="gs_factor")
        self._validate_weights()

    def _validate_weights(self) -> None:
        weights = self.attribute_weights
        if not weights:
            return
        if not isinstance(weights, Mapping) or not all(
                isinstance(k, str) and _is_number(v) and 0 <= v < float("inf") for k, v in weights.items()):
            raise PolicyInvalid('Attribute weights map released columns to numbers of at least 0, e.g. {"age": 2}.',
                                field="attribute_weights")
        classes = [c for c in self.columns if c != self.sensitive_column]
        if unknown := [c for c in weights if c not in classes]:
            raise PolicyInvalid(f"Attribute weights name column(s) {', '.join(unknown)} that do not form the "
                                "classes (released columns but the sensitive one).", field="attribute_weights")
        if self.metric in METRICS and self.metric not in metrics_taking("weights"):
            raise PolicyInvalid(f"The metric {self.metric} takes no attribute weights; choose "
                                f"{', '.join(metrics_taking('weights'))}.", field="attribute_weights")

    def _validate_recoding(self) -> None:
        if self.recoding not in RECODINGS:
            raise PolicyInvalid(f"Unknown recoding {self.recoding!r}; choose full_domain (one hierarchy level per "
                                "column, Flash) or local (labels per equivalence class, Mondrian).", field="recoding")
        if self.is_local and (self.l_diversity or self.t_closeness is not None):
            raise PolicyInvalid("Local recoding checks k only: remove l and t, or choose full_domain recoding.",
                                field="recoding")
        if self.is_local and (self.gs_factor is not None or self.attribute_weights):
            raise PolicyInvalid("Local recoding has no quality metric to tune: remove the gs-factor and attribute "
                                "weights, or choose full_domain recoding.", field="recoding")

    def validate_quasi_identifiers(self) -> None:
        """Raise PolicyInvalid (or HierarchyInvalid) unless every quasi-identifier has one valid hierarchy."""
        qi_columns = self.qi_columns
        if not qi_columns:
            raise PolicyInvalid("Give at least one quasi-identifier with a hierarchy.")
        outside = [c for c in qi_columns if c not in self.columns]
        if outside:
            raise PolicyInvalid(f"Quasi-identifier(s) {', '.join(outside)} must be released columns.")
        if len(set(qi_columns)) != len(qi_columns):
            raise PolicyInvalid("Each quasi-identifier can have only one hierarchy.")
        if self.sensitive_column in qi_columns:
            raise PolicyInvalid(f"The sensitive column {self.sensitive_column} cannot also be a quasi-identifier.")
        catalog = catalog_for(self.source)
        for qi in self.quasi_identifiers:
            check_definition(column=qi.column, kind=catalog[qi.column].kind, builder=qi.builder, params=qi.params,
                             arx_csv=qi.arx_csv)
        self.validate_roles()

    def validate_roles(self) -> None:
        """Raise PolicyInvalid unless every released column fits its catalog role and no rows can be chained.

        A must-generalize column needs a hierarchy and cannot be the sensitive column (released
        exactly, outside the classes); no hierarchy level may repeat another released column; and
        balance_after with amount needs one of them in bands of at least LINK_BAND.
        """
        catalog = catalog_for(self.source)
        given = set(self.qi_columns)
        for name in self.columns:
            if catalog[name].must_generalize and name not in given and name != self.sensitive_column:
                raise PolicyInvalid(f"The column {name} must be generalized: give it a hierarchy or do not "
                                    "release it.")
        if self.sensitive_column and catalog[self.sensitive_column].must_generalize:
            raise PolicyInvalid(f"The sensitive column {self.sensitive_column} must be generalized, so it cannot be "
                                "released outside the classes; only a descriptive column (kind, channel) can be "
                                "sensitive.", field="sensitive_column")
        self._validate_repeated_levels()
        self._validate_chain()

    def _validate_repeated_levels(self) -> None:
        for qi in self.quasi_identifiers:
            repeated = REPEATED_LEVELS.get((qi.column, qi.builder))
            if repeated in self.columns:
                raise PolicyInvalid(f"The {qi.builder} hierarchy of {qi.column} has a level that repeats the column "
                                    f"{repeated}; release only one of them.")

    def _banded(self, column: str) -> bool:
        """Return True when the column's finest level is a band at least LINK_BAND wide (not exact values)."""
        qi = next((qi for qi in self.quasi_identifiers if qi.column == column), None)
        if qi is None or qi.builder != "intervals":
            return False
        width = qi.params.get("bin", 1)
        return _is_number(width) and width >= LINK_BAND

    def _validate_chain(self) -> None:
        if all(name in self.columns for name in CHAINED) and not any(self._banded(name) for name in CHAINED):
            raise PolicyInvalid(f"balance_after and amount together chain a customer's rows (previous balance + "
                                f"amount = next balance): cut at least one of them into bands of at least "
                                f"{LINK_BAND} (intervals with bin >= {LINK_BAND}).")
