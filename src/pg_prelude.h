/*
 * pg_prelude.h
 *		Every PostgreSQL header the extension uses, behind one include.
 *
 * PostgreSQL's headers are not clean under -Wextra (unused parameters in
 * inline functions, signed/unsigned comparisons, partly initialised structs),
 * so the warnings they trigger are silenced here and nowhere else; our own
 * code stays under -Wall -Wextra -Werror.
 */
#ifndef NEON_PLATFORM_PG_PRELUDE_H
#define NEON_PLATFORM_PG_PRELUDE_H

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#include "postgres.h"

#include "access/xact.h"
#include "utils/array.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procsignal.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#if PG_VERSION_NUM >= 150000
#include "common/pg_prng.h"
#define random_fraction() pg_prng_double(&pg_global_prng_state)
#else
#define random_fraction() ((double) random() / ((double) MAX_RANDOM_VALUE + 1))
#endif

#pragma GCC diagnostic pop

#endif							/* NEON_PLATFORM_PG_PRELUDE_H */
