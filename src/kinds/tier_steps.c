/*
 * tier_steps.c
 *		The steps that give a project a tier's plan, shared by apply_tier
 *		(the tier changed) and change_tier (the tenant changed tier).
 *
 *	 update_project ──> fetch_endpoints ──(none differs)──> done
 *	                          │
 *	                          v
 *	                    update_endpoint (once per endpoint that differs) ──> done
 *
 * The project PATCH sets the whole quota object, history_retention_seconds
 * and the default endpoint settings; project defaults do not reach existing
 * computes, so each endpoint whose settings differ is patched too. Both
 * PATCHes set absolute values: an answer lost is resolved by sending the
 * same PATCH again, once the lost one can no longer land. Each waits for
 * the project's pending operations first.
 *
 * Cost: 2 requests per tenant, plus 1 per endpoint whose settings differ,
 * plus the reads of operations still running.
 */
#include "pg_prelude.h"

#include "engine/opwait.h"
#include "engine/job_args.h"
#include "kinds/plan.h"
#include "kinds/tier_steps.h"
#include "neon/neon_endpoints.h"
#include "neon/neon_operations.h"

/* The kind's state of a job. */
TierJob *
tier_job(Job *job)
{
	return (TierJob *) job->state;
}

/* Splits the comma-separated endpoint ids of jobs.progress. */
static void
read_endpoint_list(Job *job, const char *list)
{
	TierJob    *a = tier_job(job);
	char	   *copy = MemoryContextStrdup(job->cxt, list);
	char	   *save = NULL;
	char	   *id;

	for (id = strtok_r(copy, ",", &save); id && a->n_endpoints < TIER_MAX_ENDPOINTS; id = strtok_r(NULL, ",", &save))
		a->endpoints[a->n_endpoints++] = id;
}

/* A limit of the plan or a figure saved in jobs.progress (0 when absent). */
static long long
count_at(JobArgs *args, const char *path)
{
	double		value = 0;

	job_args_number(args, path, &value);
	return (long long) value;
}

/* The usage a downgrade's check read before a restart, from jobs.progress. */
static void
read_usage_progress(JobArgs *progress, NeonUsage *u)
{
	const char *start = job_args_string(progress, "usage.period_start");
	const char *end = job_args_string(progress, "usage.period_end");

	if (start == NULL)
		return;
	u->period_start = strdup(start);
	u->period_end = end ? strdup(end) : NULL;
	u->active_time_seconds = count_at(progress, "usage.active_time_seconds");
	u->compute_time_seconds = count_at(progress, "usage.compute_time_seconds");
	u->written_data_bytes = count_at(progress, "usage.written_data_bytes");
	u->data_transfer_bytes = count_at(progress, "usage.data_transfer_bytes");
	u->logical_size_bytes = count_at(progress, "usage.logical_size_bytes");
	u->branches = count_at(progress, "usage.branches");
	u->snapshots = count_at(progress, "usage.snapshots");
}

/* The usage read so far, as the "usage" member of jobs.progress. */
static void
write_usage_progress(StringInfo buf, const NeonUsage *u)
{
	appendStringInfoString(buf, ", \"usage\": {\"period_start\": ");
	escape_json(buf, u->period_start);
	if (u->period_end)
	{
		appendStringInfoString(buf, ", \"period_end\": ");
		escape_json(buf, u->period_end);
	}
	appendStringInfo(buf, ", \"active_time_seconds\": %lld, \"compute_time_seconds\": %lld, "
					 "\"written_data_bytes\": %lld, \"data_transfer_bytes\": %lld, "
					 "\"logical_size_bytes\": %lld, \"branches\": %lld, \"snapshots\": %lld}",
					 u->active_time_seconds, u->compute_time_seconds, u->written_data_bytes,
					 u->data_transfer_bytes, u->logical_size_bytes, u->branches, u->snapshots);
}

/*
 * Reads the plan (and, for a move, the organizations) from jobs.args, and
 * from jobs.progress whether the project moved and the endpoints still to
 * patch.
 */
bool
tier_job_load(Job *job, const char *args_text, const char *progress_text, const char **error)
{
	TierJob    *a = MemoryContextAllocZero(job->cxt, sizeof(TierJob));
	JobArgs    *args = job_args_parse(args_text, error);
	JobArgs    *progress;
	const char *value;
	double		patched = 0;

	if (args == NULL)
		return false;
	*error = NULL;
	job->state = a;
	plan_read_spec(job, args, &a->spec, error);
	a->tier = plan_string(job, args, "tier", error);
	a->from_organization = job_args_string(args, "from_organization")
		? plan_string(job, args, "from_organization", error) : NULL;
	a->to_organization = job_args_string(args, "to_organization")
		? plan_string(job, args, "to_organization", error) : NULL;
	a->keeps_compute = plan_keeps_compute(args);
	a->max_branches = count_at(args, "plan.max_branches");
	a->max_snapshots = count_at(args, "plan.max_snapshots");
	a->force = job_args_true(args, "force");
	job_args_free(args);
	if (*error)
		return false;
	progress = job_args_parse(progress_text, error);
	if (progress == NULL)
		return false;
	if ((value = job_args_string(progress, "endpoints")) != NULL)
		read_endpoint_list(job, value);
	if (job_args_number(progress, "patched", &patched))
		a->patched = (int) patched;
	a->transferred = job_args_string(progress, "transferred") != NULL;
	if (a->transferred)
		job->view.organization = (char *) a->to_organization;
	read_usage_progress(progress, &a->usage);
	job_args_free(progress);
	return true;
}

