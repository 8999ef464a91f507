/*
 * queue.c
 *		The durable queue in neon_platform.jobs, as the worker sees it.
 *
 * Every function here runs inside a short transaction (db_begin() and
 * db_commit()); no transaction is ever open while an API call is in flight.
 * The worker claims due jobs of one lane (marking them running), carries
 * them out in memory, and records each call and each outcome as soon as it
 * is known: the step a job stands at and what it learned (jobs.step,
 * jobs.progress) after every answer, and the time a mutation left
 * (jobs.mutation_sent_at) before it leaves, so that a restarted worker
 * knows where each job stood and whether a lost answer may still land.
 */
#include "pg_prelude.h"

#include <math.h>

#include "engine/queue.h"
#include "engine/secrets.h"
#include "engine/settings.h"
#include "engine/spi_util.h"
#include "engine/tenant_state.h"
#include "neon/neon_common.h"

#include "utils/float.h"

/* Backoff between attempts: 0.5 s doubling up to 30 s, with +-25 % jitter. */
#define BACKOFF_BASE_SECONDS 0.5
#define BACKOFF_CAP_SECONDS 30.0

/* Rows deleted per statement when pruning, so no prune holds locks for long. */
#define PRUNE_BATCH 10000

/*
 * Jobs of one tenant run in order; organization-wide jobs (no tenant) of
 * one kind too.
 */
#define NO_EARLIER_JOB(j) \
"NOT EXISTS (SELECT 1 FROM neon_platform.jobs AS e" \
"             WHERE e.id < " j ".id AND e.state IN ('queued', 'running')" \
"               AND (e.tenant = " j ".tenant" \
"                    OR (" j ".tenant IS NULL AND e.tenant IS NULL AND e.kind = " j ".kind)))"

/*
 * Each kind of the lane is read in the order of jobs_due_idx (kind,
 * run_after, id), so a claim costs what it takes, however many jobs of
 * other lanes are queued.
 */
static const char *claim_sql =
"WITH due AS ("
"    SELECT d.id FROM unnest($2::text[]) AS k(kind),"
"           LATERAL (SELECT j.id, j.run_after FROM neon_platform.jobs AS j"
"                     WHERE j.state = 'queued' AND j.kind = k.kind AND j.run_after <= now()"
"                       AND " NO_EARLIER_JOB("j")
"                     ORDER BY j.run_after, j.id"
"                     LIMIT $1"
"                       FOR UPDATE OF j SKIP LOCKED) AS d"
"     ORDER BY d.run_after, d.id"
"     LIMIT $1),"
" claimed AS ("
"    UPDATE neon_platform.jobs AS j"
"       SET state = 'running', attempts = j.attempts + 1,"
"           started_at = coalesce(j.started_at, now()), updated_at = now()"
"      FROM due WHERE j.id = due.id"
"    RETURNING j.id, j.tenant, j.kind, j.step, j.attempts, j.args::text, j.progress::text)"
" SELECT c.id, c.tenant, c.kind, c.step, c.attempts, c.args, c.progress,"
"        t.organization, t.project_id, t.branch_id, t.pending_operations, t.claim_url IS NOT NULL"
"   FROM claimed AS c"
"   LEFT JOIN neon_platform.tenants AS t ON t.tenant = c.tenant"
"  ORDER BY c.id";

static const char *next_due_sql =
"SELECT extract(epoch FROM min(d.run_after) - now())::float8"
"  FROM unnest($1::text[]) AS k(kind),"
"       LATERAL (SELECT j.run_after FROM neon_platform.jobs AS j"
"                 WHERE j.state = 'queued' AND j.kind = k.kind AND j.run_after < 'infinity'"
"                   AND " NO_EARLIER_JOB("j")
"                 ORDER BY j.run_after, j.id LIMIT 1) AS d";

static const char *abandoned_sql =
"SELECT id, kind, step, extract(epoch FROM mutation_sent_at)::float8"
"  FROM neon_platform.jobs WHERE state = 'running' FOR UPDATE";

