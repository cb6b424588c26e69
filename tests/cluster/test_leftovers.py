"""What a run killed half-way leaves behind (a node's scratch directory, a PostgreSQL server, partition rules) is
removed by the next run, and what a live run owns is left alone."""

from __future__ import annotations

import os
import subprocess

import pytest

from ops.dev import netcut, scratch
from ops.dev.localcluster import sweep_stale
from ops.dev.localpostgres import LocalPostgres
from tests.support.polling import eventually


def dead_pid() -> int:
    return 2**22 + 12345  # above the kernel's largest pid: no process has it


def chains() -> str:
    return subprocess.run(["iptables", "-S"], capture_output=True, text=True, check=True).stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="iptables needs root")
def test_the_rules_and_directories_of_a_dead_run_are_swept_and_a_live_runs_are_kept() -> None:
    stale_chain, live = f"{netcut.CHAIN_PREFIX}{dead_pid()}", netcut.NetCuts()
    netcut.remove_chain(stale_chain)
    subprocess.run(["iptables", "-N", stale_chain], check=True)
    subprocess.run(["iptables", "-I", "INPUT", "-j", stale_chain], check=True)
    live.cut(1, "127.254.254.254")
    stale_dir, live_dir = scratch.make("rabbit"), scratch.make("rabbit")
    (stale_dir / scratch.OWNER_FILE).write_text(str(dead_pid()))
    try:
        sweep_stale()
        assert stale_chain not in chains()
        assert live.chain in chains()
        assert not stale_dir.exists()
        assert live_dir.exists()
    finally:
        live.remove()
        netcut.remove_chain(stale_chain)
        scratch.remove(stale_dir)
        scratch.remove(live_dir)
    assert live.chain not in chains()


async def test_a_postgresql_server_left_running_by_a_dead_run_is_stopped_by_the_next_one() -> None:
    left = LocalPostgres()
    await left.start()
    (left.root / scratch.OWNER_FILE).write_text(str(dead_pid()))
    pid = int((left.data / "postmaster.pid").read_text().split()[0])
    LocalPostgres().stop()  # a new server's creation sweeps first
    assert not left.root.exists()
    await eventually(lambda: not scratch.alive(pid))  # reaped by init a moment after it exited
