"""Fixtures of the processor_svc tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of this module's own for the videos its tests make."""
    return tmp_path_factory.mktemp("media")
