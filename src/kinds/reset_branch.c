/*
 * reset_branch.c
 *		The reset_branch job: a development branch becomes what its parent
 *		is now (interactive lane).
 *
 * Input (jobs.args, written by neon_reset_branch()):
 *   {"name": "dev", "branch_id": "br-...", "parent_branch_id": "br-..."}
 *
 *	 restore_branch ──200──> check_branch ──200──> done: the branch row is ready again
 *	   │ unknown outcome: restore_branch again, once the lost one can no longer land
 *
 * Neon has no reset call: POST /projects/{id}/branches/{branch_id}/restore
 * with source_branch_id = the parent and no point in time overwrites the
 * branch with the parent's head, as neonctl's "branches reset --parent"
 * does. Branch id, compute and connection string stay the same.
 * neon_reset_branch refuses a branch with branches of ours grown from it,
 * so no preserve_under_name is needed. The restore is absolute: a lost
 * answer is resolved by restoring again (the branch is the parent's head
 * either way). check_branch waits for the restore's operations, so the row
 * is ready only once the compute runs on the new state, and an operation
 * that failed fails the job (the row is ready again, with the reason).
 *
 * Cost: 2 requests (the restore and the read of the branch), plus the reads
 * of its operations while they run (1 per operation_poll_interval).
 */
#include "pg_prelude.h"

#include "kinds/branch_job.h"
#include "kinds/kinds.h"
#include "neon/neon_branches.h"

#define STEP_RESTORE "restore_branch"
#define STEP_CHECK "check_branch"

/* Reads the branch and its parent from jobs.args. */
static bool
reset_branch_load(Job *job, const char *args_text, const char *progress pg_attribute_unused(),
				  const char **error)
{
	return branch_job_load(job, args_text, BRANCH_ARG_ID | BRANCH_ARG_PARENT, error);
}

/* POST /projects/{id}/branches/{branch_id}/restore {"source_branch_id": parent}. */
static bool
build_restore(Job *job, const char **error)
{
	BranchJob  *b = branch_job(job);

	return job_set_call(job, "POST", KEY_TENANT_ORG,
						api_path("/projects/%s/branches/%s/restore", job->view.project_id, b->branch_id),
						neon_build_restore_branch(b->parent_branch_id), error);
}

/* The restore's answer: wait for its operations in check_branch. */
static JobOutcome
handle_restore(Job *job, HttpRequest *req)
{
	JobOutcome	refused;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, psprintf("Neon refused the reset: %s", job_answer_text(job, req)));
	if (!branch_take_answer(job, req, &refused))
		return refused;
	return job_next_step(job, STEP_CHECK);
}

/* The branch, once the restore's operations ended: still the job's, so the reset is done. */
static JobOutcome
handle_check(Job *job, HttpRequest *req)
{
	JobOutcome	refused;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!branch_take_answer(job, req, &refused))
		return refused;
	return branch_done(job);
}

/* The branch is usable again, with its parent's data. */
static void
reset_branch_record_success(Job *job)
{
	branch_job_ended(job, "resetting", "ready", NULL);
}

/* A reset that failed leaves the branch ready (it is still there), with the reason. */
static void
reset_branch_record_failure(Job *job, const char *error)
{
	branch_job_ended(job, "resetting", "ready", error);
}

static const JobStep reset_branch_steps[] = {
	{.name = STEP_RESTORE, .mutation = true, .lookup_step = STEP_RESTORE, .waits_for_operations = true,
	.build = build_restore, .handle = handle_restore},
	{.name = STEP_CHECK, .waits_for_operations = true, .build = branch_build_get, .handle = handle_check},
	{.name = NULL}
};

const JobKind reset_branch_kind = {
	.name = "reset_branch",
	.lane = LANE_INTERACTIVE,
	.needs_tenant = true,
	.steps = reset_branch_steps,
	.load = reset_branch_load,
	.record_success = reset_branch_record_success,
	.record_failure = reset_branch_record_failure,
};
