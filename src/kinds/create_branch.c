/*
 * create_branch.c
 *		The create_branch job: a development branch of the tenant's project,
 *		with its own read-write compute (interactive lane).
 *
 * Input (jobs.args, written by neon_create_branch()):
 *   {"name": "dev", "parent_branch_id": "br-...", "at": "2025-06-01T12:00:00+00:00" (absent: the
 *    parent's head), "autoscaling_min_cu": 0.25, "autoscaling_max_cu": 2, "suspend_timeout_seconds": 300}
 *
 *	 create_branch ──201──> fetch_endpoint ──200──> done: the branch row is ready
 *	   │ 409 or unknown outcome   ^
 *	   v                          │
 *	 find_branch ──found, made────┘
 *	   │ found, still being made: find_branch again after operation_poll_interval
 *	   │ not found: create_branch (after a 409: failed, the name is the production branch's)
 *
 * The branch is named at Neon as in neon_platform.branches, so a create
 * whose answer was lost, or that met 409 (the name is taken: an earlier
 * create of ours landed), is resolved by looking the name up (exactly, and
 * never the production branch) and adopting that branch and its compute.
 * fetch_endpoint waits for the create's operations first: the branch is
 * ready only once Neon made it and started its compute, and an operation
 * that failed or was cancelled fails the job (the row is failed, with the
 * reason; calling neon_create_branch again adopts what Neon kept). A branch
 * adopted after a lost answer waits until Neon lists it as made. Neon's own
 * branch limit (422) fails the job with the reason.
 *
 * Cost: 2 requests (the create and the read of its compute), plus the
 * reads of its operations while they run (1 per operation_poll_interval);
 * a 409 or a lost answer adds the look-up.
 */
#include "pg_prelude.h"

#include "engine/version_state.h"
#include "engine/job_args.h"
#include "engine/settings.h"
#include "kinds/branch_job.h"
#include "kinds/kinds.h"
#include "neon/neon_branches.h"

#define STEP_CREATE "create_branch"
#define STEP_FIND "find_branch"
#define STEP_ENDPOINT "fetch_endpoint"

/* Most branches a project may have at Neon (paid plans): one page of the search holds them all. */
#define BRANCH_SEARCH_LIMIT 10000

/* Reads the branch to make from jobs.args, and from jobs.progress its id and whether Neon answered 409. */
static bool
create_branch_load(Job *job, const char *args_text, const char *progress_text, const char **error)
{
	JobArgs    *progress;
	const char *id;

	if (!branch_job_load(job, args_text, BRANCH_ARG_PARENT | BRANCH_ARG_COMPUTE, error))
		return false;
	if ((progress = job_args_parse(progress_text, error)) == NULL)
		return false;
	if ((id = job_args_string(progress, "branch_id")) != NULL)
		branch_job(job)->branch_id = MemoryContextStrdup(job->cxt, id);
	branch_job(job)->name_taken = job_args_true(progress, "name_taken");
	job_args_free(progress);
	return true;
}

