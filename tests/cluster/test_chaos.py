"""The short chaos run of `make test` (bench/chaos.py runs the long one): the whole system on a three-node cluster,
uploads arriving every second, and every fault once, back to back, with short outages. No accepted upload may be
lost, none may be handled twice (a second ZIP written, a second e-mail for one outcome), and the broker's failover
must end after each broker fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.chaos.faults import FAULTS, Timings
from ops.chaos.load import Clips
from ops.chaos.run import Plan, run_chaos
from ops.chaos.stack import ChaosStack
from ops.dev.localcluster import LocalRabbitCluster
from tests.support.videos import make_video

pytestmark = pytest.mark.e2e

SHORT = Timings(node_down=2, s3_outage=8, smtp_outage=8)


@pytest.mark.timeout(480)
async def test_no_accepted_upload_is_lost_or_handled_twice_through_every_fault_on_a_three_node_cluster(
    cluster: LocalRabbitCluster, tmp_path: Path
) -> None:
    clips = Clips(make_video(tmp_path / "clip.mp4", seconds=1), make_video(tmp_path / "long.mp4", 30, size="320x240"))
    stack = ChaosStack(cluster=cluster, processors=1)
    await stack.start()
    try:
        plan = Plan(
            schedule=list(FAULTS),
            fault_every=0,
            duration=None,
            upload_every=1.0,
            warmup=3,
            drain_within=150,
            timings=SHORT,
        )
        figures = await run_chaos(stack, clips, plan)
    finally:
        await stack.stop()
    report = "\n".join(figures.report())
    print(report)

    assert [f.name for f in figures.faults] == list(FAULTS), report
    assert len(figures.accepted) >= 30, report
    assert figures.lost == [], report
    assert figures.terminal["done"] > 0, report
    assert figures.second_zips == {}, report
    assert figures.second_emails == {}, report
    assert figures.missing_emails == [], report
    assert len(figures.failovers) == 5, report  # a kill, a partition, three stops
    assert all(f.seconds is not None for f in figures.failovers), report
