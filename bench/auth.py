"""auth_svc benchmarks, each against a baseline measured in the same run on the same machine.

1. `GET /me` throughput (token verification + one query + the shared middlewares) / a bare aiohttp handler
   doing the same single query on the same database with the same pool size. Target: >= 0.70.
2. `/healthz` latency while 200 logins (argon2id, default costs) run at once / `/healthz` latency at rest.
   Target: p99 under load < 100 ms (the event loop never blocks on hashing).

Both servers run as their own processes (auth_svc exactly as deployed: `python -m auth_svc`); the load comes
from this process over keep-alive connections with a minimal HTTP/1.1 client, so the client costs as
little CPU as possible. Logging is at `warning` (no per-request line) for both servers.

Run: .venv/bin/python bench/auth.py [--seconds 6] [--connections 32] [--logins 200] [--rounds 3]"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._infra import percentile, scratch_database, scratch_vhost, served, service_env
from servicekit.db import create_pool
from servicekit.tokens import generate_keypair

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "auth"
PASSWORD = "benchmark password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the baseline server: the same single query, nothing else ---------------------------------------------------


def bare_app(dsn: str, user_id: uuid.UUID) -> web.Application:
    pool_key = web.AppKey("pool", object)

    async def pool_ctx(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(dsn, SCHEMA, min_size=1, max_size=10)
        app[pool_key] = pool
        yield
        await pool.close()

    async def me(request: web.Request) -> web.Response:
        pool = request.app[pool_key]
        async with pool.acquire() as conn:  # type: ignore[attr-defined]
            row = await conn.fetchrow("SELECT id, email, name, created_at FROM users WHERE id = $1", user_id)
        body = {
            "id": str(row["id"]),
            "email": row["email"],
            "name": row["name"],
            "created_at": row["created_at"].isoformat(),
        }
        return web.json_response(body)

    app = web.Application()
    app.cleanup_ctx.append(pool_ctx)
    app.router.add_get("/me", me)
    return app


# --- load -------------------------------------------------------------------------------------------------------


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, raw: bytes) -> int:
    writer.write(raw)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def throughput(port: int, path: str, headers: dict[str, str], connections: int, seconds: float) -> float:
    """Requests per second over `connections` keep-alive connections for `seconds` (after 1 s of warm-up)."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    raw = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()
    counting = False
    done = 0
    loop = asyncio.get_running_loop()

    async def worker(stop_at: float) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while loop.time() < stop_at:
                status = await _request(reader, writer, raw)
                if status != 200:
                    raise RuntimeError(f"{path} answered {status}")
                if counting:
                    done += 1
        finally:
            writer.close()

    start = loop.time()
    tasks = [asyncio.create_task(worker(start + 1 + seconds)) for _ in range(connections)]
    await asyncio.sleep(1)
    counting, measured_from = True, time.perf_counter()
    await asyncio.gather(*tasks)
    return done / (time.perf_counter() - measured_from)


async def _all(coroutines: Iterable[Awaitable[int]]) -> list[int]:
    return list(await asyncio.gather(*coroutines))


async def healthz_latencies(session: aiohttp.ClientSession, base: str, until: asyncio.Future[Any]) -> list[float]:
    latencies = []
    while not until.done():
        started = time.perf_counter()
        async with session.get(f"{base}/healthz") as response:
            await response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.005)
    return latencies


