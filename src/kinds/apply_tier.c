/*
 * apply_tier.c
 *		The apply_tier job: gives a tenant's project the plan of its tier
 *		again, after the tier's definition changed (background lane).
 *
 * Input (jobs.args, written by the trigger on neon_platform.tiers):
 *   {"tier": "pro", "plan": {the tier's row after the change}}
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
 * plus the polls of operations still running.
 */
#include "pg_prelude.h"

#include "engine/opwait.h"
#include "engine/tenant_state.h"
#include "kinds/kinds.h"
#include "kinds/plan.h"
#include "neon/neon_endpoints.h"
#include "neon/neon_operations.h"

#define STEP_UPDATE_PROJECT "update_project"
#define STEP_ENDPOINTS "fetch_endpoints"
#define STEP_UPDATE_ENDPOINT "update_endpoint"

/* Longest list of endpoints to patch kept in jobs.progress. */
#define MAX_ENDPOINTS 64

typedef struct ApplyTier
{
	NeonProjectSpec spec;
	char	   *endpoints[MAX_ENDPOINTS];	/* still to patch, in the job's memory */
	int			n_endpoints;
	int			patched;
} ApplyTier;

/* The kind's state of a job. */
static ApplyTier *
state_of(Job *job)
{
	return (ApplyTier *) job->state;
}

/* Splits the comma-separated endpoint ids of jobs.progress. */
static void
read_endpoint_list(Job *job, const char *list)
{
	ApplyTier  *a = state_of(job);
	char	   *copy = MemoryContextStrdup(job->cxt, list);
	char	   *save = NULL;
	char	   *id;

	for (id = strtok_r(copy, ",", &save); id && a->n_endpoints < MAX_ENDPOINTS; id = strtok_r(NULL, ",", &save))
		a->endpoints[a->n_endpoints++] = id;
}

/* Reads the plan from jobs.args, and the endpoints still to patch from jobs.progress. */
static bool
apply_tier_load(Job *job, const char *args_text, const char *progress_text, const char **error)
{
	ApplyTier  *a = MemoryContextAllocZero(job->cxt, sizeof(ApplyTier));
	JobArgs    *args = job_args_parse(args_text, error);
	JobArgs    *progress;
	const char *value;
	double		patched = 0;

	if (args == NULL)
		return false;
	*error = job->view.project_id ? NULL : "the tenant has no Neon project to apply its tier to";
	job->state = a;
	plan_read_spec(job, args, &a->spec, error);
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
	job_args_free(progress);
	return true;
}

/* The endpoints still to patch, and how many were, for jobs.progress. */
static char *
apply_tier_save_progress(Job *job)
{
	ApplyTier  *a = state_of(job);
	StringInfoData list;
	StringInfoData buf;
	int			i;

	initStringInfo(&list);
	for (i = 0; i < a->n_endpoints; i++)
		appendStringInfo(&list, "%s%s", i ? "," : "", a->endpoints[i]);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"endpoints\": ");
	escape_json(&buf, list.data);
	appendStringInfo(&buf, ", \"patched\": %d}", a->patched);
	return buf.data;
}

/* PATCH /projects/{id}: quotas, restore window, default compute settings. */
static bool
build_update_project(Job *job, const char **error)
{
	return job_set_call(job, "PATCH", KEY_TENANT_ORG, api_path("/projects/%s", job->view.project_id),
						neon_build_update_project(&state_of(job)->spec), error);
}

/* GET /projects/{id}/endpoints: which computes still have other settings. */
static bool
build_endpoints(Job *job, const char **error)
{
	return job_set_call(job, "GET", KEY_TENANT_ORG, api_path("/projects/%s/endpoints", job->view.project_id),
						NULL, error);
}

/* PATCH /projects/{id}/endpoints/{endpoint_id} of the first endpoint left. */
static bool
build_update_endpoint(Job *job, const char **error)
{
	ApplyTier  *a = state_of(job);

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

	o.result_json = psprintf("{\"endpoints_updated\": %d}", state_of(job)->patched);
	return o;
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
		*refused = job_outcome(JOB_FAILED, psprintf("refused Neon's answer to %s %s: %s",
													req->method, job->answer_path, error));
		free(error);
		return false;
	}
	opwait_add_pending(job, ids, n);
	return true;
}

/* The answer to the project PATCH. */
static JobOutcome
handle_update_project(Job *job, HttpRequest *req)
{
	JobOutcome	refused;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!take_operations(job, req, &refused))
		return refused;
	return job_next_step(job, STEP_ENDPOINTS);
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
static JobOutcome
handle_endpoints(Job *job, HttpRequest *req)
{
	ApplyTier  *a = state_of(job);
	NeonEndpointSettings *endpoints = NULL;
	int			n = 0;
	char	   *error = NULL;
	int			i;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_parse_endpoint_settings(req->response, &endpoints, &n, &error))
	{
		JobOutcome	o = job_outcome(JOB_FAILED, psprintf("refused Neon's answer to %s %s: %s",
														 req->method, job->answer_path, error));

		free(error);
		return o;
	}
	a->n_endpoints = 0;
	for (i = 0; i < n && a->n_endpoints < MAX_ENDPOINTS; i++)
		if (differs(&endpoints[i], &a->spec))
			a->endpoints[a->n_endpoints++] = MemoryContextStrdup(job->cxt, endpoints[i].endpoint_id);
	neon_endpoint_settings_free(endpoints, n);
	return a->n_endpoints > 0 ? job_next_step(job, STEP_UPDATE_ENDPOINT) : done(job);
}

/* The answer to one endpoint PATCH: the next endpoint, or done. */
static JobOutcome
handle_update_endpoint(Job *job, HttpRequest *req)
{
	ApplyTier  *a = state_of(job);
	JobOutcome	refused;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!take_operations(job, req, &refused))
		return refused;
	memmove(&a->endpoints[0], &a->endpoints[1], sizeof(char *) * (a->n_endpoints - 1));
	a->n_endpoints--;
	a->patched++;
	return a->n_endpoints > 0 ? job_next_step(job, STEP_UPDATE_ENDPOINT) : done(job);
}

/*
 * A failed re-apply leaves the tenant as it is (still usable), with the
 * reason; one without a project keeps the reason it has none.
 */
static void
apply_tier_record_failure(Job *job, const char *error)
{
	if (job->view.project_id)
		tenant_state_note_error(job->tenant, error);
}

static const JobStep apply_tier_steps[] = {
	{.name = STEP_UPDATE_PROJECT, .mutation = true, .lookup_step = STEP_UPDATE_PROJECT,
	.waits_for_operations = true, .build = build_update_project, .handle = handle_update_project},
	{.name = STEP_ENDPOINTS, .build = build_endpoints, .handle = handle_endpoints},
	{.name = STEP_UPDATE_ENDPOINT, .mutation = true, .lookup_step = STEP_UPDATE_ENDPOINT,
	.waits_for_operations = true, .build = build_update_endpoint, .handle = handle_update_endpoint},
	{.name = NULL}
};

const JobKind apply_tier_kind = {
	.name = "apply_tier",
	.lane = LANE_BACKGROUND,
	.needs_tenant = true,
	.steps = apply_tier_steps,
	.load = apply_tier_load,
	.save_progress = apply_tier_save_progress,
	.record_failure = apply_tier_record_failure,
};
