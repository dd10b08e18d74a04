#!/usr/bin/env bash
# Prepares one machine to run (and test) the platform. Idempotent: run it as often as you like;
# when everything is already in place it only checks and prints one line per step.
#
#   deploy/setup.sh          packages, .venv (requirements.txt), PostgreSQL, RabbitMQ, database
#   deploy/setup.sh --dev    the same, and requirements-dev.txt (pytest, playwright, ruff)
#   deploy/setup.sh --dev --python-only   only the virtualenv step (used by `make lint`)
#   deploy/setup.sh --broker-tls          also give the local RabbitMQ a TLS listener on 5671 with
#                                         the certificate of var/tls/ (once: skipped when its
#                                         rabbitmq.conf already has a listeners.ssl line)
#   deploy/setup.sh --broker-users DIR    also create each process's RabbitMQ user from
#                                         DIR/<process>.env (their AMQP_URI) with
#                                         only its permissions (and each district system's,
#                                         DIR/district-<code>.env), and the RPC queue bounds policy;
#                                         classic event queues of an earlier version become
#                                         quorum queues (stop notify first)
#   deploy/setup.sh --roles  only the database roles, with passwords (production database server;
#                            see deploy/db-roles.sql and deploy/README.md): ADMIN_DATABASE_URL
#                            and, for each role, PLATFORM_<ROLE>_PASSWORD (PLATFORM_OWNER_PASSWORD,
#                            PLATFORM_ACCOUNTS_PASSWORD, ...: python3 -m common.registry roles)
#   deploy/setup.sh --service-commands  print how the local RabbitMQ is started and restarted
#                            on this machine (the service manager's commands), change nothing
#
# Always: a CA and a broker certificate in AMQP_TLS_DIR (default var/tls; deploy/tls-certs.sh,
# made once) for localhost, 127.0.0.1 and this host's name.
#
# Works on Debian 12 as root (or as a user with sudo), with or without systemd (containers).
# Environment: MIGRATION_DATABASE_URL (the login that migrates: default postgres@127.0.0.1),
# AMQP_URI (same default as the services), PYTHON (interpreter used to
# create .venv, default python3), SETUP_WAIT_S (how long to wait for a server, default 60),
# PG_CLUSTER (the local Debian PostgreSQL cluster to start when it is down, default main),
# RABBITMQ_API (management API with administrator credentials, for --broker-users; default
# http://guest:guest@127.0.0.1:15672/api), RABBITMQ_CONF (default /etc/rabbitmq/rabbitmq.conf).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

DEV=0
PYTHON_ONLY=0
ROLES_ONLY=0
SERVICE_COMMANDS=0
BROKER_TLS=0
BROKER_USERS=""
while [ $# -gt 0 ]; do
    arg="$1"
    shift
    case "$arg" in
        --dev) DEV=1 ;;
        --python-only) PYTHON_ONLY=1 ;;
        --roles) ROLES_ONLY=1 ;;
        --service-commands) SERVICE_COMMANDS=1 ;;
        --broker-tls) BROKER_TLS=1 ;;
        --broker-users) BROKER_USERS="${1:?--broker-users needs a directory}"; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' \
                       "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "setup: unknown argument: $arg (use --dev, --python-only, --roles," \
               "--broker-tls, --broker-users DIR, --service-commands)" >&2; exit 2 ;;
    esac
done

DATABASE_URL="${MIGRATION_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/enrollment}"
AMQP_URI="${AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/}"
WAIT_S="${SETUP_WAIT_S:-60}"
PG_CLUSTER="${PG_CLUSTER:-main}"
VENV="$ROOT/.venv"
STAMP="$VENV/.requirements.sha256"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# The platform's database roles (common/registry.py), one a line: the schemas' owner first, then
# each service's login. Needs python3 (step 1 installs it).
platform_roles() { python3 -m common.registry roles; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif have sudo; then
        sudo "$@"
    else
        die "need root for: $* (run as root or install sudo)"
    fi
}

# Runs a command as the postgres system user (peer authentication over the unix socket).
as_postgres() {
    (
        cd /   # the postgres user may not be allowed into the current directory
        if [ "$(id -u)" -eq 0 ]; then
            runuser -u postgres -- "$@"
        else
            sudo -u postgres "$@"
        fi
    )
}

