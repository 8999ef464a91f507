/*
 * downgrade_check.c
 *		Before a project leaves the paid organization for the free one, the
 *		worker reads what it uses now and refuses the move if it no longer
 *		fits the target tier (unless forced).
 *
 *	 read_usage ──> read_branches ──> read_snapshots ──fits (or force)──> endpoints, transfer
 *	                                        │ does not fit
 *	                                        v
 *	                                      failed: "tenant "t" does not fit tier "free": branches 12 > 10"
 *
 * neon_set_tier() judged the same figures, as last read, in SQL
 * (neon_platform.tier_misfits, worded alike); these are fresh: GET
 * /projects/{id} for the period counters, GET .../branches for the count
 * and the largest logical size (Neon's storage quota is per branch), GET
 * .../snapshots for the count. The job records what it read in
 * neon_platform.usage. Compute settings and the restore window are not
 * judged: the move itself brings them to the tier's.
 *
 * Cost: 3 reads per downgraded tenant.
 */
#include "pg_prelude.h"

#include "kinds/downgrade_check.h"
#include "kinds/tier_steps.h"
#include "neon/neon_usage.h"

typedef bool (*UsageParser) (const char *body, NeonUsage *usage, char **error);

/* GET /projects/{id}: the period counters. */
bool
downgrade_build_usage(Job *job, const char **error)
{
	return job_set_call(job, "GET", KEY_TENANT_ORG, api_path("/projects/%s", job->view.project_id), NULL, error);
}

/* GET /projects/{id}/branches: how many, and the largest logical size. */
bool
downgrade_build_branches(Job *job, const char **error)
{
	return job_set_call(job, "GET", KEY_TENANT_ORG, api_path("/projects/%s/branches", job->view.project_id),
						NULL, error);
}

/* GET /projects/{id}/snapshots: how many. */
bool
downgrade_build_snapshots(Job *job, const char **error)
{
	return job_set_call(job, "GET", KEY_TENANT_ORG, api_path("/projects/%s/snapshots", job->view.project_id),
						NULL, error);
}

/* One figure over the tier's limit, as neon_platform.tier_misfits words it. */
static void
add_misfit(StringInfo list, const char *item, long long used, long long allowed, bool limited)
{
	if (!limited || used <= allowed)
		return;
	appendStringInfo(list, "%s%s %lld > %lld", list->len ? "; " : "", item, used, allowed);
}

/*
 * What of the fresh usage does not fit the target plan ("" when all fits):
 * period counters and storage against the quotas (0 is unlimited),
 * branches and snapshots against the tier's limits.
 */
static char *
misfits(const TierJob *a)
{
	const NeonProjectSpec *p = &a->spec;
	const NeonUsage *u = &a->usage;
	StringInfoData list;

	initStringInfo(&list);
	add_misfit(&list, "logical_size_bytes", u->logical_size_bytes, p->logical_size_bytes, p->logical_size_bytes > 0);
	add_misfit(&list, "active_time_seconds", u->active_time_seconds, p->active_time_seconds, p->active_time_seconds > 0);
	add_misfit(&list, "compute_time_seconds", u->compute_time_seconds, p->compute_time_seconds, p->compute_time_seconds > 0);
	add_misfit(&list, "written_data_bytes", u->written_data_bytes, p->written_data_bytes, p->written_data_bytes > 0);
	add_misfit(&list, "data_transfer_bytes", u->data_transfer_bytes, p->data_transfer_bytes, p->data_transfer_bytes > 0);
	add_misfit(&list, "branches", u->branches, a->max_branches, true);
	add_misfit(&list, "snapshots", u->snapshots, a->max_snapshots, true);
	return list.data;
}

/* Reads one answer of the check into the job's usage; a refused one fails the job. */
static bool
take_usage(Job *job, HttpRequest *req, UsageParser parse, JobOutcome *refused)
{
	char	   *error = NULL;

	if (req->status >= 300)
	{
		*refused = job_outcome(JOB_FAILED, job_answer_text(job, req));
		return false;
	}
	if (parse(req->response, &tier_job(job)->usage, &error))
		return true;
	*refused = job_refused_answer(job, req, error);
	return false;
}

/* The period counters read: the branches next. */
JobOutcome
downgrade_handle_usage(Job *job, HttpRequest *req)
{
	JobOutcome	refused;

	if (!take_usage(job, req, neon_parse_project_usage, &refused))
		return refused;
	return job_next_step(job, DOWNGRADE_STEP_BRANCHES);
}

/* The branches read: the snapshots next. */
JobOutcome
downgrade_handle_branches(Job *job, HttpRequest *req)
{
	JobOutcome	refused;

	if (!take_usage(job, req, neon_parse_branch_usage, &refused))
		return refused;
	return job_next_step(job, DOWNGRADE_STEP_SNAPSHOTS);
}

/* Everything read: the verdict, then the endpoints and the transfer. */
JobOutcome
downgrade_handle_snapshots(Job *job, HttpRequest *req)
{
	TierJob    *a = tier_job(job);
	JobOutcome	refused;
	char	   *list;

	if (!take_usage(job, req, neon_parse_snapshot_count, &refused))
		return refused;
	list = misfits(a);
	if (list[0] && !a->force)
		return job_outcome(JOB_FAILED, psprintf("tenant \"%s\" does not fit tier \"%s\": %s",
												job->tenant, a->tier, list));
	return tier_to_endpoints(job);
}
