# ClaimStream: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export PYTHON_FOR_KAFKA := $(abspath $(PY))
# BROKERS=3: kafka-up/kafka-down run a three-node KRaft cluster on 9192-9194 (the single broker keeps
# 9092), run/topics use it with 3 copies of every topic, chaos and soak start their own cluster.
BROKERS ?= 1
export KAFKA_BROKERS := $(BROKERS)
ifneq ($(BROKERS),1)
export KAFKA_BOOTSTRAP_SERVERS ?= $(shell for i in $$(seq 0 $$(($(BROKERS) - 1))); do printf '127.0.0.1:%s,' $$((9192 + i)); done | sed 's/,$$//')
export KAFKA_REPLICATION_FACTOR ?= 3
endif
MINUTES ?= 30

.DEFAULT_GOAL := help
.PHONY: bench chaos soak eval eval-1m eval-devpool help install lint run down kafka-up kafka-down topics services-up services-down status load-samples test test-unit schemas logs postgres-up postgres-down

# DB=postgres: the services keep their databases in a local PostgreSQL server (scripts/postgres.sh,
# data in .run/postgres, port PG_PORT or 5433) instead of SQLite files in .run/.
DB ?= sqlite
ifeq ($(DB),postgres)
export QUERY_DB_URL ?= $(shell bash scripts/postgres.sh url claimstream_query)
export INGEST_DB_URL ?= $(shell bash scripts/postgres.sh url claimstream_ingest)
DB_UP := postgres-up
else ifneq ($(DB),sqlite)
$(error DB must be sqlite or postgres, not $(DB))
endif

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install everything (only what is missing)

kafka-up: install ## start the local Kafka broker (KRaft, official jars via Maven; BROKERS=3: a three-node cluster); no-op when up
	PYTHON=$(PY) bash deploy/kafka/kafka.sh up

kafka-down: ## stop the local Kafka broker (BROKERS=3: the cluster)
	bash deploy/kafka/kafka.sh down

topics: kafka-up ## create the registered topics
	$(PY) -m services.cli topics create

postgres-up: ## start the local PostgreSQL server (installs Debian's postgresql when missing); make run DB=postgres does
	bash scripts/postgres.sh up

postgres-down: ## stop the local PostgreSQL server
	bash scripts/postgres.sh down

services-up: topics $(DB_UP) ## start processors, query and ingest in the background (DB=postgres: on PostgreSQL)
	PYTHON=$(PY) bash scripts/stack.sh up

services-down: ## stop the three services
	bash scripts/stack.sh down

load-samples: ## publish samples/articles.jsonl through ingest's bulk path
	$(PY) -m services.cli ingest samples/articles.jsonl

run: services-up load-samples ## set up, start Kafka and every service, load the samples, print the URLs (DB=postgres)
	@echo
	@echo "ClaimStream is up:"
	@echo "  claims feed   http://127.0.0.1:8000/claims        (live: /claims/stream, docs: /docs)"
	@echo "  ingest        http://127.0.0.1:8001/articles      (docs: /docs)"
	@echo "  metrics       :8001/metrics :8000/metrics :6066/metrics"
	@echo "  stop with     make down"

status: ## show what is running
	@bash deploy/kafka/kafka.sh status || true
	@bash scripts/stack.sh status
	@bash scripts/postgres.sh status || true

down: services-down kafka-down postgres-down ## stop everything make run started

logs: ## follow the service logs
	tail -n 50 -F .run/*.log

eval: install ## measure the NLP and the matching on ../shared/data: prints one table, writes test-output/eval.json
	$(PY) scripts/eval.py --data ../shared/data --out test-output/eval.json

eval-devpool: install ## only the dev pool's matching rows (in-domain): P/R/F1, cross-outlet recall, look-alikes merged, B-cubed in three article orders
	nice -n 10 $(PY) scripts/devpool_matching.py --devset ../shared/devset --json test-output/devpool_matching.json

eval-1m: install ## make eval with the matching cost at 1M claims too (about 7 GB of RAM: ~6.9 KB RSS per stored claim at 100k; tens of minutes)
	$(PY) scripts/eval.py --data ../shared/data --out test-output/eval.json --dedup-sizes 100000,1000000

bench: install kafka-up ## drive the real stack at full, half and 80% rate; prints a `bench:` line, writes test-output/bench.json
	$(PY) scripts/bench.py --out test-output/bench.json

chaos: install ## fault scenarios on an own broker (BROKERS=3: own cluster, broker faults too); prints a `chaos:` line, writes test-output/chaos.json
	$(PY) scripts/chaos.py --brokers $(BROKERS) --out test-output/chaos.json

soak: install kafka-up ## steady half-capacity load for MINUTES (30) on the local broker (BROKERS=3: cluster); prints a `soak:` line, writes test-output/soak.json
	$(PY) scripts/soak.py --minutes $(MINUTES) --out test-output/soak.json

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
	bash scripts/postgres.sh install
	$(PY) -m pytest -q -rs
