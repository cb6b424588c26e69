#!/usr/bin/env bash
# Proves that each validator of validate.sh bites: plants one mistake of each kind in a temporary copy
# of the deployment files and asserts that the check responsible for that kind of file fails.
# Usage: deploy/scripts/validate-bites.sh   (run validate.sh once first, so the tools are installed)
set -euo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPTS/../.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

bitten=0
missed=0

fresh_copy() {
  rm -rf "$WORK/tree" && mkdir -p "$WORK/tree"
  tar -C "$ROOT" --exclude=deploy/.tools --exclude=deploy/.out --exclude=.terraform \
    -cf - compose.yaml deploy .github | tar -C "$WORK/tree" -xf -
}

# bite NAME CHECK_REGEX MUTATION [MUST_FAIL]: MUTATION is a shell snippet run inside the copy; the checks
# matching CHECK_REGEX run and one of them must fail. MUST_FAIL (default CHECK_REGEX) names the check that
# has to be the one failing, for mutations that the earlier checks in CHECK_REGEX must let through.
bite() {
  local name=$1 checks=$2 mutation=$3 must_fail=${4:-$2}
  fresh_copy
  (cd "$WORK/tree" && eval "$mutation")
  if VALIDATE_ROOT=$WORK/tree VALIDATE_ONLY=$checks "$SCRIPTS/validate.sh" >"$WORK/$name.log" 2>&1; then
    missed=$((missed + 1))
    printf 'MISSED  %-34s (validate.sh passed)\n' "$name"
  elif grep -qE "^FAIL +($must_fail)" "$WORK/$name.log"; then
    bitten=$((bitten + 1))
    printf 'bites   %-34s -> %s\n' "$name" "$(grep -E '^FAIL' "$WORK/$name.log" | awk '{print $2}' | paste -sd, -)"
  else
    missed=$((missed + 1))
    printf 'MISSED  %-34s (failed, but not in %s)\n' "$name" "$must_fail"
    tail -n 20 "$WORK/$name.log"
  fi
}

bite yaml-syntax 'yamllint' \
  "printf 'broken: [unclosed\n' >> deploy/observability/prometheus-rules.yaml"
bite compose-unknown-key 'compose-config|compose-schema' \
  "sed -i 's/^  proxy:/  proxy:\n    restart_policy_typo: always/' compose.yaml"
bite dockerfile-bad-instruction 'hadolint' \
  "sed -i 's/^WORKDIR \/work$/WORKDIR work/' deploy/docker/Dockerfile"
bite shell-unquoted-variable 'shellcheck' \
  "printf 'rm -rf \$1/tmp\n' >> deploy/scripts/container-smoke.sh"
bite kustomize-missing-resource 'kustomize-base' \
  "sed -i 's/  - ingress.yaml/  - ingress-missing.yaml/' deploy/k8s/base/kustomization.yaml"
bite manifest-unknown-field 'kustomize-prod|kubernetes-schemas-strict' \
  "sed -i 's/^  revisionHistoryLimit: 5/  revisionHistoryLimit: 5\n  replicaz: 2/' deploy/k8s/base/auth-svc.yaml"
bite manifest-unknown-kind 'kustomize-prod|kubernetes-schemas-strict' \
  "printf -- '---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n' >> deploy/k8s/overlays/prod/externalsecrets.yaml"
bite externalsecret-typo 'kustomize-prod|kubernetes-schemas-strict' \
  "sed -i '0,/refreshInterval: 1h/s//refreshIntervall: 1h/' deploy/k8s/overlays/prod/externalsecrets.yaml"
bite custom-resource-bad-type 'kustomize-base|kubernetes-schemas-strict|custom-resources' \
  "sed -i 's/minReplicaCount: 1/minReplicaCount: one/' deploy/k8s/base/processor-svc.yaml"
# maxReplicas is the HorizontalPodAutoscaler's field: the API server would prune it without a word and the
# intended cap would never apply.
bite custom-resource-unknown-field 'kustomize-base|kubernetes-schemas-strict|custom-resources' \
  "sed -i 's/^  maxReplicaCount: 20$/  maxReplicaCount: 20\n  maxReplicas: 4/' deploy/k8s/base/processor-svc.yaml" \
  'custom-resources'
bite workflow-schema 'workflow-schema|actionlint' \
  "sed -i 's/runs-on: ubuntu-24.04/runs_on: ubuntu-24.04/' .github/workflows/ci.yml"
bite workflow-expression 'workflow-schema|actionlint' \
  "sed -i 's/\${{ job.services.rabbitmq.id }}/\${{ job.services.rabbitmq.idd }}/' .github/workflows/ci.yml"
bite terraform-format 'terraform-fmt' \
  "sed -i 's/^  name     = var.name$/  name = var.name/' deploy/terraform/modules/eks/main.tf"
