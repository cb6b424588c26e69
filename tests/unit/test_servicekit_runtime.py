"""servicekit.runtime.serve: what every service's `__main__` gets besides the app itself."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from servicekit import runtime
from servicekit.settings import BaseServiceSettings


class _Settings(BaseServiceSettings):
    http_port: int = 0


@pytest.fixture
def served_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[web.Application]:
    started: list[web.Application] = []

    def run_app(app: web.Application, **_: Any) -> None:
        started.append(app)

    monkeypatch.setattr(runtime.web, "run_app", run_app)
    monkeypatch.setattr(runtime, "configure_logging", lambda *args, **kwargs: None)
    runtime.serve("test_svc", _Settings(_env_file=None), lambda settings: web.Application())  # type: ignore[call-arg]
    assert len(started) == 1
    yield started[0]
    gc.unfreeze()


async def test_objects_allocated_while_starting_are_kept_out_of_every_later_collection(
    served_app: web.Application,
) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    for on_startup in served_app.on_startup:
        await on_startup(served_app)
    assert gc.get_freeze_count() > 1000
