#!/usr/bin/env bash
# `make run`: install what is missing, prepare the database and static files, load the demo data,
# then serve daphne + a Celery worker + beat (Procfile, through honcho) and wait until /healthz is ok.
# Without REDIS_URL, a private redis-server on 127.0.0.1:6390 (data in var/redis/) is started too.
# Ctrl-C (or SIGTERM to this script) stops everything it started.
set -euo pipefail
source "$(dirname "$0")/common.sh"

WEB_URL=http://127.0.0.1:8000
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-120}
REDIS_PID=
HONCHO_PID=

cleanup() {
    trap - EXIT INT TERM
    [ -n "$HONCHO_PID" ] && stop_pid "$HONCHO_PID"
    [ -n "$REDIS_PID" ] && stop_pid "$REDIS_PID"
    return 0
}
trap cleanup EXIT
trap 'say "Stopping"; exit 130' INT
trap 'say "Stopping"; exit 143' TERM

started=$(date +%s)
setup run
export DJANGO_SETTINGS_MODULE=${DJANGO_SETTINGS_MODULE:-commsplatform.settings.local}
mkdir -p var

port_in_use 8000 && die "port 8000 is already in use (another 'make run'?)"
if [ -z "${REDIS_URL:-}" ]; then
    say "Starting redis-server on 127.0.0.1:6390 (var/redis/)"
    start_redis 6390 var/redis
fi

say "Migrating the database"
python manage.py migrate --noinput
say "Collecting static files"
python manage.py collectstatic --noinput -v 0
say "Loading demo data"
demo_args=()
[ -d "$SHARED_DATA" ] && demo_args=(--data-dir "$SHARED_DATA")
python manage.py load_demo "${demo_args[@]}" | tee var/demo-logins.txt

# The Telegram bot polls for updates only when it has a token (TELEGRAM_BOT_TOKEN); without one it is off.
processes=(web worker beat)
[ -n "${TELEGRAM_BOT_TOKEN:-}" ] && processes+=(bot)
say "Starting ${processes[*]} (Procfile)"
honcho start -f Procfile "${processes[@]}" &
HONCHO_PID=$!

# Poll /healthz until the database, Redis and a Celery worker all answer.
deadline=$(( $(date +%s) + HEALTH_TIMEOUT ))
until [ "$(curl -s -o var/healthz.json -w '%{http_code}' --max-time 5 "$WEB_URL/healthz")" = 200 ]; do
    kill -0 "$HONCHO_PID" 2>/dev/null || die "a process stopped during start-up (see the log above)"
    [ "$(date +%s)" -lt "$deadline" ] \
        || die "/healthz was not ok after ${HEALTH_TIMEOUT}s: $(cat var/healthz.json 2>/dev/null || echo 'no answer')"
    sleep 0.5
done

cat >&2 <<MSG

$(printf '\033[1m')Ready in $(( $(date +%s) - started ))s. Health: $(cat var/healthz.json)$(printf '\033[0m')
  Web pages      $WEB_URL/
  Staff console  $WEB_URL/console/
  Health check   $WEB_URL/healthz
  API docs       $WEB_URL/api/docs/
  OpenAPI schema $WEB_URL/api/schema/
  Admin          $WEB_URL/admin/
Demo logins (from load_demo, also in var/demo-logins.txt):
$(cat var/demo-logins.txt)

Press Ctrl-C to stop.
MSG
wait "$HONCHO_PID"
