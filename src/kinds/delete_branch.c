/*
 * delete_branch.c
 *		The delete_branch job (interactive lane: neon_delete_branch) and its
 *		background twin expire_branch (a development or backup branch whose
 *		expires_at passed, enqueued by neon_platform.enqueue_expired()):
 *		the same steps, deleting one branch of the tenant's project.
 *
 * Input (jobs.args):
 *   {"name": "dev", "branch_id": "br-..."}
 *
 *	 delete_branch ──200──> confirm_deleted ──404──> done: the branch row is deleted
 *	   │ 204 / 404: done      ^     │ still there: delete_branch again
 *	   │ unknown outcome ─────┘
 *
 * Neon deletes the branch's computes with it. A branch already gone (204,
 * or 404 for one Neon no longer knows at all) counts as deleted.
 * confirm_deleted waits for the delete's operations, so the row is deleted
 * only once Neon is done, and an operation that failed fails the job; it
 * is also where a delete whose answer was lost is looked up, never
 * repeated blindly. A failed job leaves the row ready (the branch is still
 * there), with the reason.
 *
 * Cost: 2 requests (the delete and the read that finds the branch gone),
 * plus the reads of its operations while they run (1 per
 * operation_poll_interval); 1 for a branch already gone.
 */
#include "pg_prelude.h"

#include "kinds/branch_job.h"
#include "kinds/kinds.h"

#define STEP_DELETE "delete_branch"
#define STEP_CONFIRM "confirm_deleted"

/* Reads the branch from jobs.args. */
static bool
delete_branch_load(Job *job, const char *args_text, const char *progress pg_attribute_unused(),
				   const char **error)
{
	return branch_job_load(job, args_text, BRANCH_ARG_ID, error);
}

/* DELETE /projects/{id}/branches/{branch_id}. */
static bool
build_delete(Job *job, const char **error)
{
	return job_set_call(job, "DELETE", KEY_TENANT_ORG,
						api_path("/projects/%s/branches/%s", job->view.project_id, branch_job(job)->branch_id),
						NULL, error);
}

/* The delete's answer: already gone, or wait for its operations in confirm_deleted. */
static JobOutcome
handle_delete(Job *job, HttpRequest *req)
{
	JobOutcome	refused;

	if (req->status == 204 || req->status == 404)
		return branch_done(job);
	if (req->status >= 300)
		return job_outcome(JOB_FAILED, psprintf("Neon refused to delete the branch: %s", job_answer_text(job, req)));
	if (!branch_take_answer(job, req, &refused))
		return refused;
	return job_next_step(job, STEP_CONFIRM);
}

/* Is the branch gone, once the delete's operations ended (or after a lost answer)? */
static JobOutcome
handle_confirm(Job *job, HttpRequest *req)
{
	if (req->status == 404)
		return branch_done(job);
	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	return job_next_step(job, STEP_DELETE);
}

/* The branch and its compute are gone; the row stays for the record. */
static void
delete_branch_record_success(Job *job)
{
	branch_job_ended(job, "deleting", "deleted", NULL);
}

/* A delete that failed leaves the branch ready (it is still there), with the reason. */
static void
delete_branch_record_failure(Job *job, const char *error)
{
	branch_job_ended(job, "deleting", "ready", error);
}

static const JobStep delete_branch_steps[] = {
	{.name = STEP_DELETE, .mutation = true, .lookup_step = STEP_CONFIRM, .waits_for_operations = true,
	.build = build_delete, .handle = handle_delete},
	{.name = STEP_CONFIRM, .waits_for_operations = true, .build = branch_build_get, .handle = handle_confirm},
	{.name = NULL}
};

const JobKind delete_branch_kind = {
	.name = "delete_branch",
	.lane = LANE_INTERACTIVE,
	.needs_tenant = true,
	.steps = delete_branch_steps,
	.load = delete_branch_load,
	.record_success = delete_branch_record_success,
	.record_failure = delete_branch_record_failure,
};

/* The same job, for branches whose expiry passed: nobody waits for it. */
const JobKind expire_branch_kind = {
	.name = "expire_branch",
	.lane = LANE_BACKGROUND,
	.needs_tenant = true,
	.steps = delete_branch_steps,
	.load = delete_branch_load,
	.record_success = delete_branch_record_success,
	.record_failure = delete_branch_record_failure,
};
