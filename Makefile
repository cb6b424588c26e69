# framepipe — developer entry points. Everything runs from the project virtualenv in .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PKGS   := contracts servicekit auth_svc video_svc notify_svc processor_svc webhook_svc webapp ops

.PHONY: install lint fmt test test-unit test-integration test-e2e test-browser screenshots run schemas contracts-dist bench chaos validate-deploy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,local]'

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
	for b in bus auth upload list live processor notify webhooks replay e2e; do $(BIN)/python bench/$$b.py || exit 1; done

# The chaos soak on a three-node RabbitMQ cluster (30 minutes; CHAOS_ARGS="--minutes 10" for less). Needs root.
chaos: install
	$(BIN)/python bench/chaos.py $(CHAOS_ARGS)

# Offline validation of every deployment file (compose, Kubernetes, Terraform, workflows, Dockerfile).
validate-deploy:
	bash deploy/scripts/validate.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var
