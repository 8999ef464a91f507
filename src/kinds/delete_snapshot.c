/*
 * delete_snapshot.c
 *		The delete_snapshot job: deletes a snapshot whose expires_at has
 *		passed (background lane).
 *
 * Input (jobs.args, written by neon_platform.enqueue_expired(), which the
 * worker calls every 10 seconds):
 *   {"name": "before-migration", "snapshot_id": "snap-..."}
 *
 *	 delete_snapshot ──202──> confirm_deleted ──not listed──> done
 *	   │ 404: done              (waits for the deletion's operation)
 *	   │ unknown outcome:       │ still listed: failed
 *	   │ delete_snapshot again
 *
 * Neon deletes a snapshot itself once its expires_at passed, so a 404 is
 * the usual success. The deletion's operation is waited for (one that ends
 * badly fails the job), then the list confirms the snapshot is gone. The
 * row becomes deleted; a failure leaves it failed with the reason (ready
 * again, it would be enqueued anew every 10 seconds).
 *
 * Cost: 1 request when Neon had deleted it already (404); otherwise 2 (the
 * DELETE, the list) plus the reads of its operation: 4 in
 * test/t/022_snapshots.pl.
 */
#include "pg_prelude.h"

#include "engine/version_state.h"
#include "kinds/kinds.h"
#include "kinds/snapshot_steps.h"

#define STEP_DELETE "delete_snapshot"
#define STEP_CONFIRM "confirm_deleted"

/* Reads the snapshot's name and id. */
static bool
delete_snapshot_load(Job *job, const char *args, const char *progress, const char **error)
{
	if (!snapshot_job_load(job, "name", NULL, args, progress, error))
		return false;
	if (snapshot_job(job)->name == NULL || snapshot_job(job)->delete_id == NULL)
	{
		*error = "args.name or args.snapshot_id is missing";
		return false;
	}
	return true;
}

/* The DELETE's answer: gone already (404), or wait for the deletion and confirm it. */
static JobOutcome
handle_delete(Job *job, HttpRequest *req)
{
	JobOutcome	failed;

	if (!snapshot_delete_answered(job, req, &failed))
		return failed;
	if (req->status == 404)
		return job_outcome(JOB_SUCCEEDED, NULL);
	return job_next_step(job, STEP_CONFIRM);
}

/* The project's snapshots once the deletion ended: the snapshot must be gone. */
static JobOutcome
handle_confirm(Job *job, HttpRequest *req)
{
	const char *id = snapshot_job(job)->delete_id;
	bool		listed = false;
	JobOutcome	failed;

	if (!snapshot_read_listed(job, req, id, &listed, &failed))
		return failed;
	if (listed)
		return job_outcome(JOB_FAILED, psprintf("Neon still lists snapshot %s once its deletion ended", id));
	return job_outcome(JOB_SUCCEEDED, NULL);
}

/* The snapshot is gone. */
static void
delete_snapshot_record_success(Job *job)
{
	snapshot_state_ended(job->tenant, snapshot_job(job)->name, "deleting", "deleted", NULL);
}

/* The deletion failed: the row says so, and is not enqueued again. */
static void
delete_snapshot_record_failure(Job *job, const char *error)
{
	SnapshotJob *s = snapshot_job(job);

	if (s == NULL || s->name == NULL)
		return;
	snapshot_state_ended(job->tenant, s->name, "deleting", "failed", error);
}

static const JobStep delete_snapshot_steps[] = {
	{.name = STEP_DELETE, .mutation = true, .lookup_step = STEP_DELETE, .waits_for_operations = true,
	.build = snapshot_build_delete, .handle = handle_delete},
	{.name = STEP_CONFIRM, .waits_for_operations = true, .build = snapshot_build_find, .handle = handle_confirm},
	{.name = NULL}
};

const JobKind delete_snapshot_kind = {
	.name = "delete_snapshot",
	.lane = LANE_BACKGROUND,
	.needs_tenant = true,
	.steps = delete_snapshot_steps,
	.load = delete_snapshot_load,
	.save_progress = snapshot_job_save_progress,
	.record_success = delete_snapshot_record_success,
	.record_failure = delete_snapshot_record_failure,
};
