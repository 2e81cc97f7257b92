"""The engine is a pure package, subpackages included: stdlib, numpy and pandas only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[3] / "anonymization" / "engine"
ALLOWED_THIRD_PARTY = {"numpy", "pandas"}


def _imported_modules(path: Path) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
    return found


def test_it_never_imports_django_in_the_engine() -> None:
    offenders = [f"{path.relative_to(ENGINE)}:{line} imports {module}"
                 for path in sorted(ENGINE.rglob("*.py")) for module, line in _imported_modules(path)
                 if module.split(".")[0] == "django"]
    assert offenders == []


def test_it_imports_only_stdlib_numpy_and_pandas() -> None:
    third_party = {module.split(".")[0] for path in ENGINE.rglob("*.py") for module, _ in _imported_modules(path)}
    unexpected = third_party - set(sys.stdlib_module_names) - ALLOWED_THIRD_PARTY
    assert unexpected == set()


def test_it_runs_the_command_line_without_loading_django() -> None:
    code = ("import sys, runpy; sys.argv = ['x', '--help']\n"
            "try:\n    runpy.run_module('anonymization.engine', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print('django' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ENGINE.parents[1], check=True)
    assert done.stdout.strip().splitlines()[-1] == "False"
