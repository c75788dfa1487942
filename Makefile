# Entry points; the work is done by scripts/*.sh (see README.md).
# make test PYTEST_ARGS="-k shelters -x" passes arguments to pytest in every lane.
SHELL := /bin/bash
PYTEST_ARGS ?=
export PYTEST_ARGS

.PHONY: help run test lint test-spatialite test-postgis test-integration test-faults classifier-model

# The labelled messages `make classifier-model` trains the default model on (../shared/data by default).
CLASSIFIER_TRAIN ?= $(or $(SHARED_DATA_DIR),../shared/data)/crisis/hurricane_train.tsv

help:
	@echo "make run              install, migrate, load demo data, serve on http://127.0.0.1:8000"
	@echo "make test             install, ruff + mypy, pytest on SpatiaLite and on PostGIS, integration, faults"
	@echo "make lint             ruff check, ruff format --check, mypy"
	@echo "make test-spatialite  pytest, SpatiaLite lane only"
	@echo "make test-postgis     pytest, PostGIS lane only"
	@echo "make test-integration two daphnes + Celery workers per queue on PostGIS and Redis (tests/integration)"
	@echo "make test-faults      kill -9 a worker or daphne, restart Redis or PostgreSQL, Telegram storms (tests/faults)"
	@echo "make classifier-model train the default classifier into var/classifier/ (about 15 min on 2 cores)"

run:
	scripts/run.sh

test:
	scripts/test.sh all

lint:
	scripts/test.sh lint

test-spatialite:
	scripts/test.sh spatialite

test-postgis:
	scripts/test.sh postgis

test-integration:
	scripts/test.sh integration

test-faults:
	scripts/test.sh faults

# A versioned folder var/classifier/crisis-<time>, then var/classifier/default points at it; `make run` (through
# CLASSIFIER_MODEL_DIR) uses it from the next start. Without it the bare encoder and the project's examples serve.
classifier-model:
	@test -f "$(CLASSIFIER_TRAIN)" || { echo "needs $(CLASSIFIER_TRAIN) (set CLASSIFIER_TRAIN=FILE.tsv)"; exit 1; }
	bash -c 'source scripts/common.sh && setup run && mkdir -p var/classifier \
		&& out=var/classifier/crisis-$$(date -u +%Y%m%dT%H%M%S) \
		&& python manage.py train_classifier --train "$(abspath $(CLASSIFIER_TRAIN))" --out "$$out" \
		&& ln -sfn "$$(basename "$$out")" var/classifier/default && echo "var/classifier/default -> $$out"'
