/*
 * read_usage.c
 *		A detail read of one tenant's usage: every period counter of its
 *		project (background lane), for the tenants a sweep found closest to
 *		a quota.
 *
 * Input (jobs.args, written by neon_platform.enqueue_usage_reads()): {}
 *
 *	 read_project ──200──> done: neon_platform.usage (detail_read_at), alerts
 *
 * GET /projects/{id} gives the period (consumption_period_start and _end)
 * and its active time, compute time, written data and data transfer; the
 * list pages of a sweep carry only the active time. The reading is
 * recorded with neon_platform.record_usage: the storage, branches and
 * snapshots it does not read keep what the period's earlier readings
 * found. A read whose answer was lost is simply read again.
 *
 * Cost: 1 request.
 */
#include "pg_prelude.h"

#include "engine/tenant_state.h"
#include "kinds/downgrade_check.h"
#include "kinds/kinds.h"
#include "neon/neon_usage.h"

/* Needs only the tenant's project. */
static bool
read_usage_load(Job *job, const char *args pg_attribute_unused(), const char *progress pg_attribute_unused(),
				const char **error)
{
	job->state = MemoryContextAllocZero(job->cxt, sizeof(NeonUsage));
	if (job->view.project_id != NULL)
		return true;
	*error = "the tenant has no Neon project";
	return false;
}

/* The period counters read; storage, branches and snapshots are not (below 0). */
static JobOutcome
handle_read(Job *job, HttpRequest *req)
{
	NeonUsage  *u = (NeonUsage *) job->state;
	char	   *error = NULL;
	JobOutcome	o;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_parse_project_usage(req->response, u, &error))
		return job_refused_answer(job, req, error);
	u->logical_size_bytes = u->branches = u->snapshots = -1;
	o = job_outcome(JOB_SUCCEEDED, NULL);
	o.result_json = psprintf("{\"active_time_seconds\": %lld, \"compute_time_seconds\": %lld, "
							 "\"written_data_bytes\": %lld, \"data_transfer_bytes\": %lld}",
							 u->active_time_seconds, u->compute_time_seconds, u->written_data_bytes,
							 u->data_transfer_bytes);
	return o;
}

/* The reading becomes the tenant's usage in the period (which may raise alerts). */
static void
read_usage_record_success(Job *job)
{
	tenant_state_usage_read(job->tenant, (NeonUsage *) job->state);
}

/* Frees the period's strings. */
static void
read_usage_release(Job *job)
{
	if (job->state)
		neon_usage_free((NeonUsage *) job->state);
}

static const JobStep read_usage_steps[] = {
	{.name = "read_project", .build = downgrade_build_usage, .handle = handle_read},
	{.name = NULL}
};

const JobKind read_usage_kind = {
	.name = "read_usage",
	.lane = LANE_SWEEP,
	.needs_tenant = true,
	.steps = read_usage_steps,
	.load = read_usage_load,
	.record_success = read_usage_record_success,
	.release = read_usage_release,
};
