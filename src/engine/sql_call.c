/*
 * sql_call.c
 *		What a job kind needs to run SQL in a tenant's database and to say
 *		what its end means: the request, the engine's verdict on what never
 *		ran or may have run, texts and results.
 *
 * The rules, so a kind need not apply them:
 *	 the connection was refused or timed out		nothing ran: the same step
 *													again after a backoff (a
 *													compute waking up, or one
 *													suspended for its quota,
 *													with the server's reason)
 *	 the connection broke after the SQL left, or	whether it committed is
 *	 no end came by the deadline					unknown: the job fails and
 *													the SQL is never run again
 *	 the SQL ran (and succeeded or failed)			the step's handle_sql
 */
#include "pg_prelude.h"

#include "engine/job.h"
#include "engine/secrets.h"

/*
 * Makes job->sql_call the SQL `sql` on the database of `conninfo` (which
 * holds the tenant's password: the request wipes its copy when freed).
 */
bool
job_set_sql(Job *job, const char *conninfo, const char *sql, const char **error)
{
	if (conninfo == NULL)
	{
		*error = "the tenant's connection (host, role or password) is not known";
		return false;
	}
	if (job->sql_call)
		sql_request_free(job->sql_call);
	job->sql_call = sql_request_new(conninfo, sql);
	if (job->sql_call == NULL)
		elog(ERROR, "neon_platform: out of memory");
	job->sql_call->owner = job;
	job->call_path = MemoryContextStrdup(job->cxt, "SQL");
	job->call_is_mutation = true;
	return true;
}

/*
 * The server's error as last_error shows it: "ERROR 42P01: message", with
 * every key removed (the engine has already masked the password).
 */
const char *
job_sql_error_text(SqlRequest *req)
{
	const char *what = req->outcome == SQL_REMOTE_ERROR ? "ERROR" : sql_outcome_name(req->outcome);
	char	   *text;

	if (req->sqlstate[0])
		text = psprintf("%s %s: %s", what, req->sqlstate, req->error ? req->error : "");
	else
		text = psprintf("%s: %s", what, req->error ? req->error : "no reason given");
	return redact_secrets(text);
}

/* What ran, for jobs.result: rows, tag, statements, time, and the SQLSTATE of a failure. */
char *
job_sql_result_json(SqlRequest *req)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"rows_affected\": %lld, \"statements\": %d, \"duration_ms\": %.1f, \"connect_ms\": %.1f",
					 req->rows_affected, req->statements, req->latency_ms, Max(req->connect_ms, 0.0));
	if (req->command_tag)
	{
		appendStringInfoString(&buf, ", \"command_tag\": ");
		escape_json(&buf, req->command_tag);
	}
	if (req->sqlstate[0])
	{
		appendStringInfoString(&buf, ", \"sqlstate\": ");
		escape_json(&buf, req->sqlstate);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* What the end of a job's SQL means; see the rules above. */
JobOutcome
job_decide_sql(Job *job, SqlRequest *req)
{
	JobOutcome	o;

	switch (req->outcome)
	{
		case SQL_CONNECT_FAILED:
		case SQL_CONNECT_TIMEOUT:
			return job_retry_at(NULL, psprintf("the tenant's database did not take the connection: %s",
											   job_sql_error_text(req)));
		case SQL_LOST:
		case SQL_STATEMENT_TIMEOUT:
			o = job_outcome(JOB_FAILED,
							psprintf("the SQL was sent and then %s; whether it committed is unknown, so it is not run again: %s",
									 req->outcome == SQL_LOST ? "the connection broke" : "no end came in time",
									 job_sql_error_text(req)));
			o.result_json = job_sql_result_json(req);
			return o;
		case SQL_OK:
		case SQL_REMOTE_ERROR:
			break;
	}
	return job->step->handle_sql(job, req);
}