static const char *requeue_sql =
"UPDATE neon_platform.jobs"
"   SET state = 'queued', step = $2, mutation_sent_at = NULL,"
"       run_after = greatest(now(), to_timestamp($3)),"
"       last_error = 'the worker stopped while the job was running', updated_at = now()"
" WHERE id = $1";

static const char *record_call_sql =
"INSERT INTO neon_platform.api_calls"
"    (job_id, method, path, status, latency_ms, request_id, error)"
" VALUES ($1, $2, $3, $4, $5, $6, $7)";

static const char *mark_sent_sql =
"UPDATE neon_platform.jobs SET mutation_sent_at = to_timestamp($2), updated_at = now()"
" WHERE id = ANY ($1) AND state = 'running'";

static const char *save_step_sql =
"UPDATE neon_platform.jobs"
"   SET step = $2, progress = $3::jsonb, mutation_sent_at = NULL, updated_at = now()"
" WHERE id = $1 AND state = 'running'";

static const char *succeed_sql =
"UPDATE neon_platform.jobs"
"   SET state = 'succeeded', finished_at = now(), step = NULL, mutation_sent_at = NULL,"
"       last_http_status = $2, last_error = NULL, result = $3::jsonb, updated_at = now()"
" WHERE id = $1 AND state = 'running'";

static const char *fail_sql =
"UPDATE neon_platform.jobs"
"   SET state = 'failed', finished_at = now(), mutation_sent_at = NULL,"
"       last_http_status = $2, last_error = $3, result = $4::jsonb, updated_at = now()"
" WHERE id = $1 AND state = 'running'";

static const char *retry_sql =
"UPDATE neon_platform.jobs"
"   SET state = 'queued',"
"       run_after = CASE WHEN $2 = 'infinity' THEN 'infinity' ELSE now() + $2 * interval '1 second' END,"
"       attempts = attempts - $6::int, mutation_sent_at = NULL,"
"       last_http_status = $3, last_error = $4, step = $5, progress = $7::jsonb, updated_at = now()"
" WHERE id = $1 AND state = 'running'";

static const char *release_config_waits_sql =
"UPDATE neon_platform.jobs SET run_after = now(), updated_at = now()"
" WHERE state = 'queued' AND run_after = 'infinity'";

static const char *prune_jobs_sql =
"DELETE FROM neon_platform.jobs WHERE id IN ("
"    SELECT id FROM neon_platform.jobs"
"     WHERE finished_at < now() - $1 * interval '1 second' LIMIT " CppAsString2(PRUNE_BATCH) ")";

static const char *prune_calls_sql =
"DELETE FROM neon_platform.api_calls WHERE id IN ("
"    SELECT id FROM neon_platform.api_calls"
"     WHERE called_at < now() - $1 * interval '1 second' LIMIT " CppAsString2(PRUNE_BATCH) ")";

static SPIPlanPtr claim_plan;
static SPIPlanPtr prune_usage_plan;
static SPIPlanPtr next_due_plan;
static SPIPlanPtr abandoned_plan;
static SPIPlanPtr requeue_plan;
static SPIPlanPtr record_call_plan;
static SPIPlanPtr mark_sent_plan;
static SPIPlanPtr save_step_plan;
static SPIPlanPtr succeed_plan;
static SPIPlanPtr fail_plan;
static SPIPlanPtr retry_plan;
static SPIPlanPtr prune_jobs_plan;
static SPIPlanPtr prune_calls_plan;
static SPIPlanPtr due_sweep_plan;

/*
 * Whether the extension is created in this database at the version of this
 * library. Another version (the library was updated, ALTER EXTENSION ...
 * UPDATE has not run yet) is waited for: its tables are not what this
 * worker reads and writes.
 */
bool
queue_schema_present(void)
{
	static bool version_reported = false;
	bool		isnull;
	char	   *version;

	if (SPI_execute("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'neon_platform'",
					true, 1) != SPI_OK_SELECT || SPI_processed == 0)
		return false;
	SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	version = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (!isnull && strcmp(version, EXTVERSION) == 0)
		return true;
	if (!version_reported)
		ereport(LOG,
				(errmsg("neon_platform: the extension is at version %s and this library at %s; the worker waits",
						version, EXTVERSION),
				 errhint("Run ALTER EXTENSION neon_platform UPDATE in database \"%s\".", neon_database_name)));
	version_reported = true;
	return false;
}

