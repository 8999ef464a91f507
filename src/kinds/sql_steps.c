/*
 * sql_steps.c
 *		The steps of kinds that run SQL in a tenant's database: a tier's
 *		bootstrap (provision.c) and neon_run_sql (run_sql.c).
 *
 * The connection is read from the tenant's rows when the job is taken up
 * (neon_platform.sql_connection_uri: the direct host, never the pooler, as
 * migrations need a session of their own), so a job resumed by a restarted
 * worker has it too; it lives in the worker's memory only and is wiped with
 * the job. The engine decides what a refused connection or a lost one means
 * (sql_call.c); the step decides what SQL that ran means.
 */
#include "pg_prelude.h"

#include "engine/tenant_state.h"
#include "kinds/sql_steps.h"

/* Reads the tenant's connection (production, or the development branch `branch_id`) for `sql`. */
bool
tenant_sql_load(Job *job, TenantSql *t, const char *branch_id, const char *sql, const char **error)
{
	t->sql = sql;
	t->conninfo = tenant_state_sql_conninfo(job->tenant, branch_id);
	if (t->conninfo != NULL)
		return true;
	*error = branch_id ? "the development branch's connection (host, role or password) is not known"
		: "the tenant's connection (host, role or password) is not known";
	return false;
}

/* The SQL call of the step. */
bool
tenant_sql_build(Job *job, TenantSql *t, const char **error)
{
	return job_set_sql(job, t->conninfo, t->sql, error);
}

/*
 * SQL that ran: success with what it did, or failure with the server's
 * error and SQLSTATE (`what` names the SQL in the reason); jobs.result
 * holds the figures either way.
 */
JobOutcome
tenant_sql_outcome(Job *job pg_attribute_unused(), SqlRequest *req, const char *what)
{
	JobOutcome	o;

	if (req->outcome == SQL_OK)
		o = job_outcome(JOB_SUCCEEDED, NULL);
	else
		o = job_outcome(JOB_FAILED, psprintf("%s failed: %s", what, job_sql_error_text(req)));
	o.result_json = job_sql_result_json(req);
	return o;
}

/* The step after a restart that found the SQL sent: nobody knows whether it committed. */
bool
tenant_sql_unknown_outcome(Job *job pg_attribute_unused(), const char **error)
{
	*error = "the worker stopped while the SQL ran; whether it committed is unknown, so it is not run again";
	return false;
}

/* Wipes and frees the connection. */
void
tenant_sql_release(TenantSql *t)
{
	if (t->conninfo == NULL)
		return;
	explicit_bzero(t->conninfo, strlen(t->conninfo));
	free(t->conninfo);
	t->conninfo = NULL;
}
