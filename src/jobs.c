/*
 * jobs.c
 *		The durable queue in neon_platform.jobs, as the worker sees it.
 *
 * Every function here runs inside a short transaction opened with
 * jobs_begin() and closed with jobs_commit(); no transaction is ever open
 * while an API call is in flight. The worker claims due jobs (marking them
 * running with a lease), carries them out in memory, and records each call
 * and each outcome as soon as it is known.
 */
#include "pg_prelude.h"

#include <math.h>

#include "neon_platform.h"

/* How long a claimed job stays leased; a worker restart takes back any lease at once. */
#define JOB_LEASE "5 minutes"

/* Backoff between attempts: 0.5 s doubling up to 30 s, with +-25 % jitter. */
#define BACKOFF_BASE_SECONDS 0.5
#define BACKOFF_CAP_SECONDS 30.0

/* Rows deleted per statement when pruning, so no prune holds locks for long. */
#define PRUNE_BATCH 10000

static const char *claim_sql =
"WITH due AS ("
"    SELECT j.id FROM neon_platform.jobs AS j"
"     WHERE j.state = 'queued' AND j.run_after <= now()"
"       AND NOT EXISTS (SELECT 1 FROM neon_platform.jobs AS e"
"                        WHERE e.tenant = j.tenant AND e.id < j.id"
"                          AND e.state IN ('queued', 'running'))"
"     ORDER BY j.run_after, j.id"
"     LIMIT $1"
"       FOR UPDATE OF j SKIP LOCKED),"
" claimed AS ("
"    UPDATE neon_platform.jobs AS j"
"       SET state = 'running', attempts = j.attempts + 1,"
"           lease_until = now() + interval '" JOB_LEASE "',"
"           started_at = coalesce(j.started_at, now()), updated_at = now()"
"      FROM due WHERE j.id = due.id"
"    RETURNING j.id, j.tenant, j.kind, j.step, j.attempts)"
" SELECT c.id, c.tenant, c.kind, c.step, c.attempts,"
"        t.organization, t.project_name, r.region_id, r.pg_version,"
"        r.restore_window_seconds, r.autoscaling_min_cu::float8, r.autoscaling_max_cu::float8,"
"        r.suspend_timeout_seconds, r.active_time_seconds, r.compute_time_seconds,"
"        r.written_data_bytes, r.data_transfer_bytes, r.logical_size_bytes"
"   FROM claimed AS c"
"   JOIN neon_platform.tenants AS t ON t.tenant = c.tenant"
"   JOIN neon_platform.tiers AS r ON r.name = t.tier"
"  ORDER BY c.id";

static const char *next_due_sql =
"SELECT extract(epoch FROM min(j.run_after) - now())::float8"
"  FROM neon_platform.jobs AS j"
" WHERE j.state = 'queued'"
"   AND NOT EXISTS (SELECT 1 FROM neon_platform.jobs AS e"
"                    WHERE e.tenant = j.tenant AND e.id < j.id"
"                      AND e.state IN ('queued', 'running'))";

/*
 * Jobs still running belong to a worker that is gone (there is only ever one
 * worker). A provision job among them may have sent its create without
 * learning the outcome, so it resumes by looking for the project first.
 */
static const char *recover_sql =
"UPDATE neon_platform.jobs"
"   SET state = 'queued', lease_until = NULL, run_after = now(),"
"       step = CASE WHEN kind = 'provision' THEN 'find_existing' ELSE step END,"
"       last_error = 'the worker stopped while the job was running',"
"       updated_at = now()"
" WHERE state = 'running'";

static const char *record_call_sql =
"INSERT INTO neon_platform.api_calls"
"    (job_id, method, path, status, latency_ms, request_id, error)"
" VALUES ($1, $2, $3, $4, $5, $6, $7)";

static const char *succeed_sql =
"UPDATE neon_platform.jobs"
"   SET state = 'succeeded', finished_at = now(), lease_until = NULL, step = NULL,"
"       last_http_status = $2, last_error = NULL, result = $3::jsonb, updated_at = now()"
" WHERE id = $1";

