"""Flash: optimal k-anonymity over generalization hierarchies (pure Python: numpy and pandas).

>>> from anonymization.engine import Hierarchy, KAnonymity, anonymize
>>> result = anonymize(df, {"age": Hierarchy.from_csv("age.csv")}, [KAnonymity(5)])

See docs/engine.md for the API, the command line, the metrics and benchmark figures.
"""

from __future__ import annotations

from .api import ClassStatistics, NoSolutionError, Result, RiskStatistics, SearchStatistics, anonymize
from .criteria import Criterion, DistinctLDiversity, EntropyLDiversity, KAnonymity, TCloseness
from .hierarchy import Hierarchy, HierarchyError
from .metrics import METRICS, Metric

__all__ = [
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
    "TCloseness",
    "Metric",
    "METRICS",
]
