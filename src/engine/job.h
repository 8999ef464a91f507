/*
 * job.h
 *		The seam between the engine and the job kinds.
 *
 * The engine (queue, loop, recording) knows no kind by name. A kind is a
 * JobKind: a lane, a table of steps, and callbacks that read its input
 * from jobs.args, save and restore what it learned in jobs.progress, and
 * write its outcome to the tenant. Each step makes at most one API call; the
 * engine sends it under the rate limiter, classifies what cannot be the
 * kind's business (no answer, 401, 423, 429, 5xx) and hands the kind only
 * the answers it must interpret.
 *
 * A step that is a mutation names the step that looks its effect up: when
 * its answer is lost, the engine resumes there, but only once the request
 * can no longer land at Neon (request_timeout plus settle_margin after it
 * was sent, a time kept in jobs.mutation_sent_at across restarts). A read
 * is simply repeated. A step that mutates an existing project may ask the
 * engine to wait for the project's pending Neon operations first.
 */
#ifndef NEON_PLATFORM_JOB_H
#define NEON_PLATFORM_JOB_H

#include "pg_prelude.h"

#include "transport/http.h"
#include "transport/sql.h"

/*
 * Lanes: work a person waits for never queues behind background work;
 * background work (re-applies, expiries) and sweeps (usage, reconciliation)
 * each keep to their own share of the rate limit.
 */
typedef enum JobLane
{
	LANE_INTERACTIVE = 0,
	LANE_BACKGROUND = 1,
	LANE_SWEEP = 2
} JobLane;

#define JOB_LANES 3

/* Which API key a call carries. */
typedef enum ApiKeyKind
{
	KEY_TENANT_ORG,				/* the key of the organization the tenant's project lives in */
	KEY_FREE_ORG,
	KEY_PAID_ORG,
	KEY_PERSONAL
} ApiKeyKind;

typedef enum JobVerdict
{
	JOB_CALL_AGAIN,				/* job->step (maybe a new one) makes the next call now */
	JOB_SUCCEEDED,
	JOB_FAILED,					/* permanent: retrying cannot help */
	JOB_RETRY,					/* transient: try again from retry_step after a delay */
	JOB_WAIT_CONFIG				/* the configuration makes the call impossible: wait for a reload */
} JobVerdict;

typedef struct JobOutcome
{
	JobVerdict	verdict;
	const char *error;			/* why it failed, is retried or waits */
	const char *retry_step;		/* with JOB_RETRY: where to resume (NULL: the same step) */
	double		retry_in;		/* with JOB_RETRY: seconds to wait at least (< 0: backoff) */
	bool		not_an_attempt; /* with JOB_RETRY: Neon asked us to wait; attempts unchanged */
	const char *result_json;	/* with JOB_SUCCEEDED (or JOB_FAILED: what it produced all the same) */
} JobOutcome;

/* The tenant as the job found it when it was claimed (NULLs for an organization-wide job). */
typedef struct TenantView
{
	char	   *organization;	/* "free" or "paid" */
	char	   *project_id;
	char	   *branch_id;		/* its default (production) branch */
	char	  **pending_operations;
	int			n_pending_operations;
	bool		claim_made;		/* neon_claim() made a link: the project may have left us */
} TenantView;

typedef struct Job Job;

/* Builds the call of a step with job_set_call(); returns false with *error when it cannot. */
typedef bool (*StepBuildFn) (Job *job, const char **error);

/* Decides what a 2xx answer, or a 4xx other than 401/423/429, means for the job. */
typedef JobOutcome (*StepHandleFn) (Job *job, HttpRequest *req);

/* Decides what SQL that ran (succeeded, or failed with the server's error) means for the job. */
typedef JobOutcome (*StepSqlHandleFn) (Job *job, SqlRequest *req);

/*
 * A step whose call can serve several jobs (a project transfer carries up
 * to 400 project ids): jobs waiting at it with the same key are sent
 * together, and each gets its own outcome from the one answer.
 */
typedef struct JobBatch
{
	int			max_jobs;
	/* Jobs whose keys are equal may share a call. */
	const char *(*key) (Job *job);
	/* Builds the one call of jobs[0..n-1] into jobs[0]->call with job_set_call(). */
	bool		(*build) (Job **jobs, int n, const char **error);
} JobBatch;

typedef struct JobStep
{
	const char *name;			/* saved in jobs.step */
	bool		mutation;		/* a lost answer may hide a change at Neon */
	const char *lookup_step;	/* with mutation: where a lost answer is resolved */
	bool		waits_for_operations;	/* first wait for the tenant's pending operations */
	StepBuildFn build;
	StepHandleFn handle;		/* with batch: called for each job of the call */
	const JobBatch *batch;		/* NULL: one call per job */
	/*
	 * Set for a step that runs SQL in the tenant's database (its build calls
	 * job_set_sql()) instead of calling the API. Make it a mutation: SQL
	 * whose end was lost is never run again.
	 */
	StepSqlHandleFn handle_sql;
} JobStep;

