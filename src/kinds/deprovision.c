/*
 * deprovision.c
 *		The deprovision job: deletes a tenant's project, after a final
 *		snapshot if the caller asked for one (interactive lane).
 *
 * Input (jobs.args, written by neon_deprovision()):
 *   {"snapshot_name": "final-acme"}  (absent: no final snapshot; the job starts at delete_project)
 *
 *	 take_snapshot ──200──> delete_after_snapshot ──┐
 *	   │ unknown outcome                             │
 *	   v                                             v
 *	 find_snapshot ──found──> delete_after_snapshot  │   delete_project ──200/404──> done
 *	   │ not found: take_snapshot                    │     │ unknown outcome
 *	                                                 └──> confirm_deleted ──404──> done
 *	                                                       │ still there: delete again
 *
 * The final snapshot is taken by the steps every snapshot shares
 * (snapshot_steps.c: named in the query string, looked up by that name
 * when the answer was lost); it waits for the project's pending
 * operations, and the delete after it waits for the snapshot's own
 * operation (deleting the project under a snapshot still being taken would
 * lose it); a plain delete waits for nothing. A project that is already
 * gone counts as deleted. The tenant row stays, state deleted, with the
 * final snapshot's id; its password is removed.
 *
 * Cost: 1 request per tenant (3, plus the reads of operations still
 * running, with a final snapshot).
 */
#include "pg_prelude.h"

#include "engine/tenant_state.h"
#include "kinds/kinds.h"
#include "kinds/snapshot_steps.h"

#define STEP_DELETE "delete_project"
#define STEP_DELETE_AFTER_SNAPSHOT "delete_after_snapshot"
#define STEP_CONFIRM "confirm_deleted"

/* Reads the final snapshot's name, if any, and its id once taken; after it comes the delete. */
static bool
deprovision_load(Job *job, const char *args, const char *progress, const char **error)
{
	return snapshot_job_load(job, "snapshot_name", STEP_DELETE_AFTER_SNAPSHOT, args, progress, error);
}

/* DELETE /projects/{id}. */
static bool
build_delete(Job *job, const char **error)
{
	return job_set_call(job, "DELETE", KEY_TENANT_ORG, api_path("/projects/%s", job->view.project_id),
						NULL, error);
}

/* GET /projects/{id}: is a project whose delete answer was lost still there? */
static bool
build_confirm(Job *job, const char **error)
{
	return job_set_call(job, "GET", KEY_TENANT_ORG, api_path("/projects/%s", job->view.project_id),
						NULL, error);
}

/* The project is gone: the job is done. */
static JobOutcome
deleted(Job *job)
{
	JobOutcome	o = job_outcome(JOB_SUCCEEDED, NULL);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"final_snapshot_id\": ");
	if (snapshot_job(job)->snapshot_id)
		escape_json(&buf, snapshot_job(job)->snapshot_id);
	else
		appendStringInfoString(&buf, "null");
	appendStringInfoChar(&buf, '}');
	o.result_json = buf.data;
	return o;
}

/* The answer of the delete; a project already gone (404) counts as deleted. */
static JobOutcome
handle_delete(Job *job, HttpRequest *req)
{
	if (req->status < 300 || req->status == 404)
		return deleted(job);
	return job_outcome(JOB_FAILED, job_answer_text(job, req));
}

/* Is the project still there after a delete whose answer was lost? */
static JobOutcome
handle_confirm(Job *job, HttpRequest *req)
{
	if (req->status == 404)
		return deleted(job);
	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	return job_next_step(job, STEP_DELETE);
}

/* The project is gone; the tenant row stays, without its password. */
static void
deprovision_record_success(Job *job)
{
	tenant_state_deleted(job->tenant, snapshot_job(job)->snapshot_id);
}

/* A deprovisioning that failed leaves the tenant ready (its project is still there). */
static void
deprovision_record_failure(Job *job, const char *error)
{
	tenant_state_job_failed(job->tenant, "deprovisioning", "ready", error);
}

static const JobStep deprovision_steps[] = {
	SNAPSHOT_TAKE_STEPS,
	{.name = STEP_DELETE_AFTER_SNAPSHOT, .mutation = true, .lookup_step = STEP_CONFIRM, .waits_for_operations = true,
	.build = build_delete, .handle = handle_delete},
	{.name = STEP_DELETE, .mutation = true, .lookup_step = STEP_CONFIRM,
	.build = build_delete, .handle = handle_delete},
	{.name = STEP_CONFIRM, .build = build_confirm, .handle = handle_confirm},
	{.name = NULL}
};

const JobKind deprovision_kind = {
	.name = "deprovision",
	.lane = LANE_INTERACTIVE,
	.needs_tenant = true,
	.steps = deprovision_steps,
	.load = deprovision_load,
	.save_progress = snapshot_job_save_progress,
	.record_success = deprovision_record_success,
	.record_failure = deprovision_record_failure,
};
