/*
 * tenant_state.c
 *		Every write of the worker to the tenants and their secrets.
 *
 * An application can hold a tenant's row (a transaction that called one of
 * the SQL functions and has not committed): every write here first takes
 * the row with NOWAIT, so the worker never waits for it. The caller runs
 * each job's writes in a subtransaction and sets the job aside to try again
 * when the lock is not available; the other jobs are not held up.
 */
#include "pg_prelude.h"

#include "engine/spi_util.h"
#include "engine/tenant_state.h"

static const char *lock_sql =
"SELECT 1 FROM neon_platform.tenants WHERE tenant = $1 FOR NO KEY UPDATE NOWAIT";

static const char *project_sql =
"UPDATE neon_platform.tenants"
"   SET state = CASE WHEN $11 THEN 'ready' ELSE state END, project_id = $2, org_id = $3, branch_id = $4,"
"       endpoint_id = $5, database_name = $6, role_name = $7, host = $8, pooler_host = $9,"
"       pending_operations = $10, last_error = NULL, ready_at = CASE WHEN $11 THEN now() END, updated_at = now()"
" WHERE tenant = $1";

static const char *bootstrapped_sql =
"UPDATE neon_platform.tenants SET state = 'ready', last_error = NULL, ready_at = now(), updated_at = now()"
" WHERE tenant = $1 AND state = 'provisioning'";

static const char *conninfo_sql =
"SELECT neon_platform.sql_connection_uri($1, $2)";

static const char *secret_sql =
"INSERT INTO neon_platform.tenant_secrets AS s (tenant, role_password) VALUES ($1, $2)"
"    ON CONFLICT (tenant) DO UPDATE SET role_password = excluded.role_password, updated_at = now()";

static const char *ended_sql =
"UPDATE neon_platform.tenants SET state = $3, last_error = $4, updated_at = now()"
" WHERE tenant = $1 AND state = $2";

static const char *note_error_sql =
"UPDATE neon_platform.tenants SET last_error = $2, updated_at = now() WHERE tenant = $1";

static const char *tier_changed_sql =
"UPDATE neon_platform.tenants"
"   SET state = 'ready', tier = $2, organization = $3, org_id = coalesce($4, org_id),"
"       last_error = NULL, updated_at = now()"
" WHERE tenant = $1";

static const char *tier_unchanged_sql =
"UPDATE neon_platform.tenants"
"   SET state = 'ready', organization = coalesce($2, organization), org_id = coalesce($3, org_id),"
"       last_error = $4, updated_at = now()"
" WHERE tenant = $1 AND state = 'changing_tier'";

static const char *deleted_sql =
"UPDATE neon_platform.tenants"
"   SET state = 'deleted', final_snapshot_id = $2, pending_operations = '{}', last_error = NULL,"
"       updated_at = now()"
" WHERE tenant = $1";

static const char *forget_secret_sql =
"DELETE FROM neon_platform.tenant_secrets WHERE tenant = $1";

static const char *forget_versions_sql =
"WITH branches AS (UPDATE neon_platform.branches SET state = 'deleted', updated_at = now()"
"                   WHERE tenant = $1 AND state <> 'deleted')"
"UPDATE neon_platform.snapshots SET state = 'deleted', updated_at = now() WHERE tenant = $1 AND state <> 'deleted'";

static const char *operations_sql =
"UPDATE neon_platform.tenants SET pending_operations = $2, updated_at = now() WHERE tenant = $1";

static const char *claim_link_sql =
"UPDATE neon_platform.tenants SET claim_url = $2, claim_expires_at = $3::timestamptz, last_error = NULL,"
"       updated_at = now()"
" WHERE tenant = $1";

static const char *claimed_sql =
"UPDATE neon_platform.tenants SET state = 'claimed', pending_operations = '{}', last_error = $2, updated_at = now()"
" WHERE tenant = $1";

static const char *usage_sql =
"SELECT neon_platform.record_usage($1, $2::timestamptz, $3::timestamptz, $4, $5, $6, $7, $8, $9, $10, true)";

