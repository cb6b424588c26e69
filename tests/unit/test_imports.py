"""Every module of ours imports on its own, whatever was imported before: an import cycle that only works in one
order (a service importing A before B) fails here."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import pytest
from prometheus_client import REGISTRY

PACKAGES = ("contracts", "servicekit", "auth_svc", "video_svc", "notify_svc", "processor_svc", "webhook_svc",
            "webapp", "ops")  # fmt: skip


def modules() -> list[str]:
    found = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        found.append(package)
        found += [info.name for info in pkgutil.walk_packages(root.__path__, f"{package}.")]
    return sorted(found)


def forget_ours() -> None:
    for name in [n for n in sys.modules if n.split(".")[0] in PACKAGES]:
        del sys.modules[name]


@pytest.mark.parametrize("module", modules())
def test_the_module_imports_first(module: str) -> None:
    saved = {n: m for n, m in sys.modules.items() if n.split(".")[0] in PACKAGES}
    # Our modules register their metrics when imported: a fresh import needs a registry without them.
    metrics = (dict(REGISTRY._names_to_collectors), dict(REGISTRY._collector_to_names))
    forget_ours()
    REGISTRY._names_to_collectors.clear()
    REGISTRY._collector_to_names.clear()
    try:
        importlib.import_module(module)
    finally:
        forget_ours()
        sys.modules.update(saved)  # the rest of the run keeps the objects it already holds
        REGISTRY._names_to_collectors.clear()
        REGISTRY._collector_to_names.clear()
        REGISTRY._names_to_collectors.update(metrics[0])
        REGISTRY._collector_to_names.update(metrics[1])
