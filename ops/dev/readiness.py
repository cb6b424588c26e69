"""Whether the stack's processes are ready: each one's `/readyz` polled until it answers 200, and a clear
message when one exits or never gets there."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import aiohttp

from ops.dev.process import ServiceProcess


class DevStackError(Exception):
    """The stack cannot start; the message says what to fix."""


async def wait_ready(
    processes: Mapping[str, ServiceProcess], url: Callable[[str], str], names: list[str], within: float
) -> None:
    pending = dict.fromkeys(names, "not answering yet")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
        while pending:
            for name in list(pending):
                process = processes[name]
                if not process.running:
                    raise DevStackError(
                        f"{name} exited with code {process.returncode} before it was ready. "
                        f"Its last lines:\n{process.last_lines()}"
                    )
                ready, state = await _probe(http, f"{url(name)}/readyz")
                if ready:
                    del pending[name]
                else:
                    pending[name] = state
            if pending and loop.time() > deadline:
                raise DevStackError(_not_ready_message(pending, processes, within))
            if pending:
                await asyncio.sleep(0.25)


async def _probe(http: aiohttp.ClientSession, url: str) -> tuple[bool, str]:
    try:
        async with http.get(url) as response:
            body = (await response.text())[:300]
            return response.status == 200, f"/readyz {response.status} {body}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return False, f"not answering ({exc.__class__.__name__})"


def _not_ready_message(pending: dict[str, str], processes: Mapping[str, ServiceProcess], timeout: float) -> str:
    parts = [f"not ready after {timeout:.0f}s: {', '.join(pending)}"]
    for name, state in pending.items():
        parts.append(f"{name}: {state}\n  last lines:\n{processes[name].last_lines()}")
    return "\n".join(parts)