systemd_running() { [ -d /run/systemd/system ] && have systemctl; }

# tcp_open HOST PORT: true when something accepts connections there.
# shellcheck disable=SC2016  # $1 and $2 expand in the inner bash
tcp_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

is_local_host() {
    case "$1" in 127.0.0.1|localhost|::1|"") return 0 ;; *) return 1 ;; esac
}

# ---------------------------------------------------------------------------------------------
# 1. Debian packages (only what is missing; `apt-get update` only when something is missing).
# ---------------------------------------------------------------------------------------------
# chromium: browser tests (/usr/bin/chromium); libatomic1: Playwright's bundled node driver
# links against it. The documents service's forms: WeasyPrint's libraries (Pango with its
# FreeType backend and HarfBuzz), libharfbuzz-subset0 (fonts subset in C: about 0.3 s a page
# instead of 10 s in Python), the Noto CJK fonts they print in (fonts-noto-cjk), and
# poppler-utils (pdffonts, pdftoppm) for their tests.
PACKAGES=(python3 python3-venv postgresql rabbitmq-server curl ca-certificates openssl make
          chromium libatomic1 libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b
          libharfbuzz-subset0 fontconfig fonts-noto-cjk poppler-utils)

pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

apt_updated=0
apt_install() {
    if ! have apt-get; then
        die "missing packages ($*) and no apt-get: install them by hand"
    fi
    if [ "$apt_updated" -eq 0 ]; then
        say "packages: apt-get update"
        if ! as_root apt-get update -qq; then
            say "packages: apt-get update failed, trying with the package lists already here"
        fi
        apt_updated=1
    fi
    say "packages: installing $*"
    # C.UTF-8 so that a PostgreSQL cluster created by the package's postinst is UTF8, not SQL_ASCII.
    as_root env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8 \
        apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

step_packages() {
    if ! have dpkg-query; then
        say "packages: not a Debian system, skipping (install ${PACKAGES[*]} yourself)"
        return
    fi
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        pkg_installed "$p" || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        apt_install "${missing[@]}"
        say "packages: installed ${missing[*]}"
    else
        say "packages: ok"
    fi
}

# ---------------------------------------------------------------------------------------------
# 2. Python virtualenv in .venv; requirements reinstalled only when requirements*.txt changed.
# ---------------------------------------------------------------------------------------------
pick_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3 python3.11 /usr/bin/python3; do
        [ -n "$candidate" ] || continue
        have "$candidate" || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    die "no Python >= 3.11 found (set PYTHON=/path/to/python3.11)"
}

req_hash() { cat "$@" | sha256sum | cut -d' ' -f1; }

pip_install() {
    local req="$1" log
    log="$(mktemp)"
    if "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >"$log" 2>&1; then
        rm -f "$log"
        return 0
    fi
    # No wheel for something: a compiler and the Python headers are needed. Install and retry once.
    if have dpkg-query && { ! pkg_installed gcc || ! pkg_installed python3-dev; }; then
        say "python: pip failed, installing gcc and python3-dev and retrying"
        apt_install gcc python3-dev
        if "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$req" \
                >"$log" 2>&1; then
            rm -f "$log"
            return 0
        fi
    fi
    tail -n 40 "$log" >&2
    rm -f "$log"
    die "pip install -r $req failed"
}

step_python() {
    if [ -x "$VENV/bin/python" ] \
            && ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
                2>/dev/null; then
        say "python: .venv is broken or too old, recreating it"
        rm -rf "$VENV"
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        local py
        py="$(pick_python)"
        say "python: creating .venv with $("$py" -c 'import sys; print(sys.executable)')"
        rm -rf "$VENV"
        "$py" -m venv "$VENV" || die "python3 -m venv failed (is python3-venv installed?)"
    fi

    # The stamp holds "runtime <hash>" and, after a --dev install, "dev <hash>".
    local runtime_hash dev_hash kind want req
    runtime_hash="runtime $(req_hash requirements.txt)"
    dev_hash="dev $(req_hash requirements.txt requirements-dev.txt)"
    if [ "$DEV" -eq 1 ]; then kind="dev"; want="$dev_hash"; req="requirements-dev.txt"
    else kind="runtime"; want="$runtime_hash"; req="requirements.txt"; fi

    if [ -f "$STAMP" ] && grep -qxF "$want" "$STAMP"; then
        say "python: .venv ok ($kind requirements unchanged)"
        return
    fi
    say "python: installing $req into .venv"
    pip_install "$req"
    if [ "$DEV" -eq 1 ]; then
        printf '%s\n%s\n' "$runtime_hash" "$dev_hash" >"$STAMP"
    else
        printf '%s\n' "$runtime_hash" >"$STAMP"
    fi
    say "python: .venv ready ($kind requirements installed)"
}

