/*
 * restore_snapshot.c
 *		The restore_snapshot job: a snapshot restored into the tenant's
 *		production branch, finalized, with what it replaced kept as the
 *		restore's backup branch (interactive lane).
 *
 * Input (jobs.args, written by neon_restore_snapshot()):
 *   {"restore_id": 8, "snapshot": "before-migration", "snapshot_id": "snap-...",
 *    "preserve_under_name": "backup-8-20250601T101500Z"}
 *
 *	 restore_snapshot ──200──> fetch_endpoint ──200──> rename_old ──200──> done
 *	   │ unknown outcome            ^                    │ unknown outcome, 409
 *	   v                            │                    v
 *	 find_restored ──replaced───────┘                  find_preserved ──named so──> done
 *	   │ production not replaced: restore_snapshot       │ no such name: rename_old
 *
 * POST /projects/{id}/snapshots/{snapshot_id}/restore with
 * {"target_branch_id": production, "finalize_restore": true} (the target
 * always named: Neon's default is the snapshot's source branch) makes a
 * new branch from the snapshot that takes production's name, computes and
 * connection string, and a NEW branch id; the old production branch stays
 * as "<name> (old)". fetch_endpoint waits for the restore's operations (one
 * that ends failed or cancelled fails the job: the restore did not happen)
 * and reads production's read-write endpoint on its new branch
 * (GET /projects/{id}/branches/{new}/endpoints); the tenant's stored branch
 * and endpoint ids follow the change. rename_old gives the old branch the
 * restore's backup name (PATCH /projects/{id}/branches/{old}), so that
 * neon_undo_restore() puts it back like any backup and it expires with the
 * tier's restore window. A restore whose answer was lost is looked up on
 * the old branch (GET /projects/{id}/branches/{old}): still the default
 * branch, nothing happened; else its "restored_as" is the new production.
 *
 * Cost: 3 requests, plus the reads of the restore's operations (measured
 * in test/t/024_restores.pl with 0.3 s operations: 7 in all).
 */
#include "pg_prelude.h"

#include "kinds/kinds.h"
#include "kinds/restore_steps.h"
#include "neon/neon_branches.h"
#include "neon/neon_restores.h"

#define STEP_RESTORE "restore_snapshot"
#define STEP_FIND_RESTORED "find_restored"
#define STEP_ENDPOINT "fetch_endpoint"
#define STEP_RENAME "rename_old"

/*
 * Reads the snapshot to restore. The branch production leaves behind is
 * production's branch now, known before the call.
 */
static bool
restore_snapshot_load(Job *job, const char *args, const char *progress, const char **error)
{
	RestoreJob *r;

	if (!restore_job_load(job, args, progress, NULL, error))
		return false;
	r = restore_job(job);
	if (r->snapshot_id == NULL)
	{
		*error = "args.snapshot_id is missing";
		return false;
	}
	r->mode = RESTORE_SNAPSHOT;
	r->preserving_step = STEP_RENAME;
	if (r->preserved_id == NULL)
		r->preserved_id = MemoryContextStrdup(job->cxt, job->view.branch_id);
	return true;
}

/* POST /projects/{id}/snapshots/{snapshot_id}/restore into production, finalized. */
static bool
build_restore(Job *job, const char **error)
{
	return job_set_call(job, "POST", KEY_TENANT_ORG,
						api_path("/projects/%s/snapshots/%s/restore", job->view.project_id,
								 restore_job(job)->snapshot_id),
						neon_build_finalized_snapshot_restore(job->view.branch_id), error);
}

/* The restore was taken: production's new branch id; wait for its operations. */
static JobOutcome
handle_restore(Job *job, HttpRequest *req)
{
	RestoreJob *r = restore_job(job);
	JobOutcome	refused;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if ((r->new_branch_id = restore_take_branch_answer(job, req, NULL, &refused)) == NULL)
		return refused;
	return job_next_step(job, STEP_ENDPOINT);
}

