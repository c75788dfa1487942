#!/usr/bin/env bash
# `make test`: install what is missing, lint (ruff, mypy), then pytest in four lanes:
#   spatialite   SpatiaLite test database + a private redis-server
#   postgis      a throwaway PostgreSQL 15 + PostGIS cluster + the same redis-server, Channels layer on Redis
#   integration  tests/integration: on that cluster and Redis, the tests start two daphne processes and Celery
#                workers on separate queues, as a scaled-out deployment runs
#   faults       tests/faults: the same, and the tests break things mid-flight (kill -9 a worker or a daphne,
#                restart Redis or this PostgreSQL cluster, Telegram 5xx/timeout/429 storms)
# The spatialite and postgis lanes leave tests/integration and tests/faults to their own lanes.
# Usage: scripts/test.sh [all|lint|spatialite|postgis|integration|faults]...   (default: all).
# PYTEST_ARGS is passed to pytest.
# Every service it starts is stopped on exit, by its own pid or data directory, even on failure.
set -euo pipefail
source "$(dirname "$0")/common.sh"

steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(all)
[ "${steps[*]}" = all ] && steps=(lint spatialite postgis integration faults)

PG_BIN=/usr/lib/postgresql/15/bin
PG_ROLE=comms
PG_PASSWORD=comms-test
PG_DB=comms
REDIS_PID=
PG_DATA=
TMP=$(mktemp -d -t commsplatform-test.XXXXXX)

cleanup() {
    trap - EXIT INT TERM
    [ -n "$PG_DATA" ] && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
    [ -n "$REDIS_PID" ] && stop_pid "$REDIS_PID"
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# PostgreSQL refuses to run as root: as root, run it as the postgres user; otherwise as ourselves.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

eval "pytest_args=(${PYTEST_ARGS:-})"

# pytest with the given lane environment; "no tests collected" (exit 5) counts as a failure.
# REQUIRE_SERVICES=1: a test that needs Redis fails, rather than skips, when Redis is not there.
# The first argument after the lane is its folder (empty: pyproject's testpaths, less the multi-process lanes'
# folders), then the lane's environment. When PYTEST_ARGS names tests (an argument starting with tests/), they
# replace the lane's folder.
run_pytest() {
    local lane=$1 paths=${2:-$UNIT_PATHS} rc=0 arg
    shift 2
    for arg in "${pytest_args[@]}"; do
        case $arg in tests/*) paths= ;; esac
    done
    say "pytest, $lane lane"
    # shellcheck disable=SC2086 # the paths are split on purpose
    env -u DATABASE_URL -u CELERY_BROKER_URL -u CELERY_RESULT_BACKEND -u CHANNEL_LAYER_REDIS_URL \
        -u TEST_CHANNEL_LAYER -u DJANGO_SETTINGS_MODULE -u TEST_PG_DATA -u TEST_PG_BIN \
        REQUIRE_SERVICES=1 TEST_LANE="$lane" "$@" python -m pytest $paths "${pytest_args[@]}" || rc=$?
    [ $rc -eq 5 ] && say "pytest collected no tests in the $lane lane"
    return $rc
}

# One redis-server for the whole run; each lane uses its own database number.
redis_ensure() {
    [ -n "$REDIS_PID" ] && return 0
    REDIS_PORT=$(free_port "${TEST_REDIS_PORT:-6391}")
    say "Starting redis-server on 127.0.0.1:$REDIS_PORT"
    start_redis "$REDIS_PORT" "$TMP/redis"
}

# One PostgreSQL cluster for the run (the postgis, integration and faults lanes share it; each test database is
# created and dropped by pytest-django).
start_postgis() {
    [ -n "$PG_DATA" ] && return 0
    local port
    port=$(free_port "${TEST_PG_PORT:-55432}")
    say "Starting PostgreSQL 15 on 127.0.0.1:$port ($TMP/pg)"
    mkdir -p "$TMP/pg"
    chmod 755 "$TMP"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$TMP/pg"; fi
    as_pg "$PG_BIN/initdb" -D "$TMP/pg/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 >"$TMP/pg/initdb.log" || { cat "$TMP/pg/initdb.log" >&2; die "initdb failed"; }
    PG_DATA="$TMP/pg/data"
    # Durability is not needed for a throwaway test database: fsync off makes it much faster.
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$TMP/pg/server.log" -w -t 60 start -o \
        "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$TMP/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        >/dev/null || { cat "$TMP/pg/server.log" >&2; die "PostgreSQL did not start"; }
    as_pg psql -h "$TMP/pg" -p "$port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE $PG_ROLE LOGIN SUPERUSER PASSWORD '$PG_PASSWORD'" \
        -c "CREATE DATABASE $PG_DB OWNER $PG_ROLE" >/dev/null
    # In template1, so that the test database Django creates from it has PostGIS already.
    as_pg psql -h "$TMP/pg" -p "$port" -U postgres -d template1 -q -v ON_ERROR_STOP=1 \
        -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
    PG_PORT=$port
}

pg_url() {
    echo "postgis://$PG_ROLE:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB"
}

# The unit lanes leave the multi-process lanes' folders to those lanes.
UNIT_PATHS="--ignore=tests/integration --ignore=tests/faults"

setup test
failed=()
for step in "${steps[@]}"; do
    case $step in
        lint)
            say "ruff check";          ruff check . || failed+=("ruff check")
            say "ruff format --check"; ruff format --check . || failed+=("ruff format")
            say "mypy";                mypy . || failed+=(mypy)
            ;;
        spatialite)
            redis_ensure
            run_pytest spatialite "" REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" || failed+=("pytest spatialite")
            ;;
        postgis)
            redis_ensure
            start_postgis
            run_pytest postgis "" REDIS_URL="redis://127.0.0.1:$REDIS_PORT/1" TEST_CHANNEL_LAYER=redis \
                DATABASE_URL="$(pg_url)" || failed+=("pytest postgis")
            ;;
        integration)
            redis_ensure
            start_postgis
            run_pytest integration tests/integration REDIS_URL="redis://127.0.0.1:$REDIS_PORT/2" \
                TEST_CHANNEL_LAYER=redis DATABASE_URL="$(pg_url)" || failed+=("pytest integration")
            ;;
        faults)
            redis_ensure
            start_postgis
            # The fault tests restart this cluster mid-dispatch (pg_ctl restart on TEST_PG_DATA, as its owner).
            run_pytest faults tests/faults REDIS_URL="redis://127.0.0.1:$REDIS_PORT/3" TEST_CHANNEL_LAYER=redis \
                DATABASE_URL="$(pg_url)" TEST_PG_DATA="$PG_DATA" TEST_PG_BIN="$PG_BIN" || failed+=("pytest faults")
            ;;
        *) die "unknown step '$step' (expected all, lint, spatialite, postgis, integration or faults)" ;;
    esac
done

if [ ${#failed[@]} -gt 0 ]; then
    die "failed: ${failed[*]}"
fi
say "All passed: ${steps[*]}"