/*
 * Where a job left running by a previous worker resumes, and from when. A
 * mutation that was sent may still land at Neon: its job resumes at the
 * step that looks the effect up, and only once the request can no longer
 * land. Anything else simply resumes where it stood.
 */
static const char *
resume_point(const char *kind_name, const char *step_name, bool sent, double sent_at, double *not_before)
{
	const JobKind *kind = job_kind_by_name(kind_name);
	const JobStep *step;

	*not_before = 0;
	if (kind == NULL)
		return step_name;
	step = job_step_by_name(kind, step_name);
	if (!step->mutation || !sent)
		return step_name;
	*not_before = sent_at + (neon_request_timeout_ms + neon_settle_margin_ms) / 1000.0;
	return step->lookup_step;
}

/* Takes back the jobs a previous worker left running; returns how many. */
int
queue_recover_abandoned(void)
{
	Oid			types[3] = {INT8OID, TEXTOID, FLOAT8OID};
	uint64		i;
	uint64		n;
	SPITupleTable *rows;

	spi_run(spi_plan(&abandoned_plan, abandoned_sql, 0, NULL), NULL, NULL, SPI_OK_SELECT);
	rows = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		HeapTuple	row = rows->vals[i];
		char	   *kind;
		char	   *step;
		bool		unsent;
		double		sent_at;
		double		not_before;
		Datum		values[3];
		char		nulls[3] = {' ', ' ', ' '};

		SPI_tuptable = rows;
		kind = spi_text(row, 2, CurrentMemoryContext);
		step = spi_text(row, 3, CurrentMemoryContext);
		SPI_getbinval(row, rows->tupdesc, 4, &unsent);
		sent_at = spi_float(row, 4);
		values[0] = Int64GetDatum(spi_int(row, 1));
		values[1] = text_or_null(resume_point(kind, step, !unsent, sent_at, &not_before), &nulls[1]);
		values[2] = Float8GetDatum(not_before);
		spi_run(spi_plan(&requeue_plan, requeue_sql, 3, types), values, nulls, SPI_OK_UPDATE);
	}
	return (int) n;
}

/* Builds the in-memory job from a row of claim_sql; NULL kind when this version does not know it. */
static Job *
job_from_row(HeapTuple row, MemoryContext parent, char **args, char **progress)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "neon_platform job", ALLOCSET_SMALL_SIZES);
	Job		   *job = MemoryContextAllocZero(cxt, sizeof(Job));
	char	   *kind;
	char	   *step;

	job->cxt = cxt;
	job->id = spi_int(row, 1);
	job->tenant = spi_text(row, 2, cxt);
	kind = spi_text(row, 3, cxt);
	step = spi_text(row, 4, cxt);
	job->attempts = (int) spi_int(row, 5);
	*args = spi_text(row, 6, cxt);
	*progress = spi_text(row, 7, cxt);
	job->view.organization = spi_text(row, 8, cxt);
	job->view.project_id = spi_text(row, 9, cxt);
	job->view.branch_id = spi_text(row, 10, cxt);
	job->view.pending_operations = spi_text_array(row, 11, cxt, &job->view.n_pending_operations);
	job->view.claim_made = spi_bool(row, 12);
	job->kind = job_kind_by_name(kind);
	if (job->kind)
		job->step = job_step_by_name(job->kind, step);
	return job;
}

/*
 * Claims up to `limit` due jobs of one lane, never one whose tenant has an
 * earlier job unfinished, and returns them as a list, their input loaded.
 * A job this version cannot carry out comes back with job->outcome FAILED
 * and job->unrecorded set. When fewer than `limit` were due,
 * *next_due_seconds tells when the next one will be (negative when none).
 */
