/*
 * restore_state.c
 *		Every write of the worker to the tenants' restores, and to the
 *		branch rows that keep the state a restore, an undo or a redo
 *		replaced.
 *
 * The restore a job carries out is its row in neon_platform.restores
 * (restores.job_id), in the state the SQL function left it in: restoring
 * (a new restore), undoing or redoing. That state says which branch row
 * keeps the replaced state (the redo branch for an undo, else the backup
 * branch) and which one the job consumed (an undo restores from the
 * backup, a redo from the redo branch), so a job whose args could not even
 * be read still ends its restore. Each write first takes the tenant's row
 * with NOWAIT (tenant_state_lock): an application that holds it never
 * makes the worker wait. A row no longer in the state the job left it in
 * (changed by hand) is left as it is.
 */
#include "pg_prelude.h"

#include "engine/restore_state.h"
#include "engine/spi_util.h"
#include "engine/tenant_state.h"

/* The job's restore as the SQL function left it, shared by both writes. */
#define RESTORE_OF_JOB \
"WITH r AS (SELECT id, tenant, state, backup_branch, redo_branch FROM neon_platform.restores" \
"            WHERE job_id = $1 AND tenant = $2 AND state IN ('restoring', 'undoing', 'redoing'))"

/* The name of the branch row that keeps the state the restore replaced. */
#define PRESERVED_BRANCH "CASE r.state WHEN 'undoing' THEN r.redo_branch ELSE r.backup_branch END"

static const char *done_sql =
RESTORE_OF_JOB ","
"     preserved AS (UPDATE neon_platform.branches AS b"
"                      SET state = 'ready', branch_id = $3, last_error = NULL, ready_at = now(), updated_at = now()"
"                     FROM r WHERE b.tenant = r.tenant AND b.name = " PRESERVED_BRANCH " AND b.state = 'creating'),"
"     consumed AS (UPDATE neon_platform.branches AS b SET state = 'deleted', updated_at = now()"
"                     FROM r WHERE $4 AND b.tenant = r.tenant"
"                      AND b.name = CASE r.state WHEN 'undoing' THEN r.backup_branch"
"                                                WHEN 'redoing' THEN r.redo_branch END)"
"UPDATE neon_platform.restores AS x"
"   SET state = CASE r.state WHEN 'undoing' THEN 'undone' ELSE 'applied' END, updated_at = now()"
"  FROM r WHERE x.id = r.id";

static const char *failed_sql =
RESTORE_OF_JOB ","
"     preserved AS (UPDATE neon_platform.branches AS b SET state = 'failed', last_error = $3, updated_at = now()"
"                     FROM r WHERE b.tenant = r.tenant AND b.name = " PRESERVED_BRANCH " AND b.state = 'creating')"
"UPDATE neon_platform.restores AS x"
"   SET state = CASE r.state WHEN 'undoing' THEN 'applied' WHEN 'redoing' THEN 'undone' ELSE 'failed' END,"
"       updated_at = now()"
"  FROM r WHERE x.id = r.id";

static SPIPlanPtr done_plan;
static SPIPlanPtr failed_plan;

/*
 * Production has the restored state: the restore is applied (undone for
 * an undo), the replaced state is the preserved branch (ready, with its
 * id), the branch restored from is deleted when the job could delete it,
 * and the tenant is ready again on its (possibly new) branch and endpoint,
 * with `error` when a later step failed.
 */
void
restore_state_done(int64 job_id, const char *tenant, const char *preserved_branch_id, bool source_deleted,
				   const char *branch_id, const char *endpoint_id, const char *error)
{
	Oid			types[4] = {INT8OID, TEXTOID, TEXTOID, BOOLOID};
	Datum		values[4];

	tenant_state_lock(tenant);
	values[0] = Int64GetDatum(job_id);
	values[1] = CStringGetTextDatum(tenant);
	values[2] = CStringGetTextDatum(preserved_branch_id);
	values[3] = BoolGetDatum(source_deleted);
	spi_run(spi_plan(&done_plan, done_sql, 4, types), values, NULL, SPI_OK_UPDATE);
	tenant_state_restore_ended(tenant, branch_id, endpoint_id, error);
}

/*
 * Production was not restored: a new restore failed, an undo or a redo
 * goes back to where it started (applied, undone); the branch that was to
 * keep the replaced state failed; the tenant is ready with the reason.
 */
void
restore_state_failed(int64 job_id, const char *tenant, const char *error)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];

	tenant_state_lock(tenant);
	values[0] = Int64GetDatum(job_id);
	values[1] = CStringGetTextDatum(tenant);
	values[2] = CStringGetTextDatum(error);
	spi_run(spi_plan(&failed_plan, failed_sql, 3, types), values, NULL, SPI_OK_UPDATE);
	tenant_state_restore_ended(tenant, NULL, NULL, error);
}