typedef struct JobKind
{
	const char *name;			/* jobs.kind */
	JobLane		lane;
	bool		needs_tenant;	/* false for organization-wide work */
	const JobStep *steps;		/* the first is where a new job starts; ends with a NULL name */

	/* Reads jobs.args and jobs.progress (JSON texts, progress may be NULL) into job->state. */
	bool		(*load) (Job *job, const char *args, const char *progress, const char **error);
	/* What the job has learned so far, as JSON for jobs.progress (NULL: nothing). */
	char	   *(*save_progress) (Job *job);
	/*
	 * Writes what the answer just taken taught to the kind's own rows (a
	 * page of a project list), in the transaction that records it, whatever
	 * the outcome (NULL: nothing).
	 */
	void		(*record_answer) (Job *job);
	/* Writes a success or a permanent failure to the tenant (tenant_state.c). */
	void		(*record_success) (Job *job);
	void		(*record_failure) (Job *job, const char *error);
	/* Frees what the kind malloc'd in job->state. */
	void		(*release) (Job *job);
} JobKind;

struct Job
{
	int64		id;
	char	   *tenant;			/* NULL for organization-wide work */
	const JobKind *kind;
	const JobStep *step;
	int			attempts;		/* including this one */
	MemoryContext cxt;		/* holds everything below but the call */
	TenantView	view;
	void	   *state;			/* the kind's own */

	/* The SQL waiting for a connection or running, and the SQL that ended until it is recorded. */
	SqlRequest *sql_call;
	SqlRequest *sql_answer;

	/* The call waiting for a token or in flight. */
	HttpRequest *call;
	char	   *call_path;		/* path and query below api_url, for the audit */
	bool		call_is_mutation;

	/* With a batched call: the jobs it serves (this one first), and when this one began to wait. */
	struct Job **batch;
	int			n_batch;
	double		parked_at;

	/* The call that was answered (or got no answer), until it is recorded. */
	HttpRequest *answer;
	char	   *answer_path;
	bool		waiting_on_operation;	/* the call polls pending operations */
	bool		operations_by_id;	/* some are older than the list's page: poll them one by one */
	bool		config_missing; /* job_set_call() found no key or no api_url */
	bool		operations_changed; /* view.pending_operations lost an operation that ended */
	bool		started_operations; /* this job's mutations started some of them */
	bool		checking_claim; /* the call asks whether the project is still ours (worker.c) */
	bool		claim_checked;	/* it is: a 404 is the step's own business */
	bool		project_claimed;	/* Neon no longer knows the project: its end user took it */
	double		sent_at;		/* wall clock (unix seconds) the mutation left, 0 = not sent */

	/* An answer whose recording failed for a transient reason, retried next pass. */
	JobOutcome	outcome;
	bool		unrecorded;
	bool		claimed_now;	/* claimed in the worker's open transaction */
	int			record_failures;	/* transient failures to record it, in a row */
	double		record_at;		/* not tried again before this time (http_now() clock) */

	struct Job *next;			/* in the worker's lists */
};

/* The registry of kinds (registry.c). */
extern const JobKind *job_kind_by_name(const char *name);
extern const JobStep *job_step_by_name(const JobKind *kind, const char *name);
extern Datum job_kinds_of_lane(JobLane lane);

/* Helpers for kinds (api_call.c). */
extern bool job_set_call(Job *job, const char *method, ApiKeyKind key, char *path, char *body,
						 const char **error);
extern char *api_path(const char *fmt,...) pg_attribute_printf(1, 2);
extern JobOutcome job_outcome(JobVerdict verdict, const char *error);
extern JobOutcome job_build_call(Job *job);
extern JobOutcome job_next_step(Job *job, const char *step);
extern JobOutcome job_retry_at(const char *step, const char *error);
extern JobOutcome job_refused_answer(Job *job, HttpRequest *req, char *error);
extern const char *job_answer_text(Job *job, HttpRequest *req);
extern const char *job_tenant_org_id(Job *job);

/* Helpers for steps that run SQL in a tenant's database (sql_call.c). */
extern bool job_set_sql(Job *job, const char *conninfo, const char *sql, const char **error);
extern JobOutcome job_decide_sql(Job *job, SqlRequest *req);
extern const char *job_sql_error_text(SqlRequest *req);
extern char *job_sql_result_json(SqlRequest *req);

#endif							/* NEON_PLATFORM_JOB_H */
