#!/usr/bin/env bash
# Run every test of neon_platform, as root on Debian 12 (the README's test command; a non-root
# user types sudo bash tools/test.sh ...):
#
#   bash tools/test.sh [--keep-going] [LAYER ...]
#
# Layers, in order (all by default; name some to run only those):
#   setup        tools/setup.sh --with-conformance: packages, make && make install, npm ci
#   emulator     python3 -m unittest discover -s test/emulator -p 'test_*.py'
#   unit         make unit (plain-C tests of the HTTP engine, rate limiter, JSON parsers)
#   conformance  python3 test/conformance/walk.py (every route through prism proxy --errors)
#   regress      pg_regress (make installcheck without TAP)       } as user postgres on a copy
#   tap          TAP tests test/t/*.pl (make installcheck, prove) } of the tree under /tmp
#
# Stops at the first failing layer unless --keep-going; prints a summary, ending with the
# line "N passed, M failed" (layers), and exits non-zero if anything failed.
# Environment: PROVE_TESTS=test/t/002_crash.pl runs only some TAP files; KEEP_TMP=1 keeps
# the /tmp copy even on success.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

ALL_LAYERS=(setup emulator unit conformance regress tap)
keep_going=0
layers=()
for arg in "$@"; do
    case "$arg" in
        --keep-going|-k) keep_going=1 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        setup|emulator|unit|conformance|regress|tap) layers+=("$arg") ;;
        *) echo "test.sh: unknown argument $arg" >&2; exit 2 ;;
    esac
done
[ "${#layers[@]}" -eq 0 ] && layers=("${ALL_LAYERS[@]}")

PG_BINDIR=/usr/lib/postgresql/15/bin
PG_CONFIG=$PG_BINDIR/pg_config
# Children (emulator, prism) run with Debian's python3, never a per-user shim.
SAFE_PATH=$PG_BINDIR:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

declare -A result took
passed=0
failed=0
copy=""

section() { printf '\n==== %s ====\n' "$*"; }

# The regress and tap layers run as postgres (initdb refuses root) on a copy of the tree.
make_copy() {
    [ -n "$copy" ] && return 0
    if [ "$(id -u)" != 0 ]; then copy=$ROOT; return 0; fi
    copy=$(mktemp -d /tmp/neon_platform-test.XXXXXX)
    mkdir "$copy/main"
    tar -C "$ROOT" --exclude=./.git --exclude=./tmp_check --exclude=./results \
        --exclude=./regression.diffs --exclude=./regression.out -cf - . | tar -C "$copy/main" -xf -
    chown -R postgres: "$copy"
    chmod 755 "$copy"
    echo "test tree copied to $copy/main (owned by postgres)"
}

as_postgres() {
    local dir=$copy/main
    [ "$copy" = "$ROOT" ] && dir=$ROOT
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- env -i HOME=/var/lib/postgresql PATH="$SAFE_PATH" LANG=C.UTF-8 \
            NEON_PYTHON="$PY" PG_TEST_TIMEOUT_DEFAULT="${PG_TEST_TIMEOUT_DEFAULT:-180}" \
            bash -c 'cd "$1" && shift && exec "$@"' _ "$dir" "$@"
    else
        (cd "$dir" && NEON_PYTHON="$PY" "$@")
    fi
}

# After a timeout, servers started by the tests may still run: stop them by their pid.
stop_leftover_servers() {
    local f pid
    for f in "$1"/tmp_check/t_*_data/pgdata/postmaster.pid; do
        [ -f "$f" ] || continue
        pid=$(head -n 1 "$f")
        case "$pid" in ''|*[!0-9]*) continue ;; esac
        if kill -0 "$pid" 2>/dev/null; then
            echo "stopping leftover server $pid ($f)"
            kill -QUIT "$pid" 2>/dev/null || true
        fi
    done
}

layer_setup() {
    bash tools/setup.sh --with-conformance
}

layer_emulator() {
    timeout 600 "$PY" -m unittest discover -s test/emulator -p 'test_*.py'
}

layer_unit() {
    timeout 600 make -s unit PG_CONFIG="$PG_CONFIG"
}