# ---------------------------------------------------------------------------------------------
# URL parsing (Python's urllib; the system python3 is there after step 1).
# ---------------------------------------------------------------------------------------------
# url_parts URL DEFAULT_PORT -> "host port user dbname" (one per line)
url_parts() {
    python3 - "$1" "$2" <<'EOF'
import sys
from urllib.parse import unquote, urlsplit
u = urlsplit(sys.argv[1])
print(u.hostname or "127.0.0.1")
print(u.port or sys.argv[2])
print(unquote(u.username or ""))
print(unquote(u.path.lstrip("/")))
EOF
}

# with_dbname URL NAME -> the same URL pointing at database NAME
with_dbname() {
    python3 - "$1" "$2" <<'EOF'
import sys
from urllib.parse import quote, urlsplit, urlunsplit
u = urlsplit(sys.argv[1])
print(urlunsplit(u._replace(path="/" + quote(sys.argv[2]))))
EOF
}

# ---------------------------------------------------------------------------------------------
# 3. PostgreSQL: running, passwordless loopback for user postgres, autovacuum on, and the
#    database exists.
# ---------------------------------------------------------------------------------------------
PG_HOST="" PG_PORT="" PG_USER="" PG_DB=""

pg_ready() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1; }

# Connects like the services and the tests do: no password prompt, ever.
pg_try() {
    PGCONNECT_TIMEOUT=5 psql -X -w -q -At -c 'SELECT 1' "$@" >/dev/null 2>&1
}

# shellcheck disable=SC2012  # version directories are plain names like 15
pg_start_local() {
    local version
    version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -z "$version" ]; then
        version="$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n 1 || true)"
        [ -n "$version" ] || die "PostgreSQL is not installed"
    fi
    if [ ! -d "/etc/postgresql/$version/$PG_CLUSTER" ]; then
        say "postgresql: creating cluster $version/$PG_CLUSTER"
        as_root pg_createcluster --locale C.UTF-8 --port "$PG_PORT" "$version" "$PG_CLUSTER" \
            >/dev/null
    fi
    say "postgresql: starting cluster $version/$PG_CLUSTER"
    if systemd_running; then
        as_root systemctl start "postgresql@$version-$PG_CLUSTER" \
            || as_root pg_ctlcluster "$version" "$PG_CLUSTER" start
    else
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$PG_CLUSTER" start
    fi
}

pg_allow_loopback_trust() {
    # Development-machine setting: Debian's default pg_hba.conf asks for a password (scram) on
    # 127.0.0.1, but the services' and tests' default URL has none. Trust the loopback for the
    # postgres user only. Never do this on a shared or production database server.
    local hba marker="# enrollment-platform deploy/setup.sh: development machine only"
    local users
    users="postgres,$(platform_roles | paste -sd, -)"
    hba="$(as_postgres psql -X -At -p "$PG_PORT" -c 'SHOW hba_file' 2>/dev/null)" \
        || die "cannot reach PostgreSQL as the postgres system user to read pg_hba.conf"
    if as_root grep -qF "host    all             $users " "$hba"; then
        die "passwordless loopback login fails although $hba trusts $users"
    fi
    say "postgresql: allowing passwordless loopback logins for $users in $hba"
    local tmp
    tmp="$(mktemp)"
    {
        echo "$marker"
        echo "host    all             $users 127.0.0.1/32            trust"
        echo "host    all             $users ::1/128                 trust"
        echo
        as_root cat "$hba"
    } >"$tmp"
    # shellcheck disable=SC2016  # expands in the inner sh
    as_root sh -c 'cat "$1" > "$2"' _ "$tmp" "$hba"   # keeps the file's owner and mode
    rm -f "$tmp"
    as_postgres psql -X -q -At -p "$PG_PORT" -c 'SELECT pg_reload_conf()' >/dev/null
    sleep 1
}

