#!/usr/bin/env bash
# Benchmark of the Neon API emulator with wrk (Debian package "wrk").
#   bash test/emulator/bench.sh            # 10 s per run
#   DURATION=5s PROJECTS=50000 bash test/emulator/bench.sh
# Prints requests/s of GET /api/v2/projects/{id} with keep-alive: 50 connections, 1,000 connections, and
# 50 connections again after 50,000 more projects exist. Every run is bounded by DURATION; the emulator is
# started on a free port with limits too high to refuse anything (the token buckets still run) and stopped
# at the end.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DURATION="${DURATION:-10s}"
PROJECTS="${PROJECTS:-50000}"
KEY="emulator-free-org-key"
PY="${PYTHON:-python3}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }

OUT="$(mktemp)"
"$PY" "$HERE/neon_emulator.py" --port 0 --rate-limit-rpm 1000000000 --burst-rps 1000000000 >"$OUT" 2>"$OUT.err" &
EMU_PID=$!
cleanup() { kill "$EMU_PID" 2>/dev/null || true; wait "$EMU_PID" 2>/dev/null || true; rm -f "$OUT" "$OUT.err"; }
trap cleanup EXIT
for _ in $(seq 100); do grep -q listening "$OUT" && break; sleep 0.1; done
URL="$(sed -n 's/^neon-emulator listening on //p' "$OUT")"
[ -n "$URL" ] || { echo "emulator did not start"; cat "$OUT.err"; exit 1; }

api() {  # api METHOD PATH [JSON] -> prints the body
  "$PY" - "$URL" "$KEY" "$@" <<'EOF'
import json, sys, urllib.request
url, key, method, path = sys.argv[1:5]
data = sys.argv[5].encode() if len(sys.argv) > 5 else None
req = urllib.request.Request(url + path, data=data, method=method,
                             headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
try:
    with urllib.request.urlopen(req, timeout=600) as r:
        sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    sys.stdout.write(e.read().decode())
EOF
}
json_get() { "$PY" -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

PID1="$(api POST /api/v2/projects '{"project":{"name":"bench-first"}}' | json_get 'd["project"]["id"]')"
run() {  # run LABEL CONNECTIONS PROJECT_ID
  local label="$1" conns="$2" pid="$3" res
  api DELETE /_emulator/requests >/dev/null      # keep the request log (memory) small between runs
  res="$(wrk -t1 -c"$conns" -d"$DURATION" --timeout 10s -H "Authorization: Bearer $KEY" "$URL/api/v2/projects/$pid")"
  local rps non2xx errs
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$res")"
  non2xx="$(awk '/Non-2xx/ {print $5}' <<<"$res")"
  errs="$(grep -o 'Socket errors:.*' <<<"$res" || true)"
  printf '%-44s %10s req/s  non-2xx: %s %s\n' "$label" "$rps" "${non2xx:-0}" "$errs"
}
echo "emulator: $URL   wrk -t1 -d$DURATION, GET /api/v2/projects/{id}, keep-alive"
run "1 project,  -c50" 50 "$PID1"
run "1 project,  -c1000" 1000 "$PID1"

T0=$(date +%s.%N)
BULK="$(api POST /_emulator/projects "{\"org_id\":\"org-agent-free\",\"count\":$PROJECTS,\"name_prefix\":\"bulk-\"}")"
T1=$(date +%s.%N)
PIDN="$(json_get 'd["project_ids"][-1]' <<<"$BULK")"
printf 'created %s projects in %.1f s (POST /_emulator/projects)\n' "$PROJECTS" "$(echo "$T1 - $T0" | bc)"
run "$((PROJECTS + 1)) projects, -c50 (first project)" 50 "$PID1"
run "$((PROJECTS + 1)) projects, -c50 (last project)" 50 "$PIDN"
RSS="$(awk '/VmRSS/ {print $2/1024 " MB"}' /proc/$EMU_PID/status)"
echo "emulator RSS: $RSS"
