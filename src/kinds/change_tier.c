/*
 * change_tier.c
 *		The change_tier job: a tenant moves to another tier, across
 *		organizations if the tiers' differ (interactive lane).
 *
 * Input (jobs.args, written by neon_set_tier() at enqueue time):
 *   {"tier": "pro", "plan": {the tier's row}, "from_plan": {the old tier's row},
 *    "from_organization": "free", "to_organization": "paid", "force": false}
 *
 * Upgrade (free to paid):
 *	 transfer ──200──> update_project ──(compute changes)──> fetch_endpoints ──> (update_endpoint) ──> done
 *	   │ unknown outcome (after request_timeout + settle_margin)
 *	   v
 *	 confirm_transfer ──in the destination──> update_project
 *	   │ still in the source
 *	   v
 *	 transfer
 *
 * Downgrade (paid to free): the fresh check (downgrade_check.c), then the
 * endpoints shrink to the tier's compute while the project can still have
 * more, then the transfer, then the quotas:
 *	 read_usage ─> read_branches ─> read_snapshots ─> fetch_endpoints ─> (update_endpoint) ─> transfer ─> update_project ─> done
 *
 * Within one organization the job starts at update_project.
 *
 * The transfer (POST /organizations/{source_org_id}/projects/transfer, with
 * the personal key) carries up to 400 projects: tenants moving between the
 * same two organizations share one call. Neon refuses it (423) while an
 * operation of one of its projects runs, so it reads no operations first
 * but those its own job started (a downgrade's endpoint changes), and once
 * it went through, no operation of the project is pending. Quotas and
 * compute settings do not move with a project, so the tier's plan is
 * applied after it, with the destination's key (tier_steps.c); the
 * endpoints are read only when the tiers' compute settings differ.
 *
 * Cost per tenant: an upgrade with unchanged compute 1 + 1/400 requests (the
 * project PATCH and its share of the transfer), plus 1 to read the
 * endpoints and 1 per endpoint to change when compute changes; a
 * downgrade 3 reads more, and the endpoints read first; a move within one
 * organization 1 (plus reads of operations still running).
 */
#include "pg_prelude.h"

#include "engine/settings.h"
#include "engine/tenant_state.h"
#include "kinds/downgrade_check.h"
#include "kinds/kinds.h"
#include "kinds/tier_steps.h"
#include "neon/neon_transfers.h"

#define STEP_TRANSFER "transfer"
#define STEP_CONFIRM "confirm_transfer"

/* The organization id configured for "free" or "paid"; NULL (config missing) when unset. */
static const char *
organization_id(Job *job, const char *organization, const char **error)
{
	const char *id = strcmp(organization, "paid") == 0 ? neon_paid_org_id : neon_free_org_id;

	if (id && id[0])
		return id;
	*error = strcmp(organization, "paid") == 0 ? "neon_platform.paid_org_id is not set"
		: "neon_platform.free_org_id is not set";
	job->config_missing = true;
	return NULL;
}

/* Jobs moving between the same two organizations share a transfer call. */
static const char *
transfer_key(Job *job)
{
	return tier_job(job)->to_organization;
}

/* One transfer call for the projects of jobs[0..n-1], all from the same organization. */
static bool
build_transfer_batch(Job **jobs, int n, const char **error)
{
	TierJob    *t = tier_job(jobs[0]);
	const char *source = organization_id(jobs[0], t->from_organization, error);
	const char *destination = source ? organization_id(jobs[0], t->to_organization, error) : NULL;
	const char **ids = palloc(sizeof(char *) * n);
	int			i;

	if (destination == NULL)
		return false;
	for (i = 0; i < n; i++)
		ids[i] = jobs[i]->view.project_id;
	return job_set_call(jobs[0], "POST", KEY_PERSONAL,
						api_path("/organizations/%s/projects/transfer", source),
						neon_build_transfer(destination, ids, n), error);
}

/* The transfer of this job's project alone (the engine joins it with others). */
static bool
build_transfer(Job *job, const char **error)
{
	return build_transfer_batch(&job, 1, error);
}

/* Where a transfer whose answer was lost left the project: GET /projects/{id}, personal key. */
static bool
build_confirm(Job *job, const char **error)
{
	return job_set_call(job, "GET", KEY_PERSONAL, api_path("/projects/%s", job->view.project_id), NULL, error);
}

/* Whether the job moves a project from the paid to the free organization. */
static bool
is_downgrade(const TierJob *t)
{
	return t->from_organization && t->to_organization && strcmp(t->from_organization, "paid") == 0
		&& strcmp(t->to_organization, "free") == 0;
}

/*
 * The plan, and where the job stands in a move: a downgrade shrinks the
 * endpoints before its transfer, so after it they need nothing more.
 * Endpoints it patched started operations that its transfer must wait for
 * (Neon answers 423 while they run): the engine knows that only of calls
 * made since the job was claimed, and a job is claimed afresh after every
 * poll that finds them still running, so jobs.progress (patched) tells it.
 */
