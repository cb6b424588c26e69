"""Chaos soak: the whole system on a three-node RabbitMQ cluster (with its own PostgreSQL, S3 behind a proxy and SMTP,
see ops/chaos), uploads arriving at a steady rate for `--minutes`, and a random fault every `--fault-every` seconds:

  leader-node-killed   kill -9 of the node leading most quorum queues, started again after --node-down seconds
  node-partitioned     that node cut off from its peers by iptables until it pauses itself, then healed
  rolling-restart      every node stopped and started in turn, each once no quorum queue depends on it
  postgres-restarted   pg_ctl restart -m fast of the services' PostgreSQL (a server of its own, never the machine's)
  s3-unavailable       S3 unreachable for --s3-outage seconds
  smtp-down            the SMTP server stopped for --smtp-outage seconds
  worker-killed        kill -9 of a processor in the middle of a job, and a new one started

Faults come in a shuffled order, each once before any comes again. It prints: accepted uploads, terminal states,
lost (accepted but never terminal), duplicate effects (a second ZIP written for one video: S3 object versions; a
second e-mail for one outcome), the failover time of broker faults (the longest time any of three probes, one
starting on each node, went without a confirmed publish after the fault), p99 upload latency during faults
against outside them (the baseline of the same run), and the outboxes' maximum lag.

    .venv/bin/python bench/chaos.py [--minutes 30] [--fault-every 120] [--upload-every 2] [--seed N]

Needs root for iptables (the partition); `.ci/run` installs iptables."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ops.chaos.faults import FAULTS, Timings  # noqa: E402
from ops.chaos.load import Clips  # noqa: E402
from ops.chaos.run import Plan, run_chaos, shuffled_faults  # noqa: E402
from ops.chaos.stack import ChaosStack  # noqa: E402
from servicekit.logging import configure_logging  # noqa: E402
from tests.support.videos import make_video  # noqa: E402


async def main(options: argparse.Namespace) -> None:
    only = options.faults.split(",") if options.faults else list(FAULTS)
    unknown = set(only) - set(FAULTS)
    if unknown:
        raise SystemExit(f"unknown faults {sorted(unknown)}; known: {', '.join(FAULTS)}")
    schedule = (name for name in shuffled_faults(options.seed) if name in only)
    timings = Timings(node_down=options.node_down, s3_outage=options.s3_outage, smtp_outage=options.smtp_outage)
    plan = Plan(
        schedule=schedule,
        fault_every=options.fault_every,
        duration=options.minutes * 60,
        upload_every=options.upload_every,
        warmup=min(60.0, options.fault_every / 2),
        drain_within=options.drain,
        timings=timings,
    )
    with tempfile.TemporaryDirectory(prefix="framepipe-chaos-clip-") as tmp:
        clips = Clips(
            make_video(Path(tmp) / "clip.mp4", 1, size="160x120", rate=25),
            make_video(Path(tmp) / "long.mp4", 30, size="320x240", rate=25),
        )
        stack = ChaosStack(processors=options.processors, net_ticktime=options.net_ticktime, log_level="info")
        started = time.monotonic()
        await stack.start()
        print(f"stack up in {time.monotonic() - started:.0f} s; services log: {stack.services_log}", flush=True)
        try:
            figures = await run_chaos(stack, clips, plan)
        finally:
            await stack.stop()
    print("\n".join(figures.report()))
    print(
        f"  (load: one upload of a 1 s 160x120 clip every {options.upload_every:g} s from 4 users; "
        f"{options.processors} processors; net_ticktime {options.net_ticktime} s; {os.cpu_count()} CPUs shared "
        "with whatever else the machine runs)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30, help="length of the soak (uploads and faults)")
    parser.add_argument("--fault-every", type=float, default=120, help="seconds from one fault's start to the next")
    parser.add_argument("--upload-every", type=float, default=2, help="seconds between two uploads")
    parser.add_argument("--faults", default="", help=f"comma-separated subset of: {', '.join(FAULTS)}")
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault order (random by default)")
    parser.add_argument("--processors", type=int, default=2)
    parser.add_argument("--net-ticktime", type=int, default=10, help="RabbitMQ nodes' net_ticktime (seconds)")
    parser.add_argument("--node-down", type=float, default=10, help="seconds a killed node stays down")
    parser.add_argument("--s3-outage", type=float, default=60)
    parser.add_argument("--smtp-outage", type=float, default=120)
    parser.add_argument("--drain", type=float, default=600, help="seconds allowed for the last uploads to end")
    configure_logging("info", "console", service="chaos")
    for noisy in ("aio_pika", "aiormq"):  # the probes' reconnections, already logged by servicekit
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    asyncio.run(main(parser.parse_args()))
