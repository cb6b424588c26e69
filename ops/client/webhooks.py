"""`framepipe client webhooks …`: the caller's webhook endpoints, their delivery log, resend and replay."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from ops.client.api import EXIT_OK, Api
from ops.client.output import Output

Command = Callable[[argparse.Namespace, Api], Awaitable[int]]


def _endpoint_line(e: dict[str, Any]) -> str:
    state = "enabled" if e["enabled"] else f"disabled ({e.get('disabled_reason') or 'by its owner'})"
    return f"{e['id']}  {state:<8}  {e['url']}  [{', '.join(e['event_types'])}]"


def _show(out: Output, endpoint: dict[str, Any]) -> None:
    lines = [_endpoint_line(endpoint)]
    if "secret" in endpoint:
        lines.append(f"  signing secret (shown once, keep it safe): {endpoint['secret']}")
    out.result(endpoint, lines)


async def add(args: argparse.Namespace, api: Api) -> int:
    body = {"url": args.endpoint_url, "event_types": args.event_types, "description": args.description}
    _show(args.out, await api.webhook("POST", body=body))
    return EXIT_OK


async def list_endpoints(args: argparse.Namespace, api: Api) -> int:
    items = await api.webhooks()
    args.out.result({"items": items}, [_endpoint_line(e) for e in items])
    if not items:
        args.out.note("no webhook endpoints yet: framepipe client webhooks add URL --type video.processed.v1")
    return EXIT_OK


async def show(args: argparse.Namespace, api: Api) -> int:
    _show(args.out, await api.webhook("GET", f"/{args.endpoint_id}"))
    return EXIT_OK


async def enable(args: argparse.Namespace, api: Api) -> int:
    _show(args.out, await api.webhook("PATCH", f"/{args.endpoint_id}", {"enabled": True}))
    return EXIT_OK


async def disable(args: argparse.Namespace, api: Api) -> int:
    _show(args.out, await api.webhook("PATCH", f"/{args.endpoint_id}", {"enabled": False}))
    return EXIT_OK


async def delete(args: argparse.Namespace, api: Api) -> int:
    await api.webhook("DELETE", f"/{args.endpoint_id}")
    args.out.result({"id": args.endpoint_id, "deleted": True}, [f"deleted {args.endpoint_id}"])
    return EXIT_OK


async def rotate_secret(args: argparse.Namespace, api: Api) -> int:
    _show(args.out, await api.webhook("POST", f"/{args.endpoint_id}/rotate-secret"))
    return EXIT_OK


async def deliveries(args: argparse.Namespace, api: Api) -> int:
    params = {"limit": str(args.limit), **({"status": args.status} if args.status else {})}
    page = await api.webhook("GET", f"/{args.endpoint_id}/deliveries", **params)
    lines = [
        f"{d['created_at']:<32}  {d['status']:<9}  {d['attempts']:>2} attempt(s)  {d['event_type']:<28}  {d['id']}"
        + (f"  ({d['last_error']})" if d.get("last_error") else "")
        for d in page["items"]
    ]
    args.out.result(page, lines)
    return EXIT_OK


async def resend(args: argparse.Namespace, api: Api) -> int:
    answer = await api.webhook("POST", f"/{args.endpoint_id}/deliveries/{args.delivery_id}/resend")
    args.out.result(answer, [f"delivery {args.delivery_id} queued again"])
    return EXIT_OK


async def replay(args: argparse.Namespace, api: Api) -> int:
    body: dict[str, Any] = {"since": args.since.isoformat(), "only_undelivered": args.only_undelivered}
    if args.until is not None:
        body["until"] = args.until.isoformat()
    answer = await api.webhook("POST", f"/{args.endpoint_id}/replay", body)
    args.out.result(answer, [f"{answer['queued']} deliveries queued"])
    return EXIT_OK


def timestamp(value: str) -> datetime:
    """An RFC 3339 time; without a zone it is taken as UTC."""
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {value!r} (e.g. 2026-12-01T09:00:00Z)") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def register(sub: Any, add_command: Callable[..., argparse.ArgumentParser]) -> None:
    """The `webhooks` group under `framepipe client`; `add_command(subparsers, name, command, help)` adds one."""
    group = sub.add_parser("webhooks", help="your webhook endpoints: add, list, enable, deliveries, replay…")
    actions = group.add_subparsers(title="commands", metavar="COMMAND", required=True)
    p = add_command(actions, "add", add, "register an endpoint (prints its signing secret once)")
    p.add_argument("endpoint_url", metavar="URL")  # not `url`: that is the server's --url
    p.add_argument("--type", dest="event_types", action="append", required=True, metavar="TYPE",
                   help="an event type to receive, e.g. video.processed.v1 (repeat for more)")  # fmt: skip
    p.add_argument("--description", default="")
    add_command(actions, "list", list_endpoints, "list your endpoints")
    for name, command, help_text in (
        ("show", show, "show one endpoint"),
        ("enable", enable, "enable an endpoint (after it was disabled)"),
        ("disable", disable, "stop deliveries to an endpoint"),
        ("delete", delete, "delete an endpoint and its delivery log"),
        ("rotate-secret", rotate_secret, "a new signing secret (the old one also signs for 24 h)"),
    ):
        add_command(actions, name, command, help_text).add_argument("endpoint_id", metavar="ID")
    p = add_command(actions, "deliveries", deliveries, "an endpoint's delivery log, newest first")
    p.add_argument("endpoint_id", metavar="ID")
    p.add_argument("--status", choices=("pending", "succeeded", "failed"))
    p.add_argument("--limit", type=int, default=20)
    p = add_command(actions, "resend", resend, "deliver one event again")
    p.add_argument("endpoint_id", metavar="ID")
    p.add_argument("delivery_id", metavar="DELIVERY")
    p = add_command(actions, "replay", replay, "deliver again every event since a time")
    p.add_argument("endpoint_id", metavar="ID")
    p.add_argument("--since", type=timestamp, required=True, metavar="TIME")
    p.add_argument("--until", type=timestamp, metavar="TIME")
    p.add_argument("--only-undelivered", action="store_true", help="skip the events the endpoint already received")