Job *
queue_claim(JobLane lane, int limit, MemoryContext parent, double *next_due_seconds)
{
	Oid			argtypes[2] = {INT4OID, TEXTARRAYOID};
	Datum		values[2] = {Int32GetDatum(limit), job_kinds_of_lane(lane)};
	Job		   *head = NULL;
	Job		  **tail = &head;
	SPITupleTable *rows;
	uint64		n;
	uint64		i;

	spi_run(spi_plan(&claim_plan, claim_sql, 2, argtypes), values, NULL, SPI_OK_SELECT);
	/* A kind's load may run queries of its own (a tenant's connection). */
	rows = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		char	   *args;
		char	   *progress;
		const char *error = "this version of neon_platform does not know the job's kind";
		Job		   *job;

		SPI_tuptable = rows;
		job = job_from_row(rows->vals[i], parent, &args, &progress);

		if (job->kind && job->kind->needs_tenant && job->tenant == NULL)
			error = "the job's kind works for a tenant, and the job names none";
		if (job->kind == NULL || (job->kind->needs_tenant && job->tenant == NULL)
			|| !job->kind->load(job, args, progress, &error))
		{
			job->outcome = job_outcome(JOB_FAILED, MemoryContextStrdup(job->cxt, psprintf("invalid job: %s", error)));
			job->unrecorded = true;
		}
		*tail = job;
		tail = &job->next;
	}

	*next_due_seconds = 0;
	if ((int) n < limit)
	{
		bool		isnull;
		Datum		d;

		spi_run(spi_plan(&next_due_plan, next_due_sql, 1, &argtypes[1]), &values[1], NULL, SPI_OK_SELECT);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		*next_due_seconds = isnull ? -1.0 : Max(DatumGetFloat8(d), 0.0);
	}
	return head;
}

