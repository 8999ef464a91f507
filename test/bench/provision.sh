#!/usr/bin/env bash
# End-to-end figures: tenants provisioned per second by the real worker, from
# neon_provision() in SQL to ready tenants, against the emulator with Neon's
# rate limits lifted on both sides, and the worker's peak memory; then the
# free half upgraded to pro in one transaction, with the API requests each
# upgrade cost (from the emulator's request log).
#
#   bash test/bench/provision.sh [TENANTS]      (as root; default 5000 tenants)
#
# Needs the extension installed (make install). Runs PostgreSQL as postgres
# in a temporary directory and removes everything on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
tenants=${1:-5000}
. test/bench/lib.sh
bench_start

start=$(date +%s.%N)
sql "SELECT count(neon_provision('bench-' || g, CASE WHEN g % 2 = 0 THEN 'free' ELSE 'pro' END)) FROM generate_series(1, $tenants) AS g" >/dev/null
enqueued=$(date +%s.%N)
sql "SELECT neon_wait(max(id), '300 s') FROM neon_platform.jobs" >/dev/null
done_at=$(date +%s.%N)

ready=$(sql "SELECT count(*) FROM neon_platform.tenants WHERE state = 'ready'")
calls=$(sql "SELECT count(*) FROM neon_platform.api_calls")
pid=$(sql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'neon_platform worker'")
rss=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$pid/status")
worker_cpu=$(cpu_seconds "$pid")
emulator_cpu=$(cpu_seconds "$emulator_pid")
awk -v wc="$worker_cpu" -v ec="$emulator_cpu" -v n="$tenants" -v r="$ready" -v c="$calls" -v s="$start" -v e="$enqueued" -v d="$done_at" -v rss="$rss" 'BEGIN {
	printf "tenants: %d enqueued in %.2f s (%.0f neon_provision()/s)\n", n, e - s, n / (e - s)
	printf "ready:   %d of %d in %.2f s after commit: %.0f tenants/s, %d API calls (%.0f calls/s)\n", r, n, d - e, r / (d - e), c, c / (d - e)
	printf "cpu:     worker %.2f s (%.0f us per tenant), emulator %.2f s (%.0f us per tenant)\n", wc, wc * 1e6 / n, ec, ec * 1e6 / n
	printf "worker peak RSS: %s\n", rss
}'
[ "$ready" -eq "$tenants" ]

# The free half moves to pro: transfers batched by 400, then the quotas.
sleep 1    # the creations' operations end (50 ms each)
emulator DELETE /requests >/dev/null
start=$(date +%s.%N)
upgrades=$(sql "SELECT count(neon_set_tier(tenant, 'pro')) FROM neon_platform.tenants WHERE tier = 'free'")
sql "SELECT neon_wait(max(id), '300 s') FROM neon_platform.jobs" >/dev/null
done_at=$(date +%s.%N)
moved=$(sql "SELECT count(*) FROM neon_platform.tenants WHERE tier = 'pro' AND organization = 'paid' AND state = 'ready'")
emulator GET /requests | python3 -c '
import json, sys
log = json.load(sys.stdin)
n, start, end = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
transfers = sum(1 for r in log if r["path"].endswith("/projects/transfer"))
print("upgrades: %d free to pro in %.2f s: %d requests, %d of them transfers = %.3f requests per upgrade"
      % (n, end - start, len(log), transfers, len(log) / n))' "$upgrades" "$start" "$done_at"
[ "$moved" -eq "$tenants" ]
