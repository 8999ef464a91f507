#!/usr/bin/env bash
# Install what neon_platform needs on Debian 12, then build and install the extension.
# As root (a non-root user types sudo bash tools/setup.sh ...):
#
#   bash tools/setup.sh                      build deps + make && make install
#   bash tools/setup.sh --with-conformance   also npm (Debian's nodejs and npm when npm is missing)
#                                            and the pinned npm packages of test/conformance (prism,
#                                            the official Neon spec, the Node.js prism runs on)
#   bash tools/setup.sh --with-bench         also wrk (make bench)
#
# Idempotent: packages already installed are left alone (apt is not even asked), so a second
# run only rebuilds. Quiet on success; on failure prints the output of the step that failed.
set -euo pipefail
cd "$(dirname "$0")/.."

with_conformance=0
with_bench=0
for arg in "$@"; do
    case "$arg" in
        --with-conformance) with_conformance=1 ;;
        --with-bench) with_bench=1 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

log=$(mktemp /tmp/neon_platform-setup.XXXXXX)
trap 'rm -f "$log"' EXIT

# run STEP-NAME CMD...: run quietly; on failure show what it printed and stop.
run() {
    local what=$1; shift
    if ! "$@" >"$log" 2>&1; then
        echo "setup.sh: $what failed:" >&2
        cat "$log" >&2
        exit 1
    fi
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

want=(postgresql-15 postgresql-server-dev-15 libcurl4-openssl-dev libjson-c-dev libpq-dev pgbouncer openssl
      libipc-run-perl make gcc python3 ca-certificates)
[ "$with_bench" = 1 ] && want+=(wrk)

missing=()
for p in "${want[@]}"; do installed "$p" || missing+=("$p"); done
# npm only installs test/conformance's packages, prism runs on the Node.js pinned there: any npm
# does, Debian's nodejs and npm only when the command is missing (nodesource's nodejs bundles npm
# and conflicts with Debian's npm package).
if [ "$with_conformance" = 1 ] && ! command -v npm >/dev/null 2>&1; then
    installed nodejs || missing+=(nodejs)
    missing+=(npm)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup.sh: missing Debian packages: ${missing[*]}; run it as root (as a non-root user: sudo bash tools/setup.sh)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    run "apt-get update" apt-get update -q
    run "apt-get install ${missing[*]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Build against PostgreSQL 15 even if another pg_config comes first on PATH.
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
[ -x "$PG_CONFIG" ] || PG_CONFIG=$(command -v pg_config)
jobs=$(nproc 2>/dev/null || echo 2)
run "make" make -j"$jobs" PG_CONFIG="$PG_CONFIG"
if [ "$(id -u)" = 0 ] || [ -w "$("$PG_CONFIG" --pkglibdir)" ]; then
    run "make install" make install PG_CONFIG="$PG_CONFIG"
else
    echo "setup.sh: not root: built but not installed (run sudo make install)" >&2
fi

# npm ci when node_modules does not match package-lock.json, then the version of the pinned
# Node.js is checked (npm's engine warnings, about the Node.js npm runs on, are not shown).
if [ "$with_conformance" = 1 ]; then
    run "npm ci and Node.js check (test/conformance)" /usr/bin/python3 test/conformance/prism.py --install
fi
exit 0
