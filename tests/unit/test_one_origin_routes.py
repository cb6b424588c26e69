"""The one origin has one route table, webapp/routes.py. The Compose proxy (deploy/compose/nginx.conf) and the
Kubernetes Ingress (deploy/k8s/base/ingress.yaml, as both overlays render it) route exactly its paths, each to its
target, exact where it is exact and by whole path segments where it is a prefix; nothing else is routed, so
/metrics, /readyz and /healthz never leave the cluster or the Compose network.

deploy/scripts/validate.sh runs this file too, with FRAMEPIPE_DEPLOY_ROOT set to the tree it validates (the copy
in which validate-bites.sh plants its mistakes)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from webapp.routes import ROUTES, target_of

REPOSITORY = Path(__file__).resolve().parents[2]
DEPLOY_ROOT = Path(os.environ.get("FRAMEPIPE_DEPLOY_ROOT") or REPOSITORY)
NGINX_CONF = DEPLOY_ROOT / "deploy/compose/nginx.conf"
K8S = DEPLOY_ROOT / "deploy/k8s"

# Who serves each target: the Compose service (nginx's upstream host) and the Kubernetes Service.
COMPOSE_SERVICES = {"auth": "auth", "video": "video", "notify": "notify", "webhook": "webhook", "web": "web"}
K8S_SERVICES = {
    "auth-svc": "auth",
    "video-svc": "video",
    "notify-svc": "notify",
    "webhook-svc": "webhook",
    "web": "web",
}
# Paths that must reach no service through the origin; and look-alikes of routed paths (whole segments only).
NEVER_ROUTED = ["/healthz", "/readyz", "/metrics", "/openapi.json", "/openapi/processor.json", "/favicon.ico"]
LOOKALIKES = ["/videos", "/video-events", "/application", "/sessions", "/notificationsx", "/openapi/auth.json/x"]

RouteKey = tuple[str, str, str]  # (path, match, target) as in webapp.routes, comparable and sortable


def table() -> list[RouteKey]:
    return sorted((r.path, r.match, r.target) for r in ROUTES)


def paths_to_try() -> list[str]:
    below = [f"{r.path.rstrip('/')}/{tail}" for r in ROUTES if r.match == "prefix" for tail in ("", "a", "a/b.json")]
    return sorted({r.path for r in ROUTES} | set(below) | set(NEVER_ROUTED) | set(LOOKALIKES))


# --- nginx.conf ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    modifier: str  # "=" exact, "" prefix (regular expressions are refused below)
    path: str
    target: str | None  # None: answered by nginx itself (return …), routed nowhere


def nginx_blocks(text: str) -> list[tuple[list[str], list[Any] | None]]:
    """nginx's syntax as (arguments, children) per directive; children is None for a simple directive."""
    tokens = re.findall(r'"(?:[^"\\]|\\.)*"|[{};]|[^\s{};"]+', re.sub(r"#[^\n]*", "", text))
    stack: list[list[Any]] = [[]]
    words: list[str] = []
    for token in tokens:
        if token == "{":
            block: list[Any] = []
            stack[-1].append((words, block))
            stack.append(block)
            words = []
        elif token == "}":
            stack.pop()
        elif token == ";":
            stack[-1].append((words, None))
            words = []
        else:
            words.append(token)
    assert len(stack) == 1, "unbalanced braces in nginx.conf"
    assert not words, "a directive without its ; at the end of nginx.conf"
    return stack[0]


def nginx_locations() -> list[Location]:
    ((server_words, server),) = nginx_blocks(NGINX_CONF.read_text())
    assert server_words == ["server"]
    upstreams = {}
    for words, _ in server:
        if words[0] == "set":
            host = re.fullmatch(r"http://([a-z-]+):\d+", words[2])
            assert host, f"{words}: an upstream is a bare http://host:port, so paths pass unchanged"
            upstreams[words[1]] = COMPOSE_SERVICES.get(host.group(1), host.group(1))
    assert not [w for w, _ in server if w[0] == "proxy_pass"], "proxy_pass outside a location routes everything"
    locations = []
    for words, children in server:
        if words[0] != "location":
            continue
        *modifier, path = words[1:]
        assert modifier in ([], ["="]), f"location {' '.join(words[1:])}: only exact and prefix locations"
        assert children is not None
        assert not [w for w, c in children if c is not None], f"location {path}: nested blocks"
        passes = [w[1] for w, _ in children if w[0] == "proxy_pass"]
        target = upstreams[passes[0]] if passes else None
        locations.append(Location("".join(modifier), path, target))
    return locations