step_postgresql() {
    local parts
    parts="$(url_parts "$DATABASE_URL" 5432)"
    { read -r PG_HOST; read -r PG_PORT; read -r PG_USER; read -r PG_DB; } <<<"$parts"
    [ -n "$PG_DB" ] || PG_DB="enrollment"
    [ -n "$PG_USER" ] || PG_USER="postgres"

    if ! pg_ready; then
        is_local_host "$PG_HOST" || die "PostgreSQL at $PG_HOST:$PG_PORT is not reachable"
        pg_start_local
        local i
        for ((i = 0; i < WAIT_S; i++)); do pg_ready && break; sleep 1; done
        pg_ready || die "PostgreSQL did not come up on $PG_HOST:$PG_PORT within ${WAIT_S}s"
    fi

    if is_local_host "$PG_HOST" \
            && ! pg_try -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres; then
        pg_allow_loopback_trust
        pg_try -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
            || die "still cannot log in as postgres@127.0.0.1:$PG_PORT without a password"
    fi
    if is_local_host "$PG_HOST"; then
        dev_service_roles
    fi

    local admin_url
    admin_url="$(with_dbname "$DATABASE_URL" postgres)"
    pg_try -d "$admin_url" || die "cannot connect to $PG_HOST:$PG_PORT as ${PG_USER} (MIGRATION_DATABASE_URL)"

    local encoding
    encoding="$(psql -X -w -At -d "$admin_url" \
        -c "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = 'template1'")"
    if [ "$encoding" != "UTF8" ]; then
        say "postgresql: WARNING: template1 encoding is $encoding, not UTF8; new databases" \
            "(tests create their own) will not store Chinese text reliably"
    fi
    pg_autovacuum "$admin_url"
    say "postgresql: running on $PG_HOST:$PG_PORT"
}

# The outboxes, the SMS messages and the captchas are queues: until a vacuum, every statement on
# them steps over their dead rows (measured: deploy/README.md). Some test machines' configurations
# turn autovacuum off: on this machine's server it is turned back on; on another one, a warning.
pg_autovacuum() {
    local admin_url="$1"
    [ "$(psql -X -w -At -d "$admin_url" -c 'SHOW autovacuum')" = "on" ] && return
    if is_local_host "$PG_HOST" && psql -X -w -q -At -d "$admin_url" \
            -c 'ALTER SYSTEM SET autovacuum = on' -c 'SELECT pg_reload_conf()' >/dev/null 2>&1
    then
        say "postgresql: autovacuum was off; turned on (ALTER SYSTEM, postgresql.auto.conf)"
    else
        say "postgresql: WARNING: autovacuum is off on $PG_HOST:$PG_PORT; the platform's queue" \
            "tables grow slower to read until someone vacuums them"
    fi
}

# Development: the services' login roles exist, without passwords, and log in over the loopback
# (an earlier setup may have trusted only postgres there).
dev_service_roles() {
    local admin_url roles role values="" login=NOLOGIN   # the owner's: it never logs in
    admin_url="$(with_dbname "$DATABASE_URL" postgres)"
    roles="$(platform_roles)"
    for role in $roles; do
        values+="${values:+, }('$role', '$login')"
        login=LOGIN
    done
    psql -X -w -q -At -v ON_ERROR_STOP=1 -d "$admin_url" >/dev/null <<EOF
SELECT format('CREATE ROLE %I %s', name, login) FROM (VALUES $values) AS r(name, login)
    WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = name) \gexec
EOF
    for role in $(tail -n +2 <<<"$roles"); do   # the services' logins
        if ! pg_try -h 127.0.0.1 -p "$PG_PORT" -U "$role" -d postgres; then
            pg_allow_loopback_trust
            return
        fi
    done
}

