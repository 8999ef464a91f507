/*
 * snapshot.c
 *		The snapshot job: a snapshot of the tenant's production branch,
 *		after deleting the oldest one when the caller asked to replace it
 *		(interactive lane).
 *
 * Input (jobs.args, written by neon_snapshot() at enqueue time):
 *   {"name": "before-migration", "expires_at": "2030-01-01T00:00:00+00:00",
 *    "replace_name": "nightly", "replace_snapshot_id": "snap-..."}
 *   (expires_at, replace_*: optional; when replacing, the job starts at
 *   delete_replaced)
 *
 *	 delete_replaced ──202/404──> take_snapshot ──200──> find_snapshot ──listed──> done
 *	   │ unknown outcome:            │ unknown outcome      │ (waits for the snapshot's operation)
 *	   │ delete_replaced again       v                      │ not listed: failed
 *	                               find_snapshot ──found by name──> done
 *	                                 │ not found: take_snapshot
 *
 * The tier's snapshot limit is enforced by neon_snapshot() before it
 * enqueues; Neon enforces its own (1 manual snapshot per project on the
 * free organization), which is why a replaced snapshot is deleted, and its
 * deletion's operation waited for, before the new one is taken. The
 * snapshot's own operation is waited for before the row becomes ready: one
 * that ends failed, error or cancelled fails the job (the snapshot did not
 * happen). On success the row is ready with its id and the replaced row
 * deleted; on failure the row is failed with the reason, and a replaced
 * row whose DELETE Neon had not taken is ready again.
 *
 * Cost: 2 requests (the create, the list that confirms it) plus the reads
 * of the snapshot's operation, 1 and one more per operation_poll_interval
 * it runs: 4 in all in test/t/022_snapshots.pl (0.3 s operations, polled
 * every 0.5 s), 1 more when earlier operations of the project were still
 * pending. Replacing adds the DELETE and the reads of its operation (7).
 */
#include "pg_prelude.h"

#include "engine/version_state.h"
#include "kinds/kinds.h"
#include "kinds/snapshot_steps.h"

#define STEP_DELETE_REPLACED "delete_replaced"

/* Reads the snapshot's name, expiry and the one it replaces; the job is the snapshot itself. */
static bool
snapshot_load(Job *job, const char *args, const char *progress, const char **error)
{
	if (!snapshot_job_load(job, "name", NULL, args, progress, error))
		return false;
	if (snapshot_job(job)->name == NULL)
	{
		*error = "args.name is missing";
		return false;
	}
	return true;
}

/* The replaced snapshot is gone: the new one can be taken within Neon's limit. */
static JobOutcome
handle_delete_replaced(Job *job, HttpRequest *req)
{
	JobOutcome	failed;

	if (!snapshot_delete_answered(job, req, &failed))
		return failed;
	return job_next_step(job, SNAPSHOT_STEP_TAKE);
}

/* The snapshot is ready with its id; the one it replaced is deleted. */
static void
snapshot_record_success(Job *job)
{
	SnapshotJob *s = snapshot_job(job);

	snapshot_state_ready(job->tenant, s->name, s->snapshot_id);
	if (s->replace_name)
		snapshot_state_ended(job->tenant, s->replace_name, "deleting", "deleted", NULL);
}

/* The snapshot failed; the one it was to replace is ready again unless Neon took its DELETE. */
static void
snapshot_record_failure(Job *job, const char *error)
{
	SnapshotJob *s = snapshot_job(job);

	if (s == NULL || s->name == NULL)
		return;
	snapshot_state_ended(job->tenant, s->name, "creating", "failed", error);
	if (s->replace_name)
		snapshot_state_ended(job->tenant, s->replace_name, "deleting", s->deleted ? "deleted" : "ready", NULL);
}

static const JobStep snapshot_steps[] = {
	SNAPSHOT_TAKE_STEPS,
	{.name = STEP_DELETE_REPLACED, .mutation = true, .lookup_step = STEP_DELETE_REPLACED, .waits_for_operations = true,
	.build = snapshot_build_delete, .handle = handle_delete_replaced},
	{.name = NULL}
};

const JobKind snapshot_kind = {
	.name = "snapshot",
	.lane = LANE_INTERACTIVE,
	.needs_tenant = true,
	.steps = snapshot_steps,
	.load = snapshot_load,
	.save_progress = snapshot_job_save_progress,
	.record_success = snapshot_record_success,
	.record_failure = snapshot_record_failure,
};
