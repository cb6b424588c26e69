"""The shape the product's code keeps: small modules (the median module of every package, its subpackages counted
with it, at most 100 lines) and short functions (none over 50 lines), so each reads in one sitting. Tests and
benchmarks are stories told step by step and are not held to it."""

from __future__ import annotations

import ast
import statistics
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "contracts",
    "servicekit",
    "auth_svc",
    "video_svc",
    "notify_svc",
    "processor_svc",
    "webhook_svc",
    "webapp",
    "ops",
)
MAX_MEDIAN_MODULE_LINES = 100
MAX_FUNCTION_LINES = 50


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_the_median_module_of_each_package_is_at_most_100_lines(package: str) -> None:
    sizes = [len(path.read_text().splitlines()) for path in _modules(package)]
    assert sizes, f"{package} has no modules"
    assert statistics.median(sizes) <= MAX_MEDIAN_MODULE_LINES, sorted(sizes)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_function_is_longer_than_50_lines(package: str) -> None:
    long = [entry for path in _modules(package) for entry in _long_functions(path)]
    assert long == []


def test_the_check_sees_a_function_over_the_limit(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    sample = tmp_path / "sample.py"
    sample.write_text(f"def long():\n{body}\n")
    assert len(sample.read_text().splitlines()) > MAX_FUNCTION_LINES
    assert [entry.split()[1] for entry in _long_functions(sample)] == ["long"]
