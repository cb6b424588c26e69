#!/usr/bin/env bash
# Builds service images from deploy/docker/Dockerfile and proves they run:
#   - each image runs as a numeric non-root user, carries no compiler and no pip, has ffmpeg only for
#     processor_svc, and declares a HEALTHCHECK on /healthz; webapp's holds every file of webapp/static;
#   - each service starts from the image's own CMD against real PostgreSQL and RabbitMQ (and a local S3
#     server for video_svc and processor_svc; webapp needs none of them), answers GET /healthz, turns "healthy"
#     under Docker's own HEALTHCHECK, answers GET /readyz with 200 once its dependencies are there, and exits 0
#     on SIGTERM; webapp also serves its page on GET /app/ under its Content-Security-Policy, and its assets.
#
# Usage: deploy/scripts/container-smoke.sh [SERVICE...]   (auth_svc video_svc notify_svc webhook_svc processor_svc webapp;
#        default: all five, built and started together so the shared layers are built once)
#
# SMOKE_HEALTHZ=auto (default): start the services when PostgreSQL and RabbitMQ are reachable, otherwise
#   say why and only check that each service's application module imports inside its image.
# SMOKE_HEALTHZ=require: fail when they are not reachable. SMOKE_HEALTHZ=import: the import check only.
#
# The run is isolated from anything else using the same servers: it creates a database and a RabbitMQ
# vhost of its own and drops both afterwards (so a worker never takes someone else's jobs), picks free
# ports, and the containers use the host's network so the broker sees them on localhost (RabbitMQ's guest
# user is refused from anywhere else). Where they live:
#   SMOKE_POSTGRES   admin URL without a database (default postgresql://postgres@127.0.0.1:5432); psql must work
#   SMOKE_AMQP       broker URL without a vhost (default amqp://guest:guest@127.0.0.1:5672)
#   SMOKE_RABBITMQCTL  how to run rabbitmqctl (default: rabbitmqctl; e.g. "docker exec <id> rabbitmqctl")
#   SMOKE_PYTHON     a Python with moto for the S3 server (default: the project's .venv, made by make install)
# SMOKE_KEEP=1 keeps the containers, database, vhost, S3 server and dockerd for a look afterwards.
#
# Works on a machine with no Docker daemon running (it starts dockerd as root, and stops it again at the
# end) and with no registry access for base images: when python:3.11-slim is not present it builds a
# stand-in from Debian packages with mmdebstrap and imports it under that name.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=$ROOT/deploy/.tools
SMOKE_HEALTHZ=${SMOKE_HEALTHZ:-auto}
SMOKE_POSTGRES=${SMOKE_POSTGRES:-postgresql://postgres@127.0.0.1:5432}
SMOKE_AMQP=${SMOKE_AMQP:-amqp://guest:guest@127.0.0.1:5672}
read -r -a RABBITMQCTL <<<"${SMOKE_RABBITMQCTL:-rabbitmqctl}"
SMOKE_PYTHON=${SMOKE_PYTHON:-$ROOT/.venv/bin/python}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_IMAGE=python:3.11-slim
WAIT_SECONDS=90
RUN_ID=$$
SMOKE_DB=framepipe_smoke_$RUN_ID
SMOKE_VHOST=framepipe-smoke-$RUN_ID
S3_BUCKET=framepipe-smoke

ALL_SERVICES=(auth_svc video_svc notify_svc webhook_svc processor_svc webapp)
if (($#)); then SERVICES=("$@"); else SERVICES=("${ALL_SERVICES[@]}"); fi

# Debian's client has BuildKit built in; prefer it over any other docker on PATH.
if [[ -x /usr/bin/docker ]]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
export DOCKER_BUILDKIT=1

log() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

target_of() { if [[ $1 == processor_svc ]]; then echo processor; else echo service; fi; }
image_of() { echo "framepipe/$1:smoke"; }
container_of() { echo "framepipe-smoke-$1-$RUN_ID"; }
needs_database() { [[ $1 == auth_svc || $1 == video_svc || $1 == notify_svc ]]; }
needs_broker() { [[ $1 != webapp ]]; }
is_webapp() { [[ $1 == webapp ]]; }
needs_storage() { [[ $1 == video_svc || $1 == processor_svc ]]; }

for service in "${SERVICES[@]}"; do
  case $service in
    auth_svc | video_svc | notify_svc | webhook_svc | processor_svc | webapp) ;;
    *) echo "unknown service: $service (expected: ${ALL_SERVICES[*]})" >&2; exit 2 ;;
  esac
done
case $SMOKE_HEALTHZ in
  auto | require | import) ;;
  *) echo "SMOKE_HEALTHZ must be auto, require or import, not '$SMOKE_HEALTHZ'" >&2; exit 2 ;;