# Production: the roles with passwords, on the database server, by an administrator login
# (ADMIN_DATABASE_URL, a superuser or CREATEROLE role, pointing at the platform's database).
step_roles() {
    local roles role var privileges="CREATE, CONNECT"   # the owner's: it creates the schemas
    roles="$(platform_roles)"
    [ -n "${ADMIN_DATABASE_URL:-}" ] || die "--roles needs ADMIN_DATABASE_URL"
    for role in $roles; do
        var="${role^^}_PASSWORD"
        [ -n "${!var:-}" ] || die "--roles needs $var"
    done
    for role in $roles; do
        var="${role^^}_PASSWORD"
        psql -X -w -q -At -v ON_ERROR_STOP=1 -d "$ADMIN_DATABASE_URL" -v role="$role" \
            -v password="${!var}" -v privileges="$privileges" -f deploy/db-roles.sql >/dev/null
        privileges="CONNECT"   # the services' logins
    done
    say "roles: ${roles//$'\n'/, } ready"
}

step_database() {
    local admin_url exists
    admin_url="$(with_dbname "$DATABASE_URL" postgres)"
    exists="$(psql -X -w -At -v db="$PG_DB" -d "$admin_url" \
        <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")"
    if [ "$exists" = "1" ]; then
        say "database: $PG_DB exists"
        return
    fi
    psql -X -w -q -At -v ON_ERROR_STOP=1 -v db="$PG_DB" -d "$admin_url" >/dev/null <<'EOF'
CREATE DATABASE :"db" ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0;
EOF
    say "database: created $PG_DB"
}

# ---------------------------------------------------------------------------------------------
# 4. RabbitMQ: running, management plugin enabled, management API answering guest:guest.
# ---------------------------------------------------------------------------------------------
MGMT_URL="http://127.0.0.1:15672/api/overview"

# The service manager's command for the local RabbitMQ (ACTION: start, restart, status):
# systemd, else Debian's init script through `service` (containers), which starts the broker
# with a pid file, so that a later `service rabbitmq-server restart` works (a broker started
# with `rabbitmq-server -detached` has none, and the init script's stop waits for it for ever).
rabbitmq_service_command() {
    if systemd_running; then
        echo "systemctl $1 rabbitmq-server"
    elif have service && [ -x /etc/init.d/rabbitmq-server ]; then
        echo "service rabbitmq-server $1"
    else
        return 1
    fi
}

rabbitmq_service() {
    local command
    command="$(rabbitmq_service_command "$1")" \
        || die "cannot $1 RabbitMQ: neither systemd nor /etc/init.d/rabbitmq-server here"
    if [ "$1" = restart ] && ! systemd_running && [ ! -f /var/run/rabbitmq/pid ] \
            && tcp_open 127.0.0.1 5672; then
        # Started by hand before (no pid file): stopped directly, then by the service manager.
        as_root rabbitmqctl -q stop >/dev/null 2>&1 || true
        command="$(rabbitmq_service_command start)"
    fi
    # shellcheck disable=SC2086  # the words of one command
    as_root $command >/dev/null 2>&1 || true   # the callers wait for the port
}

mgmt_ok() { curl -fsS -o /dev/null --max-time 3 -u guest:guest "$MGMT_URL" 2>/dev/null; }

step_rabbitmq() {
    local parts host port
    parts="$(url_parts "$AMQP_URI" 5672)"
    { read -r host; read -r port; } <<<"$parts"

    if ! tcp_open "$host" "$port"; then
        is_local_host "$host" || die "RabbitMQ at $host:$port is not reachable"
        say "rabbitmq: starting ($(rabbitmq_service_command start || echo "no service manager"))"
        # Enable the plugin before the node boots, so it comes up with it.
        as_root rabbitmq-plugins enable --offline rabbitmq_management >/dev/null 2>&1 || true
        rabbitmq_service start
        local i
        for ((i = 0; i < WAIT_S; i++)); do tcp_open "$host" "$port" && break; sleep 1; done
        tcp_open "$host" "$port" || die "RabbitMQ did not come up on $host:$port within ${WAIT_S}s" \
            "(see /var/log/rabbitmq/)"
        as_root rabbitmqctl -q await_startup >/dev/null 2>&1 || true
    fi

    if ! is_local_host "$host"; then
        say "rabbitmq: reachable on $host:$port (remote: management plugin not checked)"
        return
    fi

    if ! mgmt_ok; then
        if ! as_root rabbitmq-plugins list -E -m 2>/dev/null | grep -qx rabbitmq_management; then
            say "rabbitmq: enabling the management plugin"
            as_root rabbitmq-plugins enable rabbitmq_management >/dev/null
        fi
        local i
        for ((i = 0; i < WAIT_S; i++)); do mgmt_ok && break; sleep 1; done
        mgmt_ok || die "RabbitMQ management API $MGMT_URL does not answer (guest:guest)"
    fi
    say "rabbitmq: running on $host:$port, management API on 127.0.0.1:15672"
}