# --- processes --------------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as keys, scratch_vhost() as amqp_url:
        generate_keypair(Path(keys) / "private.pem", Path(keys) / "public", "bench-1")
        async with scratch_database() as dsn:
            auth_port = free_port()
            env = service_env(
                dsn,
                amqp_url,
                auth_port,
                keys,
                DB_SCHEMA=SCHEMA,
                JWT_PRIVATE_KEY_FILE=f"{keys}/private.pem",
                JWT_KEY_ID="bench-1",
                # The login benchmark fires every login from one address at one account; keep the throttle out of it.
                LOGIN_MAX_FAILURES="1000000",
                LOGIN_ACCOUNT_MAX_FAILURES="1000000",
                LOGIN_ADDRESS_MAX_FAILURES="1000000",
            )
            auth = f"http://127.0.0.1:{auth_port}"
            async with served([sys.executable, "-m", "auth_svc"], env, f"{auth}/readyz"):
                user_id, token = await register_and_login(auth, "bench@example.com")
                await me_throughput(args, dsn, auth_port, user_id, token)
                await healthz_under_logins(args, auth, "bench@example.com")


async def register_and_login(base: str, email: str) -> tuple[str, str]:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/register", json={"email": email, "password": PASSWORD}) as response:
            user = await response.json()
        async with session.post(f"{base}/login", json={"email": email, "password": PASSWORD}) as response:
            token = (await response.json())["access_token"]
    return user["id"], token


async def me_throughput(args: argparse.Namespace, dsn: str, auth_port: int, user_id: str, token: str) -> None:
    bare_port = free_port()
    argv = [sys.executable, __file__, "--serve-bare", str(bare_port), "--dsn", dsn, "--user-id", user_id]
    auth_rates, bare_rates = [], []
    async with served(argv, {}, f"http://127.0.0.1:{bare_port}/me"):
        for _ in range(args.rounds):  # alternated, so drift in the machine's load hits both alike
            bare_rates.append(await throughput(bare_port, "/me", {}, args.connections, args.seconds))
            auth_rates.append(
                await throughput(auth_port, "/me", {"Authorization": f"Bearer {token}"}, args.connections, args.seconds)
            )
    bare, auth = statistics.mean(bare_rates), statistics.mean(auth_rates)
    print(f"GET /me, {args.connections} connections, {args.rounds} x {args.seconds:.0f} s each:")
    print(f"  bare aiohttp + same query: {bare:8.0f} req/s  {[round(r) for r in bare_rates]}")
    print(f"  auth_svc /me:              {auth:8.0f} req/s  {[round(r) for r in auth_rates]}")
    print(f"  ratio auth_svc / bare:     {auth / bare:8.2f}   (target >= 0.70)")


async def healthz_under_logins(args: argparse.Namespace, base: str, email: str) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        rest: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        probe = asyncio.create_task(healthz_latencies(session, base, rest))
        await asyncio.sleep(2)
        rest.set_result(None)
        at_rest = await probe

        async def login() -> int:
            body = {"email": email, "password": PASSWORD}
            async with session.post(f"{base}/login", json=body, timeout=aiohttp.ClientTimeout(total=300)) as response:
                await response.read()
                return response.status

        logins = asyncio.create_task(_all(login() for _ in range(args.logins)))  # noqa: RUF006 - awaited below
        started = time.perf_counter()
        under_load = await healthz_latencies(session, base, logins)
        statuses = await logins
        took = time.perf_counter() - started
    ok = statuses.count(200)
    print(f"/healthz while {args.logins} logins run at once ({ok} answered 200, all done in {took:.1f} s):")
    rest_p50, rest_p99 = percentile(at_rest, 50), percentile(at_rest, 99)
    print(f"  at rest:    p50 {rest_p50:6.1f} ms  p99 {rest_p99:6.1f} ms  (n={len(at_rest)})")
    print(
        f"  under load: p50 {percentile(under_load, 50):6.1f} ms  p99 {percentile(under_load, 99):6.1f} ms  "
        f"max {max(under_load):6.1f} ms  (n={len(under_load)})   (target p99 < 100 ms)"
    )
    print(f"  ratio p99 under load / at rest: {percentile(under_load, 99) / rest_p99:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve-bare", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--user-id", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        app = bare_app(args.dsn, uuid.UUID(args.user_id))
        web.run_app(app, host="127.0.0.1", port=args.serve_bare, access_log=None, print=None)
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