layer_conformance() {
    if [ ! -f test/conformance/walk.py ]; then
        echo "test/conformance/walk.py is missing"
        return 1
    fi
    timeout 600 "$PY" test/conformance/walk.py
}

layer_regress() {
    make_copy || return 1
    local dir=$copy/main rc=0
    [ "$copy" = "$ROOT" ] && dir=$ROOT
    as_postgres timeout 600 make installcheck TAP_TESTS= PG_CONFIG="$PG_CONFIG" || rc=$?
    if [ "$rc" != 0 ] && [ -f "$dir/regression.diffs" ]; then
        section "regression.diffs"
        head -c 200000 "$dir/regression.diffs"
    fi
    if [ "$rc" != 0 ] && [ -d "$dir/tmp_check/log" ]; then
        section "pg_regress server log (last 60 lines)"
        tail -n 60 "$dir"/tmp_check/log/postmaster.log 2>/dev/null
    fi
    return "$rc"
}

layer_tap() {
    make_copy || return 1
    local dir=$copy/main rc=0 out
    [ "$copy" = "$ROOT" ] && dir=$ROOT
    out=$(mktemp /tmp/neon_platform-prove.XXXXXX)
    chmod 644 "$out"
    # REGRESS= : pg_regress ran in its own layer; this runs prove only.
    as_postgres timeout 900 make installcheck REGRESS= PG_CONFIG="$PG_CONFIG" \
        ${PROVE_TESTS:+PROVE_TESTS="$PROVE_TESTS"} 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    stop_leftover_servers "$dir"
    if [ "$rc" != 0 ]; then
        # Failed files: from prove's summary report, or any file whose line is not "ok".
        local t base
        for t in $(grep -oE '^test/t/[^ ]+\.pl' "$out" | sort -u); do
            if grep -qE "^${t//./\\.} \\.+ ok" "$out"; then continue; fi
            base=$(basename "$t" .pl)
            section "$t: test output (tmp_check/log/regress_log_$base without initdb noise)"
            grep -E '^(\[|#|###)' "$dir/tmp_check/log/regress_log_$base" 2>/dev/null | tail -n 150
            for f in "$dir"/tmp_check/log/"${base}"_*.log; do
                [ -f "$f" ] || continue
                section "$t: ERROR/FATAL/PANIC lines of $(basename "$f")"
                grep -E 'ERROR|FATAL|PANIC|WARNING|terminated|exited' "$f" | tail -n 60
            done
            for f in "$dir"/tmp_check/log/*.stderr; do
                [ -s "$f" ] || continue
                section "$(basename "$f") (last 30 lines)"
                tail -n 30 "$f"
            done
        done
    fi
    rm -f "$out"
    return "$rc"
}

fail_rest=0
for layer in "${ALL_LAYERS[@]}"; do
    want=0
    for l in "${layers[@]}"; do [ "$l" = "$layer" ] && want=1; done
    [ "$want" = 1 ] || continue
    if [ "$fail_rest" = 1 ]; then
        result[$layer]="not run"
        took[$layer]=0
        continue
    fi
    section "$layer"
    start=$(date +%s)
    if "layer_$layer"; then
        result[$layer]=passed
        passed=$((passed + 1))
    else
        result[$layer]=FAILED
        failed=$((failed + 1))
        [ "$keep_going" = 1 ] || fail_rest=1
    fi
    took[$layer]=$(( $(date +%s) - start ))
done

if [ -n "$copy" ] && [ "$copy" != "$ROOT" ]; then
    if [ "$failed" = 0 ] && [ "${KEEP_TMP:-0}" != 1 ]; then
        rm -rf "$copy"
    else
        echo
        echo "test tree kept for inspection: $copy/main (tmp_check/log holds the TAP logs)"
    fi
fi

section "summary"
total=0
for layer in "${ALL_LAYERS[@]}"; do
    [ -n "${result[$layer]:-}" ] || continue
    printf '  %-12s %-8s %5ss\n' "$layer" "${result[$layer]}" "${took[$layer]}"
    total=$((total + took[$layer]))
done
printf '  %-12s %-8s %5ss\n' total "" "$total"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
