/*
 * worker.c
 *		The neon_platform background worker: claims due jobs, makes their API
 *		calls through the HTTP engine under the rate limiter, and records
 *		every answer as soon as it arrives.
 *
 * One loop, no transaction open while calls are in flight:
 *
 *	 decide what each answered call means for its job (in memory)
 *	 record those outcomes (one short transaction for all of them)
 *	 claim due jobs of each lane up to its room, and record the mutations
 *	 about to leave as sent (one short transaction); then send them
 *	 wait for the latch (work committed), a socket, a token or a deadline
 *
 * Nothing an application does can stall it: it takes tenant rows with
 * NOWAIT and every other lock under lock_timeout; an outcome it cannot
 * record now (a row held, a cancel, a deadlock) stays in memory and is
 * recorded on a later pass, while the other jobs go on. Any error of a pass
 * rolls back that pass's transaction and nothing else; a cancel
 * (pg_cancel_backend) is such an error.
 *
 * SQL in tenants' databases (a tier's bootstrap, neon_run_sql) runs on the
 * SQL engine in the same loop: its descriptor is in the same wait set, and
 * its connections are capped by neon_platform.max_sql_connections, of which
 * background work holds at most sql_background_connections; it takes no API
 * token.
 *
 * Lanes: interactive calls go before background ones, background ones
 * before sweeps; background work never has more than
 * neon_platform.background_rate_share of the calls in flight or of the rate
 * limit, sweeps never more than neon_platform.sweep_rate_share.
 *
 * Signals: SIGTERM ends the worker with exit code 1 so the postmaster
 * restarts it; SIGHUP reloads the settings (and the key file); SIGUSR1
 * (procsignal, e.g. for DROP DATABASE elsewhere) sets the latch and is
 * served by CHECK_FOR_INTERRUPTS() at the top of every pass.
 */
#include "pg_prelude.h"

#include <math.h>

#include "engine/batch.h"
#include "engine/joblist.h"
#include "engine/opwait.h"
#include "engine/queue.h"
#include "engine/secrets.h"
#include "engine/settings.h"
#include "engine/spi_util.h"
#include "engine/tenant_state.h"
#include "engine/wake.h"
#include "engine/worker.h"
#include "transport/ratelimit.h"

#include "tcop/tcopprot.h"

/* Longest sleep without looking at the queue: covers COMMIT PREPARED and clock changes. */
#define SAFETY_POLL_SECONDS 10.0
/* How often expired snapshots and branches are looked for, and old rows pruned. */
#define HOUSEKEEPING_INTERVAL_SECONDS 10.0
/* Retrying outcomes that could not be recorded: 0.1 s doubling up to 5 s. */
#define RECORD_RETRY_BASE_SECONDS 0.1
#define RECORD_RETRY_CAP_SECONDS 5.0
/* After a failed pass, the pause before the next, and how many in a row end the worker. */
#define FAILED_PASS_PAUSE_SECONDS 1.0
#define FAILED_PASSES_BEFORE_EXIT 30
/* The worker's own bounded waits on locks and statements. */
#define WORKER_LOCK_TIMEOUT "1s"
#define WORKER_STATEMENT_TIMEOUT "60s"

#define USER_AGENT "neon_platform/" EXTVERSION