static SPIPlanPtr lock_plan;
static SPIPlanPtr project_plan;
static SPIPlanPtr bootstrapped_plan;
static SPIPlanPtr conninfo_plan;
static SPIPlanPtr secret_plan;
static SPIPlanPtr ended_plan;
static SPIPlanPtr note_error_plan;
static SPIPlanPtr operations_plan;
static SPIPlanPtr tier_changed_plan;
static SPIPlanPtr deleted_plan;
static SPIPlanPtr forget_secret_plan;
static SPIPlanPtr forget_versions_plan;
static SPIPlanPtr tier_unchanged_plan;
static SPIPlanPtr usage_plan;
static SPIPlanPtr claim_link_plan;
static SPIPlanPtr claimed_plan;

/*
 * Takes the tenant's row without waiting; raises lock_not_available if
 * somebody holds it. The writers of the tenant's other rows (branches,
 * snapshots, restores) take it first too.
 */
void
tenant_state_lock(const char *tenant)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(tenant)};

	spi_run(spi_plan(&lock_plan, lock_sql, 1, types), values, NULL, SPI_OK_SELECT);
}

/*
 * Writes the tenant's project and password; the tenant becomes ready, or
 * (ready false: its tier's bootstrap SQL is still to run) stays
 * provisioning with what that SQL needs to connect.
 */
void
tenant_state_project(const char *tenant, const NeonProject *p, const char *org_id, bool ready)
{
	Oid			types[11] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, BOOLOID};
	Datum		values[11];
	char		nulls[11];
	Oid			secret_types[2] = {TEXTOID, TEXTOID};
	Datum		secret_values[2];

	if (p->password == NULL)
		elog(ERROR, "neon_platform: Neon returned no password for tenant \"%s\"", tenant);
	tenant_state_lock(tenant);
	values[0] = text_or_null(tenant, &nulls[0]);
	values[1] = text_or_null(p->project_id, &nulls[1]);
	values[2] = text_or_null(p->org_id ? p->org_id : org_id, &nulls[2]);
	values[3] = text_or_null(p->branch_id, &nulls[3]);
	values[4] = text_or_null(p->endpoint_id, &nulls[4]);
	values[5] = text_or_null(p->database_name, &nulls[5]);
	values[6] = text_or_null(p->role_name, &nulls[6]);
	values[7] = text_or_null(p->host, &nulls[7]);
	values[8] = text_or_null(p->pooler_host, &nulls[8]);
	values[9] = text_array(p->operation_ids, p->n_operations);
	nulls[9] = ' ';
	values[10] = BoolGetDatum(ready);
	nulls[10] = ' ';
	spi_run(spi_plan(&project_plan, project_sql, 11, types), values, nulls, SPI_OK_UPDATE);

	secret_values[0] = CStringGetTextDatum(tenant);
	secret_values[1] = CStringGetTextDatum(p->password);
	spi_run(spi_plan(&secret_plan, secret_sql, 2, secret_types), secret_values, NULL, SPI_OK_INSERT);
}

/* The tenant's bootstrap SQL ran: it becomes ready. */
void
tenant_state_bootstrapped(const char *tenant)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(tenant)};

	tenant_state_lock(tenant);
	spi_run(spi_plan(&bootstrapped_plan, bootstrapped_sql, 1, types), values, NULL, SPI_OK_UPDATE);
}

/*
 * The direct connection URI (with the password) of the tenant's production
 * branch, or of its development branch `branch_id`, for SQL the worker runs
 * there; NULL when a part of it is not known. malloc'd: the caller wipes it.
 */
