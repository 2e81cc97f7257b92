from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from anonymization.engine.cli import main

from .conftest import ADULT_COLUMNS, REPO


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "people.csv").write_text(
        "name;age;zip;disease\n" + "\n".join(
            f"p{i};{age};{zip_};{d}" for i, (age, zip_, d) in enumerate(
                [(21, "1234", "flu"), (22, "1235", "cold"), (23, "1234", "flu"), (24, "1299", "hiv"),
                 (31, "5555", "flu"), (32, "5555", "cold"), (33, "5555", "cold"), (38, "5555", "flu")])) + "\n")
    (tmp_path / "age.csv").write_text("".join(f"{a};{a // 10 * 10}-{a // 10 * 10 + 9};*\n" for a in range(20, 40)))
    (tmp_path / "zip.csv").write_text("1234;12**;*\n1235;12**;*\n1299;12**;*\n5555;55**;*\n")
    return {"dir": tmp_path, "input": tmp_path / "people.csv", "age": tmp_path / "age.csv",
            "zip": tmp_path / "zip.csv", "output": tmp_path / "out.csv", "report": tmp_path / "report.json"}


def _args(files: dict[str, Path], *extra: str) -> list[str]:
    return ["--input", str(files["input"]), "--qi", f"age={files['age']}", "--qi", f"zip={files['zip']}",
            "--output", str(files["output"]), "--report", str(files["report"]), *extra]


def test_it_writes_the_release_and_the_report(files) -> None:
    assert main(_args(files, "--k", "4")) == 0
    released = pd.read_csv(files["output"], sep=";", dtype=str)
    assert list(released.columns) == ["name", "age", "zip", "disease"]
    assert released["age"].tolist() == ["20-29"] * 4 + ["30-39"] * 4
    report = json.loads(files["report"].read_text())
    assert report["levels"] == {"age": 1, "zip": 1}
    assert (report["rows_in"], report["rows_out"], report["suppressed_rows"]) == (8, 8, 0)
    assert (report["classes"], report["min_class_size"], report["metric"]) == (2, 4, "loss")
    assert set(report) >= {"info_loss", "lattice_size", "nodes_checked", "elapsed_s"}


def test_it_applies_suppression_metric_and_diversity_options(files) -> None:
    code = main(_args(files, "--k", "2", "--suppression-limit", "0.25", "--metric", "dm",
                      "--sensitive", "disease", "--l", "2", "--l-variant", "entropy", "--t", "0.6"))
    assert code == 0
    report = json.loads(files["report"].read_text())
    assert report["metric"] == "dm" and report["suppressed_rows"] <= 2


@pytest.mark.parametrize(("extra", "message"), [
    (["--k", "0"], "error: k must be a positive integer, got 0"),
    (["--k", "two"], "error: argument --k: invalid int value: 'two'"),
    (["--k", "2", "--suppression-limit", "1.5"], "error: --suppression-limit must be a fraction between 0 and 1, got 1.5"),
    (["--k", "2", "--qi", "ages"], "error: --qi expects COLUMN=HIERARCHY.csv, got 'ages'"),
    (["--k", "2", "--qi", "height=h.csv"], "error: cannot read hierarchy file 'h.csv': No such file or directory"),
    (["--k", "2", "--sensitive", "disease"], "error: --sensitive needs --l or --t"),
    (["--k", "2", "--l", "2"], "error: --l and --t need --sensitive COLUMN"),
    (["--k", "2", "--metric", "fast"],
     "error: argument --metric: invalid choice: 'fast' (choose from 'aecs', 'dm', 'dm-nonmonotonic', 'entropy', 'entropy-nonmonotonic', 'height', 'loss', 'precision', 'precision-monotonic')"),
])
def test_it_exits_2_with_one_line_on_bad_options(files, capsys, extra: list[str], message: str) -> None:
    assert main(_args(files, *extra)) == 2
    assert capsys.readouterr().err == message + "\n"
    assert not files["output"].exists() and not files["report"].exists()


def test_it_exits_2_on_an_unknown_column(files, capsys) -> None:
    (files["dir"] / "x.csv").write_text("a;*\n")
    assert main(_args(files, "--k", "2", "--qi", f"height={files['dir'] / 'x.csv'}")) == 2
    assert capsys.readouterr().err == "error: unknown quasi-identifier column(s): 'height'\n"


