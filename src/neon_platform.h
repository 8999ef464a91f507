/*
 * neon_platform.h
 *		Declarations shared by the extension's PostgreSQL-side modules.
 */
#ifndef NEON_PLATFORM_H
#define NEON_PLATFORM_H

#include "http.h"
#include "neon_json.h"

/* Settings (guc.c). */
extern char *neon_api_url;
extern char *neon_database_name;
extern char *neon_free_org_id;
extern char *neon_paid_org_id;
extern char *neon_free_org_api_key;
extern char *neon_paid_org_api_key;
extern char *neon_personal_api_key;
extern char *neon_project_name_prefix;
extern int	neon_requests_per_minute;
extern int	neon_burst_per_second;
extern int	neon_max_inflight_requests;
extern int	neon_request_timeout_ms;
extern int	neon_max_attempts;
extern int	neon_job_retention_s;
extern bool neon_paused;

/* Shared memory and the commit-time wake-up (wake.c). */
extern void wake_register_shmem(void);
extern void wake_advertise_worker(void);
extern bool neon_in_worker;

/* The background worker (worker.c). */
extern PGDLLEXPORT void neon_worker_main(Datum arg);
extern void worker_register(void);

/*
 * A job the worker has claimed and is carrying out. Everything it owns lives
 * in its memory context, except the HTTP request (malloc'd, see http.h).
 */
typedef struct Job
{
	int64		id;
	char	   *tenant;
	char	   *kind;
	char	   *step;			/* current step of a multi-call job, NULL = first */
	int			attempts;		/* including this one */
	MemoryContext cxt;

	/* The tenant's plan, read when the job was claimed. */
	char	   *organization;	/* "free" or "paid" */
	NeonProjectSpec spec;

	/* Progress of the job across calls. */
	NeonProject project;
	char	   *list_cursor;	/* paging through GET /projects?search= */

	HttpRequest *call;			/* the call waiting for a token or in flight */
	char	   *call_path;		/* its path and query, for the audit */
	struct Job *next;			/* in the worker's lists */
} Job;

typedef enum JobVerdict
{
	JOB_CALL_AGAIN,				/* job->call holds the next call to make */
	JOB_SUCCEEDED,
	JOB_FAILED,					/* permanent: retrying cannot help */
	JOB_RETRY					/* transient: try again after a backoff */
} JobVerdict;

typedef struct JobOutcome
{
	JobVerdict	verdict;
	const char *error;			/* why it failed or is retried */
	const char *retry_step;		/* with JOB_RETRY: the step to resume at */
	bool		snooze;			/* with JOB_RETRY: Neon asked us to slow down; not counted as an attempt */
	const char *result_json;	/* with JOB_SUCCEEDED */
	double		retry_in;		/* set by jobs_finish(): seconds until a retried job is due, else -1 */
} JobOutcome;

/* The queue (jobs.c). */
extern void jobs_begin(const char *activity);
extern void jobs_commit(void);
extern bool jobs_schema_present(void);
extern int	jobs_recover_abandoned(void);
extern Job *jobs_claim(int limit, MemoryContext parent, double *next_due_seconds);
extern void jobs_record_call(Job *job, HttpRequest *req);
extern void jobs_finish(Job *job, JobOutcome *outcome);
extern void jobs_prune(int retention_seconds);

/* SPI helpers shared by the modules that write the queue (jobs.c). */
extern SPIPlanPtr spi_plan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes);
extern void spi_run(SPIPlanPtr plan, Datum *values, const char *nulls, int expected);
extern Datum text_or_null(const char *value, char *null_flag);

/* The provision job (provision.c). */
extern bool provision_prepare_call(Job *job, const char **error);
extern JobOutcome provision_handle_response(Job *job, HttpRequest *req);
extern void provision_record_success(Job *job);
extern void provision_record_failure(Job *job, const char *error);

#endif							/* NEON_PLATFORM_H */
