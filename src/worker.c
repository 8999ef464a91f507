/*
 * worker.c
 *		The neon_platform background worker: claims due jobs, makes their API
 *		calls through the HTTP engine under the rate limiter, and records
 *		every answer as soon as it arrives.
 *
 * One loop, no transaction open while calls are in flight:
 *
 *	 record finished calls (one short transaction for all of them)
 *	 claim due jobs up to the free capacity (one short transaction)
 *	 start waiting calls as tokens allow
 *	 wait for the latch (work committed), a socket, a token or a deadline
 *
 * Signals: SIGTERM ends the worker with exit code 1 so the postmaster
 * restarts it; SIGHUP reloads the settings; SIGUSR1 (procsignal, e.g. for
 * DROP DATABASE elsewhere) sets the latch and is served by
 * CHECK_FOR_INTERRUPTS() at the top of every iteration.
 */
#include "pg_prelude.h"

#include "neon_platform.h"
#include "ratelimit.h"

#include "tcop/tcopprot.h"

#include <math.h>

/* Longest sleep without looking at the queue: covers COMMIT PREPARED and clock changes. */
#define SAFETY_POLL_SECONDS 10.0
/* How often finished jobs and call records are pruned. */
#define PRUNE_INTERVAL_SECONDS 60.0

#define USER_AGENT "neon_platform/" EXTVERSION

typedef struct Worker
{
	HttpEngine *engine;
	RateLimiter limiter;
	WaitEventSet *events;
	MemoryContext jobs_cxt;
	Job		   *waiting_head;	/* jobs whose call waits for a token or a slot */
	Job		   *waiting_tail;
	int			active;			/* jobs claimed and not yet finished */
	double		claim_at;		/* when to look for due jobs next (http_now() clock) */
	double		prune_at;
	bool		schema_ready;
} Worker;

/* Registers the worker at server start; it runs only outside recovery. */
void
worker_register(void)
{
	BackgroundWorker worker = {0};

	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "neon_platform");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "neon_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "neon_platform worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "neon_platform worker");
	RegisterBackgroundWorker(&worker);
}

/* The wait set: our latch, postmaster death, and the HTTP engine's descriptor. */
static WaitEventSet *
create_wait_set(HttpEngine *engine)
{
#if PG_VERSION_NUM >= 170000
	WaitEventSet *set = CreateWaitEventSet(NULL, 3);
#else
	WaitEventSet *set = CreateWaitEventSet(TopMemoryContext, 3);
#endif

	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(set, WL_SOCKET_READABLE, http_engine_fd(engine), NULL, NULL);
	return set;
}

/* Creates the engine, the rate limiter and the wait set. */
static void
worker_setup(Worker *w)
{
	const char *error = NULL;

	w->engine = http_engine_create(USER_AGENT, &error);
	if (w->engine == NULL)
		ereport(ERROR, (errmsg("neon_platform: could not start the HTTP engine: %s", error)));
	http_engine_configure(w->engine, neon_max_inflight_requests, neon_request_timeout_ms);
	ratelimit_init(&w->limiter, neon_requests_per_minute, neon_burst_per_second, http_now());
	w->events = create_wait_set(w->engine);
	w->jobs_cxt = AllocSetContextCreate(TopMemoryContext, "neon_platform jobs", ALLOCSET_DEFAULT_SIZES);
}

/*
 * Re-reads the configuration files after SIGHUP and applies what changed;
 * a shorter job_retention takes effect at once, not at the next prune.
 */
static void
apply_new_settings(Worker *w)
{
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	http_engine_configure(w->engine, neon_max_inflight_requests, neon_request_timeout_ms);
	ratelimit_configure(&w->limiter, neon_requests_per_minute, neon_burst_per_second, http_now());
	w->claim_at = 0;
	w->prune_at = 0;
}

/*
 * Checks that CREATE EXTENSION has run here; the first time it has, takes
 * back the jobs a previous worker left running.
 */