/* Writes the audit row of one API call: never a key, never a body. */
void
queue_record_call(Job *job, HttpRequest *req)
{
	Oid			argtypes[7] = {INT8OID, TEXTOID, TEXTOID, INT4OID, FLOAT8OID, TEXTOID, TEXTOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	char	   *error = NULL;

	if (req->status == 0)
		error = redact_secrets(req->error);
	else if (req->status >= 400)
	{
		char	   *neon = neon_error_message(req->response);

		error = redact_secrets(neon);
		free(neon);
	}
	values[0] = Int64GetDatum(job->id);
	values[1] = CStringGetTextDatum(req->method);
	values[2] = CStringGetTextDatum(job->answer_path);
	values[3] = Int32GetDatum((int32) req->status);
	nulls[3] = req->status == 0 ? 'n' : ' ';
	values[4] = Float8GetDatum(req->latency_ms);
	values[5] = text_or_null(req->request_id[0] ? req->request_id : NULL, &nulls[5]);
	values[6] = text_or_null(error, &nulls[6]);
	spi_run(spi_plan(&record_call_plan, record_call_sql, 7, argtypes), values, nulls, SPI_OK_INSERT);
}

/*
 * Records that the mutations of these jobs are about to leave; committed
 * before they are sent, so a restarted worker never takes an unsent
 * mutation for a sent one, nor the reverse.
 */
void
queue_mark_sent(Job **jobs, int n)
{
	Oid			argtypes[2] = {INT8ARRAYOID, FLOAT8OID};
	Datum	   *ids = palloc(sizeof(Datum) * n);
	Datum		values[2];
	double		now = db_wall_clock();
	int			i;

	for (i = 0; i < n; i++)
	{
		ids[i] = Int64GetDatum(jobs[i]->id);
		jobs[i]->sent_at = now;
	}
	values[0] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[1] = Float8GetDatum(now);
	spi_run(spi_plan(&mark_sent_plan, mark_sent_sql, 2, argtypes), values, NULL, SPI_OK_UPDATE);
}

/* What the job learned so far, as JSON text or NULL. */
static Datum
progress_datum(Job *job, char *null_flag)
{
	char	   *progress = job->kind->save_progress ? job->kind->save_progress(job) : NULL;

	return text_or_null(progress, null_flag);
}

/* Saves the step the job moves on to, with what it learned. */
static void
save_step(Job *job)
{
	Oid			argtypes[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	values[0] = Int64GetDatum(job->id);
	values[1] = CStringGetTextDatum(job->step->name);
	values[2] = progress_datum(job, &nulls[2]);
	spi_run(spi_plan(&save_step_plan, save_step_sql, 3, argtypes), values, nulls, SPI_OK_UPDATE);
}

/* Seconds to wait before the next attempt: capped exponential backoff with jitter. */
static double
backoff_seconds(int attempts)
{
	double		delay = BACKOFF_BASE_SECONDS * pow(2.0, Max(attempts - 1, 0));

	delay = Min(delay, BACKOFF_CAP_SECONDS);
	return delay * (0.75 + 0.5 * random_fraction());
}

/* HTTP status of the job's last call, 0 when there was none or no answer. */
static long
last_status(Job *job)
{
	return job->answer ? job->answer->status : 0;
}

/* Warns when a finishing update found the job no longer running (changed by hand). */
static void
expect_one_row(Job *job, const char *what)
{
	if (SPI_processed != 1)
		ereport(LOG,
				(errmsg("neon_platform: job %lld was no longer running when its %s was recorded; left as it is",
						(long long) job->id, what)));
}

/* Marks the job failed for good, with its reason (and what it produced, if anything: SQL's figures). */
static void
mark_failed(Job *job, const char *error, const char *result_json)
{
	Oid			argtypes[4] = {INT8OID, INT4OID, TEXTOID, TEXTOID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	long		status = last_status(job);

	values[0] = Int64GetDatum(job->id);
	values[1] = Int32GetDatum((int32) status);
	nulls[1] = status == 0 ? 'n' : ' ';
	values[2] = CStringGetTextDatum(error);
	values[3] = text_or_null(result_json, &nulls[3]);
	spi_run(spi_plan(&fail_plan, fail_sql, 4, argtypes), values, nulls, SPI_OK_UPDATE);
	expect_one_row(job, "failure");
	if (job->project_claimed)
		tenant_state_claimed(job->tenant, error);
	else if (job->kind && job->kind->record_failure && job->tenant)
		job->kind->record_failure(job, error);
	ereport(LOG,
			(errmsg("neon_platform: job %lld (%s%s%s%s) failed: %s",
					(long long) job->id, job->kind ? job->kind->name : "unknown kind",
					job->tenant ? " of tenant \"" : "", job->tenant ? job->tenant : "",
					job->tenant ? "\"" : "", error)));
}

/* Marks the job succeeded, with its result, after the kind wrote the tenant. */
static void
mark_succeeded(Job *job, const char *result_json)
{
	Oid			argtypes[3] = {INT8OID, INT4OID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	if (job->kind->record_success)
		job->kind->record_success(job);
	values[0] = Int64GetDatum(job->id);
	values[1] = Int32GetDatum((int32) last_status(job));
	values[2] = text_or_null(result_json, &nulls[2]);
	spi_run(spi_plan(&succeed_plan, succeed_sql, 3, argtypes), values, nulls, SPI_OK_UPDATE);
	expect_one_row(job, "success");
}

/*
 * Puts the job back in the queue `delay` seconds from now, at `step`;
 * not_an_attempt gives back the attempt it used.
 */
static void
mark_retry(Job *job, double delay, const char *step, const char *error, bool not_an_attempt)
{
	Oid			argtypes[7] = {INT8OID, FLOAT8OID, INT4OID, TEXTOID, TEXTOID, INT4OID, TEXTOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	long		status = last_status(job);

	values[0] = Int64GetDatum(job->id);
	values[1] = Float8GetDatum(delay);
	values[2] = Int32GetDatum((int32) status);
	nulls[2] = status == 0 ? 'n' : ' ';
	values[3] = text_or_null(error, &nulls[3]);
	values[4] = text_or_null(step, &nulls[4]);
	values[5] = Int32GetDatum(not_an_attempt ? 1 : 0);
	values[6] = progress_datum(job, &nulls[6]);
	spi_run(spi_plan(&retry_plan, retry_sql, 7, argtypes), values, nulls, SPI_OK_UPDATE);
	expect_one_row(job, "retry");
}

/* The delay before a retried job is due again. */
static double
retry_delay(Job *job, const JobOutcome *o)
{
	int			counted = o->not_an_attempt ? job->attempts - 1 : job->attempts;

	if (o->not_an_attempt && o->retry_in >= 0)
		return o->retry_in;
	return Max(backoff_seconds(Max(counted, 1)), o->retry_in);
}

/*
 * Records what the job's last answer (job->outcome) means: the next step,
 * success, failure, or back in the queue (failed instead once
 * neon_platform.max_attempts is used up). Returns the seconds until a
 * requeued job is due, else -1.
 */
double
queue_apply_outcome(Job *job)
{
	const JobOutcome *o = &job->outcome;
	const char *step = job->step ? job->step->name : NULL;
	double		delay;

	if (job->kind && job->kind->record_answer)
		job->kind->record_answer(job);
	switch (o->verdict)
	{
		case JOB_CALL_AGAIN:
			save_step(job);
			return -1;
		case JOB_SUCCEEDED:
			mark_succeeded(job, o->result_json);
			return -1;
		case JOB_FAILED:
			mark_failed(job, o->error, o->result_json);
			return -1;
		case JOB_WAIT_CONFIG:
			mark_retry(job, get_float8_infinity(), step,
					   psprintf("waiting for the configuration: %s", o->error), true);
			return -1;
		case JOB_RETRY:
			if (!o->not_an_attempt && job->attempts >= neon_max_attempts)
			{
				mark_failed(job, psprintf("gave up after %d attempts; last error: %s",
										  job->attempts, o->error), NULL);
				return -1;
			}
			delay = retry_delay(job, o);
			mark_retry(job, delay, o->retry_step ? o->retry_step : step, o->error, o->not_an_attempt);
			return delay;
	}
	return -1;
}

/* After a reload: jobs that waited for the configuration are due again. */
int
queue_release_config_waits(void)
{
	if (SPI_execute(release_config_waits_sql, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "neon_platform: could not release the jobs waiting for the configuration");
	return (int) SPI_processed;
}

/* Enqueues the deletion of snapshots and branches whose expiry has passed (in SQL: it skips rows others hold). */
void
queue_enqueue_expired(void)
{
	if (SPI_execute("SELECT neon_platform.enqueue_expired()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "neon_platform: could not enqueue the expired snapshots and branches");
}

/* Enqueues a usage sweep when none ran for `poll_interval_seconds` (0: never). */
void
queue_enqueue_due_sweep(int poll_interval_seconds)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(poll_interval_seconds)};

	spi_run(spi_plan(&due_sweep_plan, "SELECT neon_platform.enqueue_due_sweep($1)", 1, argtypes), values, NULL,
			SPI_OK_SELECT);
}

/* Deletes finished jobs and call records older than the retention period. */
void
queue_prune(int retention_seconds)
{
	Oid			argtypes[1] = {FLOAT8OID};
	Datum		values[1] = {Float8GetDatum((double) retention_seconds)};

	spi_run(spi_plan(&prune_jobs_plan, prune_jobs_sql, 1, argtypes), values, NULL, SPI_OK_DELETE);
	spi_run(spi_plan(&prune_calls_plan, prune_calls_sql, 1, argtypes), values, NULL, SPI_OK_DELETE);
}

/* Deletes usage, billing figures, alerts and findings older than their retention. */
void
queue_prune_usage(int retention_seconds)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(retention_seconds)};

	spi_run(spi_plan(&prune_usage_plan, "SELECT neon_platform.prune_usage($1)", 1, argtypes), values, NULL,
			SPI_OK_SELECT);
}

/* Frees a job that has ended, or whose claim was rolled back. */
void
job_free(Job *job)
{
	if (job->call)
		http_request_free(job->call);
	if (job->answer)
		http_request_free(job->answer);
	if (job->sql_call)
		sql_request_free(job->sql_call);
	if (job->sql_answer)
		sql_request_free(job->sql_answer);
	if (job->kind && job->kind->release)
		job->kind->release(job);
	MemoryContextDelete(job->cxt);
}