bite terraform-undeclared-reference 'terraform-validate-prod' \
  "sed -i 's/var.kms_key_arn/var.kms_key_arm/' deploy/terraform/modules/s3/main.tf"
bite terraform-public-database 'terraform-test-prod' \
  "sed -i 's/publicly_accessible                 = false/publicly_accessible                 = true/' deploy/terraform/modules/rds/main.tf"
bite checkov-privileged-container 'kustomize-prod|checkov' \
  "sed -i 's/allowPrivilegeEscalation: false/allowPrivilegeEscalation: true/' deploy/k8s/base/video-svc.yaml"
bite ingress-routes-metrics 'one-origin-routes' \
  "sed -i 's|^          - path: /app\$|          - path: /metrics\\n            pathType: Prefix\\n            backend: {service: {name: web, port: {name: http}}}\\n          - path: /app|' deploy/k8s/base/ingress.yaml"
bite proxy-prefix-matches-lookalikes 'one-origin-routes' \
  "sed -i 's|location /video/ {|location /video {|' deploy/compose/nginx.conf"
bite dashboard-unknown-metric 'grafana-dashboard' \
  "sed -i 's/processor_jobs_in_flight/processor_jobs_inflight/' deploy/observability/grafana/framepipe.json"

INV='kustomize-dev|kustomize-prod|deployment-invariants'
bite keda-counts-ready-only "$INV" \
  "sed -i 's/protocol: http/protocol: amqp/' deploy/k8s/base/processor-svc.yaml" 'deployment-invariants'
bite processor-grace-cuts-jobs "$INV" \
  "sed -i 's/terminationGracePeriodSeconds: 1620/terminationGracePeriodSeconds: 90/' deploy/k8s/base/processor-svc.yaml" \
  'deployment-invariants'
bite http-service-without-prestop "$INV" \
  "sed -i 's/                seconds: 15/                seconds: 0/' deploy/k8s/base/video-svc.yaml" 'deployment-invariants'
bite alb-drains-shorter-than-uploads "$INV" \
  "sed -i 's/deregistration_delay.timeout_seconds=915/deregistration_delay.timeout_seconds=300/' deploy/k8s/overlays/prod/kustomization.yaml" \
  'deployment-invariants'
bite processor-nodes-too-few "$INV" \
  "sed -i '/variable \"processor_node_max_size\"/,/default/s/default     = 5/default     = 3/' deploy/terraform/environments/prod/variables.tf" \
  'deployment-invariants'
bite terraform-too-old-for-use-lockfile "$INV" \
  "sed -i 's/required_version = \">= 1.10\"/required_version = \">= 1.7\"/' deploy/terraform/environments/prod/versions.tf" \
  'deployment-invariants'
bite plan-role-writes-state 'terraform-test-prod' \
  "sed -i 's/    terraform-plan  = \\[\"s3:GetObject\"\\]/    terraform-plan  = [\"s3:GetObject\", \"s3:PutObject\"]/' deploy/terraform/modules/iam/main.tf"
bite nodes-allow-imds-from-pods 'terraform-test-prod' \
  "sed -i 's/http_put_response_hop_limit = 1/http_put_response_hop_limit = 2/' deploy/terraform/modules/eks/main.tf"
bite kms-without-via-service 'terraform-test-prod' \
  "sed -i '/local.via_service.s3/d' deploy/terraform/modules/iam/main.tf"
bite rds-minor-version-pinned 'terraform-validate-prod|terraform-test-prod' \
  "sed -i 's/  default     = \"16\"/  default     = \"16.8\"/' deploy/terraform/modules/rds/variables.tf"

bite servicemonitor-not-selected "$INV" \
  "sed -i '/^    release: kube-prometheus-stack$/d' deploy/k8s/base/video-svc.yaml" 'deployment-invariants'
bite prod-images-of-two-commits "$INV" \
  "sed -i '0,/newTag: [0-9a-f]\\{40\\}/s//newTag: 0000000000000000000000000000000000000000/' deploy/k8s/overlays/prod/kustomization.yaml" \
  'deployment-invariants'
bite prod-image-left-out "$INV" \
  "sed -i '/^  - name: framepipe\\/webapp$/,+2d' deploy/k8s/overlays/prod/kustomization.yaml" 'deployment-invariants'
bite broker-unknown-field 'kustomize-broker|kubernetes-schemas-strict' \
  "sed -i 's/^  replicas: 3$/  replicas: 3\n  replica: 3/' deploy/k8s/broker/cluster.yaml" 'kubernetes-schemas-strict'
bite alert-on-a-label-value-never-emitted 'alert-rules' \
  "sed -i 's/outcome!~\"processed|error\"/outcome=\"failed\"/' deploy/observability/prometheus-rules.yaml"

echo "$bitten passed, $missed failed"
((missed == 0))
