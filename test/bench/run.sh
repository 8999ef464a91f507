#!/usr/bin/env bash
# Benchmark figures (run by `make bench`, which builds test/unit/bench_http first):
# requests/s of the HTTP engine against the emulator at 1, 16, 64 and 256 calls
# in flight, and the peak memory of the benchmark process.
# Starts the emulator on a free loopback port without rate limits and stops it
# on exit. BENCH_SECONDS sets the seconds per level (default 3).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ ! -x test/unit/bench_http ]; then
	echo "test/unit/bench_http is missing: run 'make bench'" >&2
	exit 1
fi

work=$(mktemp -d)
emulator_pid=
stop_emulator() {
	if [ -n "$emulator_pid" ]; then
		kill "$emulator_pid" 2>/dev/null || true
		wait "$emulator_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap stop_emulator EXIT

# Prints the emulator's base URL once it listens (at most 10 s).
start_emulator() {
	python3 test/emulator/neon_emulator.py --port 0 --rate-limit-rpm 0 --burst-rps 0 \
		>"$work/emulator.out" 2>"$work/emulator.err" &
	emulator_pid=$!
	for _ in $(seq 100); do
		if grep -q '^neon-emulator listening on ' "$work/emulator.out"; then
			sed -n 's/^neon-emulator listening on \(http:.*\)$/\1/p' "$work/emulator.out"
			return 0
		fi
		sleep 0.1
	done
	echo "the emulator did not start:" >&2
	cat "$work/emulator.err" >&2
	return 1
}

url=$(start_emulator)
timeout 100 test/unit/bench_http "$url/api/v2" emulator-paid-org-key org-agent-paid "${BENCH_SECONDS:-3}"