static bool
change_tier_load(Job *job, const char *args, const char *progress, const char **error)
{
	TierJob    *t;

	if (!tier_job_load(job, args, progress, error))
		return false;
	t = tier_job(job);
	t->downgrade = is_downgrade(t);
	if (t->downgrade && !t->transferred)
	{
		t->after_endpoints = STEP_TRANSFER;
		job->started_operations = t->patched > 0;
	}
	if (t->downgrade && t->transferred)
		t->keeps_compute = true;
	return true;
}

/*
 * The project is in the destination: from now on its key is the
 * destination's. Neon took it, so none of its operations runs any more.
 */
static JobOutcome
moved(Job *job)
{
	TierJob    *t = tier_job(job);

	t->transferred = true;
	job->view.organization = (char *) t->to_organization;
	job->view.n_pending_operations = 0;
	job->operations_changed = true;
	if (t->downgrade)
	{
		t->after_endpoints = NULL;
		t->keeps_compute = true;
	}
	return job_next_step(job, TIER_STEP_UPDATE_PROJECT);
}

/* Why Neon refused a transfer, in words a person can act on. */
static const char *
transfer_refusal(Job *job, HttpRequest *req)
{
	const char *why = job_answer_text(job, req);

	switch (req->status)
	{
		case 403:
			return psprintf("Neon refused the transfer: neon_platform.personal_api_key must be the personal API key of an admin of both organizations, not an organization key (%s)", why);
		case 406:
			return psprintf("the destination organization cannot take the project (plan or capacity; Neon's limits follow): %s", why);
		case 422:
			return psprintf("the project has a GitHub or Vercel integration, which Neon does not move; remove it first: %s", why);
		default:
			return why;
	}
}

/*
 * The answer of the transfer call, for each job it carried. A 404 names a
 * project that left (claimed by its end user, or deleted behind our back),
 * maybe another job's: each job looks where its own project is before it
 * tries again. A 422 lists the projects with an integration: the others
 * try again without them. Both are attempts, so a refusal that stays ends
 * the job.
 */
static JobOutcome
handle_transfer(Job *job, HttpRequest *req)
{
	if (req->status == 404)
		return job_retry_at(STEP_CONFIRM, job_answer_text(job, req));
	if (req->status == 422 && !neon_transfer_refuses_project(req->response, job->view.project_id))
		return job_retry_at(NULL, psprintf("another project of the transfer has an integration: %s",
										   job_answer_text(job, req)));
	if (req->status >= 300)
		return job_outcome(JOB_FAILED, transfer_refusal(job, req));
	return moved(job);
}

/* Where the project is after a transfer whose answer was lost. */
static JobOutcome
handle_confirm(Job *job, HttpRequest *req)
{
	char	   *org_id = NULL;
	char	   *error = NULL;
	const char *destination;
	const char *config_error = NULL;
	bool		arrived;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_parse_project_org(req->response, &org_id, &error))
		return job_refused_answer(job, req, error);
	destination = organization_id(job, tier_job(job)->to_organization, &config_error);
	arrived = destination && strcmp(org_id, destination) == 0;
	free(org_id);
	return arrived ? moved(job) : job_next_step(job, STEP_TRANSFER);
}

/* What a downgrade's check read becomes the tenant's last known usage. */
static void
record_usage(Job *job)
{
	TierJob    *t = tier_job(job);

	if (t && t->usage.period_start)
		tenant_state_usage_read(job->tenant, &t->usage);
}

/* The tenant is on its new tier (in its new organization). */
static void
change_tier_record_success(Job *job)
{
	TierJob    *t = tier_job(job);
	const char *organization = t->to_organization ? t->to_organization : job->view.organization;
	const char *error = NULL;

	tenant_state_tier_changed(job->tenant, t->tier, organization, organization_id(job, organization, &error));
	record_usage(job);
}

/*
 * A change that failed leaves the tenant usable where its project is: in
 * its old tier, or, if the project moved before the failure, in the new
 * organization, with the reason.
 */
static void
change_tier_record_failure(Job *job, const char *error)
{
	TierJob    *t = tier_job(job);
	const char *organization = job->view.organization;
	const char *config_error = NULL;

	if (t == NULL || organization == NULL)
		tenant_state_tier_unchanged(job->tenant, NULL, NULL, error);
	else
		tenant_state_tier_unchanged(job->tenant, organization,
									organization_id(job, organization, &config_error), error);
	record_usage(job);
}

static const JobBatch transfer_batch = {
	.max_jobs = NEON_TRANSFER_MAX_PROJECTS,
	.key = transfer_key,
	.build = build_transfer_batch,
};

static const JobStep change_tier_steps[] = {
	{.name = STEP_TRANSFER, .mutation = true, .lookup_step = STEP_CONFIRM, .waits_for_operations = true,
	.build = build_transfer, .handle = handle_transfer, .batch = &transfer_batch},
	{.name = STEP_CONFIRM, .build = build_confirm, .handle = handle_confirm},
	DOWNGRADE_CHECK_STEPS,
	TIER_SETTINGS_STEPS,
	{.name = NULL}
};

const JobKind change_tier_kind = {
	.name = "change_tier",
	.lane = LANE_INTERACTIVE,
	.needs_tenant = true,
	.steps = change_tier_steps,
	.load = change_tier_load,
	.save_progress = tier_job_save_progress,
	.record_success = change_tier_record_success,
	.record_failure = change_tier_record_failure,
	.release = tier_job_release,
};
