# neon_platform: PGXS build.
#
#   make && make install      build and install into the server of pg_config
#   make installcheck         pg_regress (sql/, expected/) and TAP (test/t) tests; not as root
#   make unit                 plain-C tests of the HTTP engine, rate limiter and parsers
#   make bench                throughput and memory figures against the emulator

EXTENSION    = neon_platform
EXTVERSION   = 0.2.0
MODULE_big   = neon_platform
# The engine (loop, queue, tenant state, settings), the transport (HTTP, rate
# limiter), the Neon API bodies and parsers, and one file per job kind.
OBJS         = $(patsubst %.c,%.o,$(wildcard src/engine/*.c src/transport/*.c src/neon/*.c src/kinds/*.c))

# The install script is assembled from one piece per concern (sql/install/),
# in the order of their names; the scripts of released versions and the
# upgrade scripts are kept as they are.
INSTALL_SQL  = sql/neon_platform--$(EXTVERSION).sql
# The upgrade from the last release: its table changes, then the column
# comments, functions, views and privileges of this version (all of them
# COMMENT ON or CREATE OR REPLACE, so they apply to either).
UPGRADE_SQL  = sql/neon_platform--0.1.0--$(EXTVERSION).sql
DATA_built   = $(INSTALL_SQL) $(UPGRADE_SQL)
DATA         = sql/neon_platform--0.1.0.sql

PG_CPPFLAGS  = -I$(srcdir)/src -DEXTVERSION=\"$(EXTVERSION)\"
PG_CFLAGS    = -std=gnu11 -Wall -Wextra -Werror
SHLIB_LINK   = -lcurl -ljson-c

REGRESS      = setup tiers provision wait connection_uri privileges set_tier deprovision manage_tenants claim versions usage reconcile tenant_sql
REGRESS_OPTS = --temp-instance=./tmp_check --temp-config=./test/regress.conf

TAP_TESTS    = 1
PROVE_TESTS  = test/t/*.pl

PG_CONFIG   ?= pg_config
PGXS        := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Makefile.global sets PROVE_FLAGS, so ours must come after it.
PROVE_FLAGS += -I ./test/perl

# Plain-C programs built from the same sources as the extension.
UNIT_CFLAGS  = -std=gnu11 -O2 -g -Wall -Wextra -Werror -Isrc -I$(libpq_srcdir)
UNIT_LIBS    = -lcurl -ljson-c -lpq -lm

test/unit/%: test/unit/%.c $(wildcard src/transport/*.c src/neon/*.c src/transport/*.h src/neon/*.h)
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(wildcard src/transport/*.c) $(wildcard src/neon/*.c) $(UNIT_LIBS)

UNIT_TESTS   = test/unit/test_ratelimit test/unit/test_neon_json test/unit/test_neon_usage test/unit/test_neon_branches test/unit/test_http test/unit/test_sql

# The SQL engine is a libpq client, in the extension as in the unit tests
# (test_sql runs itself through test/unit/sql_fixture.sh, its servers).
src/transport/sql.o src/transport/sql.bc: override CPPFLAGS += -I$(libpq_srcdir)
SHLIB_LINK  += $(libpq)

# PGXS tracks no header dependencies: rebuild every object when a header changes.
$(OBJS): $(wildcard src/*.h src/*/*.h)

$(INSTALL_SQL): $(sort $(wildcard sql/install/*.sql))
	cat $^ > $@

$(UPGRADE_SQL): sql/upgrade/0.1.0--$(EXTVERSION).sql $(sort $(wildcard sql/install/1[4-9]*.sql sql/install/[2-9]*.sql))
	cat $^ > $@

.PHONY: unit bench
unit: $(UNIT_TESTS)
	@for t in $(UNIT_TESTS); do $$t || exit 1; done

bench: test/unit/bench_http
	test/bench/run.sh
	test/bench/provision.sh
	test/bench/sweep.sh

EXTRA_CLEAN  = $(UNIT_TESTS) test/unit/bench_http tmp_check results regression.diffs regression.out