char *
tenant_state_sql_conninfo(const char *tenant, const char *branch_id)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	char		nulls[2];
	bool		isnull;
	Datum		d;
	char	   *uri;
	char	   *copy;

	values[0] = text_or_null(tenant, &nulls[0]);
	values[1] = text_or_null(branch_id, &nulls[1]);
	spi_run(spi_plan(&conninfo_plan, conninfo_sql, 2, types), values, nulls, SPI_OK_SELECT);
	if (SPI_processed != 1)
		return NULL;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return NULL;
	uri = TextDatumGetCString(d);
	copy = strdup(uri);
	explicit_bzero(uri, strlen(uri));
	pfree(uri);
	if (copy == NULL)
		elog(ERROR, "neon_platform: out of memory");
	return copy;
}

/*
 * A job that failed for good: the tenant, if still in the state the job
 * put it in, goes to `new_state` (failed, or ready when its project is
 * still there) with the reason.
 */
void
tenant_state_job_failed(const char *tenant, const char *while_state, const char *new_state, const char *error)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];

	tenant_state_lock(tenant);
	values[0] = CStringGetTextDatum(tenant);
	values[1] = CStringGetTextDatum(while_state);
	values[2] = CStringGetTextDatum(new_state);
	values[3] = CStringGetTextDatum(error);
	spi_run(spi_plan(&ended_plan, ended_sql, 4, types), values, NULL, SPI_OK_UPDATE);
}

/* A job that failed for good without changing what the tenant is: only the reason is kept. */
void
tenant_state_note_error(const char *tenant, const char *error)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	tenant_state_lock(tenant);
	values[0] = CStringGetTextDatum(tenant);
	values[1] = CStringGetTextDatum(error);
	spi_run(spi_plan(&note_error_plan, note_error_sql, 2, types), values, NULL, SPI_OK_UPDATE);
}

/* The Neon operations that may still run on the tenant's project, after some ended or began. */
void
tenant_state_set_pending_operations(const char *tenant, char **ids, int n)
{
	Oid			types[2] = {TEXTOID, TEXTARRAYOID};
	Datum		values[2];

	tenant_state_lock(tenant);
	values[0] = CStringGetTextDatum(tenant);
	values[1] = text_array(ids, n);
	spi_run(spi_plan(&operations_plan, operations_sql, 2, types), values, NULL, SPI_OK_UPDATE);
}

/* The tenant is on its new tier, in the organization its project is in now. */
void
tenant_state_tier_changed(const char *tenant, const char *tier, const char *organization, const char *org_id)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	tenant_state_lock(tenant);
	values[0] = CStringGetTextDatum(tenant);
	values[1] = CStringGetTextDatum(tier);
	values[2] = CStringGetTextDatum(organization);
	values[3] = text_or_null(org_id, &nulls[3]);
	spi_run(spi_plan(&tier_changed_plan, tier_changed_sql, 4, types), values, nulls, SPI_OK_UPDATE);
}

/*
 * A tier change failed: the tenant is usable again in its old tier, in the
 * organization its project is in (NULL: where it was), with the reason.
 */
void
tenant_state_tier_unchanged(const char *tenant, const char *organization, const char *org_id, const char *error)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	tenant_state_lock(tenant);
	values[0] = CStringGetTextDatum(tenant);
	values[1] = text_or_null(organization, &nulls[1]);
	values[2] = text_or_null(org_id, &nulls[2]);
	values[3] = CStringGetTextDatum(error);
	spi_run(spi_plan(&tier_unchanged_plan, tier_unchanged_sql, 4, types), values, nulls, SPI_OK_UPDATE);
}

/*
 * The project is no longer ours (values[0]: the tenant): its password, and
 * the branches and snapshots it held, are gone with it.
 */
static void
forget_project(Datum *values)
{
	Oid			types[1] = {TEXTOID};

	spi_run(spi_plan(&forget_secret_plan, forget_secret_sql, 1, types), values, NULL, SPI_OK_DELETE);
	spi_run(spi_plan(&forget_versions_plan, forget_versions_sql, 1, types), values, NULL, SPI_OK_UPDATE);
}