# ---------------------------------------------------------------------------------------------
# 5. Broker security: certificates; on request the broker's TLS listener and per-process users.
# ---------------------------------------------------------------------------------------------
TLS_DIR="${AMQP_TLS_DIR:-$ROOT/var/tls}"
RABBITMQ_CONF="${RABBITMQ_CONF:-/etc/rabbitmq/rabbitmq.conf}"
TLS_MARKER="# enrollment-platform deploy/setup.sh --broker-tls"

step_tls_certs() {
    bash "$ROOT/deploy/tls-certs.sh" "$TLS_DIR" localhost 127.0.0.1 "$(hostname)"
    say "tls: CA $TLS_DIR/ca.pem (AMQP_SSL_CA_FILE), broker certificate $TLS_DIR/server.pem"
}

step_broker_tls() {
    if as_root grep -qE '^[[:space:]]*listeners\.ssl\.' "$RABBITMQ_CONF" 2>/dev/null; then
        say "rabbitmq: TLS listener already configured in $RABBITMQ_CONF (left as it is)"
        return
    fi
    local dest=/etc/rabbitmq/tls
    as_root install -d -m 0750 -o root -g rabbitmq "$dest"
    as_root install -m 0644 "$TLS_DIR/ca.pem" "$dest/ca.pem"
    as_root install -m 0644 "$TLS_DIR/server.pem" "$dest/server.pem"
    as_root install -m 0640 -o root -g rabbitmq "$TLS_DIR/server.key" "$dest/server.key"
    as_root sh -c 'cat >> "$1"' _ "$RABBITMQ_CONF" <<EOF

$TLS_MARKER
listeners.ssl.default = 5671
ssl_options.cacertfile = $dest/ca.pem
ssl_options.certfile = $dest/server.pem
ssl_options.keyfile = $dest/server.key
ssl_options.versions.1 = tlsv1.3
ssl_options.versions.2 = tlsv1.2
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
EOF
    say "rabbitmq: TLS listener on 5671 added to $RABBITMQ_CONF; restarting the broker"
    rabbitmq_service restart
    local i
    for ((i = 0; i < WAIT_S; i++)); do tcp_open 127.0.0.1 5671 && break; sleep 1; done
    tcp_open 127.0.0.1 5671 || die "RabbitMQ's TLS listener did not come up on 5671"
    as_root rabbitmqctl -q await_startup >/dev/null 2>&1 || true
}

step_broker_users() {
    local args=() names name
    names="$("$VENV/bin/python" -m common.registry names)"
    names+=" $("$VENV/bin/python" -m common.broker districts)"
    for name in $names; do
        [ -f "$BROKER_USERS/$name.env" ] || die "missing $BROKER_USERS/$name.env (AMQP_URI=...)" \
            "(make them with: .venv/bin/python -m common.broker make-env --base-uri URI --dir DIR)"
        args+=(--env "$name=$BROKER_USERS/$name.env")
    done
    "$VENV/bin/python" -m common.broker provision \
        --api "${RABBITMQ_API:-http://guest:guest@127.0.0.1:15672/api}" "${args[@]}" \
        | sed 's/^/setup: /'
}

# ---------------------------------------------------------------------------------------------
if [ "$SERVICE_COMMANDS" -eq 1 ]; then
    for action in start restart status; do
        printf 'rabbitmq %s: %s\n' "$action" "$(rabbitmq_service_command "$action" \
            || echo "none (neither systemd nor /etc/init.d/rabbitmq-server)")"
    done
    exit 0
fi
if [ "$ROLES_ONLY" -eq 1 ]; then
    step_roles
    exit 0
fi
if [ "$PYTHON_ONLY" -eq 1 ]; then
    step_python
    exit 0
fi
step_packages
step_python
step_postgresql
step_database
step_rabbitmq
step_tls_certs
[ "$BROKER_TLS" -eq 0 ] || step_broker_tls
[ -z "$BROKER_USERS" ] || step_broker_users