def test_it_exits_2_on_a_bad_hierarchy(files, capsys) -> None:
    files["zip"].write_text("1234;12**;*\n1235;12**\n")
    assert main(_args(files, "--k", "2")) == 2
    assert capsys.readouterr().err == "error: hierarchy for 'zip': row 2 ('1235') has 2 levels, expected 3\n"


def test_it_exits_2_on_a_value_missing_from_a_hierarchy(files, capsys) -> None:
    files["zip"].write_text("1234;12**;*\n1235;12**;*\n")
    assert main(_args(files, "--k", "2")) == 2
    assert capsys.readouterr().err == "error: hierarchy for 'zip' has no row for value(s): '1299', '5555'\n"
    assert not files["output"].exists()


def test_it_exits_2_on_a_missing_input_file(files, capsys) -> None:
    files["input"].unlink()
    assert main(_args(files, "--k", "2")) == 2
    assert capsys.readouterr().err == f"error: cannot read input file '{files['input']}': No such file or directory\n"


def test_it_exits_3_when_no_transformation_satisfies_the_criteria(files, capsys) -> None:
    assert main(_args(files, "--k", "9")) == 3
    assert capsys.readouterr().err == ("error: no transformation satisfies the criteria: even the most general "
                                       "one suppresses 8 of 8 rows, at most 0 allowed\n")
    assert not files["output"].exists() and not files["report"].exists()
    assert list(files["dir"].glob(".*.tmp")) == []


def test_it_runs_as_a_module_on_adult(adult, tmp_path: Path) -> None:
    _, _, folder = adult
    qis = [arg for c in ADULT_COLUMNS for arg in ("--qi", f"{c}={folder / f'adult_hierarchy_{c}.csv'}")]
    command = [sys.executable, "-m", "anonymization.engine", "--input", str(folder / "adult.csv"), *qis,
               "--k", "5", "--output", str(tmp_path / "out.csv"), "--report", str(tmp_path / "report.json")]
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["info_loss"] == pytest.approx(0.5731509655590044, abs=1e-12)
    assert report["rows_out"] == 30162
    assert len(pd.read_csv(tmp_path / "out.csv", sep=";")) == 30162


def test_it_takes_the_arx_models_and_metric_options(files) -> None:
    (files["dir"] / "disease.csv").write_text("flu;respiratory;*\ncold;respiratory;*\nhiv;other;*\n")
    code = main(_args(files, "--k", "2", "--suppression-limit", "0.25", "--sensitive", "disease",
                      "--l", "2", "--recursive-c", "3", "--t", "0.9", "--t-hierarchical",
                      str(files["dir"] / "disease.csv"), "--gs-factor", "0.25", "--weight", "age=2",
                      "--aggregate", "sum"))
    assert code == 0
    report = json.loads(files["report"].read_text())
    assert report["metric_options"] == {"gs_factor": 0.25, "aggregate": "sum", "weights": {"age": 2.0}}
    code = main(_args(files, "--k", "2", "--sensitive", "disease", "--l", "1.5", "--l-variant", "entropy",
                      "--l-estimator", "grassberger", "--metric", "entropy-nonmonotonic"))
    assert code == 0
    assert json.loads(files["report"].read_text())["metric"] == "entropy-nonmonotonic"


@pytest.mark.parametrize(("extra", "message"), [
    (["--gs-factor", "2"], "error: gs_factor must be a number between 0 and 1, got 2.0"),
    (["--weight", "age"], "error: --weight expects COLUMN=NUMBER, got 'age'"),
    (["--weight", "height=1"], "error: weight given for column(s) that are not quasi-identifiers: height"),
    (["--metric", "dm", "--aggregate", "max"], "error: metric 'dm' has no option aggregate"),
    (["--sensitive", "disease", "--recursive-c", "2"], "error: --recursive-c needs --l"),
    (["--sensitive", "disease", "--l", "2", "--l-variant", "recursive"],
     "error: --l-variant recursive needs --recursive-c"),
    (["--sensitive", "disease", "--l", "2", "--t-hierarchical", "d.csv"], "error: --t-hierarchical needs --t"),
])
def test_it_rejects_bad_model_and_metric_options_with_one_line(files, capsys, extra, message) -> None:
    assert main(_args(files, "--k", "2", *extra)) == 2
    assert capsys.readouterr().err.strip() == message
    assert not files["output"].exists() and not files["report"].exists()