static const char *fail_sql =
"UPDATE neon_platform.jobs"
"   SET state = 'failed', finished_at = now(), lease_until = NULL,"
"       last_http_status = $2, last_error = $3, updated_at = now()"
" WHERE id = $1";

static const char *retry_sql =
"UPDATE neon_platform.jobs"
"   SET state = 'queued', lease_until = NULL,"
"       run_after = now() + $2 * interval '1 second',"
"       attempts = attempts - $6::int,"
"       last_http_status = $3, last_error = $4, step = $5, updated_at = now()"
" WHERE id = $1";

static const char *prune_jobs_sql =
"DELETE FROM neon_platform.jobs WHERE id IN ("
"    SELECT id FROM neon_platform.jobs"
"     WHERE finished_at < now() - $1 * interval '1 second' LIMIT " CppAsString2(PRUNE_BATCH) ")";

static const char *prune_calls_sql =
"DELETE FROM neon_platform.api_calls WHERE id IN ("
"    SELECT id FROM neon_platform.api_calls"
"     WHERE called_at < now() - $1 * interval '1 second' LIMIT " CppAsString2(PRUNE_BATCH) ")";

static SPIPlanPtr claim_plan;
static SPIPlanPtr next_due_plan;
static SPIPlanPtr record_call_plan;
static SPIPlanPtr succeed_plan;
static SPIPlanPtr fail_plan;
static SPIPlanPtr retry_plan;
static SPIPlanPtr prune_jobs_plan;
static SPIPlanPtr prune_calls_plan;

/* Opens the short transaction every queue access runs in. */
void
jobs_begin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "neon_platform: SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

/* Commits it and reports statistics, so autovacuum sees the queue's churn. */
void
jobs_commit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* Prepares a statement once per worker life and keeps the plan. */
SPIPlanPtr
spi_plan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, argtypes);

		if (p == NULL)
			elog(ERROR, "neon_platform: could not prepare \"%s\": %s",
				 sql, SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

/* Runs a prepared statement and insists on the expected result code. */
void
spi_run(SPIPlanPtr plan, Datum *values, const char *nulls, int expected)
{
	int			rc = SPI_execute_plan(plan, values, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "neon_platform: statement failed: %s", SPI_result_code_string(rc));
}

/* A text Datum, or a null marker when the string is NULL. */
Datum
text_or_null(const char *value, char *null_flag)
{
	*null_flag = value ? ' ' : 'n';
	return value ? CStringGetTextDatum(value) : (Datum) 0;
}

/* Whether the extension's tables exist in this database (it may not be created yet). */
bool
jobs_schema_present(void)
{
	Oid			nsp = get_namespace_oid("neon_platform", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid("jobs", nsp));
}

/* Takes back the jobs a previous worker left running; returns how many. */
int
jobs_recover_abandoned(void)
{
	int			rc = SPI_execute(recover_sql, false, 0);

	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "neon_platform: could not recover running jobs: %s", SPI_result_code_string(rc));
	return (int) SPI_processed;
}

/* Copies column `col` of the current SPI row into the job's memory. */
static char *
job_column(Job *job, HeapTuple row, int col)
{
	char	   *value = SPI_getvalue(row, SPI_tuptable->tupdesc, col);

	return value ? MemoryContextStrdup(job->cxt, value) : NULL;
}

/* Integer column of the current SPI row. */
static int64
int_column(HeapTuple row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(row, SPI_tuptable->tupdesc, col, &isnull);
	Oid			type = SPI_gettypeid(SPI_tuptable->tupdesc, col);

	if (isnull)
		return 0;
	if (type == INT8OID)
		return DatumGetInt64(d);
	return DatumGetInt32(d);
}

