"""Every module of ours imports first in an interpreter of its own, and the layers hold: the contract imports
nothing of ours (integrators install it alone), and only the `framepipe` entry point imports the command modules,
so no command reaches back into ops/cli.py or into another command.

One interpreter per package, run side by side: it imports each module of the package in turn after forgetting
every module of ours (third-party ones stay loaded, which keeps it fast), and reports what each import loaded.
tests/unit/test_imports.py does the same inside the test process; this one cannot be fooled by what pytest and
the other tests have imported."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ops.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("contracts", "servicekit", "auth_svc", "video_svc", "notify_svc", "processor_svc", "webhook_svc",
            "webapp", "ops")  # fmt: skip
ENTRY_POINT = "ops.cli"
COMMAND_MODULES = frozenset({*(module.__name__ for module in COMMANDS), "ops.completion"})

# Runs in the fresh interpreter: argv[1] names our packages (comma-separated), argv[2:] are the modules to import,
# one after the other.
PROBE = """
import importlib, json, sys, traceback
from prometheus_client import REGISTRY

OURS = sys.argv[1].split(",")

def forget_ours():
    for name in [n for n in sys.modules if n.split(".")[0] in OURS]:
        del sys.modules[name]
    # Our modules register their metrics when imported: a fresh import needs a registry without them.
    REGISTRY._names_to_collectors.clear()
    REGISTRY._collector_to_names.clear()

report = {}
for module in sys.argv[2:]:
    forget_ours()
    try:
        importlib.import_module(module)
        error = None
    except Exception:
        error = traceback.format_exc(limit=-3)
    loaded = sorted(n for n in sys.modules if n.split(".")[0] in OURS)
    report[module] = {"error": error, "loaded": loaded}
print(json.dumps(report))
"""


def modules_of(package: str) -> list[str]:
    """Every module of the package, found on disk (nothing is imported to find them)."""
    root = ROOT / package
    found = []
    for path in sorted(root.rglob("*.py")):
        folders = path.relative_to(ROOT).parent
        if all((ROOT / folder / "__init__.py").is_file() for folder in (folders, *folders.parents) if folder.parts):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return found


def probe(package: str) -> dict[str, Any]:
    command = [sys.executable, "-c", PROBE, ",".join(PACKAGES), *modules_of(package)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=100)
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


@cache
def imports() -> dict[str, Any]:
    """What each module's import did, by module name."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        reports = list(pool.map(probe, PACKAGES))
    return {module: facts for report in reports for module, facts in report.items()}


ALL_MODULES = [module for package in PACKAGES for module in modules_of(package)]


def test_the_probe_finds_the_modules_of_every_package() -> None:
    assert {module.split(".")[0] for module in ALL_MODULES} == set(PACKAGES)
    assert {ENTRY_POINT, "ops.command", "contracts.events"} <= set(ALL_MODULES)
    assert set(ALL_MODULES) >= COMMAND_MODULES


@pytest.mark.parametrize("module", ALL_MODULES)
def test_the_module_imports_first_in_a_fresh_interpreter(module: str) -> None:
    assert imports()[module]["error"] is None


def test_the_contract_imports_nothing_of_ours_but_itself() -> None:
    contract = {module: facts["loaded"] for module, facts in imports().items() if module.split(".")[0] == "contracts"}
    strays = {module: [n for n in loaded if n.split(".")[0] != "contracts"] for module, loaded in contract.items()}
    assert len(contract) > 1
    assert {module: found for module, found in strays.items() if found} == {}


def test_no_line_of_the_contract_imports_another_package_of_ours() -> None:
    """Also the imports inside functions, which importing the modules does not run."""
    named: set[tuple[str, str]] = set()
    for path in sorted((ROOT / "contracts").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                named |= {(path.name, alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                named |= {(path.name, node.module)}
    ours = sorted((file, name) for file, name in named if name.split(".")[0] in set(PACKAGES) - {"contracts"})
    assert ours == []


def test_only_the_entry_point_imports_the_command_modules() -> None:
    """A command imports ops/command.py and what it is made of, never ops/cli.py nor another command."""
    reaching = {
        module: sorted((set(facts["loaded"]) & (COMMAND_MODULES | {ENTRY_POINT})) - {module})
        for module, facts in imports().items()
        if module != ENTRY_POINT
    }
    assert {module: found for module, found in reaching.items() if found} == {}


def test_the_shared_command_module_imports_no_command() -> None:
    loaded = set(imports()["ops.command"]["loaded"])
    assert loaded <= {"ops", "ops.command"}
