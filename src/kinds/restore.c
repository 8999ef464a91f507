/*
 * restore.c
 *		The restore job: an in-place restore of the tenant's production
 *		branch to a point in time, or the undo or redo of such a restore
 *		(interactive lane).
 *
 * Input (jobs.args, written by neon_restore(), neon_undo_restore() and
 * neon_redo_restore()):
 *   {"restore_id": 7, "mode": "point_in_time", "to_time": "2025-06-01T09:30:00+00:00",
 *    "preserve_under_name": "backup-7-20250601T101500Z"}
 *   {"restore_id": 7, "mode": "undo" | "redo", "source_branch": "backup-7-...",
 *    "source_branch_id": "br-...", "preserve_under_name": "redo-7-..."}
 *
 *	 restore_branch ──200──> find_preserved ──found──> delete_source ──200/204/404──> done
 *	   │ unknown outcome, 409    ^    │ (undo, redo)    │ unknown outcome: delete again
 *	   └─────────────────────────┘    │
 *	                                  ├──found, point_in_time──> done
 *	                                  └──not found after a lost answer──> restore_branch
 *
 * POST /projects/{id}/branches/{production}/restore overwrites production
 * with the source (its own history at to_time for a point-in-time restore,
 * the backup branch for an undo, the redo branch for a redo) and keeps
 * what it replaces as preserve_under_name. find_preserved waits for the
 * restore's operations (one that ends failed or cancelled fails the job:
 * the restore did not happen) and learns the preserved branch's id; it is
 * also where a lost answer or a 409 (the name is taken) is resolved. An
 * undo or a redo then deletes the branch it restored from: production has
 * its content now, and its name must be free for a later redo (which keeps
 * the undone state under the backup's name again) and its slot for the
 * tier's branch limit. A branch already gone (204, 404) counts as deleted.
 *
 * Cost: 2 requests for a point-in-time restore, 3 for an undo or a redo,
 * plus the reads of the restore's operations (measured in
 * test/t/024_restores.pl with 0.3 s operations: 5 and 6 in all); 2 when
 * the restore's answer was lost (the restore and the look-up).
 */
#include "pg_prelude.h"

#include "kinds/kinds.h"
#include "kinds/restore_steps.h"
#include "neon/neon_restores.h"

#define STEP_RESTORE "restore_branch"
#define STEP_DELETE_SOURCE "delete_source"

/* Reads the mode and what it needs: a point in time, or the branch to restore from. */
static bool
restore_load(Job *job, const char *args, const char *progress, const char **error)
{
	const char *mode;
	RestoreJob *r;

	if (!restore_job_load(job, args, progress, &mode, error))
		return false;
	r = restore_job(job);
	if (mode && strcmp(mode, "point_in_time") == 0 && r->to_time)
		r->mode = RESTORE_POINT_IN_TIME;
	else if (mode && strcmp(mode, "undo") == 0 && r->source_branch_id)
		r->mode = RESTORE_UNDO;
	else if (mode && strcmp(mode, "redo") == 0 && r->source_branch_id)
		r->mode = RESTORE_REDO;
	else
	{
		*error = "args.mode is not point_in_time with to_time, or undo or redo with source_branch_id";
		return false;
	}
	r->preserving_step = STEP_RESTORE;
	r->after_preserved = r->mode == RESTORE_POINT_IN_TIME ? NULL : STEP_DELETE_SOURCE;
	/* A progress without the preserved branch (edited by hand): the look-up, a read, learns it again. */
	if (r->preserved_id == NULL && strcmp(job->step->name, STEP_DELETE_SOURCE) == 0)
		job->step = job_step_by_name(job->kind, RESTORE_STEP_FIND_PRESERVED);
	return true;
}

/* POST /projects/{id}/branches/{production}/restore, keeping production's state under its name. */
static bool
build_restore(Job *job, const char **error)
{
	RestoreJob *r = restore_job(job);
	bool		in_time = r->mode == RESTORE_POINT_IN_TIME;

	return job_set_call(job, "POST", KEY_TENANT_ORG,
						api_path("/projects/%s/branches/%s/restore", job->view.project_id, job->view.branch_id),
						neon_build_restore_preserving(in_time ? job->view.branch_id : r->source_branch_id,
													  in_time ? r->to_time : NULL, r->preserve_under_name),
						error);
}

/* The restore was taken: wait for its operations, then learn the preserved branch. */
static JobOutcome
handle_restore(Job *job, HttpRequest *req)
{
	JobOutcome	refused;

	if (req->status == 409)
		return job_next_step(job, RESTORE_STEP_FIND_PRESERVED);
	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (restore_take_branch_answer(job, req, job->view.branch_id, &refused) == NULL)
		return refused;
	restore_job(job)->answered = true;
	return job_next_step(job, RESTORE_STEP_FIND_PRESERVED);
}

/* DELETE /projects/{id}/branches/{source}: the branch an undo or a redo consumed. */
static bool
build_delete_source(Job *job, const char **error)
{
	return job_set_call(job, "DELETE", KEY_TENANT_ORG,
						api_path("/projects/%s/branches/%s", job->view.project_id,
								 restore_job(job)->source_branch_id),
						NULL, error);
}

/* The source is gone (deleted now, or already: 204, 404); its operations run on. */
static JobOutcome
handle_delete_source(Job *job, HttpRequest *req)
{
	RestoreJob *r = restore_job(job);
	JobOutcome	refused;

	if (req->status >= 300 && req->status != 404)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (req->status != 204 && req->status != 404
		&& restore_take_branch_answer(job, req, r->source_branch_id, &refused) == NULL)
		return refused;
	r->source_deleted = true;
	return restore_done(job);
}

static const JobStep restore_steps[] = {
	{.name = STEP_RESTORE, .mutation = true, .lookup_step = RESTORE_STEP_FIND_PRESERVED,
	.waits_for_operations = true, .build = build_restore, .handle = handle_restore},
	RESTORE_FIND_PRESERVED_STEP,
	{.name = STEP_DELETE_SOURCE, .mutation = true, .lookup_step = STEP_DELETE_SOURCE,
	.waits_for_operations = true, .build = build_delete_source, .handle = handle_delete_source},
	{.name = NULL}
};

const JobKind restore_kind = {
	.name = "restore",
	.lane = LANE_INTERACTIVE,
	.needs_tenant = true,
	.steps = restore_steps,
	.load = restore_load,
	.save_progress = restore_job_save_progress,
	.record_success = restore_record_success,
	.record_failure = restore_record_failure,
};
