"""Cross-file rules of the deployment that no schema can see, for deploy/scripts/validate.sh.

Usage: check_invariants.py RENDERED_DIR   (run from the repository root; RENDERED_DIR holds dev.yaml and prod.yaml)

Each rule reads the rendered overlays (and Terraform or broker files where the rule spans them) and prints one
line per violation; the exit status is 1 when any rule is broken. The numbers these rules tie together are
explained in docs/deploy.md ("Rollouts", "Capacity")."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

Docs = list[dict[str, Any]]
TERRAFORM = Path("deploy/terraform/environments/prod")
HTTP_SERVICES = ("auth-svc", "video-svc", "notify-svc", "web")
# kube-prometheus-stack's Prometheus selects ServiceMonitors and rules labelled with its Helm release name
# (deploy/argocd/addons/kube-prometheus-stack.yaml installs it under this name).
PROMETHEUS_RELEASE = "kube-prometheus-stack"
# What the scheduler cannot give pods on a node: EKS's kube-reserved CPU for the instance size, plus the
# requests of the DaemonSets every node runs (aws-node, kube-proxy, the EKS Pod Identity/CSI agents and the
# Prometheus node exporter, rounded up).
DAEMONSET_CPU_MILLI = 300
VCPUS = {"large": 2, "xlarge": 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "12xlarge": 48, "16xlarge": 64}


def kube_reserved_cpu_milli(vcpus: int) -> int:
    """EKS AMIs reserve 6% of the first core, 1% of the second, 0.5% of the next two, 0.25% of the rest."""
    reserved = 60.0 + (10 if vcpus > 1 else 0) + 5 * min(max(vcpus - 2, 0), 2) + 2.5 * max(vcpus - 4, 0)
    return math.ceil(reserved)


def by_kind(docs: Docs, kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def config_of(docs: Docs, deployment: dict[str, Any]) -> dict[str, str]:
    configmaps = by_kind(docs, "ConfigMap")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(configmaps[source["configMapRef"]["name"]].get("data") or {})
    return env


def cpu_milli(value: str | int) -> int:
    text = str(value)
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def pre_stop_seconds(deployment: dict[str, Any]) -> int:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    sleep = container.get("lifecycle", {}).get("preStop", {}).get("sleep", {})
    return int(sleep.get("seconds", 0))


# --- the rules ----------------------------------------------------------------------------------------


def processor_jobs_finish_before_the_pod_is_killed(overlay: str, docs: Docs) -> Iterator[str]:
    deployment = by_kind(docs, "Deployment")["processor-svc"]
    env = config_of(docs, deployment)
    job, grace = float(env["JOB_TIMEOUT_SECONDS"]), float(env["SHUTDOWN_GRACE_SECONDS"])
    pod_grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    if grace < job:
        yield f"{overlay}: SHUTDOWN_GRACE_SECONDS ({grace:g}) < JOB_TIMEOUT_SECONDS ({job:g}): a stop cuts jobs short"
    if pod_grace < grace + 30:
        yield f"{overlay}: processor terminationGracePeriodSeconds ({pod_grace}) < SHUTDOWN_GRACE_SECONDS + 30"


def processor_scaling_counts_jobs_in_progress(overlay: str, docs: Docs) -> Iterator[str]:
    scaled = by_kind(docs, "ScaledObject")["processor-svc"]
    env = config_of(docs, by_kind(docs, "Deployment")["processor-svc"])
    for trigger in scaled["spec"]["triggers"]:
        meta = trigger["metadata"]
        if meta.get("protocol") != "http" or str(meta.get("excludeUnacknowledged", "false")).lower() == "true":
            yield f"{overlay}: the KEDA trigger must count ready + unacked messages (protocol http, unacked included)"
        if meta.get("mode") == "QueueLength" and int(meta["value"]) != int(env["PROCESSOR_CONCURRENCY"]):
            yield f"{overlay}: KEDA value {meta['value']} != PROCESSOR_CONCURRENCY {env['PROCESSOR_CONCURRENCY']}"


def http_services_drain_before_they_stop(overlay: str, docs: Docs) -> Iterator[str]:
    deployments = by_kind(docs, "Deployment")
    for name in HTTP_SERVICES:
        deployment = deployments[name]
        pre_stop = pre_stop_seconds(deployment)
        drain = float(config_of(docs, deployment)["HTTP_SHUTDOWN_TIMEOUT_SECONDS"])
        grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        if pre_stop < 5:
            yield f"{overlay}: {name} has no preStop sleep: it would stop before endpoints stop sending to it"
        if grace < pre_stop + drain + 15:
            yield f"{overlay}: {name} terminationGracePeriodSeconds {grace} < preStop {pre_stop} + drain {drain:g} + 15"


def alb_keeps_draining_targets_as_long_as_they_serve(overlay: str, docs: Docs) -> Iterator[str]:
    if overlay != "prod":
        return
    namespace = by_kind(docs, "Namespace")["video-system"]
    if namespace["metadata"].get("labels", {}).get("elbv2.k8s.aws/pod-readiness-gate-inject") != "enabled":
        yield "prod: namespace video-system lacks the ALB pod readiness gate label"
    ingress = by_kind(docs, "Ingress")["framepipe"]
    default = _deregistration_delay(ingress)
    deployments, services = by_kind(docs, "Deployment"), by_kind(docs, "Service")
    for name in HTTP_SERVICES:
        delay = _deregistration_delay(services[name]) or default
        needed = pre_stop_seconds(deployments[name]) + float(
            config_of(docs, deployments[name])["HTTP_SHUTDOWN_TIMEOUT_SECONDS"]
        )
        if delay is None or delay < needed:
            yield f"prod: ALB deregistration delay of {name} ({delay}) < preStop + HTTP_SHUTDOWN_TIMEOUT_SECONDS ({needed:g})"


def _deregistration_delay(obj: dict[str, Any]) -> int | None:
    attributes = obj["metadata"].get("annotations", {}).get("alb.ingress.kubernetes.io/target-group-attributes", "")
    found = re.search(r"deregistration_delay\.timeout_seconds=(\d+)", attributes)
    return int(found.group(1)) if found else None


def processor_nodes_hold_the_most_processors(overlay: str, docs: Docs) -> Iterator[str]:
    if overlay != "prod":
        return
    deployment = by_kind(docs, "Deployment")["processor-svc"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    request = cpu_milli(container["resources"]["requests"]["cpu"])
    most = by_kind(docs, "ScaledObject")["processor-svc"]["spec"]["maxReplicaCount"]
    defaults = terraform_defaults()
    for instance_type in defaults["processor_node_instance_types"]:
        vcpus = VCPUS[instance_type.split(".", 1)[1]]
        free = vcpus * 1000 - kube_reserved_cpu_milli(vcpus) - DAEMONSET_CPU_MILLI
        per_node = free // request
        capacity = per_node * defaults["processor_node_max_size"]
        if capacity < most:
            yield (
                f"prod: {defaults['processor_node_max_size']} x {instance_type} hold {capacity} processors "
                f"({per_node} per node at {request}m), fewer than KEDA's maxReplicaCount {most}"
            )


def monitoring_objects_are_selected_by_kube_prometheus_stack(overlay: str, docs: Docs) -> Iterator[str]:
    for doc in docs:
        if doc["kind"] in ("ServiceMonitor", "PodMonitor", "PrometheusRule"):
            if doc["metadata"].get("labels", {}).get("release") != PROMETHEUS_RELEASE:
                name = doc["metadata"]["name"]
                yield f"{overlay}: {doc['kind']}/{name} lacks release: {PROMETHEUS_RELEASE}, so Prometheus ignores it"


def prod_runs_one_released_commit(overlay: str, docs: Docs) -> Iterator[str]:
    if overlay != "prod":
        return
    kustomization = yaml.safe_load(Path("deploy/k8s/overlays/prod/kustomization.yaml").read_text())
    tags = {image["name"]: str(image.get("newTag", "")) for image in kustomization["images"]}
    shas = set(tags.values())
    if len(shas) != 1 or not re.fullmatch(r"[0-9a-f]{40}", next(iter(shas))):
        yield f"prod: the framepipe images must share one commit SHA tag (deploy/scripts/promote.sh sets it): {tags}"
    # An image the list forgets would run untagged (`latest`, whatever that is): every framepipe container is pinned.
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet", "Job", "CronJob"):
            for container in _containers(doc):
                image = container["image"]
                if "framepipe/" in image and not any(image.endswith(f":{sha}") for sha in shas):
                    yield f"prod: {doc['kind']}/{doc['metadata']['name']} runs {image}, not a promoted commit"
    addon = yaml.safe_load(Path("deploy/argocd/addons/kube-prometheus-stack.yaml").read_text())
    if addon["spec"]["source"]["helm"].get("releaseName") != PROMETHEUS_RELEASE:
        yield f"addons: kube-prometheus-stack must be released as {PROMETHEUS_RELEASE}, the label its selectors use"


def _containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    pod = spec["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def terraform_is_pinned_for_the_features_it_uses(_: str, __: Docs) -> Iterator[str]:
    versions = (TERRAFORM / "versions.tf").read_text()
    found = re.search(r'required_version\s*=\s*">=\s*1\.(\d+)', versions)
    if not found or int(found.group(1)) < 10:
        yield "terraform: required_version must be >= 1.10 (the S3 backend's use_lockfile)"
    lock = (TERRAFORM / ".terraform.lock.hcl").read_text()
    if len(re.findall(r'"zh:[0-9a-f]{64}"', lock)) < 4:
        yield "terraform: the lock file must carry the zh: hashes of every platform (linux and darwin included)"


RULES: list[Callable[[str, Docs], Iterator[str]]] = [
    processor_jobs_finish_before_the_pod_is_killed,
    processor_scaling_counts_jobs_in_progress,
    http_services_drain_before_they_stop,
    alb_keeps_draining_targets_as_long_as_they_serve,
    processor_nodes_hold_the_most_processors,
    monitoring_objects_are_selected_by_kube_prometheus_stack,
    prod_runs_one_released_commit,
    terraform_is_pinned_for_the_features_it_uses,
]


def terraform_defaults() -> dict[str, Any]:
    """The defaults of environments/prod/variables.tf that the rules use (HCL literals are JSON here)."""
    text = (TERRAFORM / "variables.tf").read_text()
    values: dict[str, Any] = {}
    for name, default in re.findall(r'variable "(\w+)" \{.*?\n  default\s*=\s*(.+?)\n', text, re.S):
        values[name] = yaml.safe_load(default)
    return values


def main(rendered: str) -> int:
    problems = []
    for overlay in ("dev", "prod"):
        docs = [d for d in yaml.safe_load_all(Path(rendered, f"{overlay}.yaml").read_text()) if d]
        for rule in RULES:
            problems.extend(rule(overlay, docs))
    for problem in dict.fromkeys(problems):
        print(problem)
    print(f"{len(RULES)} rules on dev and prod, {len(set(problems))} broken")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
