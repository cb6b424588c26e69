#!/usr/bin/env bash
# Builds one service image from deploy/docker/Dockerfile and proves it runs:
#   - the image runs as a numeric non-root user, carries no compiler, and has ffmpeg only for processor_svc;
#   - the service's application module imports inside the image (every package and dependency is there);
#   - with SMOKE_HEALTHZ=require: the service starts and answers GET /healthz, and Docker's own HEALTHCHECK
#     turns "healthy".
#
# Usage: deploy/scripts/container-smoke.sh [auth_svc|video_svc|notify_svc|processor_svc]
#
# Works on a machine with no Docker daemon running (it starts dockerd as root) and with no registry
# access for base images: when python:3.11-slim is not present it builds a stand-in from Debian
# packages with mmdebstrap and imports it under that name.
#
# Why /healthz is not the default: the services open their database pool and broker connection while
# starting (cleanup_ctx), before they serve anything, so without PostgreSQL and RabbitMQ reachable from
# the container they exit instead of answering. SMOKE_HEALTHZ=require runs that check where they are
# reachable (point AMQP_URL/DATABASE_URL of service_env at them). SMOKE_KEEP=1 keeps the container.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=$ROOT/deploy/.tools
SERVICE=${1:-auth_svc}
SMOKE_HEALTHZ=${SMOKE_HEALTHZ:-import}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_IMAGE=python:3.11-slim

case $SERVICE in
  auth_svc) PORT=8081 TARGET=service ;;
  video_svc) PORT=8082 TARGET=service ;;
  notify_svc) PORT=8083 TARGET=service ;;
  processor_svc) PORT=8084 TARGET=processor ;;
  *) echo "unknown service: $SERVICE" >&2; exit 2 ;;
esac
IMAGE=framepipe/$SERVICE:smoke
CONTAINER=framepipe-smoke-$SERVICE-$$

# Debian's client has BuildKit built in; prefer it over any other docker on PATH.
if [[ -x /usr/bin/docker ]]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
export DOCKER_BUILDKIT=1

log() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

ensure_daemon() {
  if "$DOCKER" info >/dev/null 2>&1; then return 0; fi
  command -v dockerd >/dev/null || fail "no Docker daemon and no dockerd (apt-get install docker.io)"
  [[ $(id -u) == 0 ]] || fail "no Docker daemon running and not root, cannot start one"
  mkdir -p "$TOOLS"
  log "starting dockerd (log: $TOOLS/dockerd.log)"
  nohup dockerd >"$TOOLS/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do
    "$DOCKER" info >/dev/null 2>&1 && return 0
    sleep 1
  done
  tail -n 20 "$TOOLS/dockerd.log" >&2
  fail "dockerd did not start"
}

# A stand-in for python:3.11-slim: Debian bookworm's Python 3.11 with pip and venv. The machine's CA
# bundle goes inside so pip trusts the same certificates as the host does.
ensure_base_image() {
  if "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return 0; fi
  if "$DOCKER" pull -q "$BASE_IMAGE" >/dev/null 2>&1; then return 0; fi
  command -v mmdebstrap >/dev/null || fail "$BASE_IMAGE cannot be pulled and mmdebstrap is missing (apt-get install mmdebstrap)"
  local tar=$TOOLS/base/python-standin.tar
  if [[ ! -f $tar ]]; then
    log "building a stand-in $BASE_IMAGE with mmdebstrap"
    mkdir -p "$TOOLS/base"
    mmdebstrap --quiet --variant=minbase \
      --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
      --customize-hook='copy-in /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/' \
      bookworm "$tar.part.tar" "$DEBIAN_MIRROR"
    mv "$tar.part.tar" "$tar"
  fi
  log "importing the stand-in as $BASE_IMAGE"
  "$DOCKER" import \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' \
    "$tar" "$BASE_IMAGE" >/dev/null
}

build_image() {
  log "building $IMAGE (target $TARGET)"
  # Host networking for the build: the daemon's bridge may have no route out on a locked-down machine.
  "$DOCKER" build --network host \
    -f "$ROOT/deploy/docker/Dockerfile" \
    --build-arg "SERVICE=$SERVICE" --build-arg "HTTP_PORT=$PORT" \
    --target "$TARGET" -t "$IMAGE" "$ROOT"
}

in_image() { "$DOCKER" run --rm --network none --entrypoint "$1" "$IMAGE" "${@:2}"; }

