"""Network partitions on loopback with iptables, for the local RabbitMQ cluster's fault runs.

The rules live in a chain of this process's own (`FP-PART-<pid>`), jumped to from INPUT, and match only what is
given: a node's distribution port (every packet to or from its listener) and the loopback address its outgoing
distribution connections come from. Nothing else on the machine is affected, its own RabbitMQ node included. The
chain goes with `remove()`; a run killed half-way leaves it, and `sweep_stale()` (run by every new cluster) removes
the chains of processes that are gone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from ops.dev import scratch

CHAIN_PREFIX = "FP-PART-"


class NetCutError(RuntimeError):
    """iptables is missing or refused a rule."""


class NetCuts:
    def __init__(self) -> None:
        self.chain = f"{CHAIN_PREFIX}{os.getpid()}"

    def cut(self, dist_port: int, source_ip: str) -> None:
        """Drop every packet to or from `dist_port`, and every packet from or to `source_ip`."""
        _iptables("-N", self.chain, check=False)
        if _iptables("-C", "INPUT", "-j", self.chain, check=False) != 0:
            _iptables("-I", "INPUT", "-j", self.chain)
        rules = [
            ("-p", "tcp", "--dport", str(dist_port)),
            ("-p", "tcp", "--sport", str(dist_port)),
            ("-s", source_ip),
            ("-d", source_ip),
        ]
        for rule in rules:
            _iptables("-A", self.chain, *rule, "-j", "DROP")

    def heal(self) -> None:
        _iptables("-F", self.chain, check=False)

    def remove(self) -> None:
        remove_chain(self.chain)


def sweep_stale() -> None:
    """Remove the chains of processes that have exited (runs killed half-way)."""
    for chain in _chains():
        if not scratch.alive(int(chain.removeprefix(CHAIN_PREFIX))):
            remove_chain(chain)


def remove_chain(chain: str) -> None:
    if shutil.which("iptables") is None:
        return
    while _iptables("-D", "INPUT", "-j", chain, check=False) == 0:
        pass
    _iptables("-F", chain, check=False)
    _iptables("-X", chain, check=False)


def _chains() -> list[str]:
    if shutil.which("iptables") is None:
        return []
    out = subprocess.run(["iptables", "-S"], capture_output=True, text=True, timeout=30, check=False).stdout
    return re.findall(rf"^-N ({re.escape(CHAIN_PREFIX)}\d+)$", out, flags=re.MULTILINE)


def _iptables(*args: str, check: bool = True) -> int:
    if shutil.which("iptables") is None:
        raise NetCutError("iptables is not installed (apt-get install iptables; .ci/run installs it)")
    done = subprocess.run(["iptables", "-w", "10", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and done.returncode != 0:
        raise NetCutError(f"iptables {' '.join(args)}: {done.stderr.strip()}")
    return done.returncode
