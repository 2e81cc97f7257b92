"""Anonymization engine (pure Python: numpy and pandas).

Flash: optimal full-domain generalization over hierarchies.

>>> from anonymization.engine import Hierarchy, KAnonymity, anonymize
>>> result = anonymize(df, {"age": Hierarchy.from_csv("age.csv")}, [KAnonymity(5)])

Mondrian: local recoding with k over distinct individuals, measured by a query workload and
attacked with the attacker's own material.

>>> from anonymization.engine import NumericQI, mondrian, workload_error, attack_report
>>> release = mondrian(df, {"age": NumericQI(0, 120, grain=1)}, k=5, individual_id="customer")

Published labels are read by one grammar (:mod:`.coverage`): :func:`parse_label` and
:class:`CoverageResolver`. See docs/engine.md for the API, the rules and benchmark figures.
"""

from __future__ import annotations

from .api import ClassStatistics, NoSolutionError, Result, RiskStatistics, SearchStatistics, anonymize
from .attacks import AttackReport, attack_report
from .coverage import (
    Anything,
    CategoricalDomain,
    ColumnLabels,
    Coverage,
    CoverageResolver,
    DateDomain,
    DayRange,
    Interval,
    NumericDomain,
    Prefix,
    ValueSet,
    covers,
    label_covers,
    parse_label,
)
from .criteria import (
    Criterion,
    DistinctLDiversity,
    DPresence,
    EntropyLDiversity,
    Inclusion,
    KAnonymity,
    KMap,
    RecursiveCLDiversity,
    TCloseness,
)
from .hierarchy import Hierarchy, HierarchyError
from .metrics import METRICS, Metric
from .mondrian import DateQI, HierarchyQI, MondrianResult, NumericQI, mondrian
from .utility import (
    ColumnSurvival,
    MonthColumn,
    PrefixColumn,
    RangeColumn,
    ValueColumn,
    WorkloadError,
    column_survival,
    workload_error,
    workload_generate,
)

__all__ = [
    # Flash: full-domain generalization
    "anonymize",
    "Result",
    "ClassStatistics",
    "RiskStatistics",
    "SearchStatistics",
    "NoSolutionError",
    "Hierarchy",
    "HierarchyError",
    "Criterion",
    "KAnonymity",
    "DistinctLDiversity",
    "EntropyLDiversity",
    "RecursiveCLDiversity",
    "TCloseness",
    "Inclusion",
    "DPresence",
    "KMap",
    "Metric",
    "METRICS",
    # Mondrian: local recoding
    "mondrian",
    "MondrianResult",
    "NumericQI",
    "DateQI",
    "HierarchyQI",
    # the label grammar
    "parse_label",
    "label_covers",
    "covers",
    "ColumnLabels",
    "CoverageResolver",
    "Coverage",
    "Anything",
    "Interval",
    "DayRange",
    "Prefix",
    "ValueSet",
    "NumericDomain",
    "DateDomain",
    "CategoricalDomain",
    # utility workload
    "workload_generate",
    "workload_error",
    "column_survival",
    "RangeColumn",
    "MonthColumn",
    "ValueColumn",
    "PrefixColumn",
    "WorkloadError",
    "ColumnSurvival",
    # attacks
    "attack_report",
    "AttackReport",
]
