"""webhook_svc delivery throughput and latency against the floor it cannot beat: a bare aiohttp client posting the
same signed bodies to the same receiver.

One run measures, against one aiohttp receiver in its own process (it answers 204 and records when each
webhook-id first arrived):
- baseline: N CloudEvent bodies with their Standard Webhooks headers, built before the clock starts, POSTed with
  one aiohttp session, as many at once as webhook_svc may send to one endpoint (WEBHOOK_ENDPOINT_CONCURRENCY);
- webhook_svc's delivery engine, running as deployed (`python -m webhook_svc`, its own process): the same number
  of deliveries queued by one "replay since" call, then claimed from PostgreSQL, signed, POSTed and logged with
  their attempts (goal: >= 0.5 of the baseline's deliveries per second). Both are timed from the first request the
  receiver got to the last;
- webhook_svc end to end: N `video.processed.v1` events published to RabbitMQ for the owner of one endpoint and
  delivered: consumed with the inbox, the event kept, a delivery queued, then as above — timed from the first
  publish to the last delivery received. On a small machine this round also pays for the broker, the database
  and the publisher on the same CPUs as the rest, which the baseline does not;
and prints deliveries per second and ratios per round and their medians; then the latency from an event's
publication to its delivery at a steady rate (goal: p99 < 500 ms). Every event reaches the receiver exactly once
per round (replays excepted, which deliver the same webhook-ids again by design).

    .venv/bin/python bench/webhooks.py [--events 2000] [--rounds 3] [--rate 100] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._infra import (
    cpu_breakdown,
    cpu_by_process,
    cpu_seconds,
    percentile,
    processed,
    rss_mib,
    scratch_database,
    scratch_vhost,
    served,
    service_env,
)
from contracts import new_envelope
from contracts.envelope import Envelope, encode
from contracts.events import EventData
from ops.dev.localinfra import free_port, wait_for_port
from servicekit.bus import Publisher, connect, declare_topology
from servicekit.logging import configure_logging
from servicekit.tokens import TokenSigner, generate_keypair
from webhook_svc.signing import new_secret, webhook_headers

PROCESS_GROUPS = {"webhook_svc": "-m webhook_svc", "receiver": "multiprocessing", "bench": "bench/webhooks.py"}


def run_receiver(port: int) -> None:
    """Answers 204 to every POST and remembers when each webhook-id first arrived (GET /stats reports it)."""
    from aiohttp import web

    arrivals: dict[str, float] = {}
    times: list[float] = []

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        now = time.time()
        times.append(now)
        arrivals.setdefault(request.headers.get("webhook-id", ""), now)
        return web.Response(status=204)

    async def stats(request: web.Request) -> web.Response:
        report: dict[str, Any] = {"requests": len(times), "unique": len(arrivals)}
        if request.query.get("full"):
            report["arrivals"] = arrivals
        if "since" in request.query:  # when the requests from number `since` on arrived
            report["times"] = times[int(request.query["since"]) :]
        return web.json_response(report)

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_get("/stats", stats)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None, handle_signals=True)


class Receiver:
    def __init__(self, session: aiohttp.ClientSession, port: int) -> None:
        self.session = session
        self.url = f"http://127.0.0.1:{port}"

    async def stats(self, full: bool = False, since: int | None = None) -> dict[str, Any]:
        params = {"full": "1"} if full else {}
        if since is not None:
            params["since"] = str(since)
        async with self.session.get(f"{self.url}/stats", params=params) as response:
            result: dict[str, Any] = await response.json()
            return result

    async def spread(self, since: int) -> float:
        """Seconds from the first to the last of the requests that arrived after the first `since`: the rate
        of delivery itself, whatever it took to get the first one going."""
        times = (await self.stats(since=since))["times"]
        return float(times[-1] - times[0]) * len(times) / max(len(times) - 1, 1)

    async def wait_for(self, count: int, key: str = "unique", timeout: float = 300) -> dict[str, Any]:
        """Until `count` requests (key "requests") or distinct webhook-ids (key "unique") have arrived."""
        deadline = time.monotonic() + timeout
        while (stats := await self.stats())[key] < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {stats[key]} of {count} deliveries arrived")
            await asyncio.sleep(0.01)
        return stats


async def baseline(receiver: Receiver, n: int, concurrency: int, owner: uuid.UUID) -> float:
    secret = new_secret()
    bodies = []
    for _ in range(n):
        envelope = new_envelope(processed(owner, "bench.mp4"), source="framepipe/bench")
        body = encode(envelope)
        bodies.append(
            (
                body,
                {**webhook_headers([secret], str(envelope.id), body), "Content-Type": "application/cloudevents+json"},
            )
        )
    before = await receiver.stats()
    queue: asyncio.Queue[tuple[bytes, dict[str, str]]] = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while not queue.empty():
                body, headers = queue.get_nowait()
                async with session.post(f"{receiver.url}/hook", data=body, headers=headers) as response:
                    await response.read()
                    assert response.status == 204

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    await receiver.wait_for(before["unique"] + n)
    return await receiver.spread(before["requests"])


async def service_round(publisher: Publisher, receiver: Receiver, n: int, owner: uuid.UUID) -> float:
    """Everything: N events published to the broker, consumed, kept, queued, delivered."""
    before = await receiver.stats()
    events = [new_envelope(processed(owner, "bench.mp4"), source="framepipe/bench") for _ in range(n)]
    started = time.perf_counter()
    for i in range(0, n, 100):
        await asyncio.gather(*(publisher.publish(e) for e in events[i : i + 100]))
    await receiver.wait_for(before["unique"] + n)
    elapsed = time.perf_counter() - started
    await asyncio.sleep(0.5)
    after = await receiver.stats()
    assert after["unique"] - before["unique"] == n
    assert after["requests"] - before["requests"] == n, "an event was delivered twice"
    return elapsed


async def replay_round(
    session: aiohttp.ClientSession, endpoint: str, headers: dict[str, str], receiver: Receiver, since: datetime, n: int
) -> float:
    """The delivery engine alone: the round's N events queued again with one replay call, then claimed, signed,
    POSTed and logged; timed from the first delivery received to the last."""
    before = (await receiver.stats())["requests"]
    async with session.post(f"{endpoint}/replay", json={"since": since.isoformat()}, headers=headers) as response:
        assert (await response.json())["queued"] == n
    await receiver.wait_for(before + n, key="requests")
    return await receiver.spread(before)


async def latency(
    publisher: Publisher, receiver: Receiver, rate: float, seconds: float, owner: uuid.UUID
) -> list[float]:
    """Publish at a steady rate; each delivery's arrival minus its event's time (both this machine's clock)."""
    sent: list[Envelope[EventData]] = []
    interval = 1 / rate
    started = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = started + i * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        envelope = new_envelope(processed(owner, "bench.mp4"), source="framepipe/bench")
        await publisher.publish(envelope)
        sent.append(envelope)
    deadline = time.monotonic() + 60
    while True:
        arrivals = (await receiver.stats(full=True))["arrivals"]
        if all(str(e.id) in arrivals for e in sent) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    return [arrivals[str(e.id)] - e.time.timestamp() for e in sent if str(e.id) in arrivals]


async def main(n: int, rounds: int, concurrency: int, rate: float, seconds: float) -> None:
    receiver_port = free_port()
    spawn = multiprocessing.get_context("spawn")
    sink = spawn.Process(target=run_receiver, args=(receiver_port,), daemon=True)
    sink.start()
    wait_for_port("127.0.0.1", receiver_port)
    try:
        with tempfile.TemporaryDirectory() as keys, scratch_vhost() as amqp_url:
            generate_keypair(Path(keys) / "private.pem", Path(keys) / "public", "bench")
            signer = TokenSigner(
                (Path(keys) / "private.pem").read_text(),
                key_id="bench",
                issuer="framepipe-auth",
                audience="framepipe",
                ttl_seconds=3600,
            )
            async with scratch_database() as dsn:
                http_port = free_port()
                env = service_env(
                    dsn,
                    amqp_url,
                    http_port,
                    keys,
                    WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8",
                    WEBHOOK_CONCURRENCY=str(concurrency),
                    WEBHOOK_ENDPOINT_CONCURRENCY=str(concurrency),
                )
                base = f"http://127.0.0.1:{http_port}"
                async with served([sys.executable, "-m", "webhook_svc"], env, f"{base}/readyz") as pid:
                    await measure(base, signer, receiver_port, amqp_url, pid, n, rounds, concurrency, rate, seconds)
    finally:
        sink.terminate()


async def measure(
    base: str,
    signer: TokenSigner,
    receiver_port: int,
    amqp_url: str,
    pid: int,
    n: int,
    rounds: int,
    concurrency: int,
    rate: float,
    seconds: float,
) -> None:
    owner = uuid.uuid4()
    connection = await connect(amqp_url, "bench")
    await declare_topology(connection)
    publisher = Publisher(connection, "bench")
    await publisher.start()
    async with aiohttp.ClientSession() as session:
        receiver = Receiver(session, receiver_port)
        headers = {"Authorization": f"Bearer {signer.sign(owner, 'bench@example.com')}"}
        body = {"url": f"{receiver.url}/hook", "event_types": ["video.processed.v1"]}
        async with session.post(f"{base}/webhooks", json=body, headers=headers) as response:
            assert response.status == 201, await response.text()
            endpoint = f"{base}/webhooks/{(await response.json())['id']}"
        try:
            await service_round(publisher, receiver, 200, owner)  # warm-up: pools, channels, connections
            print(f"{'round':<7}{'bare /s':>9}{'delivery /s':>13}{'ratio':>7}{'end-to-end /s':>15}{'ratio':>7}"
                  f"{'RSS MiB':>17}{'CPU s':>7}")  # fmt: skip
            engine: list[float] = []
            whole: list[float] = []
            for r in range(1, rounds + 1):
                direct = await baseline(receiver, n, concurrency, owner)
                before, cpu_before = rss_mib(pid), cpu_seconds(pid)
                since = datetime.now(UTC)
                through = await service_round(publisher, receiver, n, owner)
                by_process = cpu_by_process(PROCESS_GROUPS)
                replayed = await replay_round(session, endpoint, headers, receiver, since, n)
                replay_cpu = cpu_breakdown(by_process, cpu_by_process(PROCESS_GROUPS))
                after, cpu = rss_mib(pid), cpu_seconds(pid) - cpu_before
                engine.append(direct / replayed)
                whole.append(direct / through)
                print(f"{r:<7}{n / direct:>9.0f}{n / replayed:>13.0f}{direct / replayed:>7.2f}{n / through:>15.0f}"
                      f"{direct / through:>7.2f}{before:>9.1f}->{after:<6.1f}{cpu:>7.2f}")  # fmt: skip
                print(f"       CPU s of the delivery round by process: {replay_cpu}")
            print(f"deliveries/s, webhook_svc's delivery engine / bare aiohttp: median {statistics.median(engine):.2f} "
                  f"(min {min(engine):.2f}, max {max(engine):.2f}), goal >= 0.5")  # fmt: skip
            print(f"end to end (broker, consumer, database and delivery) / bare aiohttp: median "
                  f"{statistics.median(whole):.2f} (min {min(whole):.2f}, max {max(whole):.2f})")  # fmt: skip
            delays = await latency(publisher, receiver, rate, seconds, owner)
            missing = int(rate * seconds) - len(delays)
            p50, p99 = percentile(delays, 50) * 1000, percentile(delays, 99) * 1000
            print(f"event -> delivery at {rate:g} events/s for {seconds:g} s: p50 {p50:.0f} ms, p99 {p99:.0f} ms, "
                  f"max {max(delays) * 1000:.0f} ms (goal p99 < 500 ms)"
                  + (f", {missing} missing" if missing else ""))  # fmt: skip
            print(f"(N={n} per round; {concurrency} requests in flight to the one endpoint on both sides. Delivery: "
                  "the round's events queued again by one replay call, then claimed, signed, POSTed and logged. "
                  "End to end: published to the broker, consumed, kept and delivered.)")  # fmt: skip
        finally:
            await publisher.close()
            await connection.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16, help="WEBHOOK_ENDPOINT_CONCURRENCY, and the baseline's")
    parser.add_argument("--rate", type=float, default=100, help="events per second of the latency phase")
    parser.add_argument("--seconds", type=float, default=10, help="length of the latency phase")
    args = parser.parse_args()
    configure_logging("warning", "json", service="bench")
    asyncio.run(main(args.events, args.rounds, args.concurrency, args.rate, args.seconds))