def test_it_releases_a_research_subset_under_d_presence_and_k_map(files) -> None:
    # Subset: p0, p1, p4 of the eight people. At age decade and zip prefix the classes hold
    # 20-29/12** 4 input rows (2 subset rows: delta 0.5) and 30-39/55** 4 (1 subset row: 0.25).
    (files["dir"] / "subset.csv").write_text("name;age;zip;disease\np0;21;1234;flu\np4;31;5555;flu\np1;22;1235;cold\n")
    code = main(_args(files, "--subset", str(files["dir"] / "subset.csv"), "--d-presence", "0.2", "0.5",
                      "--k-map", "4", "--metric", "height"))
    assert code == 0
    released = pd.read_csv(files["output"], sep=";", dtype=str)
    assert released["name"].tolist() == ["p0", "p1", "p4"]
    report = json.loads(files["report"].read_text())
    assert (report["rows_in"], report["subset_rows"], report["rows_out"]) == (8, 3, 3)
    assert report["levels"] == {"age": 1, "zip": 1}
    # Plain inclusion: no privacy model beyond the subset, nothing generalized.
    assert main(_args(files, "--subset", str(files["dir"] / "subset.csv"))) == 0
    assert json.loads(files["report"].read_text())["levels"] == {"age": 0, "zip": 0}


def test_it_reproduces_arx_k_map_over_adults_research_subset(adult, tmp_path: Path) -> None:
    _, _, folder = adult
    columns = [c for c in ADULT_COLUMNS if c != "occupation"]
    qis = [arg for c in columns for arg in ("--qi", f"{c}={folder / f'adult_hierarchy_{c}.csv'}")]
    code = main(["--input", str(folder / "adult.csv"), *qis, "--subset", str(folder / "adult_subset.csv"),
                 "--k-map", "5", "--metric", "aecs", "--output", str(tmp_path / "out.csv"),
                 "--report", str(tmp_path / "report.json")])
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["info_loss"] == pytest.approx(45.014925373134325, rel=1e-14)
    assert list(report["levels"].values()) == [1, 0, 1, 2, 3, 2, 2, 1]
    assert report["subset_rows"] == 3016 == len(pd.read_csv(tmp_path / "out.csv", sep=";"))


@pytest.mark.parametrize(("extra", "message"), [
    ([], "error: give --k, or --subset with --d-presence or --k-map"),
    (["--d-presence", "0", "0.5"], "error: --d-presence needs --subset FILE"),
    (["--k-map", "3"], "error: --k-map needs --subset FILE, or --k-map-estimator and --population-size"),
    (["--k-map", "3", "--k-map-estimator", "poisson"], "error: --k-map-estimator and --population-size go together"),
    (["--k", "2", "--k-map-estimator", "poisson", "--population-size", "100"], "error: --k-map-estimator needs --k-map"),
    (["--k-map", "3", "--k-map-estimator", "poisson", "--population-size", "5"],
     "error: population_size (5) is smaller than the table (8 rows)"),
    (["--subset", "missing.csv"], "error: cannot read subset file 'missing.csv': No such file or directory"),
])
def test_it_rejects_bad_subset_options_with_one_line(files, capsys, extra, message) -> None:
    assert main(_args(files, *extra)) == 2
    assert capsys.readouterr().err.strip() == message
    assert not files["output"].exists() and not files["report"].exists()


def test_it_rejects_a_subset_row_missing_from_the_input(files, capsys) -> None:
    (files["dir"] / "subset.csv").write_text("name;age;zip;disease\np0;21;1234;cold\n")
    assert main(_args(files, "--subset", str(files["dir"] / "subset.csv"), "--k-map", "2")) == 2
    assert capsys.readouterr().err.strip() == \
        "error: research subset row 1 matches no input row: ['p0', '21', '1234', 'cold']"
    assert not files["output"].exists()
