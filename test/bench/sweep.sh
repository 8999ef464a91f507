#!/usr/bin/env bash
# A usage sweep at scale, under Neon's real rate limit: TENANTS tenants (a tenth
# of them on pro, in the paid organization) are provisioned with the limits
# lifted, 1 % of them get 85 % of their active-time quota; then, at 700
# requests a minute and bursts of 40, neon_sync_usage() sweeps them all (list
# pages, billing pages, detail reads) while a tenant is provisioned 5 s into
# it. Prints the sweep's requests by route, its duration, its largest share
# of the rate limit in any 60 s, and how long the provisioning waited for its
# first request.
#
#   bash test/bench/sweep.sh [TENANTS]      (as root; default 30000 tenants)
#
# Needs the extension installed (make install).
set -euo pipefail
cd "$(dirname "$0")/../.."
tenants=${1:-30000}
. test/bench/lib.sh
bench_start "neon_platform.usage_poll_interval = 0"

sql "SELECT count(neon_provision('t' || g, CASE WHEN g % 10 = 0 THEN 'pro' ELSE 'free' END)) FROM generate_series(1, $tenants) AS g" >/dev/null
sql "SELECT neon_wait(max(id), '600 s') FROM neon_platform.jobs" >/dev/null
ready=$(sql "SELECT count(*) FROM neon_platform.tenants WHERE state = 'ready'")
[ "$ready" -eq "$tenants" ] || { echo "only $ready of $tenants tenants ready" >&2; exit 1; }
near=0
for id in $(sql "SELECT project_id FROM neon_platform.tenants WHERE tier = 'free' ORDER BY tenant LIMIT $((tenants / 100))"); do
	emulator POST /usage "{\"project_id\": \"$id\", \"add\": {\"active_time_seconds\": 306000}}" >/dev/null
	near=$((near + 1))
done
echo "tenants: $tenants ready ($((tenants / 10)) on pro), $near of them at 85 % of their active time"

sql "ALTER SYSTEM SET neon_platform.requests_per_minute = 700" >/dev/null
sql "ALTER SYSTEM SET neon_platform.burst_per_second = 40" >/dev/null
sql "SELECT pg_reload_conf()" >/dev/null
sleep 2
emulator DELETE /requests >/dev/null
sweep=$(sql "SELECT neon_sync_usage()")
sleep 5
late=$(sql "SELECT neon_provision('late-arrival', 'free')")
sql "SELECT neon_wait($late, '60 s')" >/dev/null
sql "SELECT neon_wait($sweep, '900 s')" >/dev/null
sql "SELECT neon_wait(max(id), '900 s') FROM neon_platform.jobs WHERE kind = 'read_usage'" >/dev/null

sql "SELECT extract(epoch FROM min(c.called_at) - j.created_at), extract(epoch FROM t.ready_at - j.created_at)
       FROM neon_platform.jobs AS j JOIN neon_platform.api_calls AS c ON c.job_id = j.id
       JOIN neon_platform.tenants AS t ON t.tenant = j.tenant
      WHERE j.id = $late GROUP BY j.created_at, t.ready_at" | tr '|' ' ' >"$work/late"
sql "SELECT result FROM neon_platform.jobs WHERE id = $sweep" >"$work/result"
sql "SELECT count(*) FROM neon_platform.alerts" >"$work/alerts"
emulator GET /requests | python3 -c '
import json, sys
log = json.load(sys.stdin)
late_first, late_ready = map(float, open(sys.argv[1]).read().split())
result = json.load(open(sys.argv[2]))
alerts = int(open(sys.argv[3]).read())
def kind(r):
    p = r["path"]
    if p == "/api/v2/projects" and r["method"] == "GET":
        return "list"
    if p.startswith("/api/v2/consumption_history/"):
        return "consumption"
    if r["method"] == "GET" and p.count("/") == 4:
        return "detail"
    return "other"
sweep = [r for r in log if kind(r) != "other"]
count = {k: sum(1 for r in sweep if kind(r) == k) for k in ("list", "consumption", "detail")}
times = sorted(r["at"] for r in sweep)
span = times[-1] - times[0]
window = max(sum(1 for u in times[i:] if u - t < 60) for i, t in enumerate(times))
print("sweep:   %d requests (%d list pages for %d projects, %d consumption pages, %d detail reads) in %.1f s"
      % (len(sweep), count["list"], result["projects"], count["consumption"], count["detail"], span))
print("rate:    at most %d sweep requests in any 60 s = %.1f %% of 700 a minute (sweep_rate_share 20 %%); %d alerts"
      % (window, 100.0 * window / 700, alerts))
print("during:  a tenant provisioned 5 s into the sweep sent its first request %.3f s after its commit, ready after %.3f s"
      % (late_first, late_ready))' "$work/late" "$work/result" "$work/alerts"
