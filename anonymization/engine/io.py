"""Files: reading delimited tables and writing outputs atomically."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

__all__ = ["read_table", "write_outputs"]


def read_table(path: str | Path, delimiter: str = ";") -> pd.DataFrame:
    """Read a delimited file with a header row; every value stays a string, exactly as written
    (no missing-value guessing), so it compares with hierarchy values as they are."""
    return pd.read_csv(path, sep=delimiter, dtype=str, keep_default_na=False, na_filter=False,
                       engine="c", quoting=0)


def _temporary_beside(path: Path, write: Callable[[Path], object]) -> Path:
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def write_outputs(data: pd.DataFrame, data_path: str | Path, report: dict, report_path: str | Path,
                  delimiter: str = ";") -> None:
    """Write the table and the JSON report to temporary files beside their targets, then rename
    both into place: a failure leaves neither a partial nor a stale-looking output behind."""
    data_path, report_path = Path(data_path), Path(report_path)
    written: list[tuple[Path, Path]] = []
    try:
        written.append((_temporary_beside(data_path, lambda p: data.to_csv(p, sep=delimiter, index=False)),
                        data_path))
        text = json.dumps(report, indent=2, sort_keys=False) + "\n"
        written.append((_temporary_beside(report_path, lambda p: p.write_text(text, encoding="utf-8")),
                        report_path))
    except BaseException:
        for temporary, _ in written:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, target in written:
        os.replace(temporary, target)
