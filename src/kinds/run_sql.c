/*
 * run_sql.c
 *		SQL run in one tenant's database as its owner role: neon_run_sql().
 *		One job per tenant, so a fleet-wide migration is
 *		SELECT neon_run_sql(tenant, '...') FROM neon_platform.tenants ...,
 *		paced by neon_platform.max_sql_connections (background lane: at most
 *		background_rate_share of them), each tenant's outcome in its job row
 *		and the progress in neon_platform.sql_runs.
 *
 * Input (jobs.args, written by neon_run_sql):
 *   {"sql": "...", "branch_id": "br-..." (absent: production)}
 *
 *	 run ──ran──> done: result {rows_affected, command_tag, statements, duration_ms, connect_ms}
 *	  │ ran and failed: failed, "SQL failed: ERROR 42P01: ...", result.sqlstate
 *	  │ connection refused or timed out: run again after a backoff
 *	  │ connection lost after the SQL left, or the worker stopped meanwhile:
 *	  v failed, never run twice (whether it committed is unknown)
 *
 * Cost: no API request; 1 connection to the tenant's compute (which wakes
 * it up, and counts as its active time).
 */
#include "pg_prelude.h"

#include "engine/job_args.h"
#include "kinds/kinds.h"
#include "kinds/sql_steps.h"
#include "neon/neon_common.h"

/* Reads the SQL, the branch (checked like any id) and the tenant's connection. */
static bool
run_sql_load(Job *job, const char *args_text, const char *progress pg_attribute_unused(), const char **error)
{
	TenantSql  *t = MemoryContextAllocZero(job->cxt, sizeof(TenantSql));
	JobArgs    *args = job_args_parse(args_text, error);
	const char *sql;
	const char *branch_id;
	bool		loaded;

	job->state = t;
	if (args == NULL)
		return false;
	sql = job_args_string(args, "sql");
	branch_id = job_args_string(args, "branch_id");
	if (sql == NULL || (branch_id != NULL && !neon_valid_id(branch_id, strlen(branch_id))))
	{
		job_args_free(args);
		*error = "args need the sql and, if any, a valid branch_id";
		return false;
	}
	loaded = tenant_sql_load(job, t, branch_id, MemoryContextStrdup(job->cxt, sql), error);
	job_args_free(args);
	return loaded;
}

/* The SQL on the tenant's database. */
static bool
build_run(Job *job, const char **error)
{
	return tenant_sql_build(job, (TenantSql *) job->state, error);
}

/* What ran: success or the server's error, with the figures. */
static JobOutcome
handle_run(Job *job, SqlRequest *req)
{
	return tenant_sql_outcome(job, req, "the SQL");
}

/* Wipes the connection. */
static void
run_sql_release(Job *job)
{
	if (job->state)
		tenant_sql_release((TenantSql *) job->state);
}

static const JobStep run_sql_steps[] = {
	{.name = "run", .mutation = true, .lookup_step = SQL_STEP_UNKNOWN, .build = build_run, .handle_sql = handle_run},
	{.name = SQL_STEP_UNKNOWN, .build = tenant_sql_unknown_outcome},
	{.name = NULL}
};

const JobKind run_sql_kind = {
	.name = "run_sql",
	.lane = LANE_BACKGROUND,
	.needs_tenant = true,
	.steps = run_sql_steps,
	.load = run_sql_load,
	.release = run_sql_release,
};
