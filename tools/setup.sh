#!/usr/bin/env bash
# Install what neon_platform needs on Debian 12, then build and install the extension.
#
#   sudo bash tools/setup.sh                      build deps + make && make install
#   sudo bash tools/setup.sh --with-conformance   also nodejs/npm and the pinned npm packages of
#                                                 test/conformance (prism, the official Neon spec)
#   sudo bash tools/setup.sh --with-bench         also wrk (make bench)
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
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
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

want=(postgresql-15 postgresql-server-dev-15 libcurl4-openssl-dev libjson-c-dev
      libipc-run-perl make gcc python3 ca-certificates)
[ "$with_bench" = 1 ] && want+=(wrk)

missing=()
for p in "${want[@]}"; do installed "$p" || missing+=("$p"); done
# nodejs and npm only when the commands are missing (nodesource's nodejs bundles npm and
# conflicts with Debian's npm package).
if [ "$with_conformance" = 1 ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
fi

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup.sh: missing Debian packages: ${missing[*]}; run as root (sudo bash tools/setup.sh)" >&2
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

if [ "$with_conformance" = 1 ] && [ -f test/conformance/package-lock.json ]; then
    if [ ! -e test/conformance/node_modules/@stoplight/prism-cli/package.json ] ||
       [ ! -e test/conformance/node_modules/@neondatabase/api-client/package.json ]; then
        run "npm ci (test/conformance)" bash -c \
            'cd test/conformance && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error'
    fi
fi
exit 0