static bool
prepare_schema(Worker *w)
{
	int			recovered = 0;

	jobs_begin("checking for the neon_platform schema");
	w->schema_ready = jobs_schema_present();
	if (w->schema_ready)
		recovered = jobs_recover_abandoned();
	jobs_commit();
	if (recovered > 0)
		ereport(LOG, (errmsg("neon_platform: took back %d job(s) left running by a previous worker", recovered)));
	return w->schema_ready;
}

/* Queues a job whose call is ready, behind the others. */
static void
push_waiting(Worker *w, Job *job)
{
	job->next = NULL;
	if (w->waiting_tail)
		w->waiting_tail->next = job;
	else
		w->waiting_head = job;
	w->waiting_tail = job;
}

/* Takes the oldest waiting job. */
static Job *
pop_waiting(Worker *w)
{
	Job		   *job = w->waiting_head;

	w->waiting_head = job->next;
	if (w->waiting_head == NULL)
		w->waiting_tail = NULL;
	job->next = NULL;
	return job;
}

/* Frees a job that has ended. */
static void
release_job(Worker *w, Job *job)
{
	if (job->call)
		http_request_free(job->call);
	neon_project_free(&job->project);
	MemoryContextDelete(job->cxt);
	w->active--;
}

/* Works out what an answer means for its job and records it; may throw. */
static void
decide(Job *job, HttpRequest *req, JobOutcome *result)
{
	*result = provision_handle_response(job, req);
	if (result->verdict != JOB_CALL_AGAIN)
		jobs_finish(job, result);
}

/*
 * decide() in a subtransaction: whatever goes wrong with one job (a bug, a
 * constraint a DBA added) fails that job with the reason instead of taking
 * the worker and every other job down, and never loops on restart.
 */
static JobOutcome
decide_safely(Job *job, HttpRequest *req)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	JobOutcome	result = {0};

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		decide(job, req, &result);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		if (job->call != req)
		{
			http_request_free(job->call);
			job->call = req;
		}
		memset(&result, 0, sizeof(result));
		result.verdict = JOB_FAILED;
		result.error = psprintf("internal error: %s", edata->message);
		jobs_finish(job, &result);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return result;
}

/* Lets Neon's pushback (429, Retry-After) slow every call down. */
static void
heed_pushback(Worker *w, HttpRequest *req)
{
	if (req->status == 429 || req->retry_after_seconds >= 0)
		ratelimit_throttled(&w->limiter, http_now(), req->retry_after_seconds);
}

/*
 * Records every call that has ended since the last pass, and what it means
 * for its job, in one short transaction. Jobs that need another call go back
 * to the waiting list once that transaction has committed; the others are
 * released. (Jobs in flight are on no list, so job->next is free to chain
 * them here.)
 */
static void
record_finished_calls(Worker *w)
{
	HttpRequest *req = http_engine_next_done(w->engine);
	Job		   *call_again = NULL;
	Job		   *ended = NULL;
	Job		   *job;
	Job		   *next;

	if (req == NULL)
		return;

	jobs_begin("recording API calls");
	for (; req != NULL; req = http_engine_next_done(w->engine))
	{
		JobOutcome	outcome;

		job = (Job *) req->owner;
		heed_pushback(w, req);
		jobs_record_call(job, req);
		outcome = decide_safely(job, req);
		if (outcome.retry_in >= 0)
			w->claim_at = Min(w->claim_at, http_now() + outcome.retry_in);
		if (outcome.verdict == JOB_CALL_AGAIN)
		{
			http_request_free(req);
			job->next = call_again;
			call_again = job;
		}
		else
		{
			job->next = ended;
			ended = job;
		}
	}
	jobs_commit();

	for (job = call_again; job != NULL; job = next)
	{
		next = job->next;
		push_waiting(w, job);
	}
	for (job = ended; job != NULL; job = next)
	{
		next = job->next;
		release_job(w, job);
	}
}

