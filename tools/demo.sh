#!/usr/bin/env bash
# Demo of neon_platform on the Neon API emulator, as root on Debian 12 (a non-root user types
# sudo bash tools/demo.sh):
#
#   bash tools/demo.sh
#
# Installs what is missing and builds (tools/setup.sh), starts a local PostgreSQL cluster with
# pgbouncer for the tenants' databases (test/emulator/computes_cluster.py), the emulator with real
# computes on it (--computes: every tenant's branch is a real database behind a TLS proxy) and a
# throwaway PostgreSQL 15 (user postgres, unix socket in a temp dir) with the extension preloaded
# and pointed at the emulator. Then: gives the free and pro tiers a bootstrap_sql (a todos table
# with two rows), provisions two free tenants and a pro one, connects to a tenant's database with
# psql through neon_connection_uri() (pooled through pgbouncer, then direct) and shows the
# bootstrap's table, runs a fleet-wide migration with neon_run_sql() (sql_runs, each job's result,
# the new column seen with psql), changes a tier, takes a snapshot, deletes a row, restores and
# undoes (the row comes back with the snapshot restore), makes a development branch, and shows
# the tenants, the queue, the audit of API calls and the connection strings (passwords masked).
# Everything is stopped and removed at the end, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "demo.sh: run it as root (as a non-root user: sudo bash tools/demo.sh): it installs packages and runs PostgreSQL as postgres" >&2
    exit 1
fi

echo "== installing what is missing and building (tools/setup.sh)"
bash tools/setup.sh

PG_BINDIR=/usr/lib/postgresql/15/bin
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
TMP=$(mktemp -d /tmp/neon_platform-demo.XXXXXX)
chmod 755 "$TMP"
EMU_PID=""
PGDATA="$TMP/data"
COMPUTES="$TMP/computes"

# as_postgres CMD...: run CMD as postgres from /, since postgres may not be allowed into the tree.
as_postgres() {
    (cd / && runuser -u postgres -- "$@")
}