/* GET /projects/{id}/branches/{old}: did a restore whose answer was lost replace production? */
static bool
build_find_restored(Job *job, const char **error)
{
	return job_set_call(job, "GET", KEY_TENANT_ORG,
						api_path("/projects/%s/branches/%s", job->view.project_id, job->view.branch_id),
						NULL, error);
}

/* Production still the default branch: restore; replaced: go on with its successor. */
static JobOutcome
handle_find_restored(Job *job, HttpRequest *req)
{
	RestoreJob *r = restore_job(job);
	char	   *restored_as = NULL;
	char	   *error = NULL;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_parse_replaced_branch(req->response, job->view.branch_id, &restored_as, &error))
		return job_refused_answer(job, req, error);
	if (restored_as == NULL)
		return job_next_step(job, STEP_RESTORE);
	r->new_branch_id = MemoryContextStrdup(job->cxt, restored_as);
	free(restored_as);
	return job_next_step(job, STEP_ENDPOINT);
}

/* GET /projects/{id}/branches/{new}/endpoints, once the restore's operations ended well. */
static bool
build_endpoint(Job *job, const char **error)
{
	return job_set_call(job, "GET", KEY_TENANT_ORG,
						api_path("/projects/%s/branches/%s/endpoints", job->view.project_id,
								 restore_job(job)->new_branch_id),
						NULL, error);
}

/* Production is restored, on its new branch and this endpoint. */
static JobOutcome
handle_endpoint(Job *job, HttpRequest *req)
{
	RestoreJob *r = restore_job(job);
	NeonBranchEndpoint endpoint = {0};
	char	   *error = NULL;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_parse_branch_endpoint(req->response, r->new_branch_id, &endpoint, &error))
		return job_refused_answer(job, req, error);
	r->endpoint_id = MemoryContextStrdup(job->cxt, endpoint.endpoint_id);
	neon_branch_endpoint_free(&endpoint);
	r->restored = true;
	return job_next_step(job, STEP_RENAME);
}

/* PATCH /projects/{id}/branches/{old}: "<name> (old)" becomes the restore's backup. */
static bool
build_rename(Job *job, const char **error)
{
	RestoreJob *r = restore_job(job);

	return job_set_call(job, "PATCH", KEY_TENANT_ORG,
						api_path("/projects/%s/branches/%s", job->view.project_id, r->preserved_id),
						neon_build_branch_rename(r->preserve_under_name), error);
}

/* Renamed: done. A 409 (the name is taken) is resolved by looking the name up. */
static JobOutcome
handle_rename(Job *job, HttpRequest *req)
{
	JobOutcome	refused;

	if (req->status == 409)
		return job_next_step(job, RESTORE_STEP_FIND_PRESERVED);
	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (restore_take_branch_answer(job, req, restore_job(job)->preserved_id, &refused) == NULL)
		return refused;
	return restore_done(job);
}

static const JobStep restore_snapshot_steps[] = {
	{.name = STEP_RESTORE, .mutation = true, .lookup_step = STEP_FIND_RESTORED, .waits_for_operations = true,
	.build = build_restore, .handle = handle_restore},
	{.name = STEP_FIND_RESTORED, .build = build_find_restored, .handle = handle_find_restored},
	{.name = STEP_ENDPOINT, .waits_for_operations = true, .build = build_endpoint, .handle = handle_endpoint},
	{.name = STEP_RENAME, .mutation = true, .lookup_step = RESTORE_STEP_FIND_PRESERVED,
	.waits_for_operations = true, .build = build_rename, .handle = handle_rename},
	RESTORE_FIND_PRESERVED_STEP,
	{.name = NULL}
};

const JobKind restore_snapshot_kind = {
	.name = "restore_snapshot",
	.lane = LANE_INTERACTIVE,
	.needs_tenant = true,
	.steps = restore_snapshot_steps,
	.load = restore_snapshot_load,
	.save_progress = restore_job_save_progress,
	.record_success = restore_record_success,
	.record_failure = restore_record_failure,
};
