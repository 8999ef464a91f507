# neon_platform: PGXS build.
#
#   make && make install      build and install into the server of pg_config
#   make installcheck         pg_regress (sql/, expected/) and TAP (test/t) tests; not as root
#   make unit                 plain-C tests of the HTTP engine, rate limiter and parsers
#   make bench                throughput and memory figures against the emulator

EXTENSION    = neon_platform
EXTVERSION   = 0.1.0
MODULE_big   = neon_platform
OBJS         = src/guc.o src/wake.o src/worker.o src/http.o src/ratelimit.o \
               src/neon_json.o src/jobs.o src/provision.o
DATA         = $(wildcard sql/neon_platform--*.sql)

PG_CPPFLAGS  = -DEXTVERSION=\"$(EXTVERSION)\"
PG_CFLAGS    = -std=gnu11 -Wall -Wextra -Werror
SHLIB_LINK   = -lcurl -ljson-c

REGRESS      = setup tiers provision wait connection_uri privileges
REGRESS_OPTS = --temp-instance=./tmp_check --temp-config=./test/regress.conf

TAP_TESTS    = 1
PROVE_TESTS  = test/t/*.pl

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Makefile.global sets PROVE_FLAGS, so ours must come after it.
PROVE_FLAGS += -I ./test/perl

# Plain-C programs built from the same sources as the extension.
UNIT_CFLAGS  = -std=gnu11 -O2 -g -Wall -Wextra -Werror -Isrc
UNIT_LIBS    = -lcurl -ljson-c -lm

test/unit/%: test/unit/%.c src/http.c src/ratelimit.c src/neon_json.c src/*.h
	$(CC) $(UNIT_CFLAGS) -o $@ $< src/http.c src/ratelimit.c src/neon_json.c $(UNIT_LIBS)

UNIT_TESTS   = test/unit/test_ratelimit test/unit/test_neon_json test/unit/test_http

.PHONY: unit bench
unit: $(UNIT_TESTS)
	@for t in $(UNIT_TESTS); do $$t || exit 1; done

bench: test/unit/bench_http
	test/bench/run.sh
	test/bench/provision.sh

EXTRA_CLEAN  = $(UNIT_TESTS) test/unit/bench_http tmp_check results regression.diffs regression.out