/* Frees what the check of a downgrade read. */
void
tier_job_release(Job *job)
{
	if (tier_job(job))
		neon_usage_free(&tier_job(job)->usage);
}

/* The endpoints still to patch, how many were, whether the project moved, for jobs.progress. */
char *
tier_job_save_progress(Job *job)
{
	TierJob    *a = tier_job(job);
	StringInfoData list;
	StringInfoData buf;
	int			i;

	initStringInfo(&list);
	for (i = 0; i < a->n_endpoints; i++)
		appendStringInfo(&list, "%s%s", i ? "," : "", a->endpoints[i]);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"endpoints\": ");
	escape_json(&buf, list.data);
	appendStringInfo(&buf, ", \"patched\": %d%s", a->patched, a->transferred ? ", \"transferred\": \"yes\"" : "");
	if (a->usage.period_start)
		write_usage_progress(&buf, &a->usage);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* PATCH /projects/{id}: quotas, restore window, default compute settings. */
bool
tier_build_update_project(Job *job, const char **error)
{
	return job_set_call(job, "PATCH", KEY_TENANT_ORG, api_path("/projects/%s", job->view.project_id),
						neon_build_update_project(&tier_job(job)->spec), error);
}

/* GET /projects/{id}/endpoints: which computes still have other settings. */
bool
tier_build_endpoints(Job *job, const char **error)
{
	return job_set_call(job, "GET", KEY_TENANT_ORG, api_path("/projects/%s/endpoints", job->view.project_id),
						NULL, error);
}

/* PATCH /projects/{id}/endpoints/{endpoint_id} of the first endpoint left. */
bool
tier_build_update_endpoint(Job *job, const char **error)
{
	TierJob    *a = tier_job(job);

	return job_set_call(job, "PATCH", KEY_TENANT_ORG,
						api_path("/projects/%s/endpoints/%s", job->view.project_id, a->endpoints[0]),
						neon_build_update_endpoint(a->spec.autoscaling_min_cu, a->spec.autoscaling_max_cu,
												   a->spec.suspend_timeout_seconds),
						error);
}

/* The job is done: how many computes it changed. */
static JobOutcome
done(Job *job)
{
	JobOutcome	o = job_outcome(JOB_SUCCEEDED, NULL);

	o.result_json = psprintf("{\"endpoints_updated\": %d}", tier_job(job)->patched);
	return o;
}

/* What follows the endpoints: the transfer of a downgrade, or the end. */
static JobOutcome
after_endpoints(Job *job)
{
	const char *next = tier_job(job)->after_endpoints;

	return next ? job_next_step(job, next) : done(job);
}

/* On to the endpoints, unless they have the plan's compute settings already. */
JobOutcome
tier_to_endpoints(Job *job)
{
	return tier_job(job)->keeps_compute ? after_endpoints(job) : job_next_step(job, TIER_STEP_ENDPOINTS);
}

/*
 * A mutation's answer: its operations become the tenant's pending ones (the
 * next mutation waits for them); a JSON answer that cannot be taken fails.
 */
static bool
take_operations(Job *job, HttpRequest *req, JobOutcome *refused)
{
	char	  **ids = NULL;
	int			n = 0;
	char	   *error = NULL;

	if (!neon_parse_operation_ids(req->response, &ids, &n, &error))
	{
		*refused = job_refused_answer(job, req, error);
		return false;
	}
	opwait_add_pending(job, ids, n);
	return true;
}

/* The answer to the project PATCH. */
JobOutcome
tier_handle_update_project(Job *job, HttpRequest *req)
{
	JobOutcome	refused;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!take_operations(job, req, &refused))
		return refused;
	return tier_to_endpoints(job);
}

/* Whether an endpoint's compute settings differ from the plan's. */
static bool
differs(const NeonEndpointSettings *e, const NeonProjectSpec *spec)
{
	return e->autoscaling_min_cu != spec->autoscaling_min_cu
		|| e->autoscaling_max_cu != spec->autoscaling_max_cu
		|| e->suspend_timeout_seconds != spec->suspend_timeout_seconds;
}

/* The project's endpoints: those that differ are patched, one by one. */
JobOutcome
tier_handle_endpoints(Job *job, HttpRequest *req)
{
	TierJob    *a = tier_job(job);
	NeonEndpointSettings *endpoints = NULL;
	int			n = 0;
	char	   *error = NULL;
	int			i;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_parse_endpoint_settings(req->response, &endpoints, &n, &error))
		return job_refused_answer(job, req, error);
	a->n_endpoints = 0;
	for (i = 0; i < n && a->n_endpoints < TIER_MAX_ENDPOINTS; i++)
		if (differs(&endpoints[i], &a->spec))
			a->endpoints[a->n_endpoints++] = MemoryContextStrdup(job->cxt, endpoints[i].endpoint_id);
	neon_endpoint_settings_free(endpoints, n);
	return a->n_endpoints > 0 ? job_next_step(job, TIER_STEP_UPDATE_ENDPOINT) : after_endpoints(job);
}

/* The answer to one endpoint PATCH: the next endpoint, or done. */
JobOutcome
tier_handle_update_endpoint(Job *job, HttpRequest *req)
{
	TierJob    *a = tier_job(job);
	JobOutcome	refused;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!take_operations(job, req, &refused))
		return refused;
	memmove(&a->endpoints[0], &a->endpoints[1], sizeof(char *) * (a->n_endpoints - 1));
	a->n_endpoints--;
	a->patched++;
	return a->n_endpoints > 0 ? job_next_step(job, TIER_STEP_UPDATE_ENDPOINT) : after_endpoints(job);
}

