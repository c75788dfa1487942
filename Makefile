# Entry points; the work is done by scripts/*.sh (see README.md).
# make test PYTEST_ARGS="-k shelters -x" passes arguments to pytest in every lane.
SHELL := /bin/bash
PYTEST_ARGS ?=
export PYTEST_ARGS

.PHONY: help run test lint test-spatialite test-postgis

help:
	@echo "make run              install, migrate, load demo data, serve on http://127.0.0.1:8000"
	@echo "make test             install, ruff + mypy, pytest on SpatiaLite and on PostGIS"
	@echo "make lint             ruff check, ruff format --check, mypy"
	@echo "make test-spatialite  pytest, SpatiaLite lane only"
	@echo "make test-postgis     pytest, PostGIS lane only"

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