/* Claims as many due jobs as there is room for and readies their first call. */
static void
claim_due_jobs(Worker *w)
{
	double		now = http_now();
	int			room = neon_max_inflight_requests - w->active;
	double		next_due;
	Job		   *job;
	Job		   *next;
	int			claimed = 0;

	if (neon_paused || room <= 0 || now < w->claim_at)
		return;

	jobs_begin("claiming jobs");
	job = jobs_claim(room, w->jobs_cxt, &next_due);
	for (; job != NULL; job = next)
	{
		const char *error = NULL;

		next = job->next;
		w->active++;
		claimed++;
		if (provision_prepare_call(job, &error))
			push_waiting(w, job);
		else
		{
			JobOutcome	failed = {.verdict = JOB_FAILED, .error = error};

			jobs_finish(job, &failed);
			release_job(w, job);
		}
	}
	jobs_commit();

	if (claimed == room)
		w->claim_at = now;
	else if (next_due < 0)
		w->claim_at = now + SAFETY_POLL_SECONDS;
	else
		w->claim_at = now + Min(next_due, SAFETY_POLL_SECONDS);
}

/* Starts waiting calls while tokens and in-flight slots allow. */
static void
start_waiting_calls(Worker *w)
{
	while (w->waiting_head != NULL
		   && http_engine_inflight(w->engine) < neon_max_inflight_requests
		   && ratelimit_try_take(&w->limiter, http_now()))
	{
		Job		   *job = pop_waiting(w);

		if (!http_engine_submit(w->engine, job->call))
			ereport(ERROR,
					(errmsg("neon_platform: could not start %s %s: %s",
							job->call->method, job->call_path, job->call->error)));
	}
}

/* Deletes old finished jobs and call records, once a minute. */
static void
prune_old_rows(Worker *w)
{
	double		now = http_now();

	if (now < w->prune_at)
		return;
	w->prune_at = now + PRUNE_INTERVAL_SECONDS;
	if (neon_job_retention_s <= 0)
		return;
	jobs_begin("pruning finished jobs");
	jobs_prune(neon_job_retention_s);
	jobs_commit();
}

/* How long the loop may sleep before something needs doing, in milliseconds. */
static long
next_timeout_ms(Worker *w)
{
	double		now = http_now();
	double		seconds = SAFETY_POLL_SECONDS;
	long		engine_ms = http_engine_timeout_ms(w->engine);

	if (engine_ms >= 0)
		seconds = Min(seconds, engine_ms / 1000.0);
	if (w->waiting_head != NULL && http_engine_inflight(w->engine) < neon_max_inflight_requests)
		seconds = Min(seconds, ratelimit_wait_seconds(&w->limiter, now));
	if (!neon_paused && w->active < neon_max_inflight_requests)
		seconds = Min(seconds, w->claim_at - now);
	seconds = Min(seconds, w->prune_at - now);
	return seconds <= 0 ? 0 : (long) ceil(seconds * 1000.0);
}

/* Sleeps until the latch, a socket or the timeout; then moves the calls on. */
static void
wait_for_events(Worker *w, long timeout_ms)
{
	WaitEvent	events[3];
	int			n;
	int			i;

	n = WaitEventSetWait(w->events, timeout_ms, events, lengthof(events), PG_WAIT_EXTENSION);
	for (i = 0; i < n; i++)
	{
		if (events[i].events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			w->claim_at = 0;
		}
	}
	http_engine_perform(w->engine);
}

/* One pass of the loop. */
static void
worker_iteration(Worker *w)
{
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
		apply_new_settings(w);

	if (!w->schema_ready && !prepare_schema(w))
	{
		wait_for_events(w, (long) (SAFETY_POLL_SECONDS * 1000));
		return;
	}
	record_finished_calls(w);
	claim_due_jobs(w);
	start_waiting_calls(w);
	prune_old_rows(w);
	wait_for_events(w, next_timeout_ms(w));
}

/* Entry point of the background worker. */
void
neon_worker_main(Datum arg pg_attribute_unused())
{
	Worker		w = {0};

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(neon_database_name, NULL, 0);
	pgstat_report_appname("neon_platform worker");
	wake_advertise_worker();
	worker_setup(&w);
	ereport(LOG, (errmsg("neon_platform worker started in database \"%s\"", neon_database_name)));

	for (;;)
		worker_iteration(&w);
}
