"""A real RabbitMQ cluster on loopback, from the installed rabbitmq-server: three nodes (by default) with node names,
ports, data directories and an Erlang cookie of their own, joined into one cluster. The chaos benchmark and the
cluster tests run the services against it and hurt it: a node killed -9 and started again, stopped and started (a
rolling restart), or cut off from the others (`partition`).

It never touches the machine's own node: its nodes are `fpc<run>-<n>@localhost`, listen on free ports, keep their
data under a scratch directory and read neither /etc/rabbitmq nor the system's cookie. Only epmd is shared.

Partitions are iptables rules (ops/dev/netcut.py) matching only this cluster's distribution ports and addresses: each
node's outgoing distribution connections come from a loopback address of its own (127.x.y.n), so a node can be cut
from its peers while clients still reach its AMQP port."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.dev import netcut, scratch
from ops.dev.localinfra import free_port

SCRIPTS_DIRS = (Path("/usr/lib/rabbitmq/bin"), Path("/usr/lib/rabbitmq/sbin"))
CLI_TIMEOUT = 60.0
# One scheduler, no busy waiting: three nodes share a small machine with the services under test.
ERL_ARGS = "+S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none"


class ClusterError(RuntimeError):
    """The cluster could not be started or did not do what was asked; the message says what the node said."""


def scripts_dir() -> Path:
    """Where rabbitmq-server and rabbitmqctl really are (Debian's /usr/sbin wrappers switch to the rabbitmq user,
    which would bring that user's home and cookie)."""
    for candidate in SCRIPTS_DIRS:
        if (candidate / "rabbitmq-server").exists():
            return candidate
    found = shutil.which("rabbitmq-server")
    if found is None:
        raise ClusterError("rabbitmq-server is not installed (apt-get install rabbitmq-server)")
    return Path(found).resolve().parent


@dataclass
class Node:
    index: int
    name: str
    amqp_port: int
    dist_port: int
    source_ip: str  # where this node's outgoing distribution connections come from (partitions match it)
    home: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def short(self) -> str:
        return f"node{self.index}"

    def url(self, vhost: str = "") -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/{vhost}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class LocalRabbitCluster:
    def __init__(self, size: int = 3, *, net_ticktime: int = 10) -> None:
        sweep_stale()
        self.size = size
        self.net_ticktime = net_ticktime
        self.root = scratch.make("rabbit")
        self._run = uuid.uuid4().hex[:6]
        self._scripts = scripts_dir()
        self._ctl_ports = free_port()
        self._cuts = netcut.NetCuts()
        self._cut: set[int] = set()
        subnet = f"127.{random.randrange(64, 250)}.{random.randrange(1, 250)}"  # noqa: S311 - not security
        home = self.root / "home"
        home.mkdir()
        cookie = home / ".erlang.cookie"
        cookie.write_text(uuid.uuid4().hex.upper())
        cookie.chmod(0o400)
        self.nodes = [
            Node(i, f"fpc{self._run}-{i}@localhost", free_port(), free_port(), f"{subnet}.{i}", home)
            for i in range(1, size + 1)
        ]

    def urls(self, vhost: str = "") -> str:
        """The broker address the services are given: every node's URL, separated by commas."""
        return ",".join(node.url(vhost) for node in self.nodes)

    async def start(self) -> None:
        """Start every node and join them into one cluster (about 10-15 s)."""
        try:
            for node in self.nodes:
                self._launch(node)
            await asyncio.gather(*(self.wait_running(node) for node in self.nodes))
            first = self.nodes[0]
            await asyncio.gather(*(self._join(node, first) for node in self.nodes[1:]))
            await self.wait_cluster()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Kill every node, remove the partition rules and the data. Safe to call twice."""
        for node in self.nodes:
            _kill_group(node.process)
        self._cuts.remove()
        scratch.remove(self.root)

    # --- faults --------------------------------------------------------------------------------------------------

    def kill(self, node: Node) -> None:
        """kill -9 of the node's Erlang VM (and everything it started)."""
        _kill_group(node.process)

    async def restart(self, node: Node) -> None:
        """Start a stopped or killed node again; it rejoins the cluster from its own data."""
        if node.running:
            raise ClusterError(f"{node.name} is still running")
        self._launch(node)
        await self.wait_running(node)

    async def stop_node(self, node: Node) -> None:
        """A graceful stop of the node's VM, as a rolling restart does."""
        await self.ctl(node, "stop")
        assert node.process is not None
        await asyncio.to_thread(node.process.wait, CLI_TIMEOUT)

    def partition(self, node: Node) -> None:
        """Cut `node` off from its peers: no distribution traffic either way. Clients still reach its AMQP port."""
        self._cuts.cut(node.dist_port, node.source_ip)
        self._cut.add(node.index)

    def heal(self) -> None:
        self._cuts.heal()
        self._cut.clear()

    # --- what the cluster says ----------------------------------------------------------------------------------

    def reachable(self) -> list[Node]:
        """Nodes running and not cut off: the ones to ask about the cluster."""
        return [node for node in self.nodes if node.running and node.index not in self._cut]

    async def ctl(self, node: Node, *args: str, tool: str = "rabbitmqctl") -> str:
        """A CLI command against one node; its output, or ClusterError with what it printed."""
        process = await asyncio.create_subprocess_exec(
            str(self._scripts / tool),
            "-n",
            node.name,
            *args,
            env=self._env(node),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            out, _ = await asyncio.wait_for(process.communicate(), CLI_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise ClusterError(f"{tool} {' '.join(args)} on {node.name}: no answer in {CLI_TIMEOUT:.0f}s") from None
        text = out.decode(errors="replace")
        if process.returncode != 0:
            raise ClusterError(f"{tool} {' '.join(args)} on {node.name} exited {process.returncode}: {text[-800:]}")
        return text

    async def queues(self, vhost: str = "/") -> list[dict[str, Any]]:
        """The vhost's queues with their type, leader, members and online members (as rabbitmqctl lists them)."""
        asked = self.reachable()[0]
        out = await self.ctl(
            asked, "list_queues", "-p", vhost, "name", "type", "leader", "members", "online", "--formatter", "json"
        )
        rows: list[dict[str, Any]] = json.loads(out[out.index("[") :])
        return rows

    async def leader_node(self, vhost: str = "/") -> Node:
        """The node that leads the most quorum queues of `vhost`."""
        counts: dict[str, int] = {}
        for queue in await self.queues(vhost):
            if queue.get("type") == "quorum" and queue.get("leader"):
                counts[queue["leader"]] = counts.get(queue["leader"], 0) + 1
        if not counts:
            raise ClusterError(f"no quorum queue with a leader in vhost {vhost!r}")
        name = max(counts, key=lambda leader: counts[leader])
        return next(node for node in self.nodes if node.name == name)

    async def wait_replicated(self, vhost: str = "/", within: float = 60.0) -> None:
        """Until every quorum queue of `vhost` has a leader and all its members online (the topology is settled:
        a node may be killed now without leaving a queue without a leader)."""
        deadline = time.monotonic() + within
        while True:
            queues = [q for q in await self.queues(vhost) if q.get("type") == "quorum"]
            waiting = [
                q["name"]
                for q in queues
                if not q.get("leader")
                or len(q.get("online") or []) < min(self.size, len(q.get("members") or []))
                or len(q.get("members") or []) < self.size
            ]
            if queues and not waiting:
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"quorum queues not fully replicated after {within:.0f}s: {waiting[:5]}")
            await asyncio.sleep(0.5)

    async def wait_cluster(self, within: float = 90.0) -> None:
        """Until every node runs and the cluster counts all of them as running."""
        deadline = time.monotonic() + within
        while True:
            try:
                status = json.loads(
                    _json_part(await self.ctl(self.reachable()[0], "cluster_status", "--formatter", "json"))
                )
                running = set(status.get("running_nodes", []))
                if running >= {node.name for node in self.nodes}:
                    return
            except (ClusterError, ValueError, IndexError):
                pass
            if time.monotonic() > deadline:
                raise ClusterError(f"the cluster did not form within {within:.0f}s; see {self.root}")
            await asyncio.sleep(0.5)

    async def wait_running(self, node: Node, within: float = 90.0) -> None:
        """Until the node's AMQP listener answers and the node says it has started."""
        deadline = time.monotonic() + within
        while not await _port_open(node.amqp_port):
            if not node.running:
                raise ClusterError(f"{node.name} exited while starting; see {self._log(node)}")
            if time.monotonic() > deadline:
                raise ClusterError(f"{node.name} not listening after {within:.0f}s; see {self._log(node)}")
            await asyncio.sleep(0.2)
        await self.ctl(node, "await_startup", "--timeout", str(int(within)))

    async def wait_paused(self, node: Node, within: float = 90.0) -> None:
        """Until `node` stops serving clients: a node in the minority of a partition pauses itself
        (pause_minority), closing its listener and its clients' connections."""
        deadline = time.monotonic() + within
        while await _port_open(node.amqp_port):
            if time.monotonic() > deadline:
                raise ClusterError(f"{node.name} still serves clients {within:.0f}s after it was cut off")
            await asyncio.sleep(0.2)

    async def wait_quorum_safe(self, node: Node, within: float = 90.0) -> None:
        """Until stopping `node` leaves every quorum queue a majority (the check before each step of a rolling
        restart)."""
        deadline = time.monotonic() + within
        while True:
            try:
                await self.ctl(node, "check_if_node_is_quorum_critical", tool="rabbitmq-queues")
                return
            except ClusterError:
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.5)

    # --- plumbing -----------------------------------------------------------------------------------------------

    def _launch(self, node: Node) -> None:
        directory = self.root / node.short
        directory.mkdir(exist_ok=True)
        self._write_config(node, directory)
        log = (directory / "console.log").open("ab")
        node.process = subprocess.Popen(
            [str(self._scripts / "rabbitmq-server")],
            env=self._env(node),
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # kill -9 of the group takes the VM and its helpers
        )
        log.close()
        (directory / "pgid").write_text(str(node.process.pid))

    def _write_config(self, node: Node, directory: Path) -> None:
        (directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{node.amqp_port}\n"
            "cluster_partition_handling = pause_minority\n"
            "consumer_timeout = 1800000\n"
            "disk_free_limit.absolute = 50MB\n"
            "log.console = false\n"
            "log.file.level = info\n"
        )
        ip = ",".join(node.source_ip.split("."))
        (directory / "advanced.config").write_text(
            "[{kernel, [{inet_dist_use_interface, {127,0,0,1}},"
            f" {{inet_dist_connect_options, [{{ip, {{{ip}}}}}]}},"
            f" {{net_ticktime, {self.net_ticktime}}}]}}].\n"
        )
        (directory / "enabled_plugins").write_text("[].\n")
        (self.root / "rabbitmq-env.conf").touch()

    def _env(self, node: Node) -> dict[str, str]:
        directory = self.root / node.short
        return {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(node.home),  # the cluster's own cookie, for the nodes and the CLI
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
            "RABBITMQ_NODENAME": node.name,
            "RABBITMQ_NODE_PORT": str(node.amqp_port),
            "RABBITMQ_DIST_PORT": str(node.dist_port),
            "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(directory / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(directory / "log"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(directory / "plugins"),
            "RABBITMQ_PID_FILE": str(directory / "beam.pid"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": ERL_ARGS,
            # The CLI's own distribution ports, away from the 35672-35682 every other rabbitmqctl on the machine uses.
            "RABBITMQ_CTL_DIST_PORT_MIN": str(self._ctl_ports),
            "RABBITMQ_CTL_DIST_PORT_MAX": str(self._ctl_ports + 10),
        }

    async def _join(self, node: Node, first: Node) -> None:
        await self.ctl(node, "stop_app")
        await self.ctl(node, "join_cluster", first.name)
        await self.ctl(node, "start_app")

    def _log(self, node: Node) -> Path:
        return self.root / node.short / "console.log"


def sweep_stale() -> None:
    """Remove what clusters of runs that died half-way left behind: their nodes, data and partition rules."""
    scratch.sweep("rabbit", _kill_stale_nodes)
    netcut.sweep_stale()


def _kill_stale_nodes(root: Path) -> None:
    for pgid_file in root.glob("node*/pgid"):
        with contextlib.suppress(ValueError, OSError):
            pgid = int(pgid_file.read_text())
            # Only if that group is still the node started there: its number may belong to someone else by now.
            if Path(os.readlink(f"/proc/{pgid}/cwd")) == pgid_file.parent:
                os.killpg(pgid, signal.SIGKILL)


def _kill_group(process: subprocess.Popen[bytes] | None) -> None:
    """SIGKILL to the node's process group, returning once every process of it is gone (the VM outlives the
    launcher script by a moment, and a new node must not find the old one's ports still open)."""
    if process is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


def _json_part(text: str) -> str:
    return text[text.index("{") :]


async def _port_open(port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