/* The tenant's project is gone: the row stays for the record, the password does not. */
void
tenant_state_deleted(const char *tenant, const char *final_snapshot_id)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};

	tenant_state_lock(tenant);
	values[0] = CStringGetTextDatum(tenant);
	values[1] = text_or_null(final_snapshot_id, &nulls[1]);
	spi_run(spi_plan(&deleted_plan, deleted_sql, 2, types), values, nulls, SPI_OK_UPDATE);
	forget_project(values);
}

/*
 * What the worker read of the tenant's project becomes its usage in the
 * period (a figure below 0 was not read: the period's earlier reading
 * keeps it). The row lock comes first, so the foreign key's check waits
 * for nobody.
 */
void
tenant_state_usage_read(const char *tenant, const NeonUsage *u)
{
	Oid			types[10] = {TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT4OID, INT4OID};
	Datum		values[10];
	char		nulls[10] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	tenant_state_lock(tenant);
	values[0] = CStringGetTextDatum(tenant);
	values[1] = CStringGetTextDatum(u->period_start);
	values[2] = text_or_null(u->period_end, &nulls[2]);
	values[3] = Int64GetDatum(u->active_time_seconds);
	values[4] = Int64GetDatum(u->compute_time_seconds);
	values[5] = Int64GetDatum(u->written_data_bytes);
	values[6] = Int64GetDatum(u->data_transfer_bytes);
	values[7] = Int64GetDatum(u->logical_size_bytes);
	nulls[7] = u->logical_size_bytes < 0 ? 'n' : ' ';
	values[8] = Int32GetDatum((int32) Min(u->branches, PG_INT32_MAX));
	nulls[8] = u->branches < 0 ? 'n' : ' ';
	values[9] = Int32GetDatum((int32) Min(u->snapshots, PG_INT32_MAX));
	nulls[9] = u->snapshots < 0 ? 'n' : ' ';
	spi_run(spi_plan(&usage_plan, usage_sql, 10, types), values, nulls, SPI_OK_SELECT);
}

/* The claim link neon_claim() asked for, and until when it works. */
void
tenant_state_claim_link(const char *tenant, const char *url, const char *expires_at)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];

	tenant_state_lock(tenant);
	values[0] = CStringGetTextDatum(tenant);
	values[1] = CStringGetTextDatum(url);
	values[2] = CStringGetTextDatum(expires_at);
	spi_run(spi_plan(&claim_link_plan, claim_link_sql, 3, types), values, NULL, SPI_OK_UPDATE);
}

/*
 * The end user took the project into their own account: the tenant is
 * managed no more, and its password (theirs now) is forgotten.
 */
void
tenant_state_claimed(const char *tenant, const char *error)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	tenant_state_lock(tenant);
	values[0] = CStringGetTextDatum(tenant);
	values[1] = CStringGetTextDatum(error);
	spi_run(spi_plan(&claimed_plan, claimed_sql, 2, types), values, NULL, SPI_OK_UPDATE);
	forget_project(values);
}

static const char *restore_ended_sql =
"UPDATE neon_platform.tenants"
"   SET state = 'ready', branch_id = coalesce($2, branch_id), endpoint_id = coalesce($3, endpoint_id),"
"       last_error = $4, updated_at = now()"
" WHERE tenant = $1 AND state = 'restoring'";

static SPIPlanPtr restore_ended_plan;

/*
 * A restore job ended: the tenant is usable again, with the reason when it
 * failed. A finalized snapshot restore gives production a new branch id
 * (NULLs: the ids stay), which the stored ids follow.
 */
void
tenant_state_restore_ended(const char *tenant, const char *branch_id, const char *endpoint_id, const char *error)
{
	Oid			types[4] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	tenant_state_lock(tenant);
	values[0] = CStringGetTextDatum(tenant);
	values[1] = text_or_null(branch_id, &nulls[1]);
	values[2] = text_or_null(endpoint_id, &nulls[2]);
	values[3] = text_or_null(error, &nulls[3]);
	spi_run(spi_plan(&restore_ended_plan, restore_ended_sql, 4, types), values, nulls, SPI_OK_UPDATE);
}
