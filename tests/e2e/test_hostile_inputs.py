"""Every operation of every service's OpenAPI document, fed what an attacker sends instead of what the schema asks:
bodies nested a hundred thousand levels deep, huge numbers and strings, NaN and infinities, NUL and unpaired
surrogates, and the same in every query, path and header parameter. Each gets an answer, never a 5xx, with a
valid token and without one. (The schemathesis runs of each service generate the schema-shaped inputs.)"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from ops.dev.stack import DevStack

pytestmark = pytest.mark.e2e

SERVICES = ("auth", "video", "notify", "webhook")
DEEP = 100_000

HOSTILE_VALUES: list[Any] = [
    "x" * 300_000,  # a long string inside a body under the 1 MiB limit
    10**4000,  # an integer JSON can carry and no column can
    -(10**30),
    1e308 * 10,  # serialised as Infinity
    float("nan"),
    "\u0000",
    "\ud800",  # an unpaired surrogate
    [[[[[]]]]] * 1000,
    {"$ne": None, "__proto__": {"admin": True}},
    None,
    True,
    "' OR 1=1 --",
]
HOSTILE_PARAMS = [
    "9" * 5000,
    "-1",
    "%00",
    "%F0%28%8C%BC",  # not UTF-8
    "%ED%A0%80",  # an encoded surrogate
    "1e309",
    "NaN",
    "../../etc/passwd",
    "a" * 9000,  # longer than a request line may be
]


def deep_bodies() -> Iterator[bytes]:
    yield b"[" * DEEP + b"]" * DEEP
    yield b'{"a":' * DEEP + b"1" + b"}" * DEEP
    yield b'{"email": ' + b"[" * DEEP + b"]" * DEEP + b"}"
    yield b"1" * 5000  # a number past Python's digit limit
    yield b'"\\ud800"'
    yield b"\xff\xfe not json"


def plausible(schema: dict[str, Any]) -> Any:
    """A value of the property's type, so a body passes the other fields' checks and the hostile one gets far."""
    kind = schema.get("type", "string")
    kind = next((k for k in kind if k != "null"), "string") if isinstance(kind, list) else kind
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "string":
        return "someone@example.com" if schema.get("format") == "email" else "https://example.com/hook"
    return {"integer": 1, "number": 1.5, "boolean": True, "array": [], "object": {}}.get(kind, "text")


def hostile_bodies(schema: dict[str, Any]) -> Iterator[bytes]:
    yield from deep_bodies()
    properties = schema.get("properties", {})
    base = {name: plausible(prop) for name, prop in properties.items()}
    for name in properties:
        for value in HOSTILE_VALUES:
            for body in ({name: value}, {**base, name: value}):
                yield json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass")


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield method.upper(), path, operation


def request_body_schema(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if schema is None:
        return None
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return dict(schema)


def concrete(path: str, value: str = "00000000-0000-4000-8000-000000000000") -> str:
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + value + path[end + 1 :]
    return path


async def attempts(
    http: aiohttp.ClientSession, base: str, spec: dict[str, Any], headers: dict[str, str]
) -> list[tuple[str, int]]:
    """(what was sent, status) for every hostile variant of every operation."""
    answers: list[tuple[str, int]] = []

    async def send(method: str, url: str, label: str, **kwargs: Any) -> None:
        async with http.request(method, url, headers={**headers, **kwargs.pop("headers", {})}, **kwargs) as answer:
            await answer.read()
            answers.append((label, answer.status))

    for method, path, operation in operations(spec):
        if path.endswith("/events"):
            continue  # a valid request there is an endless stream (test_video_live covers its bad input)
        schema = request_body_schema(spec, operation)
        if schema is not None:
            for body in hostile_bodies(schema):
                json_type = {"Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"}
                await send(method, base + concrete(path), f"{method} {path} body {body[:40]!r}", data=body,
                           headers=json_type)  # fmt: skip
        for param in operation.get("parameters", []):
            for value in HOSTILE_PARAMS:
                label = f"{method} {path} {param['in']} {param['name']}={value[:20]}"
                if param["in"] == "query":
                    url = base + concrete(path) + f"?{quote(param['name'])}={value}"
                    await send(method, aiohttp.client.URL(url, encoded=True), label)
                elif param["in"] == "path":
                    await send(method, aiohttp.client.URL(base + concrete(path, value), encoded=True), label)
                elif param["in"] == "header":
                    await send(method, base + concrete(path), label, headers={param["name"]: value})
    return answers


@pytest.mark.parametrize("service", SERVICES)
async def test_no_hostile_input_gets_a_server_error_from_any_service(
    service: str, stack: DevStack, http: aiohttp.ClientSession
) -> None:
    base = stack.url(service)
    async with http.get(f"{base}/openapi.json") as response:
        spec = await response.json()
    email, password = f"hostile-{uuid.uuid4().hex[:8]}@example.com", "a long enough password"
    async with http.post(f"{stack.url('auth')}/register", json={"email": email, "password": password}) as answer:
        assert answer.status == 201
    async with http.post(f"{stack.url('auth')}/login", json={"email": email, "password": password}) as answer:
        token = (await answer.json())["access_token"]
    answers = [
        *await attempts(http, base, spec, {"Authorization": f"Bearer {token}"}),
        *await attempts(http, base, spec, {}),
    ]
    assert len(answers) >= 2 * len(HOSTILE_PARAMS)  # every service has at least one parameter or body
    assert [(label, status) for label, status in answers if status >= 500] == []
