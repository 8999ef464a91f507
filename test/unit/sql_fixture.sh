#!/usr/bin/env bash
# Throwaway PostgreSQL servers on loopback for test/unit/test_sql.
#
#   test/unit/sql_fixture.sh COMMAND [ARG...]
#
# initdb's one cluster in a temporary directory and starts two servers from it, each on a free port
# of 127.0.0.1:
#   tls    TLS with a self-signed certificate; over TCP only TLS and scram-sha-256 (hostssl)
#   plain  a copy of the same cluster with ssl = off (it answers "no" to a TLS request)
# Both have the login role "tester" (a password with a character that must be percent-encoded) and
# its database "unit". COMMAND runs with, in its environment:
#   SQL_TEST_URI        postgresql://tester:...@127.0.0.1:PORT/unit?sslmode=require (the tls server)
#   SQL_TEST_PLAIN_URI  the same role and database on the plain server, without sslmode
#   SQL_TEST_PASSWORD   the password as the server knows it (decoded)
# and no other PG* variable. Whatever happens, both servers are stopped and the directory removed;
# the exit status is COMMAND's. initdb refuses root: as root, the servers run as user postgres.
set -euo pipefail

if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi

bindir=$(pg_config --bindir)
password='Fixture-s3cret/pw'
password_in_uri='Fixture-s3cret%2Fpw'
dir=$(mktemp -d "${TMPDIR:-/tmp}/sql_fixture.XXXXXX")

# Runs a server-side command as the servers' OS user, inside the fixture directory (the caller's
# working directory may be closed to that user, and initdb and pg_ctl refuse to start there).
as_server() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$dir" && runuser -u postgres -- "$@")
    else
        (cd "$dir" && "$@")
    fi
}

# Stops whichever servers are running and removes everything.
cleanup() {
    for cluster in tls plain; do
        if [ -f "$dir/$cluster/postmaster.pid" ]; then
            as_server "$bindir/pg_ctl" -D "$dir/$cluster" -m immediate -w stop >/dev/null 2>&1 || true
        fi
    done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A TCP port of 127.0.0.1 that is free now (the kernel's choice).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Appends the settings one server differs by; $1: cluster, $2: port, $3: ssl on or off, $4: hba TCP line.
configure() {
    cat >>"$dir/$1/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $2
unix_socket_directories = '$dir'
ssl = $3
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
fsync = off
shared_buffers = 16MB
max_connections = 60
CONF
    printf 'local all postgres trust\n%s\n' "$4" >"$dir/$1/pg_hba.conf"
}

if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir"
fi
as_server "$bindir/initdb" -D "$dir/tls" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
as_server openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
    -keyout "$dir/tls/server.key" -out "$dir/tls/server.crt" >/dev/null 2>&1
as_server chmod 600 "$dir/tls/server.key"
as_server cp -a "$dir/tls" "$dir/plain"

tls_port=$(free_port)
plain_port=$(free_port)
configure tls "$tls_port" on 'hostssl all all 127.0.0.1/32 scram-sha-256'
configure plain "$plain_port" off 'host all all 127.0.0.1/32 scram-sha-256'
for cluster in tls plain; do
    as_server "$bindir/pg_ctl" -D "$dir/$cluster" -l "$dir/$cluster.log" -w -t 30 start >/dev/null ||
        { cat "$dir/$cluster.log" >&2; exit 1; }
done

for port in "$tls_port" "$plain_port"; do
    as_server "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d postgres \
        -c "CREATE ROLE tester LOGIN PASSWORD '$password'" -c "CREATE DATABASE unit OWNER tester"
done

for var in $(compgen -e); do
    case "$var" in PG*) unset "$var" ;; esac
done
export SQL_TEST_URI="postgresql://tester:$password_in_uri@127.0.0.1:$tls_port/unit?sslmode=require"
export SQL_TEST_PLAIN_URI="postgresql://tester:$password_in_uri@127.0.0.1:$plain_port/unit"
export SQL_TEST_PASSWORD="$password"
status=0
"$@" || status=$?
exit "$status"
