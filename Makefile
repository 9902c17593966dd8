# ClaimStream: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHON_FOR_KAFKA := $(abspath $(PY))

.DEFAULT_GOAL := help
.PHONY: bench chaos eval eval-1m help install run down kafka-up kafka-down topics services-up services-down status load-samples lint test test-unit schemas logs

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install everything (only what is missing)

kafka-up: install ## start the local Kafka broker (KRaft, official jars via Maven); no-op when up
	PYTHON=$(PY) bash deploy/kafka/kafka.sh up

kafka-down: ## stop the local Kafka broker
	bash deploy/kafka/kafka.sh down

topics: kafka-up ## create the registered topics
	$(PY) -m services.cli topics create

services-up: topics ## start processors, query and ingest in the background
	PYTHON=$(PY) bash scripts/stack.sh up

services-down: ## stop the three services
	bash scripts/stack.sh down

load-samples: ## publish samples/articles.jsonl through ingest's bulk path
	$(PY) -m services.cli ingest samples/articles.jsonl

run: services-up load-samples ## set up, start Kafka and every service, load the samples, print the URLs
	@echo
	@echo "ClaimStream is up:"
	@echo "  claims feed   http://127.0.0.1:8000/claims        (live: /claims/stream, docs: /docs)"
	@echo "  ingest        http://127.0.0.1:8001/articles      (docs: /docs)"
	@echo "  metrics       :8001/metrics :8000/metrics :6066/metrics"
	@echo "  stop with     make down"

status: ## show what is running
	@bash deploy/kafka/kafka.sh status || true
	@bash scripts/stack.sh status

down: services-down kafka-down ## stop everything make run started

logs: ## follow the service logs
	tail -n 50 -F .run/*.log

eval: install ## measure the NLP and the matching on ../shared/data: prints one table, writes test-output/eval.json
	$(PY) scripts/eval.py --data ../shared/data --out test-output/eval.json

eval-1m: install ## make eval with the matching cost at 1M claims too (about 7 GB of RAM: ~6.9 KB RSS per stored claim at 100k; tens of minutes)
	$(PY) scripts/eval.py --data ../shared/data --out test-output/eval.json --dedup-sizes 100000,1000000

bench: install kafka-up ## drive the real stack at full and half rate; prints a `bench:` line, writes test-output/bench.json
	$(PY) scripts/bench.py --out test-output/bench.json

chaos: install kafka-up ## fault scenarios with reconciliation; prints a `chaos:` line, writes test-output/chaos.json
	$(PY) scripts/chaos.py --out test-output/chaos.json

schemas: install ## regenerate schemas/json from the pydantic models
	$(PY) -m schemas.generate

lint: install ## ruff and mypy with the settings in pyproject.toml (a few seconds; make test runs it first)
	$(PY) -m ruff check .
	$(PY) -m mypy

test-unit: install ## unit tests only (no broker)
	$(PY) -m pytest tests/unit -q

# Test tools built or installed once per machine (docker compose plugin for validating docker-compose.yml).
export CLAIMSTREAM_TOOLS ?= $(HOME)/.cache/claimstream-tools

test: install lint ## lint, then every test: unit, API, integration and end to end against a real broker
	bash scripts/install_compose.sh
	bash scripts/install_test_tools.sh
	$(PY) -m pytest -q -rs
