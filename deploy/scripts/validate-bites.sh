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
bite dashboard-unknown-metric 'grafana-dashboard' \
  "sed -i 's/processor_jobs_in_flight/processor_jobs_inflight/' deploy/observability/grafana/framepipe.json"

echo "$bitten passed, $missed failed"
((missed == 0))
