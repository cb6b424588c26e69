"""Every alert and dashboard query uses metrics the code really emits, with label values it really emits, and
every alert links to its runbook section in docs/operations.md.

The services' metrics are read from the process registry after importing every module that defines one; the
label values that matter to alerts (processor outcomes, e-mail statuses) are created at import at 0, so the
registry holds them all. RabbitMQ's metrics are those of its Prometheus plugin with per-object metrics."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/observability/prometheus-rules.yaml"
DASHBOARD = ROOT / "deploy/observability/grafana/framepipe.json"
RUNBOOK = ROOT / "docs/operations.md"
METRIC_MODULES = ("servicekit.metrics", "processor_svc.consumers", "processor_svc.runner", "notify_svc.consumers",
                  "notify_svc.mailer")  # fmt: skip
# The RabbitMQ Prometheus plugin (prometheus.return_per_object_metrics = true): labels vhost and queue.
RABBITMQ_METRICS = {"rabbitmq_queue_messages_ready", "rabbitmq_queue_messages_unacked", "rabbitmq_queue_consumers"}
# Labels whose every value the code creates at import: a selector on them must match one of those values. (Other
# labels, such as HTTP status, get their values at run time, from whatever other tests did first.)
ENUMERATED = {"processor_jobs_total": {"outcome"}, "notify_emails_total": {"kind", "status"}}
SELECTOR = re.compile(r"\b([a-z_][a-z0-9_]*)(?:\{([^}]*)\})?")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
PROMQL_WORDS = {"sum", "by", "rate", "increase", "max", "min", "avg", "clamp_min", "and", "or", "without", "on",
                "histogram_quantile", "le", "label_values", "e"}  # fmt: skip


def emitted_samples() -> dict[str, list[dict[str, str]]]:
    """Sample name -> the label sets the process registry holds for it (every suffix: _total, _bucket, …)."""
    for module in METRIC_MODULES:
        importlib.import_module(module)
    samples: dict[str, list[dict[str, str]]] = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(dict(sample.labels))
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}.get(family.type, ("",))
        for suffix in suffixes:  # a labelled metric has no sample before its first use
            samples.setdefault(f"{family.name}{suffix}", [])
    return samples


def alerts() -> list[dict[str, Any]]:
    rules = yaml.safe_load(RULES.read_text())
    return [rule for group in rules["spec"]["groups"] for rule in group["rules"] if "alert" in rule]


def selectors(expr: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(metric, [(label, operator, value)]) for every metric name in a PromQL expression."""
    without_ranges = re.sub(r"\[[^]]*\]|\bby\s*\([^)]*\)|\bwithout\s*\([^)]*\)", "", expr)
    found = []
    for name, matchers in SELECTOR.findall(without_ranges):
        if name in PROMQL_WORDS or re.fullmatch(r"[0-9e.]+", name):
            continue
        found.append((name, MATCHER.findall(matchers)))
    return found


def matches(operator: str, pattern: str, value: str) -> bool:
    regex = pattern.replace("\\\\", "\\")
    if operator == "=":
        return value == pattern
    if operator == "!=":
        return value != pattern
    hit = re.fullmatch(regex, value) is not None
    return hit if operator == "=~" else not hit


def problems_of(expr: str, samples: dict[str, list[dict[str, str]]]) -> list[str]:
    problems = []
    for name, matchers in selectors(expr):
        if name in RABBITMQ_METRICS:
            continue
        if name not in samples:
            problems.append(f"{name} is not a metric the services emit")
            continue
        # A matcher on a label the code creates at import (e.g. outcome) must select at least one real value.
        known = [m for m in matchers if m[0] in ENUMERATED.get(name, set())]
        if known and not any(all(matches(op, v, labels.get(k, "")) for k, op, v in known) for labels in samples[name]):
            problems.append(f"{name}{{{', '.join(''.join(m) for m in known)}}} selects no value the services emit")
    return problems


@pytest.mark.parametrize("alert", alerts(), ids=lambda a: a["alert"])
def test_the_alert_uses_only_metrics_and_label_values_the_services_emit(alert: dict[str, Any]) -> None:
    assert problems_of(alert["expr"], emitted_samples()) == []


def test_a_selector_on_a_label_value_nobody_emits_is_caught() -> None:
    samples = emitted_samples()
    assert problems_of('sum(rate(processor_jobs_total{outcome="failed"}[5m]))', samples) != []
    assert problems_of('sum(rate(processor_jobs_total{outcome="invalid_media"}[5m]))', samples) == []
    assert problems_of("sum(rate(processor_jobs_finished_total[5m]))", samples) != []


def test_every_dashboard_query_uses_metrics_the_services_emit() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    samples = emitted_samples()
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]
    assert exprs
    assert [p for expr in exprs for p in problems_of(re.sub(r"\$\w+", ".*", expr), samples)] == []


@pytest.mark.parametrize("alert", alerts(), ids=lambda a: a["alert"])
def test_the_alert_links_to_its_runbook_section(alert: dict[str, Any]) -> None:
    url = alert["annotations"]["runbook_url"]
    assert url.endswith(f"docs/operations.md#{alert['alert'].lower()}")
    headings = {line.lstrip("#").strip().lower() for line in RUNBOOK.read_text().splitlines() if line.startswith("#")}
    assert alert["alert"].lower() in headings
