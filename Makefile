# framepipe — developer entry points. Everything runs from the project virtualenv in .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PKGS   := contracts servicekit auth_svc video_svc notify_svc processor_svc webhook_svc webapp ops

.PHONY: install lock lint fmt test test-unit test-integration test-e2e test-browser screenshots run schemas contracts-dist bench chaos validate-deploy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Every third-party package comes from a lock file with hashes (pyproject.toml has the ranges, the locks the exact
# versions): requirements.lock for the images, requirements-dev.lock (runtime, dev and local) here and in CI, and
# requirements-build.lock for the images' build of the project itself. Only the project is installed from the tree.
install: $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .

# Regenerates the three locks from pyproject.toml, keeping current pins where the ranges allow them; UPGRADE=1 moves
# every pin to the newest allowed release. python-jose's pure-Python backends (ecdsa, rsa, pyasn1) are left out of
# every lock: the cryptography backend does all our signing (docs/decisions/0019-tokens-without-ecdsa.md).
LOCK_TOOL := uv==0.13.9
LOCK_ARGS := --quiet --generate-hashes --universal --python-version 3.11 --custom-compile-command 'make lock' \
	--no-emit-package ecdsa --no-emit-package rsa --no-emit-package pyasn1 $(if $(UPGRADE),--upgrade)
BUILD_REQUIRES := import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")

lock: $(BIN)/python
	$(BIN)/pip install --quiet '$(LOCK_TOOL)'
	$(BIN)/uv pip compile pyproject.toml $(LOCK_ARGS) -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra local $(LOCK_ARGS) -o requirements-dev.lock
	$(BIN)/python -c '$(BUILD_REQUIRES)' | $(BIN)/uv pip compile - $(LOCK_ARGS) -o requirements-build.lock

lint: install
	$(BIN)/ruff check $(PKGS) tests bench
	$(BIN)/ruff format --check $(PKGS) tests bench
	$(BIN)/mypy

fmt: install
	$(BIN)/ruff check --fix $(PKGS) tests bench
	$(BIN)/ruff format $(PKGS) tests bench

# The whole suite against the real PostgreSQL, RabbitMQ, S3-compatible server, SMTP server and ffmpeg.
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: install
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

test-integration: install
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

test-e2e: install
	$(BIN)/python -m pytest -m e2e tests/e2e $(PYTEST_ARGS)

# The web app in Debian's Chromium (apt-get install chromium; .ci/run installs it).
test-browser: install
	$(BIN)/python -m pytest tests/e2e/test_web_app.py $(PYTEST_ARGS)

# The screenshots in docs/screenshots/, taken by the browser tests.
screenshots: install
	FRAMEPIPE_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest tests/e2e/test_web_app.py $(PYTEST_ARGS)

run: install
	$(BIN)/framepipe dev

schemas: install
	$(BIN)/framepipe schemas export docs/events

# The framepipe-contracts wheel (the contract alone, for integrators) into dist/.
contracts-dist: install
	$(BIN)/framepipe schemas package dist

bench: install
	for b in bus auth upload list live processor notify webhooks replay e2e fanout; do $(BIN)/python bench/$$b.py || exit 1; done

# The chaos soak on a three-node RabbitMQ cluster (30 minutes; CHAOS_ARGS="--minutes 10" for less). Needs root.
chaos: install
	$(BIN)/python bench/chaos.py $(CHAOS_ARGS)

# Offline validation of every deployment file (compose, Kubernetes, Terraform, workflows, Dockerfile).
validate-deploy:
	bash deploy/scripts/validate.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var