check_image() {
  log "checking the image's user, tools and size"
  local uid
  uid=$(in_image id -u)
  [[ $uid =~ ^[0-9]+$ && $uid != 0 ]] || fail "image runs as uid '$uid', expected a non-root numeric user"
  local user
  user=$("$DOCKER" image inspect -f '{{.Config.User}}' "$IMAGE")
  [[ $user =~ ^[0-9]+(:[0-9]+)?$ ]] || fail "USER is '$user', expected numeric uid:gid"
  for tool in gcc cc make; do
    if in_image sh -c "command -v $tool" >/dev/null 2>&1; then fail "build tool $tool found in the final image"; fi
  done
  if in_image test -e /opt/venv/bin/pip; then fail "pip found in the runtime virtualenv"; fi
  if [[ $TARGET == processor ]]; then
    in_image ffmpeg -hide_banner -version >/dev/null || fail "ffmpeg missing from the processor image"
    in_image ffprobe -hide_banner -version >/dev/null || fail "ffprobe missing from the processor image"
  elif in_image sh -c 'command -v ffmpeg' >/dev/null 2>&1; then
    fail "ffmpeg found in $SERVICE's image; only processor_svc needs it"
  fi
  "$DOCKER" image inspect -f '{{.Config.Healthcheck.Test}}' "$IMAGE" | grep -q healthz ||
    fail "image has no HEALTHCHECK on /healthz"
  printf 'image %s: uid %s, %s MB\n' "$IMAGE" "$uid" \
    "$(( $("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE") / 1000000 ))"
}

cleanup() {
  if [[ ${SMOKE_KEEP:-0} != 1 ]]; then "$DOCKER" rm -f "$CONTAINER" >/dev/null 2>&1 || true; fi
}

# Settings a service needs to construct itself. Its dependencies are deliberately absent: /healthz only
# says the process is alive, so it must answer while the database, broker and storage are unreachable.
service_env() {
  cat <<EOF
LOG_LEVEL=INFO
LOG_FORMAT=json
HTTP_HOST=0.0.0.0
HTTP_PORT=$PORT
AMQP_URL=amqp://smoke:smoke@127.0.0.1:5672/smoke
DATABASE_URL=postgresql://smoke:smoke@127.0.0.1:5432/smoke
DB_SCHEMA=${SERVICE%_svc}
JWT_PRIVATE_KEY_FILE=/tmp/jwt/private.pem
JWT_KEY_ID=smoke
JWT_PUBLIC_KEYS_DIR=/tmp/jwt/public
JWT_ISSUER=framepipe-smoke
JWT_AUDIENCE=framepipe-smoke
S3_ENDPOINT_URL=http://127.0.0.1:9000
S3_PUBLIC_ENDPOINT_URL=http://127.0.0.1:9000
S3_BUCKET=framepipe-smoke
S3_REGION=us-east-1
AWS_ACCESS_KEY_ID=smoke
AWS_SECRET_ACCESS_KEY=smoke-secret
SMTP_HOST=127.0.0.1
SMTP_PORT=1025
MAIL_FROM=framepipe@example.com
APP_BASE_URL=http://localhost:8080
WORK_DIR=/work
EOF
}

# The key pair lives in the container's /tmp only, made with the cryptography package the image carries.
KEYGEN='
import os
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
os.makedirs("/tmp/jwt/public", exist_ok=True)
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
open("/tmp/jwt/private.pem", "wb").write(key.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
open("/tmp/jwt/public/smoke.pem", "wb").write(key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
import runpy
runpy.run_module(os.environ["SERVICE_MODULE"], run_name="__main__", alter_sys=True)
'

check_healthz() {
  log "running $SERVICE and waiting for /healthz"
  trap cleanup EXIT
  "$DOCKER" run -d --name "$CONTAINER" --env-file <(service_env) \
    --read-only --tmpfs /tmp --tmpfs /work:uid=10001,gid=10001 --cap-drop ALL \
    --security-opt no-new-privileges -p "127.0.0.1::$PORT" \
    "$IMAGE" python -c "$KEYGEN" >/dev/null
  local hostport="" status=""
  for _ in $(seq 1 90); do
    status=$("$DOCKER" inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$CONTAINER")
    [[ $status == running* ]] || { "$DOCKER" logs "$CONTAINER" >&2; fail "container stopped: $status"; }
    hostport=$("$DOCKER" port "$CONTAINER" "$PORT/tcp" | head -n1)
    if [[ -n $hostport ]] && curl -fsS "http://$hostport/healthz" >/dev/null 2>&1 && [[ $status == "running healthy" ]]; then
      printf 'GET /healthz answered on %s and the HEALTHCHECK reports healthy\n' "$hostport"
      return 0
    fi
    sleep 1
  done
  "$DOCKER" logs "$CONTAINER" >&2
  fail "$SERVICE did not become healthy in 90 s (last status: $status)"
}

check_import() {
  local module=$SERVICE.app
  [[ -f $ROOT/$SERVICE/app.py ]] || module=$SERVICE
  log "importing $module inside the image (set SMOKE_HEALTHZ=require to start it and check /healthz)"
  in_image python -c "import importlib; importlib.import_module('$module'); print('imported $module')"
}

ensure_daemon
ensure_base_image
build_image
check_image
if [[ $SMOKE_HEALTHZ == require ]]; then
  check_healthz
else
  check_import
fi
log "container smoke test of $SERVICE passed"
