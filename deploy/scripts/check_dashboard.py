"""Checks the Grafana dashboard JSON: it parses, panel ids are unique, every panel has queries, and every
query uses only metric names that the services or the RabbitMQ Prometheus plugin export."""

import json
import re
import sys

KNOWN_METRICS = {
    "http_requests_total", "http_request_duration_seconds_bucket", "bus_messages_consumed_total",
    "bus_handler_duration_seconds_bucket", "bus_messages_published_total", "outbox_pending_events",
    "outbox_oldest_pending_age_seconds", "processor_jobs_total", "processor_job_duration_seconds_bucket",
    "processor_ffmpeg_duration_seconds_bucket", "processor_jobs_in_flight", "notify_emails_total",
    "rabbitmq_queue_messages_ready", "rabbitmq_queue_consumers", "bus_batch_size_sum", "bus_batch_size_count",
    "bus_broker_connects_total",
}
PROMQL_WORDS = {
    "sum", "by", "rate", "histogram_quantile", "clamp_min", "max", "increase", "le", "service", "queue",
    "outcome", "kind", "status", "label_values", "without", "avg", "min", "node",
}


def main(path: str) -> int:
    dashboard = json.load(open(path))
    errors = []
    ids = [p["id"] for p in dashboard["panels"]]
    if len(ids) != len(set(ids)):
        errors.append("duplicate panel ids")
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        if not panel.get("targets"):
            errors.append(f"panel {panel['title']!r} has no query")
        for target in panel.get("targets", []):
            expr = re.sub(r'"[^"]*"|\[[^]]*\]|\{[^}]*\}|\b[0-9.]+(e-?[0-9]+)?\b', "", target["expr"])
            for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expr):
                if word not in KNOWN_METRICS and word not in PROMQL_WORDS:
                    errors.append(f"panel {panel['title']!r}: unknown metric or function {word!r}")
    for error in errors:
        print(error)
    print(f"{len(ids)} panels checked, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
