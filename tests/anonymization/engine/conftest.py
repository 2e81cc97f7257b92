"""Fixtures for the engine tests (no database: these tests never use the django_db mark)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from anonymization.engine import Hierarchy
from anonymization.engine.io import read_table

REPO = Path(__file__).resolve().parents[3]
ADULT_COLUMNS = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass",
                 "occupation", "salary-class"]


def shared_data() -> Path:
    """Benchmark data folder: $ATM_SHARED_DATA, else the copy kept in the repository (tests/data)."""
    return Path(os.environ.get("ATM_SHARED_DATA", REPO / "tests" / "data"))


def adult_dir() -> Path:
    folder = shared_data() / "adult"
    if not (folder / "adult.csv").exists():
        message = f"Adult data set not found in {folder} (the repository keeps a copy in tests/data/adult; set ATM_SHARED_DATA to read another)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return folder


@pytest.fixture(scope="session")
def adult() -> tuple[pd.DataFrame, dict[str, Hierarchy], Path]:
    folder = adult_dir()
    table = read_table(folder / "adult.csv")
    hierarchies = {c: Hierarchy.from_csv(folder / f"adult_hierarchy_{c}.csv", name=c) for c in ADULT_COLUMNS}
    return table, hierarchies, folder
