/*
 * version_state.c
 *		Every write of the worker to the tenants' branches and snapshots.
 *
 * These rows belong to their tenant: each write first takes the tenant's
 * row without waiting (tenant_state_lock), as every write to a tenant's
 * rows does, so an application that holds it (a transaction calling
 * neon_snapshot() that has not committed) never makes the worker wait; the
 * engine writes the outcome on a later pass instead. Each write applies
 * only while the row is in the state the job put it in, so a job recorded
 * late cannot undo what a newer call of the SQL functions did.
 */
#include "pg_prelude.h"

#include "engine/spi_util.h"
#include "engine/tenant_state.h"
#include "engine/version_state.h"

static const char *branch_ready_sql =
"UPDATE neon_platform.branches"
"   SET state = 'ready', branch_id = $3, endpoint_id = $4, host = $5, pooler_host = $6,"
"       last_error = NULL, ready_at = now(), updated_at = now()"
" WHERE tenant = $1 AND name = $2 AND state = 'creating'";

static const char *branch_ended_sql =
"UPDATE neon_platform.branches SET state = $4, last_error = $5, updated_at = now()"
" WHERE tenant = $1 AND name = $2 AND state = $3";

static const char *snapshot_ready_sql =
"UPDATE neon_platform.snapshots"
"   SET state = 'ready', snapshot_id = $3, last_error = NULL, ready_at = now(), updated_at = now()"
" WHERE tenant = $1 AND name = $2 AND state = 'creating'";

static const char *snapshot_ended_sql =
"UPDATE neon_platform.snapshots SET state = $4, last_error = $5, updated_at = now()"
" WHERE tenant = $1 AND name = $2 AND state = $3";

static SPIPlanPtr branch_ready_plan;
static SPIPlanPtr branch_ended_plan;
static SPIPlanPtr snapshot_ready_plan;
static SPIPlanPtr snapshot_ended_plan;

/*
 * A job on a branch or snapshot ended: the row, if still `while_state`,
 * goes to `new_state` with the reason (NULL on success).
 */
static void
row_ended(SPIPlanPtr *plan, const char *sql, const char *tenant, const char *name, const char *while_state,
		  const char *new_state, const char *error)
{
	Oid			types[5] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	tenant_state_lock(tenant);
	values[0] = CStringGetTextDatum(tenant);
	values[1] = CStringGetTextDatum(name);
	values[2] = CStringGetTextDatum(while_state);
	values[3] = CStringGetTextDatum(new_state);
	values[4] = text_or_null(error, &nulls[4]);
	spi_run(spi_plan(plan, sql, 5, types), values, nulls, SPI_OK_UPDATE);
}

/*
 * A branch being created is there: its Neon id, and where to connect (NULLs
 * for a branch without compute).
 */
void
branch_state_ready(const char *tenant, const char *name, const char *branch_id, const char *endpoint_id,
				   const char *host, const char *pooler_host)
{
	Oid			types[6] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	tenant_state_lock(tenant);
	values[0] = CStringGetTextDatum(tenant);
	values[1] = CStringGetTextDatum(name);
	values[2] = CStringGetTextDatum(branch_id);
	values[3] = text_or_null(endpoint_id, &nulls[3]);
	values[4] = text_or_null(host, &nulls[4]);
	values[5] = text_or_null(pooler_host, &nulls[5]);
	spi_run(spi_plan(&branch_ready_plan, branch_ready_sql, 6, types), values, nulls, SPI_OK_UPDATE);
}

/* A job on a branch ended: ready after a reset, deleted, or back to ready or failed when it failed. */
void
branch_state_ended(const char *tenant, const char *name, const char *while_state, const char *new_state,
				   const char *error)
{
	row_ended(&branch_ended_plan, branch_ended_sql, tenant, name, while_state, new_state, error);
}

/* The snapshot exists at Neon, with its id. */
void
snapshot_state_ready(const char *tenant, const char *name, const char *snapshot_id)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];

	tenant_state_lock(tenant);
	values[0] = CStringGetTextDatum(tenant);
	values[1] = CStringGetTextDatum(name);
	values[2] = CStringGetTextDatum(snapshot_id);
	spi_run(spi_plan(&snapshot_ready_plan, snapshot_ready_sql, 3, types), values, NULL, SPI_OK_UPDATE);
}

/* A job on a snapshot ended: ready, deleted or failed (or back to ready). */
void
snapshot_state_ended(const char *tenant, const char *name, const char *while_state, const char *new_state,
					 const char *error)
{
	row_ended(&snapshot_ended_plan, snapshot_ended_sql, tenant, name, while_state, new_state, error);
}