def nginx_routes() -> list[RouteKey]:
    """A table route `prefix /x` is nginx's `location = /x` and `location /x/`, both to one target. Anything else
    (a prefix location without its exact twin, or `location /x` which would match /xyz too) stays as it is and
    differs from every route of the table."""
    routed = [loc for loc in nginx_locations() if loc.target is not None]
    exact = {loc.path: loc.target for loc in routed if loc.modifier == "="}
    routes: list[RouteKey] = []
    for loc in routed:
        if loc.modifier == "=":
            continue
        assert loc.target is not None
        base = loc.path.removesuffix("/")
        if loc.path.endswith("/") and base and exact.get(base) == loc.target:
            del exact[base]
            routes.append((base, "prefix", loc.target))
        else:
            routes.append((f"location {loc.path}", "prefix", loc.target))
    routes += [(path, "exact", target) for path, target in exact.items() if target is not None]
    return sorted(routes)


def nginx_target(path: str) -> str | None:
    """nginx's choice for a request: the exact location, else the longest prefix location."""
    locations = nginx_locations()
    for loc in locations:
        if loc.modifier == "=" and loc.path == path:
            return loc.target
    prefixes = [loc for loc in locations if loc.modifier == "" and path.startswith(loc.path)]
    return max(prefixes, key=lambda loc: len(loc.path)).target if prefixes else None


def test_compose_proxy_routes_exactly_the_table() -> None:
    assert nginx_routes() == table()


@pytest.mark.parametrize("path", paths_to_try())
def test_compose_proxy_sends_each_path_where_the_table_does(path: str) -> None:
    assert nginx_target(path) == target_of(path)


def test_compose_proxy_answers_any_other_path_itself_with_404() -> None:
    (catch_all,) = [loc for loc in nginx_locations() if loc.modifier == "" and loc.path == "/"]
    assert catch_all.target is None
    assert re.search(r"location / \{\s*return 404;\s*\}", NGINX_CONF.read_text())


# --- the Ingress ---------------------------------------------------------------------------------------------


def ingress_routes(ingress: dict[str, Any]) -> list[RouteKey]:
    assert "defaultBackend" not in ingress["spec"], "a default backend routes every path the table does not have"
    match = {"Exact": "exact", "Prefix": "prefix"}
    routes = []
    for rule in ingress["spec"]["rules"]:
        for entry in rule["http"]["paths"]:
            service = entry["backend"]["service"]
            assert service["port"] == {"name": "http"}
            target = K8S_SERVICES.get(service["name"], service["name"])
            routes.append((entry["path"], match.get(entry["pathType"], entry["pathType"]), target))
    return sorted(routes)


def ingress_target(ingress: dict[str, Any], path: str) -> str | None:
    """Kubernetes' choice: the longest matching path, Exact before Prefix; Prefix by whole path segments."""
    matches = [
        (len(p), kind == "exact", target)
        for p, kind, target in ingress_routes(ingress)
        if path == p or (kind == "prefix" and path.startswith(p.rstrip("/") + "/"))
    ]
    return max(matches)[2] if matches else None


def base_ingress() -> dict[str, Any]:
    return yaml.safe_load((K8S / "base/ingress.yaml").read_text())


def test_ingress_routes_exactly_the_table() -> None:
    assert ingress_routes(base_ingress()) == table()


@pytest.mark.parametrize("path", paths_to_try())
def test_ingress_sends_each_path_where_the_table_does(path: str) -> None:
    assert ingress_target(base_ingress(), path) == target_of(path)


def test_every_ingress_backend_is_a_service_with_an_http_port() -> None:
    services = {
        doc["metadata"]["name"]: {port.get("name") for port in doc["spec"]["ports"]}
        for manifest in sorted((K8S / "base").glob("*.yaml"))
        for doc in yaml.safe_load_all(manifest.read_text())
        if doc and doc.get("kind") == "Service"
    }
    assert {name: "http" in services.get(name, set()) for name in K8S_SERVICES} == dict.fromkeys(K8S_SERVICES, True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl renders the overlays")
@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_overlays_keep_the_ingress_paths(overlay: str) -> None:
    command = ["kubectl", "kustomize", str(K8S / "overlays" / overlay)]
    rendered = subprocess.run(command, check=True, capture_output=True, text=True, timeout=60).stdout
    (ingress,) = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Ingress"]
    assert ingress_routes(ingress) == table()
