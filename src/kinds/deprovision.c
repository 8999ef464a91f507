/*
 * deprovision.c
 *		The deprovision job: deletes a tenant's project, after a final
 *		snapshot if the caller asked for one (interactive lane).
 *
 * Input (jobs.args, written by neon_deprovision()):
 *   {"snapshot_name": "final-acme"}  (absent: no final snapshot)
 *
 *	 take_snapshot ──200──> delete_after_snapshot ──┐
 *	   │ unknown outcome                             │
 *	   v                                             v
 *	 find_snapshot ──found──> delete_after_snapshot  │   delete_project ──200/404──> done
 *	   │ not found: take_snapshot                    │     │ unknown outcome
 *	                                                 └──> confirm_deleted ──404──> done
 *	                                                       │ still there: delete again
 *
 * The snapshot waits for the project's pending operations, and the delete
 * after it waits for the snapshot's own operation (deleting the project
 * under a snapshot still being taken would lose it); a plain delete waits
 * for nothing. A project that is already gone counts as deleted. The tenant row stays, state deleted, with
 * the final snapshot's id; its password is removed.
 *
 * Cost: 1 request per tenant (3, plus the reads of operations still
 * running, with a final snapshot).
 */
#include "pg_prelude.h"

#include "engine/job_args.h"
#include "engine/opwait.h"
#include "engine/tenant_state.h"
#include "kinds/kinds.h"
#include "neon/neon_snapshots.h"

#define STEP_SNAPSHOT "take_snapshot"
#define STEP_FIND_SNAPSHOT "find_snapshot"
#define STEP_DELETE "delete_project"
#define STEP_DELETE_AFTER_SNAPSHOT "delete_after_snapshot"
#define STEP_CONFIRM "confirm_deleted"

typedef struct Deprovision
{
	const char *snapshot_name;	/* NULL: no final snapshot */
	char	   *snapshot_id;	/* in the job's memory, once taken */
} Deprovision;

/* The kind's state of a job. */
static Deprovision *
state_of(Job *job)
{
	return (Deprovision *) job->state;
}

/* Reads the snapshot's name from jobs.args, and its id once taken from jobs.progress. */
static bool
deprovision_load(Job *job, const char *args_text, const char *progress_text, const char **error)
{
	Deprovision *d = MemoryContextAllocZero(job->cxt, sizeof(Deprovision));
	JobArgs    *args = job_args_parse(args_text, error);
	JobArgs    *progress;
	const char *value;

	if (args == NULL)
		return false;
	job->state = d;
	if ((value = job_args_string(args, "snapshot_name")) != NULL)
		d->snapshot_name = MemoryContextStrdup(job->cxt, value);
	job_args_free(args);
	if (job->view.project_id == NULL || (d->snapshot_name && job->view.branch_id == NULL))
	{
		*error = "the tenant has no Neon project to delete";
		return false;
	}
	if ((progress = job_args_parse(progress_text, error)) == NULL)
		return false;
	if ((value = job_args_string(progress, "snapshot_id")) != NULL)
		d->snapshot_id = MemoryContextStrdup(job->cxt, value);
	job_args_free(progress);
	return true;
}

/* The final snapshot's id once taken, for jobs.progress. */
static char *
deprovision_save_progress(Job *job)
{
	StringInfoData buf;

	if (state_of(job)->snapshot_id == NULL)
		return NULL;
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"snapshot_id\": ");
	escape_json(&buf, state_of(job)->snapshot_id);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* POST /projects/{id}/branches/{branch_id}/snapshot?name=... (parameters go in the query string). */
static bool
build_snapshot(Job *job, const char **error)
{
	return job_set_call(job, "POST", KEY_TENANT_ORG,
						api_path("/projects/%s/branches/%s/snapshot?name=%s", job->view.project_id,
								 job->view.branch_id, state_of(job)->snapshot_name),
						NULL, error);
}

/* GET /projects/{id}/snapshots: did a snapshot whose answer was lost happen? */
static bool
build_find_snapshot(Job *job, const char **error)
{
	return job_set_call(job, "GET", KEY_TENANT_ORG, api_path("/projects/%s/snapshots", job->view.project_id),
						NULL, error);
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

/* The answer of the snapshot create: keep its id, wait for its operation in the delete. */
static JobOutcome
handle_snapshot(Job *job, HttpRequest *req)
{
	char	   *id = NULL;
	char	  **ops = NULL;
	int			n = 0;
	char	   *error = NULL;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, psprintf("the final snapshot was refused: %s", job_answer_text(job, req)));
	if (!neon_parse_snapshot(req->response, &id, &ops, &n, &error))
		return job_refused_answer(job, req, error);
	state_of(job)->snapshot_id = MemoryContextStrdup(job->cxt, id);
	free(id);
	opwait_add_pending(job, ops, n);
	return job_next_step(job, STEP_DELETE_AFTER_SNAPSHOT);
}

/* The snapshots of the project: the final one exists, or it is taken again. */
static JobOutcome
handle_find_snapshot(Job *job, HttpRequest *req)
{
	char	   *id = NULL;
	char	   *error = NULL;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_find_snapshot_by_name(req->response, state_of(job)->snapshot_name, &id, &error))
		return job_refused_answer(job, req, error);
	if (id == NULL)
		return job_next_step(job, STEP_SNAPSHOT);
	state_of(job)->snapshot_id = MemoryContextStrdup(job->cxt, id);
	free(id);
	return job_next_step(job, STEP_DELETE_AFTER_SNAPSHOT);
}

/* The project is gone: the job is done. */
static JobOutcome
deleted(Job *job)
{
	JobOutcome	o = job_outcome(JOB_SUCCEEDED, NULL);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"final_snapshot_id\": ");
	if (state_of(job)->snapshot_id)
		escape_json(&buf, state_of(job)->snapshot_id);
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
	tenant_state_deleted(job->tenant, state_of(job)->snapshot_id);
}

/* A deprovisioning that failed leaves the tenant ready (its project is still there). */
static void
deprovision_record_failure(Job *job, const char *error)
{
	tenant_state_job_failed(job->tenant, "deprovisioning", "ready", error);
}

static const JobStep deprovision_steps[] = {
	{.name = STEP_SNAPSHOT, .mutation = true, .lookup_step = STEP_FIND_SNAPSHOT, .waits_for_operations = true,
	.build = build_snapshot, .handle = handle_snapshot},
	{.name = STEP_FIND_SNAPSHOT, .build = build_find_snapshot, .handle = handle_find_snapshot},
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
	.save_progress = deprovision_save_progress,
	.record_success = deprovision_record_success,
	.record_failure = deprovision_record_failure,
};
