#!/usr/bin/env bash
# `make run`: the whole platform on this machine, for development.
#
# Runs deploy/setup.sh, applies migrations, starts every process of common/registry.py as a
# child process, in the registry's order (the gateway last), waits until the gateway's /healthz
# answers 200, loads the demo data (families at each state of the journey, the population
# registry, the schools of every district, a draw) and prints the URLs and the demo families'
# sign-ins. Logs go to var/log/<name>.log (JSON lines) and, readable and prefixed, to this
# terminal.
# A process that exits is started again, as the systemd units do (Restart=on-failure), after a
# backoff: RUN_RESTART_MIN_S, doubling up to RUN_RESTART_MAX_S, back to the minimum once it had
# run RUN_RESTART_RESET_S; the others keep serving meanwhile.
# Ctrl-C or SIGTERM stops everything (SIGTERM, then SIGKILL after RUN_STOP_TIMEOUT_S) and
# starts nothing again; a second Ctrl-C kills at once. A run left over from before
# (var/run/*.pid) is stopped first.
#
# Environment (anything already set wins over these development defaults):
#   PLATFORM_ENV=development CAPTCHA_BACKEND=image SMS_BACKEND=outbox SEASON_PHASES=open
#   SMS_OUTBOX_PATH=var/sms-outbox.jsonl GATEWAY_HOST=127.0.0.1 GATEWAY_PORT=8000
#   <NAME>_METRICS_PORT, e.g. ACCOUNTS_METRICS_PORT=9101 (default: the registry's port)
#     (each process gets its own METRICS_PORT from these; a global METRICS_PORT is ignored
#      because processes cannot share one port)
#   <NAME>_EXPENSIVE_METRICS_PORT, e.g. ENROLLMENT_EXPENSIVE_METRICS_PORT=9203 (default: 100
#     above its METRICS_PORT): that of the process's expensive process, if it starts one
#     (common/edge/expensive_process.py)
#   MIGRATION_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/enrollment (migrations, as owner)
#   <NAME>_DATABASE_URL, e.g. ACCOUNTS_DATABASE_URL (default:
#     postgresql://platform_<name>@127.0.0.1:5432/enrollment)
#     (each service with a database gets its own DATABASE_URL from these, its own login role;
#      the others, the gateway, get none, nor MASTER_KEYS: they keep no data)
#   RUN_HEALTH_TIMEOUT_S=60 RUN_STOP_TIMEOUT_S=10 RUN_SKIP_SETUP=1 (skip deploy/setup.sh)
#   RUN_RESTART_MIN_S=1 RUN_RESTART_MAX_S=30 RUN_RESTART_RESET_S=60 (restart backoff)
#   AMQP_URI (default amqp://guest:guest@127.0.0.1:5672/): the broker and vhost. Each process
#     logs in as its own user (var/amqp/<name>.env, made once with a random password), with
#     only the permissions it needs; RABBITMQ_API (default http://guest:guest@127.0.0.1:15672/api)
#     creates them and the RPC queue bounds policy, and makes event queues an earlier version
#     left as classic queues quorum queues, messages kept (common/broker.py)
#   NO_COLOR=1 (plain terminal output)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"   # physical: compared with /proc/<pid>/cwd
cd "$ROOT"

export PLATFORM_ENV="${PLATFORM_ENV:-development}"
export CAPTCHA_BACKEND="${CAPTCHA_BACKEND:-image}"
export SMS_BACKEND="${SMS_BACKEND:-outbox}"
export SMS_OUTBOX_PATH="${SMS_OUTBOX_PATH:-var/sms-outbox.jsonl}"
export SEASON_PHASES="${SEASON_PHASES:-open}"   # every phase of the season open, for the demo
export GATEWAY_HOST="${GATEWAY_HOST:-127.0.0.1}"
export GATEWAY_PORT="${GATEWAY_PORT:-8000}"
export MIGRATION_DATABASE_URL="${MIGRATION_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/enrollment}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
# eventlet warns on import (from the launcher, which is __main__) that it is deprecated
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::Warning:__main__}"

HEALTH_TIMEOUT_S="${RUN_HEALTH_TIMEOUT_S:-60}"
STOP_TIMEOUT_S="${RUN_STOP_TIMEOUT_S:-10}"
RESTART_MIN_S="${RUN_RESTART_MIN_S:-1}"
RESTART_MAX_S="${RUN_RESTART_MAX_S:-30}"
RESTART_RESET_S="${RUN_RESTART_RESET_S:-60}"
PY="$ROOT/.venv/bin/python"

