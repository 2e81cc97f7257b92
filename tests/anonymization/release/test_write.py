"""Writing release files: formula cells neutralized in the CSV, true values in Parquet, no folder left behind."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from django.core.files.storage import default_storage

from anonymization.release import write
from anonymization.release.verify import check_same_table

LABEL = "=cmd|' /C calc'!A0"


@pytest.mark.parametrize(("cell", "written"), [
    (LABEL, "'" + LABEL), ("+A1", "'+A1"), ("-1+2", "'-1+2"), ("-", "'-"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("-12.50", "-12.50"), ("+3", "+3"), ("-1e3", "-1e3"), ("[-20, -10)", "[-20, -10)"), ("deposit", "deposit"),
    ("a=b", "a=b"),
])
def test_it_neutralizes_formula_cells_and_keeps_numbers_readable(cell, written):
    assert write.neutralize_cell(cell) == written


def _folder() -> str:
    return "releases/test-write/.tmp-claim"


def test_it_writes_neutralized_csv_and_true_parquet(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    frame = pd.DataFrame({"kind": pd.Categorical([LABEL, "-12.50", "deposit"]), "amount": [-12.5, 3.0, 40.0]})
    written = write.write_data(frame, _folder())
    csv_name, parquet_name = (item.name for item in written)
    with default_storage.open(csv_name, "rb") as handle:
        text = handle.read().decode()
    assert text.splitlines()[1:] == [f"'{LABEL},-12.5", "-12.50,3.0", "deposit,40.0"]
    parquet = write.read_parquet(parquet_name)
    assert parquet["kind"].tolist() == [LABEL, "-12.50", "deposit"]
    check_same_table(parquet, write.read_csv(csv_name))


def test_it_leaves_no_empty_temporary_folder(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    write.write_data(pd.DataFrame({"kind": ["deposit"]}), _folder())
    assert os.path.isdir(tmp_path / _folder())
    assert write.remove_folder(_folder()) == 2
    assert not os.path.exists(tmp_path / _folder())
    assert write.remove_folder(_folder()) == 0
