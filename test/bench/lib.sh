# Shared by the end-to-end benchmarks (sourced): an emulator without rate limits and a
# PostgreSQL server with the extension preloaded, both in a temporary directory that is
# removed on exit. Needs the extension installed (make install) and root (the server runs
# as postgres).
#
#   bench_start [postgresql.conf lines...]   start both; sets $url, $work, $emulator_pid
#   sql "SELECT ..."                         run a statement, unaligned output
#   emulator METHOD PATH [BODY]              a control call of the emulator
#   cpu_seconds PID                          CPU seconds (user + system) a process spent

bindir=$(pg_config --bindir)
work=$(mktemp -d /tmp/neon_platform-bench.XXXXXX)
chmod 755 "$work"
chown postgres: "$work"
emulator_pid=

bench_cleanup() {
	set +e
	[ -f "$work/data/postmaster.pid" ] && runuser -u postgres -- "$bindir/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null 2>&1
	[ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null && wait "$emulator_pid" 2>/dev/null
	rm -rf "$work"
}
trap bench_cleanup EXIT

sql() { runuser -u postgres -- "$bindir/psql" -X -qAt -h "$work" -d postgres -c "$1"; }

emulator() { curl -sf -X "$1" "$url/_emulator$2" ${3:+-d "$3"}; }

cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }

bench_start() {
	python3 test/emulator/neon_emulator.py --port 0 --rate-limit-rpm 0 --burst-rps 0 --operation-ms 50 \
		>"$work/emulator.out" 2>"$work/emulator.err" &
	emulator_pid=$!
	for _ in $(seq 100); do
		grep -q '^neon-emulator listening on ' "$work/emulator.out" && break
		sleep 0.1
	done
	url=$(sed -n 's/^neon-emulator listening on \(http:.*\)$/\1/p' "$work/emulator.out")
	emulator POST /org_limit '{"org_id": "org-agent-free", "name": "projects", "value": 1000000}' >/dev/null
	emulator POST /org_limit '{"org_id": "org-agent-paid", "name": "projects", "value": 1000000}' >/dev/null

	runuser -u postgres -- "$bindir/initdb" -D "$work/data" -A trust --no-sync >/dev/null
	cat >>"$work/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$work'
shared_preload_libraries = 'neon_platform'
neon_platform.api_url = '$url/api/v2'
neon_platform.free_org_api_key = 'emulator-free-org-key'
neon_platform.paid_org_api_key = 'emulator-paid-org-key'
neon_platform.personal_api_key = 'emulator-personal-key'
neon_platform.free_org_id = 'org-agent-free'
neon_platform.paid_org_id = 'org-agent-paid'
neon_platform.requests_per_minute = 1000000
neon_platform.burst_per_second = 100000
neon_platform.max_inflight_requests = 128
CONF
	printf '%s\n' "$@" >>"$work/data/postgresql.conf"
	runuser -u postgres -- "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
	sql "CREATE EXTENSION neon_platform"
}