NAMES=()                 # the processes in start order (read_registry)
declare -A DATABASE_URLS=()  # name -> its DATABASE_URL, for those with a database
declare -A METRICS=()    # name -> its metrics port
declare -A EXPENSIVE_METRICS=()  # name -> its expensive process's, if it starts one
declare -A PIDS=()       # name -> pid of the process
declare -A LOG_PIDS=()   # name -> pid of its log pipeline (tee | logview)
declare -A STARTED=()    # name -> $SECONDS when it was last started
declare -A DELAY=()      # name -> the backoff before its next restart, in seconds
declare -A DUE=()        # name -> $SECONDS when an exited process is started again

case "$GATEWAY_HOST" in
    0.0.0.0|127.0.0.1|localhost|"") PROBE_HOST=127.0.0.1 ;;
    ::|::1) PROBE_HOST=::1 ;;
    *) PROBE_HOST="$GATEWAY_HOST" ;;
esac
if [[ "$PROBE_HOST" == *:* ]]; then URL_HOST="[$PROBE_HOST]"; else URL_HOST="$PROBE_HOST"; fi
BASE_URL="http://$URL_HOST:$GATEWAY_PORT"

say() { printf 'run: %s\n' "$*"; }
warn() { printf 'run: %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------------------------
# process helpers
# ---------------------------------------------------------------------------------------------
# alive PID: the process exists and is not a zombie.
alive() {
    local state
    [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
    state="$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
    [ -n "$state" ] && [ "$state" != "Z" ]
}

# ours PID MARKER: a live process started from this checkout whose command line has MARKER.
ours() {
    local pid="$1" marker="$2" cmdline cwd
    alive "$pid" || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    cwd="$(readlink "/proc/$pid/cwd" 2>/dev/null)" || return 1
    [[ "$cmdline" == *"$marker"* ]] && [ "$cwd" = "$ROOT" ]
}

# pause SECONDS: sleeps, but lets a trapped signal in at once.
pause() { sleep "$1" & wait $! 2>/dev/null || true; }

# terminate PID...: SIGTERM, wait up to STOP_TIMEOUT_S, then SIGKILL what is left.
FORCE=0
terminate() {
    local pid left deadline=$((SECONDS + STOP_TIMEOUT_S))
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    while :; do
        left=()
        for pid in "$@"; do alive "$pid" && left+=("$pid"); done
        [ "${#left[@]}" -gt 0 ] || return 0
        if [ "$FORCE" -eq 1 ] || [ "$SECONDS" -ge "$deadline" ]; then
            warn "killing ${left[*]} (did not stop within ${STOP_TIMEOUT_S}s)"
            for pid in "${left[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
            # Reap our own children here, so bash does not print "Killed <command line>".
            for pid in "${left[@]}"; do wait "$pid" 2>/dev/null || true; done
            return 0
        fi
        sleep 0.2
    done
}

# shellcheck disable=SC2016  # $1 and $2 expand in the inner bash
port_taken() { timeout 1 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

# The processes of common/registry.py, each with its metrics port and, if it keeps data, its own
# database login (<NAME>_METRICS_PORT, <NAME>_DATABASE_URL, else the defaults).
read_registry() {
    local table name port role var
    table="$("$PY" -m common.registry processes)"
    while read -r name port role; do
        NAMES+=("$name")
        var="${name^^}_METRICS_PORT"
        METRICS[$name]="${!var:-$port}"
        var="${name^^}_EXPENSIVE_METRICS_PORT"
        EXPENSIVE_METRICS[$name]="${!var:-$((METRICS[$name] + 100))}"
        if [ "$role" != "-" ]; then
            var="${name^^}_DATABASE_URL"
            DATABASE_URLS[$name]="${!var:-postgresql://$role@127.0.0.1:5432/enrollment}"
        fi
    done <<<"$table"
}

# ---------------------------------------------------------------------------------------------
# leftovers from an earlier run (killed with SIGKILL, terminal closed, ...)
# ---------------------------------------------------------------------------------------------
stop_previous_run() {
    mkdir -p var/run var/log
    local pid name found=()
    if [ -f var/run/run.pid ]; then
        pid="$(cat var/run/run.pid 2>/dev/null || true)"
        if [ "$pid" != "$$" ] && ours "$pid" "run.sh"; then
            say "stopping the previous run.sh (pid $pid)"
            STOP_TIMEOUT_S=$((STOP_TIMEOUT_S + 10)) terminate "$pid"
        fi
    fi
    for name in "${NAMES[@]}"; do
        [ -f "var/run/$name.pid" ] || continue
        pid="$(cat "var/run/$name.pid" 2>/dev/null || true)"
        if ours "$pid" "common.edge.launcher $name"; then found+=("$pid"); fi
        rm -f "var/run/$name.pid"
    done
    if [ "${#found[@]}" -gt 0 ]; then
        say "stopping processes left by a previous run: ${found[*]}"
        terminate "${found[@]}"
    fi
    rm -f var/run/run.pid
}

check_ports() {
    local name port i busy=()
    local -a checks=("gateway:$PROBE_HOST:$GATEWAY_PORT")
    for name in "${NAMES[@]}"; do checks+=("$name metrics:127.0.0.1:${METRICS[$name]}"); done
    for i in "${checks[@]}"; do
        port="${i##*:}"
        local rest="${i%:*}" what host
        what="${rest%%:*}"
        host="${rest#*:}"
        local tries
        for ((tries = 0; tries < 25; tries++)); do port_taken "$host" "$port" || break; sleep 0.2; done
        if port_taken "$host" "$port"; then busy+=("$what port $port"); fi
    done
    if [ "${#busy[@]}" -gt 0 ]; then
        warn "ports already in use by something this script did not start: ${busy[*]}"
        if command -v ss >/dev/null 2>&1; then ss -ltnp 2>/dev/null | grep -E ":($(
            printf '%s\n' "${busy[@]}" | awk '{print $NF}' | paste -sd'|'))\b" >&2 || true; fi
        warn "stop it, or choose other ports (GATEWAY_PORT, *_METRICS_PORT)"
        exit 1
    fi
}

# ---------------------------------------------------------------------------------------------
# start / stop
# ---------------------------------------------------------------------------------------------
# `env` arguments for one process: its own DATABASE_URL; never the owner's login; the gateway
# neither a database login nor the master keys.
process_env() {
    printf '%s\n' -u MIGRATION_DATABASE_URL -u DATABASE_URL
    if [ -n "${DATABASE_URLS[$1]:-}" ]; then
        printf '%s\n' "DATABASE_URL=${DATABASE_URLS[$1]}"
    else
        printf '%s\n' -u MASTER_KEYS
    fi
}

start_process() {
    local name="$1" log="var/log/$1.log" fd
    if [ -z "${STARTED[$name]:-}" ]; then   # a restart appends: the crash stays in the log
        [ -f "$log" ] && mv -f "$log" "$log.1"
        : >"$log"
    fi
    # The log pipeline: file copy first (tee -p keeps writing the file if the terminal goes away),
    # then the readable terminal copy. It ignores INT/TERM/HUP and ends when the process closes
    # its output, so the last lines are never lost.
    exec {fd}> >(trap '' INT TERM HUP; tee -p -a "$log" | "$PY" -u deploy/logview.py "$name")
    LOG_PIDS[$name]=$!
    # Started in the background by a non-interactive shell, the process ignores SIGINT (POSIX):
    # Ctrl-C reaches this script only, which stops everything with SIGTERM.
    # Each process sees only its own database login, keys and broker user (see process_env).
    # shellcheck disable=SC2046  # one argument per line, none with spaces
    env $(process_env "$name") METRICS_PORT="${METRICS[$name]}" \
        EXPENSIVE_METRICS_PORT="${EXPENSIVE_METRICS[$name]}" AMQP_URI="$(amqp_uri_of "$name")" \
        "$PY" -m common.edge.launcher "$name" </dev/null >&"$fd" 2>&1 &
    PIDS[$name]=$!
    exec {fd}>&-
    echo "${PIDS[$name]}" >"var/run/$name.pid"
    STARTED[$name]=$SECONDS
    DELAY[$name]="${DELAY[$name]:-$RESTART_MIN_S}"
}

stop_all() {
    local name i pids=() names=() logpids=()
    for ((i = ${#NAMES[@]} - 1; i >= 0; i--)); do   # gateway first, then the services
        name="${NAMES[$i]}"
        if [ -n "${PIDS[$name]:-}" ] && alive "${PIDS[$name]}"; then
            pids+=("${PIDS[$name]}")
            names+=("$name")
        fi
    done
    if [ "${#pids[@]}" -gt 0 ]; then
        say "stopping ${names[*]}"
        terminate "${pids[@]}"
    fi
    # Let the log pipelines drain (they end on their own once the processes are gone).
    for name in "${!LOG_PIDS[@]}"; do logpids+=("${LOG_PIDS[$name]}"); done
    local deadline=$((SECONDS + 3)) pid
    for pid in "${logpids[@]}"; do
        while alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    done
    for name in "${!PIDS[@]}"; do rm -f "var/run/$name.pid"; done
    PIDS=()
    LOG_PIDS=()
}

# Each process its own broker user with only its permissions, the RPC queue bounds, and event
# queues made quorum queues (the processes are stopped by then); each district system its own
# user too (var/amqp/district-<code>.env, for the district client).
broker_users() {
    local args=() name
    (umask 077 && "$PY" -m common.broker make-env \
        --base-uri "${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/}" --dir var/amqp) >/dev/null
    for name in "${NAMES[@]}" $("$PY" -m common.broker districts); do
        args+=(--env "$name=var/amqp/$name.env")
    done
    "$PY" -m common.broker provision --api "${RABBITMQ_API:-http://guest:guest@127.0.0.1:15672/api}" \
        "${args[@]}" >/dev/null
}

amqp_uri_of() { sed -n 's/^AMQP_URI=//p' "var/amqp/$1.env"; }

STATUS_REPORTED=0
cleanup() {
    local rc=$?
    trap 'FORCE=1' INT TERM HUP     # a second Ctrl-C: kill at once
    stop_all
    if [ -f var/run/run.pid ] && [ "$(cat var/run/run.pid 2>/dev/null)" = "$$" ]; then
        rm -f var/run/run.pid
    fi
    [ "$STATUS_REPORTED" -eq 1 ] && say "stopped"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo; say "SIGINT: shutting down"; STATUS_REPORTED=1; exit 0' INT
trap 'say "SIGTERM: shutting down"; STATUS_REPORTED=1; exit 0' TERM
trap 'STATUS_REPORTED=1; exit 0' HUP

show_logs() {
    local name lines="$1"; shift
    for name in "$@"; do
        warn "----- last $lines lines of var/log/$name.log -----"
        tail -n "$lines" "var/log/$name.log" 2>/dev/null \
            | NO_COLOR=1 "$PY" deploy/logview.py "$name" >&2 || true
    done
}

# supervise: one pass over the processes: an exited one is scheduled to start again after its
# backoff (reset once it had run RESTART_RESET_S), one whose time has come is started. Only the
# main loop calls it: once shutting down (the traps), nothing is started again.
supervise() {
    local name rc ran
    for name in "${NAMES[@]}"; do
        if [ -n "${PIDS[$name]:-}" ] && ! alive "${PIDS[$name]}"; then
            rc=0
            wait "${PIDS[$name]}" 2>/dev/null || rc=$?
            unset 'PIDS[$name]'
            rm -f "var/run/$name.pid"
            ran=$((SECONDS - STARTED[$name]))
            [ "$ran" -lt "$RESTART_RESET_S" ] || DELAY[$name]=$RESTART_MIN_S
            DUE[$name]=$((SECONDS + DELAY[$name]))
            pause 0.3   # let its last lines reach the terminal and the log
            warn "$name exited with code $rc; restarting in ${DELAY[$name]} s" \
                "(its output is above and in var/log/$name.log)"
            DELAY[$name]=$((DELAY[$name] * 2 < RESTART_MAX_S ? DELAY[$name] * 2 : RESTART_MAX_S))
        elif [ -n "${DUE[$name]:-}" ] && [ "$SECONDS" -ge "${DUE[$name]}" ]; then
            unset 'DUE[$name]'
            start_process "$name"
            say "restarted $name (pid ${PIDS[$name]})"
        fi
    done
}

LAST_HEALTH="no answer"
healthy() {
    local code
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$BASE_URL/healthz" 2>/dev/null)" \
        || true
    case "$code" in
        200) return 0 ;;
        ""|000) LAST_HEALTH="no answer" ;;
        *) LAST_HEALTH="HTTP $code" ;;
    esac
    return 1
}

# ---------------------------------------------------------------------------------------------
main() {
    if [ "${RUN_SKIP_SETUP:-0}" != "1" ]; then
        bash deploy/setup.sh
    fi
    [ -x "$PY" ] || { warn "no .venv: run deploy/setup.sh"; exit 1; }
    read_registry

    stop_previous_run
    check_ports
    echo "$$" >var/run/run.pid
    mkdir -p "$(dirname "$SMS_OUTBOX_PATH")"

    say "broker users and RPC queue bounds"
    if ! broker_users; then
        warn "could not set up the broker's users (is the management API reachable?)"
        exit 1
    fi

    say "applying migrations"
    if ! "$PY" -m common.migrations; then
        warn "migrations failed"
        exit 1
    fi

    local name metrics=""
    for name in "${NAMES[@]}"; do
        start_process "$name"
        say "started $name (pid ${PIDS[$name]}, log var/log/$name.log)"
        metrics+="${metrics:+, }$name 127.0.0.1:${METRICS[$name]}"
    done

    say "waiting for $BASE_URL/healthz (up to ${HEALTH_TIMEOUT_S}s)"
    local deadline=$((SECONDS + HEALTH_TIMEOUT_S))
    until healthy; do
        supervise
        if [ "$SECONDS" -ge "$deadline" ]; then
            warn "the gateway did not report healthy within ${HEALTH_TIMEOUT_S}s" \
                "(last answer from $BASE_URL/healthz: $LAST_HEALTH)"
            show_logs 20 "${NAMES[@]}"
            exit 1
        fi
        pause 0.5
    done

    # Demo data: registered families, so a newcomer can sign in at once; one line each:
    # account number, password, sign-in path, who.
    local families
    # shellcheck disable=SC2046  # as in start_process
    families="$(env $(process_env accounts) "$PY" -m services.accounts.demo)" || { warn "demo families not registered (the error is above)"; families=""; }
    # The embedded population registry's demo residents (services/verification/README.md).
    local registry
    # shellcheck disable=SC2046  # as in start_process
    registry="$(env $(process_env verification) "$PY" -m services.verification.load_registry services/verification/demo_registry.csv 2>&1)" || { warn "demo registry not loaded: $registry"; registry="-"; }
    # The demo schools of all 18 districts, marked as demo (services/enrollment/demo_schools.csv).
    local schools
    # shellcheck disable=SC2046  # as in start_process
    schools="$(env $(process_env enrollment) "$PY" -m services.enrollment.schools import services/enrollment/demo_schools.csv 2>&1)" || { warn "demo schools not imported: $schools"; schools="-"; }
    # The families' details, each at another state of the journey, checked against that
    # registry (so only once it is loaded); one line each: account number, state.
    local states=""
    if [ -n "$families" ] && [ "$registry" != "-" ]; then
        say "entering the demo families' details (up to a minute)"
        # shellcheck disable=SC2046  # as in start_process; account numbers have no spaces
        states="$(env $(process_env enrollment) "$PY" -m services.enrollment.demo $(cut -d' ' -f1 <<<"$families"))" || { warn "demo details not entered (the error is above)"; states=""; }
    fi
    local -A state_of=()
    local account password path who state signins=""
    while read -r account state; do
        [ -n "$account" ] || continue
        state_of[$account]="$state"
    done <<<"$states"
    while read -r account password path who; do
        [ -n "$account" ] || continue
        signins+="run:   $BASE_URL$path  account $account  password $password"
        signins+="  ($who)${state_of[$account]:+: ${state_of[$account]}}"$'\n'
    done <<<"$families"
    # A published demo draw (synthetic district, 2,000 applicants) that anyone can verify.
    local draw
    draw="$("$PY" -m services.enrollment.allocation demo --out var/demo-draw 2>&1)" \
        || { warn "demo draw not written: $draw"; draw="-"; }

    cat <<EOF
run: ------------------------------------------------------------------------
run: the platform is up:    $BASE_URL
run: demo families, each at another state of 录入详细信息, its 身份证及户籍信息核验 and the result:
${signins}run: SMS outbox (dev only): $BASE_URL/dev/sms
run: demo registry:         $registry
run: demo schools:          $schools
run: demo draw:            $draw
run:   check it:            $PY -m services.enrollment.allocation verify var/demo-draw
run: metrics:               $metrics
run: logs:                  var/log/<name>.log (${NAMES[*]})
run: a process that exits is started again; Ctrl-C stops everything.
run: ------------------------------------------------------------------------
EOF

    while :; do
        pause 0.5
        supervise
    done
}

main "$@"