/* Float column of the current SPI row. */
static double
float_column(HeapTuple row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(row, SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? 0.0 : DatumGetFloat8(d);
}

/* Builds the in-memory job from a row of claim_sql. */
static Job *
job_from_row(HeapTuple row, MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "neon_platform job", ALLOCSET_SMALL_SIZES);
	Job		   *job = MemoryContextAllocZero(cxt, sizeof(Job));
	NeonProjectSpec *spec = &job->spec;

	job->cxt = cxt;
	job->id = int_column(row, 1);
	job->tenant = job_column(job, row, 2);
	job->kind = job_column(job, row, 3);
	job->step = job_column(job, row, 4);
	job->attempts = (int) int_column(row, 5);
	job->organization = job_column(job, row, 6);
	spec->name = job_column(job, row, 7);
	spec->region_id = job_column(job, row, 8);
	spec->pg_version = (int) int_column(row, 9);
	spec->history_retention_seconds = int_column(row, 10);
	spec->autoscaling_min_cu = float_column(row, 11);
	spec->autoscaling_max_cu = float_column(row, 12);
	spec->suspend_timeout_seconds = (int) int_column(row, 13);
	spec->active_time_seconds = int_column(row, 14);
	spec->compute_time_seconds = int_column(row, 15);
	spec->written_data_bytes = int_column(row, 16);
	spec->data_transfer_bytes = int_column(row, 17);
	spec->logical_size_bytes = int_column(row, 18);
	return job;
}

/*
 * Claims up to `limit` due jobs, at most one per tenant and never one whose
 * tenant has an earlier job unfinished, and returns them as a list. When
 * fewer than `limit` were due, *next_due_seconds tells when the next one
 * will be (negative when none is queued).
 */
Job *
jobs_claim(int limit, MemoryContext parent, double *next_due_seconds)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(limit)};
	Job		   *head = NULL;
	Job		  **tail = &head;
	uint64		i;

	spi_run(spi_plan(&claim_plan, claim_sql, 1, argtypes), values, NULL, SPI_OK_SELECT);
	for (i = 0; i < SPI_processed; i++)
	{
		*tail = job_from_row(SPI_tuptable->vals[i], parent);
		tail = &(*tail)->next;
	}

	*next_due_seconds = 0;
	if ((int) SPI_processed < limit)
	{
		bool		isnull;
		Datum		d;

		spi_run(spi_plan(&next_due_plan, next_due_sql, 0, NULL), NULL, NULL, SPI_OK_SELECT);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		*next_due_seconds = isnull ? -1.0 : Max(DatumGetFloat8(d), 0.0);
	}
	return head;
}