typedef struct Worker
{
	HttpEngine *engine;
	SqlEngine  *sql;
	JobList		sql_waiting[JOB_LANES]; /* SQL ready, waiting for a connection slot */
	int			sql_running[JOB_LANES]; /* SQL submitted and not yet ended */
	RateLimiter limiter;		/* every call */
	RateLimiter lane_limiter[JOB_LANES];	/* a call of a shared lane takes a token here too */
	WaitEventSet *events;
	MemoryContext jobs_cxt;
	MemoryContext pass_cxt;		/* reset after every pass */
	JobList		waiting[JOB_LANES]; /* calls ready, waiting for a token or a slot */
	JobList		parked[JOB_LANES];	/* jobs whose call may serve others too (batch.c) */
	int			exempt;			/* parked jobs, and those a batched call carries besides its first */
	JobList		unrecorded;		/* outcomes to write (answers, or claims that cannot start) */
	JobList		sending;		/* marked as sent in the transaction now open */
	Job		  **fresh;			/* claimed in the transaction now open */
	int			n_fresh;
	int			active[JOB_LANES];	/* claimed and not yet ended */
	double		claim_at[JOB_LANES];	/* when to look for due jobs next (http_now() clock) */
	double		housekeeping_at;
	double		pause_until;	/* after a failed pass */
	int			failed_passes;
	bool		schema_ready;
	bool		release_config_waits;	/* after a reload */
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

/* The lane of a job's kind. */
static JobLane
lane_of(Job *job)
{
	return job->kind ? job->kind->lane : LANE_INTERACTIVE;
}

/* The percent of the rate limit and of the calls in flight a lane may use. */
static int
lane_share(JobLane lane)
{
	if (lane == LANE_BACKGROUND)
		return neon_background_rate_share;
	if (lane == LANE_SWEEP)
		return neon_sweep_rate_share;
	return 100;
}

/* Most jobs of a lane at once: its share of the calls in flight, at least one. */
static int
lane_cap(JobLane lane)
{
	return Max(1, neon_max_inflight_requests * lane_share(lane) / 100);
}

/* Sets every lane's next look at the queue to now. */
static void
claim_every_lane_now(Worker *w)
{
	for (int lane = 0; lane < JOB_LANES; lane++)
		w->claim_at[lane] = 0;
}

/* Jobs claimed and not yet ended, in every lane. */
static int
active_jobs(Worker *w)
{
	int			n = 0;

	for (int lane = 0; lane < JOB_LANES; lane++)
		n += w->active[lane];
	return n;
}

/* How many more jobs of a lane may be claimed now. */
static int
lane_room(Worker *w, JobLane lane)
{
	int			room = neon_max_inflight_requests + w->exempt - active_jobs(w);

	if (lane != LANE_INTERACTIVE)
		room = Min(room, lane_cap(lane) - w->active[lane]);
	return room;
}

/* Applies the rate settings to the token buckets: the whole limit's, and each shared lane's. */
static void
configure_limiters(Worker *w, bool first)
{
	void		(*set) (RateLimiter *, int, int, double) = first ? ratelimit_init : ratelimit_configure;

	set(&w->limiter, neon_requests_per_minute, neon_burst_per_second, http_now());
	for (int lane = LANE_BACKGROUND; lane < JOB_LANES; lane++)
		set(&w->lane_limiter[lane], Max(1, neon_requests_per_minute * lane_share(lane) / 100),
			Max(1, neon_burst_per_second * lane_share(lane) / 100), http_now());
}

/* Applies the SQL settings: connections, and the connect and statement timeouts. */
static void
configure_sql_engine(Worker *w)
{
	sql_engine_configure(w->sql, neon_max_sql_connections, neon_sql_connect_timeout_ms,
						 neon_sql_statement_timeout_ms);
}

/* The wait set: our latch, postmaster death, and the HTTP and SQL engines' descriptors. */
static WaitEventSet *
create_wait_set(Worker *w)
{
#if PG_VERSION_NUM >= 170000
	WaitEventSet *set = CreateWaitEventSet(NULL, 4);
#else
	WaitEventSet *set = CreateWaitEventSet(TopMemoryContext, 4);
#endif

	AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(set, WL_SOCKET_READABLE, http_engine_fd(w->engine), NULL, NULL);
	AddWaitEventToSet(set, WL_SOCKET_READABLE, sql_engine_fd(w->sql), NULL, NULL);
	return set;
}

/* Creates the engine, the rate limiters and the wait set; bounds the worker's own waits. */
static void
worker_setup(Worker *w)
{
	const char *error = NULL;

	SetConfigOption("lock_timeout", WORKER_LOCK_TIMEOUT, PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", WORKER_STATEMENT_TIMEOUT, PGC_SUSET, PGC_S_OVERRIDE);
	w->engine = http_engine_create(USER_AGENT, &error);
	if (w->engine == NULL)
		ereport(ERROR, (errmsg("neon_platform: could not start the HTTP engine: %s", error)));
	http_engine_configure(w->engine, neon_max_inflight_requests, neon_request_timeout_ms);
	w->sql = sql_engine_create(&error);
	if (w->sql == NULL)
		ereport(ERROR, (errmsg("neon_platform: could not start the SQL engine: %s", error)));
	configure_sql_engine(w);
	configure_limiters(w, true);
	w->events = create_wait_set(w);
	w->jobs_cxt = AllocSetContextCreate(TopMemoryContext, "neon_platform jobs", ALLOCSET_DEFAULT_SIZES);
	w->pass_cxt = AllocSetContextCreate(TopMemoryContext, "neon_platform pass", ALLOCSET_DEFAULT_SIZES);
	secrets_reload();
}

/*
 * Re-reads the configuration files and the key file after SIGHUP and
 * applies what changed: a shorter job_retention at once, and jobs that
 * waited for the configuration are due again.
 */
static void
apply_new_settings(Worker *w)
{
	ConfigReloadPending = false;
	ProcessConfigFile(PGC_SIGHUP);
	secrets_reload();
	http_engine_configure(w->engine, neon_max_inflight_requests, neon_request_timeout_ms);
	configure_sql_engine(w);
	configure_limiters(w, false);
	claim_every_lane_now(w);
	w->housekeeping_at = 0;
	w->release_config_waits = true;
}

/*
 * Checks that CREATE EXTENSION has run here; the first time it has, takes
 * back the jobs a previous worker left running.
 */
static bool
prepare_schema(Worker *w)
{
	int			recovered = 0;
	bool		present;

	db_begin("checking for the neon_platform schema");
	present = queue_schema_present();
	if (present)
		recovered = queue_recover_abandoned();
	db_commit();
	w->schema_ready = present;
	if (recovered > 0)
		ereport(LOG, (errmsg("neon_platform: took back %d job(s) left running by a previous worker", recovered)));
	return w->schema_ready;
}

/*
 * Queues a job whose call is built: parked when its call may serve other
 * jobs too (it then takes no room), else waiting for a token.
 */
static void
queue_ready(Worker *w, Job *job)
{
	if (job->sql_call)
	{
		list_push(&w->sql_waiting[lane_of(job)], job);
		return;
	}
	if (!batch_parks(job))
	{
		list_push(&w->waiting[lane_of(job)], job);
		return;
	}
	job->parked_at = http_now();
	list_push(&w->parked[lane_of(job)], job);
	w->exempt++;
}

/* Frees a job that has ended, and makes room in its lane. */
static void
release_job(Worker *w, Job *job)
{
	JobLane		lane = lane_of(job);

	w->active[lane]--;
	claim_every_lane_now(w);
	job_free(job);
}

/* A transient failure of a call: the same step again, after a backoff. */
static JobOutcome
retry_same(Job *job, HttpRequest *req)
{
	return job_retry_at(NULL, job_answer_text(job, req));
}

/*
 * A mutation whose answer was lost may still land at Neon: resume at the
 * step that looks its effect up, and not before request_timeout plus
 * settle_margin after it was sent.
 */
static JobOutcome
unknown_outcome(Job *job, HttpRequest *req)
{
	JobOutcome	o = job_retry_at(job->step->lookup_step, job_answer_text(job, req));
	double		can_land_until = job->sent_at + (neon_request_timeout_ms + neon_settle_margin_ms) / 1000.0;

	o.retry_in = Max(can_land_until - db_wall_clock(), 0.0);
	return o;
}

/*
 * A 404 for a tenant whose end user was given a claim link may mean the
 * user took the project. GET /projects/{id} tells: 404 there too, and the
 * job ends as claimed; otherwise the 404 was about something else (a
 * snapshot Neon expired), and the step is made again to meet it itself.
 */
static JobOutcome
check_claim(Job *job)
{
	const char *error = NULL;

	job->checking_claim = true;
	if (job_set_call(job, "GET", KEY_TENANT_ORG, api_path("/projects/%s", job->view.project_id), NULL, &error))
		return job_outcome(JOB_CALL_AGAIN, NULL);
	return job_outcome(job->config_missing ? JOB_WAIT_CONFIG : JOB_FAILED, error);
}

/*
 * The answer to check_claim(): the project is gone (the job ends, and the
 * tenant is managed no more), or it is still ours.
 */
static JobOutcome
claim_checked(Job *job, HttpRequest *req)
{
	job->checking_claim = false;
	job->claim_checked = true;
	if (req->status != 404)
		return job_build_call(job);
	job->project_claimed = true;
	return job_outcome(JOB_FAILED,
					   psprintf("the project was claimed: its end user took it into their own Neon account (%s)",
								job_answer_text(job, req)));
}

/*
 * What an answer means for its job. What no kind needs to interpret is
 * decided here: a call that never left, 429 (Neon asks us to slow down, not
 * an attempt), 423 (Neon refused without acting), 401 (the key: wait for
 * the configuration), 404 of a project its end user may have claimed (a
 * batched call's 404 may be another project's; a look that got no answer
 * proves nothing and is made again), and a lost answer or 5xx
 * (repeat a read; look a mutation's effect up). The rest goes to the step, or to the shared wait
 * for operations.
 */
static JobOutcome
decide(Job *job, HttpRequest *req)
{
	JobOutcome	o;

	if (req->status == 0 && !req->maybe_sent)
		return retry_same(job, req);
	if (req->status == 429)
	{
		o = retry_same(job, req);
		o.not_an_attempt = true;
		return o;
	}
	if (req->status == 423)
		return retry_same(job, req);
	if (req->status == 401)
		return job_outcome(JOB_WAIT_CONFIG, psprintf("Neon refused the API key: %s", job_answer_text(job, req)));
	if (job->checking_claim)
		return (req->status == 0 || req->status >= 500) ? retry_same(job, req) : claim_checked(job, req);
	if (req->status == 404 && job->view.claim_made && !job->claim_checked && !job->operations_by_id
		&& job->step->batch == NULL)
		return check_claim(job);
	if (req->status == 0 || req->status >= 500)
		return (job->call_is_mutation && job->step->lookup_step) ? unknown_outcome(job, req) : retry_same(job, req);
	if (job->waiting_on_operation)
		return opwait_handle(job, req);
	return job->step->handle(job, req);
}

/*
 * decide() (or job_decide_sql() for SQL), catching what goes wrong in a kind (a bug, an answer that
 * trips an assertion): that job fails with the reason instead of taking
 * the worker and every other job down.
 */
static JobOutcome
decide_safely(Job *job)
{
	MemoryContext cxt = CurrentMemoryContext;
	JobOutcome	o;

	PG_TRY();
	{
		o = job->sql_answer ? job_decide_sql(job, job->sql_answer) : decide(job, job->answer);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		o = job_outcome(JOB_FAILED, psprintf("internal error: %s", redact_secrets(edata->message)));
	}
	PG_END_TRY();
	return o;
}

/* Lets Neon's pushback (429, Retry-After) slow every call down. */
static void
heed_pushback(Worker *w, HttpRequest *req)
{
	if (req->status == 429 || req->retry_after_seconds >= 0)
		ratelimit_throttled(&w->limiter, http_now(), req->retry_after_seconds);
}

/* Decides, in memory, what a job's answer means; the outcome is then to be recorded. */
static void
take_answer(Worker *w, Job *job)
{
	MemoryContext old = MemoryContextSwitchTo(job->cxt);

	job->outcome = decide_safely(job);
	job->unrecorded = true;
	MemoryContextSwitchTo(old);
	list_push(&w->unrecorded, job);
}

/*
 * Takes every call that has ended; each job it served (one, or all of a
 * batch) gets the answer as its own.
 */
static void
collect_answers(Worker *w)
{
	HttpRequest *req;

	while ((req = http_engine_next_done(w->engine)) != NULL)
	{
		Job		   *job = (Job *) req->owner;
		Job		  **batch = job->batch;
		int			n = job->n_batch;
		int			i;

		heed_pushback(w, req);
		if (n == 0)
		{
			job->answer = req;
			job->answer_path = job->call_path;
			job->call = NULL;
			take_answer(w, job);
			continue;
		}
		batch_share_answer(job, req);
		job->batch = NULL;
		job->n_batch = 0;
		w->exempt -= n - 1;
		for (i = 0; i < n; i++)
			take_answer(w, batch[i]);
		pfree(batch);
	}
}

/* Takes every SQL request that has ended. */
static void
collect_sql_answers(Worker *w)
{
	SqlRequest *req;

	while ((req = sql_engine_next_done(w->sql)) != NULL)
	{
		Job		   *job = (Job *) req->owner;

		w->sql_running[lane_of(job)]--;
		job->sql_answer = req;
		job->sql_call = NULL;
		take_answer(w, job);
	}
}

/* Writes one job's audit row and outcome; may throw. */
static void
record_one(Worker *w, Job *job)
{
	double		delay;

	if (job->answer)
		queue_record_call(job, job->answer);
	if (job->operations_changed && job->tenant)
		tenant_state_set_pending_operations(job->tenant, job->view.pending_operations,
											job->view.n_pending_operations);
	delay = queue_apply_outcome(job);
	if (delay >= 0)
		w->claim_at[lane_of(job)] = Min(w->claim_at[lane_of(job)], http_now() + delay);
}

/*
 * record_one() in a subtransaction. Returns true when it is written. A
 * transient failure (a tenant row somebody holds, a cancel, a deadlock)
 * leaves the job for a later pass; any other failure fails the job with
 * the reason, also in a subtransaction of its own.
 */
static bool
record_safely(Worker *w, Job *job)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool written = false;
	volatile bool transient = false;
	char	   *volatile error = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		record_one(w, job);
		ReleaseCurrentSubTransaction();
		written = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		transient = db_error_is_transient(edata->sqlerrcode);
		error = redact_secrets(edata->message);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;

	if (written)
	{
		job->unrecorded = false;
		return true;
	}
	if (job->record_failures++ == 0)
		ereport(LOG,
				(errmsg("neon_platform: could not record the outcome of job %lld%s: %s",
						(long long) job->id, transient ? " now; trying again" : "", error)));
	if (transient || job->outcome.verdict == JOB_FAILED)
		return false;
	job->outcome = job_outcome(JOB_FAILED, MemoryContextStrdup(job->cxt, psprintf("internal error: %s", error)));
	return record_safely(w, job);
}

/* Whether some outcome waiting to be recorded is due now; *next says when the next one is. */
static bool
outcomes_due(Worker *w, double now, double *next)
{
	Job		   *job;

	*next = now + SAFETY_POLL_SECONDS;
	for (job = w->unrecorded.head; job != NULL; job = job->next)
		*next = Min(*next, job->record_at);
	return w->unrecorded.head != NULL && *next <= now;
}

/*
 * Writes every outcome due to be recorded, in one short transaction. Only
 * once it has committed do the jobs move on: those with another call to
 * make go to the waiting list, the others are released. One that could not
 * be written (its tenant's row is held) waits for its own next try, after a
 * pause that grows with its failures, and holds up no other.
 */
static void
record_outcomes(Worker *w)
{
	double		now = http_now();
	double		next;
	JobList		pending;
	JobList		later = {0};
	Job		   *job;

	if (!outcomes_due(w, now, &next))
		return;

	db_begin("recording API calls");
	for (job = w->unrecorded.head; job != NULL; job = job->next)
	{
		if (job->record_at > now || record_safely(w, job))
			continue;
		job->record_at = now + Min(RECORD_RETRY_BASE_SECONDS * pow(2.0, job->record_failures - 1),
								   RECORD_RETRY_CAP_SECONDS);
	}
	db_commit();

	pending = w->unrecorded;
	w->unrecorded.head = w->unrecorded.tail = NULL;
	while ((job = list_pop(&pending)) != NULL)
	{
		if (job->unrecorded)
		{
			list_push(&later, job);
			continue;
		}
		if (job->answer)
		{
			http_request_free(job->answer);
			job->answer = NULL;
		}
		if (job->sql_answer)
		{
			sql_request_free(job->sql_answer);
			job->sql_answer = NULL;
		}
		job->operations_changed = false;
		job->record_failures = 0;
		job->record_at = 0;
		if (job->outcome.verdict == JOB_CALL_AGAIN)
			queue_ready(w, job);
		else
			release_job(w, job);
	}
	w->unrecorded = later;
}

/*
 * Readies the first call of a job just claimed (or its outcome when it
 * cannot start) and queues it where it belongs, marked as claimed in the
 * open transaction until that commits.
 */
static void
start_claimed_job(Worker *w, Job *job)
{
	w->active[lane_of(job)]++;
	if (!job->unrecorded)
	{
		MemoryContext old = MemoryContextSwitchTo(job->cxt);

		job->outcome = job_build_call(job);
		job->unrecorded = job->outcome.verdict != JOB_CALL_AGAIN;
		MemoryContextSwitchTo(old);
	}
	job->claimed_now = true;
	w->fresh[w->n_fresh++] = job;
	if (job->unrecorded)
		list_push(&w->unrecorded, job);
	else
		queue_ready(w, job);
}

/* Claims the due jobs of one lane, up to its room; sets when to look again. */
static void
claim_lane(Worker *w, JobLane lane, double now)
{
	int			room = lane_room(w, lane);
	double		next_due;
	int			claimed = 0;
	Job		   *job;
	Job		   *next;

	if (room <= 0 || now < w->claim_at[lane])
		return;
	job = queue_claim(lane, room, w->jobs_cxt, &next_due);
	for (; job != NULL; job = next)
	{
		next = job->next;
		start_claimed_job(w, job);
		claimed++;
	}
	if (claimed == room)
		w->claim_at[lane] = now;
	else if (next_due < 0)
		w->claim_at[lane] = now + SAFETY_POLL_SECONDS;
	else
		w->claim_at[lane] = now + Min(next_due, SAFETY_POLL_SECONDS);
}

/* Whether this pass should look for due jobs. */
static bool
claim_due(Worker *w, double now)
{
	if (neon_paused)
		return false;
	if (w->release_config_waits)
		return true;
	if (lane_room(w, LANE_INTERACTIVE) <= 0)
		return false;
	for (int lane = 0; lane < JOB_LANES; lane++)
		if (now >= w->claim_at[lane])
			return true;
	return false;
}

/* Whether a call of this lane may take a token now (and takes it). */
static bool
take_token(Worker *w, JobLane lane, double now)
{
	if (lane != LANE_INTERACTIVE && ratelimit_wait_seconds(&w->lane_limiter[lane], now) > 0)
		return false;
	if (!ratelimit_try_take(&w->limiter, now))
		return false;
	if (lane != LANE_INTERACTIVE)
		ratelimit_try_take(&w->lane_limiter[lane], now);
	return true;
}

/*
 * Sends the parked jobs of a lane whose batch is due, one call per batch,
 * while tokens and slots allow; returns how many calls it took.
 */
static int
pick_batches(Worker *w, int lane, int slots, double now)
{
	bool		more_may_come = now >= w->claim_at[lane] && lane_room(w, lane) > 0 && !neon_paused;
	int			picked = 0;

	while (picked < slots && batch_due(&w->parked[lane], more_may_come, now) && take_token(w, lane, now))
	{
		int			taken = 0;
		Job		   *carrier = batch_gather(&w->parked[lane], &w->unrecorded, &taken);

		w->exempt -= taken;
		if (carrier == NULL)
			continue;
		w->exempt += taken - 1;
		list_push(&w->sending, carrier);
		picked++;
	}
	return picked;
}

/* Most SQL requests of a lane at once: every connection for a person's work, else the background's. */
static int
sql_lane_cap(JobLane lane)
{
	if (lane == LANE_INTERACTIVE)
		return neon_max_sql_connections;
	return Min(neon_sql_background_connections, neon_max_sql_connections);
}

/* Moves waiting SQL to the sending list while connection slots allow, interactive first. */
static void
pick_sql_to_send(Worker *w)
{
	int			running = 0;
	int			picked[JOB_LANES] = {0};

	for (int lane = 0; lane < JOB_LANES; lane++)
		running += w->sql_running[lane];
	for (int lane = 0; lane < JOB_LANES; lane++)
	{
		while (w->sql_waiting[lane].head != NULL && running < neon_max_sql_connections
			   && w->sql_running[lane] + picked[lane] < sql_lane_cap(lane))
		{
			list_push(&w->sending, list_pop(&w->sql_waiting[lane]));
			picked[lane]++;
			running++;
		}
	}
}

/* Moves waiting calls to the sending list while tokens and slots allow, interactive first. */
static void
pick_calls_to_send(Worker *w)
{
	double		now = http_now();
	int			slots = neon_max_inflight_requests - http_engine_inflight(w->engine);
	int			picked = 0;
	int			lane;

	for (lane = 0; lane < JOB_LANES; lane++)
	{
		while (w->waiting[lane].head != NULL && picked < slots && take_token(w, lane, now))
		{
			list_push(&w->sending, list_pop(&w->waiting[lane]));
			picked++;
		}
		picked += pick_batches(w, lane, slots - picked, now);
	}
}

/* Records that the mutations among the calls about to be sent leave now (every job of a batch). */
static void
mark_mutations_sent(Worker *w)
{
	Job		  **mutations;
	int			n = 0;
	Job		   *job;

	for (job = w->sending.head; job != NULL; job = job->next)
		if (job->call_is_mutation)
			n += Max(job->n_batch, 1);
	if (n == 0)
		return;
	mutations = palloc(sizeof(Job *) * n);
	n = 0;
	for (job = w->sending.head; job != NULL; job = job->next)
	{
		if (!job->call_is_mutation)
			continue;
		if (job->n_batch == 0)
			mutations[n++] = job;
		else
		{
			memcpy(&mutations[n], job->batch, sizeof(Job *) * job->n_batch);
			n += job->n_batch;
		}
	}
	queue_mark_sent(mutations, n);
}

/* Whether a call of some lane waits for a token, a slot or its batch. */
static bool
calls_wait(Worker *w)
{
	for (int lane = 0; lane < JOB_LANES; lane++)
		if (w->waiting[lane].head != NULL || w->parked[lane].head != NULL || w->sql_waiting[lane].head != NULL)
			return true;
	return false;
}

/*
 * In one short transaction: claims due jobs, interactive ones first (after
 * a reload, first making the jobs that waited for the configuration due),
 * picks the calls that tokens and slots allow, and records the mutations
 * among them as sent (jobs.mutation_sent_at). Only once it has committed
 * do those calls leave.
 */
static void
claim_and_send(Worker *w)
{
	double		now = http_now();
	bool		claim = claim_due(w, now);
	Job		   *job;
	int			i;

	if (!claim && !calls_wait(w))
		return;
	w->fresh = palloc(sizeof(Job *) * Max(neon_max_inflight_requests, 1));
	w->n_fresh = 0;
	db_begin("claiming jobs and recording mutations about to be sent");
	if (claim && w->release_config_waits)
		queue_release_config_waits();
	for (int lane = 0; claim && lane < JOB_LANES; lane++)
		claim_lane(w, lane, now);
	pick_calls_to_send(w);
	pick_sql_to_send(w);
	mark_mutations_sent(w);
	db_commit();
	w->release_config_waits &= !claim;
	for (i = 0; i < w->n_fresh; i++)
		w->fresh[i]->claimed_now = false;
	w->n_fresh = 0;

	while ((job = list_pop(&w->sending)) != NULL)
	{
		if (job->sql_call && sql_engine_submit(w->sql, job->sql_call))
		{
			w->sql_running[lane_of(job)]++;
			continue;
		}
		if (job->sql_call)
		{
			/* A connection string libpq refuses is the request's answer, decided like any. */
			job->sql_answer = job->sql_call;
			job->sql_call = NULL;
			take_answer(w, job);
			continue;
		}
		if (!http_engine_submit(w->engine, job->call))
			ereport(ERROR,
					(errmsg("neon_platform: could not start %s %s: %s",
							job->call->method, job->call_path, job->call->error)));
	}
}

/*
 * Every 10 seconds: expired snapshots and branches get their background
 * deletion jobs and a usage sweep is enqueued when one is due (unless the
 * worker is paused), and finished jobs, call records and usage past their
 * retention are deleted. The queue is looked at right after, so what was
 * enqueued starts now rather than at the next safety poll.
 */
static void
housekeeping(Worker *w)
{
	double		now = http_now();

	if (now < w->housekeeping_at)
		return;
	w->housekeeping_at = now + HOUSEKEEPING_INTERVAL_SECONDS;
	db_begin("housekeeping");
	if (!neon_paused)
	{
		queue_enqueue_expired();
		queue_enqueue_due_sweep(neon_usage_poll_interval_s);
	}
	if (neon_job_retention_s > 0)
		queue_prune(neon_job_retention_s);
	if (neon_usage_retention_s > 0)
		queue_prune_usage(neon_usage_retention_s);
	db_commit();
	claim_every_lane_now(w);
}

/* Seconds until a waiting call of some lane can take a token, or -1 when none waits. */
static double
token_wait_seconds(Worker *w, double now)
{
	double		wait = -1;

	if (http_engine_inflight(w->engine) >= neon_max_inflight_requests)
		return -1;
	for (int lane = 0; lane < JOB_LANES; lane++)
	{
		double		lane_wait = ratelimit_wait_seconds(&w->limiter, now);

		if (w->waiting[lane].head == NULL && w->parked[lane].head == NULL)
			continue;
		if (lane != LANE_INTERACTIVE)
			lane_wait = Max(lane_wait, ratelimit_wait_seconds(&w->lane_limiter[lane], now));
		wait = wait < 0 ? lane_wait : Min(wait, lane_wait);
	}
	return wait;
}

/* How long the loop may sleep before something needs doing, in milliseconds. */
static long
next_timeout_ms(Worker *w)
{
	double		now = http_now();
	double		seconds = SAFETY_POLL_SECONDS;
	long		engine_ms = http_engine_timeout_ms(w->engine);
	long		sql_ms = sql_engine_timeout_ms(w->sql);
	double		tokens = token_wait_seconds(w, now);
	int			lane;

	if (!w->schema_ready)
		return (long) (SAFETY_POLL_SECONDS * 1000);
	for (lane = 0; lane < JOB_LANES; lane++)
		if (w->parked[lane].head != NULL)
			seconds = Min(seconds, w->parked[lane].head->parked_at + BATCH_LINGER_SECONDS - now);

	if (engine_ms >= 0)
		seconds = Min(seconds, engine_ms / 1000.0);
	if (sql_ms >= 0)
		seconds = Min(seconds, sql_ms / 1000.0);
	if (tokens >= 0)
		seconds = Min(seconds, tokens);
	for (lane = 0; lane < JOB_LANES && !neon_paused; lane++)
		if (lane_room(w, lane) > 0)
			seconds = Min(seconds, w->claim_at[lane] - now);
	if (w->unrecorded.head != NULL)
	{
		double		next;

		outcomes_due(w, now, &next);
		seconds = Min(seconds, next - now);
	}
	seconds = Min(seconds, w->housekeeping_at - now);
	seconds = Max(seconds, w->pause_until - now);
	return seconds <= 0 ? 0 : (long) ceil(seconds * 1000.0);
}

/* Sleeps until the latch, a socket or the timeout; then moves the calls on. */
static void
wait_for_events(Worker *w, long timeout_ms)
{
	WaitEvent	events[4];
	int			n;
	int			i;

	n = WaitEventSetWait(w->events, timeout_ms, events, lengthof(events), PG_WAIT_EXTENSION);
	for (i = 0; i < n; i++)
	{
		if (events[i].events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			claim_every_lane_now(w);
		}
	}
	http_engine_perform(w->engine);
	sql_engine_perform(w->sql);
}

/* One pass of the loop; may throw (see run_pass). */
static void
worker_pass(Worker *w)
{
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
		apply_new_settings(w);
	if (!w->schema_ready && !prepare_schema(w))
		return;
	collect_answers(w);
	collect_sql_answers(w);
	record_outcomes(w);
	claim_and_send(w);
	housekeeping(w);
}

/*
 * Lets go of the jobs of a list whose claim was rolled back: the table has
 * them queued again. `parked` says the list's jobs take no room.
 */
static void
drop_uncommitted_claims(Worker *w, JobList *list, bool parked)
{
	JobList		keep = {0};
	Job		   *job;

	while ((job = list_pop(list)) != NULL)
	{
		if (!job->claimed_now)
			list_push(&keep, job);
		else
		{
			w->active[lane_of(job)]--;
			w->exempt -= parked;
			job_free(job);
		}
	}
	*list = keep;
}

/* A call picked in the failed pass goes back where it waited; a batch's jobs back to the parked list. */
static void
unpick(Worker *w, Job *job, JobList *back_waiting, JobList *back_parked, JobList *back_sql)
{
	int			i;

	if (job->sql_call)
	{
		list_push(&back_sql[lane_of(job)], job);
		return;
	}
	if (job->n_batch == 0)
	{
		list_push(&back_waiting[lane_of(job)], job);
		return;
	}
	for (i = 0; i < job->n_batch; i++)
		list_push(&back_parked[lane_of(job)], job->batch[i]);
	w->exempt += 1;
	pfree(job->batch);
	job->batch = NULL;
	job->n_batch = 0;
}

/*
 * Undoes what a failed pass left half done: the transaction is rolled back,
 * so jobs claimed in it are let go, and calls marked as sent in it go back
 * to the front of their lane's queue.
 */
static void
recover_from_failed_pass(Worker *w, ErrorData *edata)
{
	JobList		back_waiting[JOB_LANES] = {{0}};
	JobList		back_parked[JOB_LANES] = {{0}};
	JobList		back_sql[JOB_LANES] = {{0}};
	Job		   *job;
	int			lane;

	AbortCurrentTransaction();
	pgstat_report_activity(STATE_IDLE, NULL);
	while ((job = list_pop(&w->sending)) != NULL)
		unpick(w, job, back_waiting, back_parked, back_sql);
	for (lane = 0; lane < JOB_LANES; lane++)
	{
		list_prepend(&w->waiting[lane], &back_waiting[lane]);
		list_prepend(&w->parked[lane], &back_parked[lane]);
		list_prepend(&w->sql_waiting[lane], &back_sql[lane]);
		drop_uncommitted_claims(w, &w->waiting[lane], false);
		drop_uncommitted_claims(w, &w->parked[lane], true);
		drop_uncommitted_claims(w, &w->sql_waiting[lane], false);
	}
	drop_uncommitted_claims(w, &w->unrecorded, false);
	w->n_fresh = 0;
	/* With no job in memory, look at the schema afresh (it may have been dropped or updated). */
	if (active_jobs(w) == 0)
		w->schema_ready = false;
	w->pause_until = http_now() + FAILED_PASS_PAUSE_SECONDS;
	ereport(LOG,
			(errmsg("neon_platform: worker pass failed, trying again in %.0f s: %s",
					FAILED_PASS_PAUSE_SECONDS, redact_secrets(edata->message))));
	if (++w->failed_passes >= FAILED_PASSES_BEFORE_EXIT)
	{
		ereport(LOG, (errmsg("neon_platform: %d worker passes failed in a row; restarting the worker",
							 w->failed_passes)));
		proc_exit(1);
	}
}

/*
 * A pass with its errors caught: a cancel, a lock timeout or a broken
 * statement costs that pass's transaction, never the answers held in memory.
 */
static void
run_pass(Worker *w)
{
	MemoryContext old = MemoryContextSwitchTo(w->pass_cxt);

	PG_TRY();
	{
		if (http_now() >= w->pause_until)
		{
			worker_pass(w);
			w->failed_passes = 0;
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(w->pass_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		recover_from_failed_pass(w, edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	MemoryContextReset(w->pass_cxt);
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
	{
		run_pass(&w);
		wait_for_events(&w, next_timeout_ms(&w));
	}
}
