# Shared by scripts/run.sh, scripts/test.sh and .ci/run: system packages, the virtualenv, small helpers.
# Source it from bash; it changes to the repository root.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

PYTHON=${PYTHON:-python3}
VENV="$ROOT/.venv"
# ../shared/data (or SHARED_DATA_DIR, as in the tests) holds externally authored demo and test material;
# it is used when present.
SHARED_DATA=${SHARED_DATA_DIR:-$ROOT/../shared/data}

# Debian packages for GeoDjango on SpatiaLite, building pysqlite3 from source, Redis, and curl (health polling).
SYSTEM_PACKAGES_RUN=(gdal-bin libsqlite3-mod-spatialite libsqlite3-dev binutils libproj-dev redis-server gcc libc6-dev curl gettext)
# The PostGIS test lane also needs PostgreSQL 15 with PostGIS 3; the browser tests need Debian's Chromium (Playwright
# drives it; no browser is downloaded) and fonts for Arabic and Chinese/Japanese in the screenshots.
SYSTEM_PACKAGES_TEST=("${SYSTEM_PACKAGES_RUN[@]}" postgresql-15 postgresql-15-postgis-3 chromium fonts-noto-core fonts-droid-fallback)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[1;31mERROR: %s\033[0m\n' "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root, through sudo otherwise. Fails when neither works.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        return 127
    fi
}

# Installs the given Debian packages unless every one of them is already installed.
system_packages_ensure() {
    local missing=() pkg
    for pkg in "$@"; do
        if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
            missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
        die "missing system packages and neither root nor sudo is available; install them with:
    apt-get update && apt-get install -y ${missing[*]}"
    fi
    say "Installing system packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The packages the interpreter itself needs when it is Debian's python3 (pyenv builds ship their own).
python_packages_needed() {
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        echo python3 python3-venv python3-dev
        return
    fi
    "$PYTHON" -c 'import ensurepip' 2>/dev/null || echo python3-venv
    "$PYTHON" -c 'import os, sysconfig; raise SystemExit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
        || echo python3-dev
}

# Creates .venv and installs requirements/<kind>.txt (base or dev) plus pysqlite3 built from source.
# A stamp keyed on the requirements files and the interpreter skips the install on warm starts;
# a dev install also satisfies base.
venv_ensure() {
    local kind=$1 key stamp
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
        "$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
            || die "$PYTHON is not Python 3.11 (set PYTHON=/path/to/python3.11)"
        say "Creating virtualenv $VENV"
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    key=$( { "$VENV/bin/python" -VV; cat requirements/*.txt; } | sha256sum | cut -c1-16)
    stamp="$VENV/.stamp-$kind-$key"
    if [ -e "$stamp" ] || { [ "$kind" = base ] && [ -e "$VENV/.stamp-dev-$key" ]; }; then
        return 0
    fi
    say "Installing Python packages (requirements/$kind.txt, pysqlite3 from source)"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        --no-binary pysqlite3 -r "requirements/$kind.txt" -r requirements/sqlite.txt
    # pysqlite3 must be able to load SpatiaLite, or GeoDjango on SQLite cannot work.
    "$VENV/bin/python" -c 'import pysqlite3.dbapi2 as s; c = s.connect(":memory:"); c.enable_load_extension(True); c.load_extension("mod_spatialite")' \
        || die "pysqlite3 cannot load mod_spatialite (is libsqlite3-mod-spatialite installed?)"
    rm -f "$VENV"/.stamp-*
    touch "$stamp"
}

# setup run|test: system packages and the virtualenv, then the venv's bin first on PATH.
setup() {
    local kind=$1 packages
    if [ "$kind" = test ]; then packages=("${SYSTEM_PACKAGES_TEST[@]}"); else packages=("${SYSTEM_PACKAGES_RUN[@]}"); fi
    # shellcheck disable=SC2207
    packages+=($(python_packages_needed))
    system_packages_ensure "${packages[@]}"
    venv_ensure "$([ "$kind" = test ] && echo dev || echo base)"
    export VIRTUAL_ENV="$VENV" PATH="$VENV/bin:$PATH"
    node_packages_ensure
    messages_compile
}

# The web pages' front-end packages (package.json, locked in package-lock.json) into node_modules/ with `npm ci`;
# Node.js and npm come from Debian when the machine has no npm. A stamp keyed on the lock file skips it when warm.
node_packages_ensure() {
    local key stamp
    if ! command -v npm >/dev/null 2>&1; then
        system_packages_ensure nodejs npm
    fi
    key=$(sha256sum package-lock.json | cut -c1-16)
    stamp="$ROOT/node_modules/.stamp-$key"
    [ -e "$stamp" ] && return 0
    say "Installing front-end packages (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error || die "npm ci failed"
    touch "$stamp"
}

# The translation catalogues (locale/<lang>/LC_MESSAGES/django.po) compiled to the .mo files gettext reads;
# msgfmt -c also checks each translation keeps the placeholders of its source text.
messages_compile() {
    local po
    for po in locale/*/LC_MESSAGES/*.po; do
        [ -e "$po" ] || continue
        msgfmt --check -o "${po%.po}.mo" "$po" || die "translation catalogue $po does not compile"
    done
}

# True when something accepts TCP connections on 127.0.0.1:<port>.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints the first port from <port> upwards that nothing listens on.
free_port() {
    local port=$1
    while port_in_use "$port"; do port=$((port + 1)); done
    echo "$port"
}

# start_redis <port> <dir>: a private redis-server on 127.0.0.1, in the background; sets REDIS_PID.
start_redis() {
    local port=$1 dir=$2 i
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    port_in_use "$port" && die "port $port is already in use; cannot start redis-server there"
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save "" --appendonly no \
        --daemonize no --logfile "$dir/redis.log" &
    REDIS_PID=$!
    for i in $(seq 50); do
        kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited; see $dir/redis.log"
        [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.1
    done
    die "redis-server did not answer on port $port; see $dir/redis.log"
}

# stop_pid <pid>: TERM, then KILL after 10 s; only for processes this script started.
stop_pid() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