/* The branch's id once Neon named it, and whether the name was taken, for jobs.progress. */
static char *
create_branch_save_progress(Job *job)
{
	BranchJob  *b = branch_job(job);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"name_taken\": %s", b->name_taken ? "true" : "false");
	if (b->branch_id)
	{
		appendStringInfoString(&buf, ", \"branch_id\": ");
		escape_json(&buf, b->branch_id);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* POST /projects/{id}/branches: the branch and its read_write compute, with the tier's settings. */
static bool
build_create(Job *job, const char **error)
{
	BranchJob  *b = branch_job(job);
	NeonBranchSpec spec = {
		.name = b->name,
		.parent_id = b->parent_branch_id,
		.parent_timestamp = b->at,
		.autoscaling_min_cu = b->autoscaling_min_cu,
		.autoscaling_max_cu = b->autoscaling_max_cu,
		.suspend_timeout_seconds = b->suspend_timeout_seconds,
	};

	return job_set_call(job, "POST", KEY_TENANT_ORG, api_path("/projects/%s/branches", job->view.project_id),
						neon_build_create_branch(&spec), error);
}

/* GET /projects/{id}/branches?search={name}: did a create of ours land? */
static bool
build_find(Job *job, const char **error)
{
	return job_set_call(job, "GET", KEY_TENANT_ORG,
						api_path("/projects/%s/branches?search=%s&limit=%d", job->view.project_id,
								 branch_job(job)->name, BRANCH_SEARCH_LIMIT),
						NULL, error);
}

/* GET /projects/{id}/branches/{branch_id}/endpoints: the branch's compute. */
static bool
build_endpoint(Job *job, const char **error)
{
	return job_set_call(job, "GET", KEY_TENANT_ORG,
						api_path("/projects/%s/branches/%s/endpoints", job->view.project_id,
								 branch_job(job)->branch_id),
						NULL, error);
}

/* Why Neon refused the branch, in words a person can act on. */
static const char *
create_refusal(Job *job, HttpRequest *req)
{
	const char *why = job_answer_text(job, req);

	if (req->status == 422)
		return psprintf("Neon refused the branch: the project is at one of its plan's branch limits; delete a branch first (%s)", why);
	return psprintf("Neon refused the branch: %s", why);
}

/* The answer of the create: its id and operations; a 409 means the name is taken, maybe by us. */
static JobOutcome
handle_create(Job *job, HttpRequest *req)
{
	JobOutcome	refused;

	if (req->status == 409)
	{
		branch_job(job)->name_taken = true;
		return job_next_step(job, STEP_FIND);
	}
	if (req->status >= 300)
		return job_outcome(JOB_FAILED, create_refusal(job, req));
	if (!branch_take_answer(job, req, &refused))
		return refused;
	return job_next_step(job, STEP_ENDPOINT);
}

/* Neon has our branch, but is still making it: look again after the poll interval. */
static JobOutcome
being_made(const char *branch_id)
{
	JobOutcome	o = job_retry_at(NULL, psprintf("waiting for Neon to make branch %s", branch_id));

	o.retry_in = neon_operation_poll_interval_ms / 1000.0;
	return o;
}

/* The branches named like ours: adopt ours, wait for it, or create it. */
static JobOutcome
handle_find(Job *job, HttpRequest *req)
{
	BranchJob  *b = branch_job(job);
	char	   *id = NULL;
	bool		settled = false;
	char	   *error = NULL;
	JobOutcome	o;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_find_branch_by_name(req->response, b->name, job->view.branch_id, &id, &settled, &error))
		return job_refused_answer(job, req, error);
	if (id == NULL && b->name_taken)
		return job_outcome(JOB_FAILED,
						   psprintf("Neon has a branch named \"%s\" that is the project's production branch; choose another name",
									b->name));
	if (id == NULL)
		return job_next_step(job, STEP_CREATE);
	b->branch_id = MemoryContextStrdup(job->cxt, id);
	o = settled ? job_next_step(job, STEP_ENDPOINT) : being_made(id);
	free(id);
	return o;
}

/* The branch's compute: where clients connect. */
static JobOutcome
handle_endpoint(Job *job, HttpRequest *req)
{
	BranchJob  *b = branch_job(job);
	NeonBranchEndpoint ep;
	char	   *error = NULL;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_parse_branch_endpoint(req->response, b->branch_id, &ep, &error))
		return job_refused_answer(job, req, error);
	b->endpoint_id = MemoryContextStrdup(job->cxt, ep.endpoint_id);
	b->host = MemoryContextStrdup(job->cxt, ep.host);
	b->pooler_host = MemoryContextStrdup(job->cxt, ep.pooler_host);
	neon_branch_endpoint_free(&ep);
	return branch_done(job);
}

/* The branch is ready: its id and where to connect. */
static void
create_branch_record_success(Job *job)
{
	BranchJob  *b = branch_job(job);

	branch_state_ready(job->tenant, b->name, b->branch_id, b->endpoint_id, b->host, b->pooler_host);
}

/* The branch could not be made: the row is failed, with the reason. */
static void
create_branch_record_failure(Job *job, const char *error)
{
	branch_job_ended(job, "creating", "failed", error);
}

static const JobStep create_branch_steps[] = {
	{.name = STEP_CREATE, .mutation = true, .lookup_step = STEP_FIND, .waits_for_operations = true,
	.build = build_create, .handle = handle_create},
	{.name = STEP_FIND, .build = build_find, .handle = handle_find},
	{.name = STEP_ENDPOINT, .waits_for_operations = true, .build = build_endpoint, .handle = handle_endpoint},
	{.name = NULL}
};

const JobKind create_branch_kind = {
	.name = "create_branch",
	.lane = LANE_INTERACTIVE,
	.needs_tenant = true,
	.steps = create_branch_steps,
	.load = create_branch_load,
	.save_progress = create_branch_save_progress,
	.record_success = create_branch_record_success,
	.record_failure = create_branch_record_failure,
};