cleanup() {
    set +e
    if [ -f "$PGDATA/postmaster.pid" ]; then
        as_postgres "$PG_BINDIR/pg_ctl" -D "$PGDATA" -m fast -w -t 30 stop >/dev/null 2>&1
    fi
    if [ -n "$EMU_PID" ] && kill -0 "$EMU_PID" 2>/dev/null; then
        kill "$EMU_PID"
        wait "$EMU_PID" 2>/dev/null
    fi
    if [ -d "$COMPUTES" ]; then
        "$PY" test/emulator/computes_cluster.py stop "$COMPUTES" >/dev/null 2>&1 ||
            echo "demo.sh: computes_cluster.py stop $COMPUTES failed" >&2
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting the tenants' PostgreSQL cluster and pgbouncer (computes_cluster.py)"
CLUSTER_JSON=$("$PY" test/emulator/computes_cluster.py start "$COMPUTES" --pooler 2>"$TMP/computes.err") ||
    { cat "$TMP/computes.err" >&2; exit 1; }
# cluster FIELD: one field of the JSON line computes_cluster.py printed.
cluster() {
    "$PY" -c 'import json, sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1" <<<"$CLUSTER_JSON"
}
COMPUTES_URL=$(cluster superuser_url)
POOLER=$(cluster pooler)
TLS_CERT=$(cluster tls_cert)
TLS_KEY=$(cluster tls_key)
TENANT_PSQL="$(cluster pg_bindir)/psql"
# mask: a connection string as it may be shown, its password replaced by ********.
mask() {
    sed 's|\(://[^:/@]*:\)[^@]*@|\1********@|'
}
echo "   cluster $(mask <<<"$COMPUTES_URL"), pgbouncer $POOLER"

echo "== starting the Neon API emulator with real computes"
: >"$TMP/emulator.out"
"$PY" test/emulator/neon_emulator.py --port 0 --operation-ms 500 --computes "$COMPUTES_URL" --pooler "$POOLER" \
    --computes-tls-cert "$TLS_CERT" --computes-tls-key "$TLS_KEY" >"$TMP/emulator.out" 2>"$TMP/emulator.err" &
EMU_PID=$!
EMU_URL=""
for _ in $(seq 1 100); do
    EMU_URL=$(sed -n 's|^neon-emulator listening on \(http://[0-9.]*:[0-9]*\)$|\1|p' "$TMP/emulator.out")
    [ -n "$EMU_URL" ] && break
    kill -0 "$EMU_PID" 2>/dev/null || { cat "$TMP/emulator.err" >&2; exit 1; }
    sleep 0.1
done
[ -n "$EMU_URL" ] || { echo "demo.sh: the emulator did not start" >&2; cat "$TMP/emulator.err" >&2; exit 1; }
echo "   $EMU_URL"

PGPORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== initdb and start a throwaway PostgreSQL 15 (port $PGPORT, socket in $TMP)"
chown postgres: "$TMP"
as_postgres "$PG_BINDIR/initdb" -D "$PGDATA" -U postgres -A trust --no-sync -E UTF8 --locale=C >"$TMP/initdb.log" 2>&1 ||
    { cat "$TMP/initdb.log" >&2; exit 1; }
cat >>"$PGDATA/postgresql.conf" <<EOF
port = $PGPORT
listen_addresses = ''
unix_socket_directories = '$TMP'
fsync = off
shared_preload_libraries = 'neon_platform'
neon_platform.api_url = '$EMU_URL/api/v2'
neon_platform.free_org_id = 'org-agent-free'
neon_platform.paid_org_id = 'org-agent-paid'
neon_platform.free_org_api_key = 'emulator-free-org-key'
neon_platform.paid_org_api_key = 'emulator-paid-org-key'
neon_platform.personal_api_key = 'emulator-personal-key'
EOF
as_postgres "$PG_BINDIR/pg_ctl" -D "$PGDATA" -l "$TMP/server.log" -w -t 60 start >/dev/null ||
    { tail -n 30 "$TMP/server.log" >&2; exit 1; }

psql() {
    as_postgres "$PG_BINDIR/psql" -X -h "$TMP" -p "$PGPORT" -U postgres -d postgres \
        -v ON_ERROR_STOP=1 -P pager=off "$@"
}

run_sql() {
    echo
    echo "postgres=# $1"
    psql -c "$1"
}

# tenant_psql TENANT POOLED SQL: psql as the tenant, on the URI neon_connection_uri() returns
# (password and sslmode=require in it); the URI is shown with its password masked.
tenant_psql() {
    local uri
    uri=$(psql -A -t -q -c "SELECT neon_connection_uri('$1', pooled => $2)")
    echo
    echo "\$ psql '$(mask <<<"$uri")' -c '$3'"
    PGCONNECT_TIMEOUT=10 "$TENANT_PSQL" -X -v ON_ERROR_STOP=1 -P pager=off "$uri" -c "$3"
}

echo "== the demo"
run_sql "CREATE EXTENSION neon_platform"
BOOTSTRAP="CREATE TABLE todos (id serial PRIMARY KEY, title text NOT NULL); INSERT INTO todos (title) VALUES (''try neon_platform''), (''ship the app'')"
run_sql "UPDATE neon_platform.tiers SET bootstrap_sql = '$BOOTSTRAP' WHERE name IN ('free', 'pro')"
run_sql "SELECT neon_provision('acme', 'free') AS acme_job, neon_provision('initech', 'free') AS initech_job, neon_provision('globex', 'pro') AS globex_job"
run_sql "SELECT neon_wait(neon_provision('acme', 'free')) AS acme, neon_wait(neon_provision('initech', 'free')) AS initech, neon_wait(neon_provision('globex', 'pro')) AS globex"
run_sql "SELECT tenant, tier, organization, state, project_id, branch_id, endpoint_id, pooler_host, role_name, ready_at - created_at AS took FROM neon_platform.tenants ORDER BY tenant"
run_sql "SELECT tenant, result->'bootstrap' AS bootstrap FROM neon_platform.jobs WHERE kind = 'provision' ORDER BY id"

echo
echo "== acme's database, through neon_connection_uri('acme'): pooled (pgbouncer), then direct"
tenant_psql acme true "SELECT * FROM todos ORDER BY id"
tenant_psql acme false "SELECT count(*) AS todos, pg_size_pretty(pg_database_size(current_database())) AS database_size FROM todos"

echo
echo "== a fleet-wide migration: neon_run_sql() in every ready free tenant"
run_sql "SELECT tenant, neon_run_sql(tenant, 'ALTER TABLE todos ADD COLUMN done boolean NOT NULL DEFAULT false') AS job FROM neon_platform.tenants WHERE state = 'ready' AND tier = 'free' ORDER BY tenant"
run_sql "SELECT tenant, neon_wait(id) AS state FROM neon_platform.jobs WHERE kind = 'run_sql' ORDER BY id"
run_sql "SELECT * FROM neon_platform.sql_runs"
run_sql "SELECT id, tenant, state, result, last_error FROM neon_platform.jobs WHERE kind = 'run_sql' ORDER BY id"
tenant_psql acme true "UPDATE todos SET done = true WHERE id = 1; SELECT * FROM todos ORDER BY id"
tenant_psql initech true "SELECT * FROM todos ORDER BY id"

echo
echo "== tier changes"
run_sql "SELECT neon_set_tier('acme', 'pro') AS acme_upgrade_job"
run_sql "SELECT neon_wait(max(id)) AS acme_upgraded FROM neon_platform.jobs WHERE kind = 'change_tier'"
run_sql "UPDATE neon_platform.tiers SET suspend_timeout_seconds = 600 WHERE name = 'pro'"
run_sql "SELECT neon_wait(max(id)) AS pro_reapplied FROM neon_platform.jobs WHERE kind = 'apply_tier'"
run_sql "SELECT tenant, tier, organization, state, last_error FROM neon_platform.tenants ORDER BY tenant"

echo
echo "== snapshot, restore, undo and a development branch of globex"
run_sql "SELECT neon_snapshot('globex', 'before-migration') AS job"
run_sql "SELECT neon_wait(max(id)) FROM neon_platform.jobs"
tenant_psql globex false "DELETE FROM todos WHERE id = 2; SELECT * FROM todos ORDER BY id"
for call in "neon_restore('globex', now() - interval '1 second')" "neon_undo_restore('globex')" \
    "neon_restore_snapshot('globex', 'before-migration')"; do
    run_sql "SELECT $call AS job"
    run_sql "SELECT neon_wait(max(id)) FROM neon_platform.jobs"
done
echo
echo "== the snapshot's restore brought the deleted row back"
tenant_psql globex true "SELECT * FROM todos ORDER BY id"
run_sql "SELECT neon_create_branch('globex', 'dev') AS job"
run_sql "SELECT neon_wait(max(id)) FROM neon_platform.jobs"
run_sql "SELECT tenant, at, kind, name, state, next_undo, next_redo FROM neon_platform.versions ORDER BY at DESC"
run_sql "SELECT tenant, name, kind, state, pooler_host, expires_at FROM neon_platform.branches ORDER BY tenant, name"

echo
echo "== the state of the platform"
run_sql "SELECT kind, state, jobs, max_attempts_so_far FROM neon_platform.queue_summary ORDER BY kind, state"
run_sql "SELECT id, tenant, kind, state, attempts, last_http_status, finished_at - created_at AS took FROM neon_platform.jobs ORDER BY id"
run_sql "SELECT job_id, method, path, status, round(latency_ms::numeric, 1) AS ms, request_id FROM neon_platform.api_calls ORDER BY id"
run_sql "SELECT pid, backend_start, state, wait_event FROM neon_platform.worker"
run_sql "SELECT tenant, regexp_replace(neon_connection_uri(tenant), ':[^:@/]*@', ':********@') AS pooled_uri, regexp_replace(neon_connection_uri(tenant, pooled => false), ':[^:@/]*@', ':********@') AS direct_uri FROM neon_platform.tenants ORDER BY tenant"

echo
echo "== done; stopping PostgreSQL, the emulator and the tenants' cluster and removing $TMP"