/* Writes the audit row of one API call: never a key, never a body. */
void
jobs_record_call(Job *job, HttpRequest *req)
{
	Oid			argtypes[7] = {INT8OID, TEXTOID, TEXTOID, INT4OID, FLOAT8OID, TEXTOID, TEXTOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	char	   *error = NULL;

	if (req->status == 0)
		error = req->error;
	else if (req->status >= 400)
		error = neon_error_message(req->response);

	values[0] = Int64GetDatum(job->id);
	values[1] = CStringGetTextDatum(req->method);
	values[2] = CStringGetTextDatum(job->call_path);
	values[3] = Int32GetDatum((int32) req->status);
	nulls[3] = req->status == 0 ? 'n' : ' ';
	values[4] = Float8GetDatum(req->latency_ms);
	values[5] = text_or_null(req->request_id[0] ? req->request_id : NULL, &nulls[5]);
	values[6] = text_or_null(error, &nulls[6]);
	spi_run(spi_plan(&record_call_plan, record_call_sql, 7, argtypes), values, nulls, SPI_OK_INSERT);
	if (error != req->error)
		free(error);
}

/* Seconds to wait before the next attempt: capped exponential backoff with jitter. */
static double
backoff_seconds(int attempts)
{
	double		delay = BACKOFF_BASE_SECONDS * pow(2.0, Max(attempts - 1, 0));

	delay = Min(delay, BACKOFF_CAP_SECONDS);
	return delay * (0.75 + 0.5 * random_fraction());
}

/* Marks the job failed for good, with its reason. */
static void
job_mark_failed(Job *job, long http_status, const char *error)
{
	Oid			argtypes[3] = {INT8OID, INT4OID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	values[0] = Int64GetDatum(job->id);
	values[1] = Int32GetDatum((int32) http_status);
	nulls[1] = http_status == 0 ? 'n' : ' ';
	values[2] = CStringGetTextDatum(error);
	spi_run(spi_plan(&fail_plan, fail_sql, 3, argtypes), values, nulls, SPI_OK_UPDATE);
	provision_record_failure(job, error);
	ereport(LOG,
			(errmsg("neon_platform: job %lld (%s of tenant \"%s\") failed: %s",
					(long long) job->id, job->kind, job->tenant, error)));
}

/* Puts the job back in the queue after a backoff; returns the backoff in seconds. */
static double
job_mark_retry(Job *job, long http_status, const JobOutcome *outcome)
{
	Oid			argtypes[6] = {INT8OID, FLOAT8OID, INT4OID, TEXTOID, TEXTOID, INT4OID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	int			counted = outcome->snooze ? job->attempts - 1 : job->attempts;
	double		delay = backoff_seconds(Max(counted, 1));

	values[0] = Int64GetDatum(job->id);
	values[1] = Float8GetDatum(delay);
	values[2] = Int32GetDatum((int32) http_status);
	nulls[2] = http_status == 0 ? 'n' : ' ';
	values[3] = text_or_null(outcome->error, &nulls[3]);
	values[4] = text_or_null(outcome->retry_step, &nulls[4]);
	values[5] = Int32GetDatum(outcome->snooze ? 1 : 0);
	spi_run(spi_plan(&retry_plan, retry_sql, 6, argtypes), values, nulls, SPI_OK_UPDATE);
	return delay;
}

/*
 * Records how a job ended this time: succeeded, failed, or back in the queue
 * (failed instead once neon_platform.max_attempts is used up). Sets
 * outcome->retry_in, so the worker knows when to look for it again.
 */
void
jobs_finish(Job *job, JobOutcome *outcome)
{
	long		http_status = job->call ? job->call->status : 0;

	outcome->retry_in = -1;
	switch (outcome->verdict)
	{
		case JOB_SUCCEEDED:
			{
				Oid			argtypes[3] = {INT8OID, INT4OID, TEXTOID};
				Datum		values[3];
				char		nulls[3] = {' ', ' ', ' '};

				provision_record_success(job);
				values[0] = Int64GetDatum(job->id);
				values[1] = Int32GetDatum((int32) http_status);
				values[2] = text_or_null(outcome->result_json, &nulls[2]);
				spi_run(spi_plan(&succeed_plan, succeed_sql, 3, argtypes), values, nulls, SPI_OK_UPDATE);
				break;
			}
		case JOB_FAILED:
			job_mark_failed(job, http_status, outcome->error);
			break;
		case JOB_RETRY:
			if (!outcome->snooze && job->attempts >= neon_max_attempts)
				job_mark_failed(job, http_status,
								psprintf("gave up after %d attempts; last error: %s",
										 job->attempts, outcome->error));
			else
				outcome->retry_in = job_mark_retry(job, http_status, outcome);
			break;
		case JOB_CALL_AGAIN:
			elog(ERROR, "neon_platform: job %lld is not finished", (long long) job->id);
	}
}

/* Deletes finished jobs and call records older than the retention period. */
void
jobs_prune(int retention_seconds)
{
	Oid			argtypes[1] = {FLOAT8OID};
	Datum		values[1] = {Float8GetDatum((double) retention_seconds)};

	spi_run(spi_plan(&prune_jobs_plan, prune_jobs_sql, 1, argtypes), values, NULL, SPI_OK_DELETE);
	spi_run(spi_plan(&prune_calls_plan, prune_calls_sql, 1, argtypes), values, NULL, SPI_OK_DELETE);
}