esac

# --- clean-up: everything this run made, in reverse order -------------------------------------

DOCKERD_PID=""
S3_PID=""
WORK=""
DB_CREATED=0
VHOST_CREATED=0
STARTED=()

cleanup() {
  local rc=$?
  # Finish cleaning up even if interrupted again or if nobody reads the output any more.
  trap '' INT TERM HUP PIPE
  set +e
  if [[ ${SMOKE_KEEP:-0} == 1 ]]; then
    ((${#STARTED[@]})) && log "kept containers: ${STARTED[*]}"
    ((DB_CREATED)) && log "kept database $SMOKE_DB"
    ((VHOST_CREATED)) && log "kept vhost $SMOKE_VHOST"
    [[ -n $S3_PID ]] && log "kept the S3 server (pid $S3_PID)"
    [[ -n $DOCKERD_PID ]] && log "kept dockerd (pid $DOCKERD_PID)"
    return "$rc"
  fi
  local name
  for name in "${STARTED[@]}"; do "$DOCKER" rm -f "$name" >/dev/null 2>&1 || true; done
  if ((DB_CREATED)); then
    psql "$SMOKE_POSTGRES/postgres" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $SMOKE_DB WITH (FORCE)" \
      >/dev/null || echo "could not drop database $SMOKE_DB" >&2
  fi
  if ((VHOST_CREATED)); then
    "${RABBITMQCTL[@]}" -q delete_vhost "$SMOKE_VHOST" >/dev/null || echo "could not delete vhost $SMOKE_VHOST" >&2
  fi
  if [[ -n $S3_PID ]]; then kill "$S3_PID" 2>/dev/null && wait "$S3_PID" 2>/dev/null || true; fi
  [[ -n $WORK ]] && rm -rf "$WORK"
  if [[ -n $DOCKERD_PID ]]; then
    log "stopping the dockerd this run started"
    kill "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 1; done
    kill -0 "$DOCKERD_PID" 2>/dev/null && kill -9 "$DOCKERD_PID" 2>/dev/null
  fi
  return "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# --- the image --------------------------------------------------------------------------------

ensure_daemon() {
  if "$DOCKER" info >/dev/null 2>&1; then return 0; fi
  command -v dockerd >/dev/null || fail "no Docker daemon and no dockerd (apt-get install docker.io)"
  [[ $(id -u) == 0 ]] || fail "no Docker daemon running and not root, cannot start one"
  log "starting dockerd (log: $TOOLS/dockerd.log)"
  nohup dockerd >"$TOOLS/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do
    "$DOCKER" info >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
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
  local service=$1 port=$2
  local started=$SECONDS buildlog=$TOOLS/build-$service.log
  log "building $(image_of "$service") (target $(target_of "$service"), log: $buildlog)"
  # Host networking for the build: the daemon's bridge may have no route out on a locked-down machine.
  if ! "$DOCKER" build --network host --progress plain \
    -f "$ROOT/deploy/docker/Dockerfile" \
    --build-arg "SERVICE=$service" --build-arg "HTTP_PORT=$port" --build-arg "PYTHON_IMAGE=$BASE_IMAGE" \
    --target "$(target_of "$service")" -t "$(image_of "$service")" "$ROOT" >"$buildlog" 2>&1; then
    tail -n 40 "$buildlog" >&2
    fail "could not build $(image_of "$service")"
  fi
  printf 'built %s in %ss\n' "$(image_of "$service")" "$((SECONDS - started))"
}

in_image() { "$DOCKER" run --rm --network none --entrypoint "$2" "$(image_of "$1")" "${@:3}"; }

check_image() {
  local service=$1 image uid user
  image=$(image_of "$service")
  uid=$(in_image "$service" id -u)
  [[ $uid =~ ^[0-9]+$ && $uid != 0 ]] || fail "$image runs as uid '$uid', expected a non-root numeric user"
  user=$("$DOCKER" image inspect -f '{{.Config.User}}' "$image")
  [[ $user =~ ^[0-9]+(:[0-9]+)?$ ]] || fail "$image: USER is '$user', expected numeric uid:gid"
  for tool in gcc cc make; do
    if in_image "$service" sh -c "command -v $tool" >/dev/null 2>&1; then fail "build tool $tool found in $image"; fi
  done
  if in_image "$service" test -e /opt/venv/bin/pip; then fail "pip found in the runtime virtualenv of $image"; fi
  # python-jose's pure-Python backends stay out of the image (docs/decisions/0019-tokens-without-ecdsa.md).
  if in_image "$service" python -c 'import ecdsa' >/dev/null 2>&1; then fail "ecdsa found in $image"; fi
  if [[ $service == processor_svc ]]; then
    in_image "$service" ffmpeg -hide_banner -version >/dev/null || fail "ffmpeg missing from $image"
    in_image "$service" ffprobe -hide_banner -version >/dev/null || fail "ffprobe missing from $image"
  elif in_image "$service" sh -c 'command -v ffmpeg' >/dev/null 2>&1; then
    fail "ffmpeg found in $image; only processor_svc needs it"
  fi
  "$DOCKER" image inspect -f '{{.Config.Healthcheck.Test}}' "$image" | grep -q healthz ||
    fail "$image has no HEALTHCHECK on /healthz"
  if is_webapp "$service"; then check_static_files "$service"; fi
  printf 'image %s: uid %s, %s MB, no compiler, no pip, ffmpeg %s, HEALTHCHECK on /healthz\n' "$image" "$uid" \
    "$(($("$DOCKER" image inspect -f '{{.Size}}' "$image") / 1000000))" \
    "$([[ $service == processor_svc ]] && echo present || echo absent)"
}

# The installed package, not the source tree, must hold the page: every file of webapp/static (pyproject's
# package-data), byte for byte, and nothing else.
check_static_files() {
  local service=$1 static expected found
  expected=$(cd "$ROOT/webapp/static" && find . -type f -exec sha256sum {} + | LC_ALL=C sort -k2)
  static=$(in_image "$service" python -c 'import webapp.app; print(webapp.app.STATIC)')
  found=$(in_image "$service" find "$static" -type f -exec sha256sum {} + | sed "s|  $static/|  ./|" | LC_ALL=C sort -k2)
  if [[ $found != "$expected" ]]; then
    diff <(echo "$expected") <(echo "$found") | sed 's/^/    /' >&2 || true
    fail "$(image_of "$service") does not hold exactly the files of webapp/static"
  fi
  printf 'image %s: the %s files of webapp/static are in the installed package\n' "$(image_of "$service")" \
    "$(grep -c . <<<"$expected")"
}

check_import() {
  local service=$1 module=$1.app
  [[ -f $ROOT/$service/app.py ]] || module=$service
  in_image "$service" python -c "import importlib; importlib.import_module('$module'); print('imported $module')"
}

# --- the dependencies -------------------------------------------------------------------------

any_service() {
  local predicate=$1 service
  for service in "${SERVICES[@]}"; do "$predicate" "$service" && return 0; done
  return 1
}

# Prints why the services cannot be started here, or nothing when they can.
missing_dependencies() {
  if any_service needs_database; then
    if ! command -v psql >/dev/null; then
      echo "psql is not installed"
    elif ! PGCONNECT_TIMEOUT=3 psql "$SMOKE_POSTGRES/postgres" -qXtAc 'SELECT 1' >/dev/null 2>&1; then
      echo "PostgreSQL does not answer at $SMOKE_POSTGRES"
    fi
  fi
  if any_service needs_broker && ! timeout 30 "${RABBITMQCTL[@]}" -q list_vhosts >/dev/null 2>&1; then
    echo "RabbitMQ cannot be managed with '${RABBITMQCTL[*]}' (is it running? are you root?)"
  fi
  if any_service needs_storage && ! "$SMOKE_PYTHON" -c 'import moto.server' >/dev/null 2>&1; then
    echo "no moto for the local S3 server in $SMOKE_PYTHON (make install)"
  fi
}

# Free TCP ports on the host, distinct from each other (the services share the host's network).
free_ports() {
  python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for sock in socks:
    sock.bind(("127.0.0.1", 0))
print(" ".join(str(sock.getsockname()[1]) for sock in socks))' "$1"
}

start_dependencies() {
  if any_service needs_database; then
    log "creating database $SMOKE_DB"
    psql "$SMOKE_POSTGRES/postgres" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $SMOKE_DB" >/dev/null
    DB_CREATED=1
  fi
  if any_service needs_broker; then
    log "creating vhost $SMOKE_VHOST"
    "${RABBITMQCTL[@]}" -q add_vhost "$SMOKE_VHOST" >/dev/null
    VHOST_CREATED=1
    local amqp_user=${SMOKE_AMQP#amqp://}
    amqp_user=${amqp_user%%:*}
    "${RABBITMQCTL[@]}" -q set_permissions -p "$SMOKE_VHOST" "$amqp_user" '.*' '.*' '.*' >/dev/null
  fi
  if any_service needs_storage; then
    S3_PORT=$(free_ports 1)
    log "starting a local S3 server (moto) on 127.0.0.1:$S3_PORT with bucket $S3_BUCKET"
    "$SMOKE_PYTHON" -m moto.server -H 127.0.0.1 -p "$S3_PORT" >"$TOOLS/s3-smoke.log" 2>&1 &
    S3_PID=$!
    for _ in $(seq 1 60); do
      curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$S3_PORT/$S3_BUCKET" 2>/dev/null && return 0
      sleep 0.5
    done
    tail -n 20 "$TOOLS/s3-smoke.log" >&2
    fail "the local S3 server did not start"
  fi
}

# A throwaway JWT key pair, made here and mounted read-only: the image's own CMD starts the service.
make_keys() {
  mkdir -p "$WORK/jwt/public"
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/jwt/private.pem" 2>/dev/null
  openssl pkey -in "$WORK/jwt/private.pem" -pubout -out "$WORK/jwt/public/smoke.pem"
  chmod -R a+rX "$WORK"
}

# webapp gets the common settings only: it must start with no database, broker or storage to point at.
service_env() {
  local service=$1 port=$2
  cat <<EOF
LOG_LEVEL=INFO
LOG_FORMAT=json
HTTP_HOST=127.0.0.1
HTTP_PORT=$port
EOF
  if is_webapp "$service"; then return 0; fi
  cat <<EOF
AMQP_URL=$SMOKE_AMQP/$SMOKE_VHOST
DATABASE_URL=$SMOKE_POSTGRES/$SMOKE_DB
DB_SCHEMA=${service%_svc}
JWT_PRIVATE_KEY_FILE=/etc/framepipe/jwt/private.pem
JWT_KEY_ID=smoke
JWT_PUBLIC_KEYS_DIR=/etc/framepipe/jwt/public
JWT_ISSUER=framepipe-smoke
JWT_AUDIENCE=framepipe-smoke
S3_ENDPOINT_URL=http://127.0.0.1:${S3_PORT:-9}
S3_PUBLIC_ENDPOINT_URL=http://127.0.0.1:${S3_PORT:-9}
S3_BUCKET=$S3_BUCKET
S3_REGION=us-east-1
AWS_ACCESS_KEY_ID=smoke
AWS_SECRET_ACCESS_KEY=smoke-secret
SMTP_HOST=127.0.0.1
SMTP_PORT=9
MAIL_FROM=framepipe@example.com
APP_BASE_URL=http://localhost:8080
EOF
}

# --- the running service ----------------------------------------------------------------------

declare -A PORTS

start_service() {
  local service=$1 name
  name=$(container_of "$service")
  STARTED+=("$name")
  # Locked down as in Kubernetes: read-only root, writable /tmp and /work only, no capabilities.
  "$DOCKER" run -d --name "$name" --network host --env-file <(service_env "$service" "${PORTS[$service]}") \
    --read-only --tmpfs /tmp --tmpfs /work:uid=10001,gid=10001 --cap-drop ALL \
    --security-opt no-new-privileges -v "$WORK/jwt:/etc/framepipe/jwt:ro" \
    "$(image_of "$service")" >/dev/null
}

state_of() { "$DOCKER" inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1"; }

show_logs() { "$DOCKER" logs --tail 40 "$1" 2>&1 | sed 's/^/    /' >&2; }

# /healthz answers and the image's HEALTHCHECK (its own command and timing) reports healthy.
wait_healthy() {
  local service=$1 name url status="" started=$SECONDS
  name=$(container_of "$service")
  url=http://127.0.0.1:${PORTS[$service]}
  while ((SECONDS - started < WAIT_SECONDS)); do
    status=$(state_of "$name")
    if [[ $status != running* ]]; then
      show_logs "$name"
      fail "$service stopped while starting: $status"
    fi
    if [[ $status == "running healthy" ]] && curl -fsS -o /dev/null "$url/healthz" 2>/dev/null; then
      printf '%s: GET /healthz 200 and HEALTHCHECK healthy after %ss\n' "$service" "$((SECONDS - started))"
      return 0
    fi
    sleep 1
  done
  show_logs "$name"
  fail "$service did not become healthy in ${WAIT_SECONDS}s (last status: $status)"
}

# /readyz runs the service's real checks (database, broker, storage, ffmpeg): 200 only when all pass.
wait_ready() {
  local service=$1 url body="" code="" started=$SECONDS
  url=http://127.0.0.1:${PORTS[$service]}/readyz
  while ((SECONDS - started < 30)); do
    code=$(curl -sS -o "$WORK/readyz.json" -w '%{http_code}' "$url" 2>/dev/null) || code=000
    body=$(cat "$WORK/readyz.json" 2>/dev/null || true)
    if [[ $code == 200 ]]; then
      printf '%s: GET /readyz 200 %s\n' "$service" "$body"
      return 0
    fi
    sleep 1
  done
  show_logs "$(container_of "$service")"
  fail "$service: GET /readyz answered $code, not 200: $body"
}

# SIGTERM reaches python as PID 1 and aiohttp's graceful shutdown closes every resource: exit code 0.
stop_gracefully() {
  local service=$1 name code
  name=$(container_of "$service")
  "$DOCKER" stop -t 30 "$name" >/dev/null
  code=$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$name")
  if [[ $code != 0 ]]; then
    show_logs "$name"
    fail "$service exited $code on SIGTERM, expected 0"
  fi
  printf '%s: stopped on SIGTERM with exit code 0\n' "$service"
}

# The page: every view under /app/ is index.html, under a Content-Security-Policy that allows nothing inline and
# nothing from elsewhere; `/` sends the browser to /app/; the assets come from the installed package.
check_page() {
  local service=$1 url headers csp
  url=http://127.0.0.1:${PORTS[$service]}
  headers=$(curl -fsS -D - -o "$WORK/page.html" "$url/app/videos/00000000-0000-0000-0000-000000000000") ||
    fail "$service: GET /app/videos/<id> did not answer 2xx"
  csp=$(grep -i '^content-security-policy:' <<<"$headers" | tr -d '\r') ||
    fail "$service: the page has no Content-Security-Policy"
  [[ $csp == *"default-src 'none'"* && $csp == *"script-src 'self'"* ]] || fail "$service: a weaker $csp"
  grep -qi '^content-type: text/html' <<<"$headers" || fail "$service: the page is not text/html"
  cmp -s "$WORK/page.html" "$ROOT/webapp/static/index.html" || fail "$service: GET /app/… is not webapp/static/index.html"
  [[ $(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "$url/") == "302 $url/app/" ]] ||
    fail "$service: GET / does not redirect to /app/"
  if ! curl -fsS -o "$WORK/app.js" "$url/app/assets/app.js" || ! cmp -s "$WORK/app.js" "$ROOT/webapp/static/assets/app.js"; then
    fail "$service: GET /app/assets/app.js is not webapp/static/assets/app.js"
  fi
  printf '%s: GET /app/videos/<id> 200 text/html, index.html, with %s\n' "$service" "$csp"
  printf '%s: GET / 302 to /app/, GET /app/assets/app.js 200\n' "$service"
}

check_topology() {
  local queues
  queues=$("${RABBITMQCTL[@]}" -q list_queues -p "$SMOKE_VHOST" name --no-table-headers 2>/dev/null | grep -c . || true)
  ((queues > 0)) || fail "no queue was declared in vhost $SMOKE_VHOST"
  printf 'the services declared %s queues in vhost %s\n' "$queues" "$SMOKE_VHOST"
}

# --- run --------------------------------------------------------------------------------------

main() {
  local started=$SECONDS service mode=$SMOKE_HEALTHZ missing=""
  if [[ $mode != import ]]; then
    missing=$(missing_dependencies)
    if [[ -n $missing ]]; then
      [[ $mode == require ]] && fail "SMOKE_HEALTHZ=require, but the services cannot be started here: ${missing//$'\n'/; }"
      log "not starting the services: ${missing//$'\n'/; }"
      log "checking that each service's module imports instead (SMOKE_HEALTHZ=require makes this a failure)"
      mode=import
    else
      mode=healthz
    fi
  fi

  mkdir -p "$TOOLS"
  ensure_daemon
  ensure_base_image
  local port
  for service in "${SERVICES[@]}"; do
    case $service in
      auth_svc) port=8081 ;; video_svc) port=8082 ;; notify_svc) port=8083 ;; webhook_svc) port=8089 ;;
      processor_svc) port=8084 ;; webapp) port=8080 ;;
    esac
    build_image "$service" "$port"
    check_image "$service"
  done
  printf 'images built and checked in %ss\n' "$((SECONDS - started))"

  if [[ $mode == import ]]; then
    for service in "${SERVICES[@]}"; do check_import "$service"; done
  else
    WORK=$(mktemp -d)
    start_dependencies
    make_keys
    local ports i=0
    read -r -a ports <<<"$(free_ports "${#SERVICES[@]}")"
    for service in "${SERVICES[@]}"; do PORTS[$service]=${ports[i]}; i=$((i + 1)); done
    log "starting ${SERVICES[*]} (host network, ports ${PORTS[*]})"
    for service in "${SERVICES[@]}"; do start_service "$service"; done
    for service in "${SERVICES[@]}"; do wait_healthy "$service"; done
    for service in "${SERVICES[@]}"; do wait_ready "$service"; done
    if any_service is_webapp; then check_page webapp; fi
    if any_service needs_broker; then check_topology; fi
    for service in "${SERVICES[@]}"; do stop_gracefully "$service"; done
  fi
  log "container smoke test of ${SERVICES[*]} passed ($mode, ${SECONDS}s)"
}

main
