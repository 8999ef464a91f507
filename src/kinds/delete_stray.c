/*
 * delete_stray.c
 *		Deletes a stray project: one named for a tenant that is not its
 *		project, which reconciliation found on a complete inventory
 *		(background lane, no tenant: the tenant's own jobs go on).
 *
 * Input (jobs.args, written by neon_platform.reconcile_strays()):
 *   {"project_id": "...", "organization": "free" | "paid", "name": "..."}
 *
 *	 delete_project ──200/404──> done: neon_platform.findings (action deleted)
 *	   │ unknown outcome
 *	   v
 *	 confirm_deleted ──404──> done
 *	   │ still there: delete again
 *
 * The call carries the key of the organization the inventory listed it in.
 * A project already gone counts as deleted (Neon keeps it recoverable for 7
 * days).
 *
 * Cost: 1 request (2 when the answer was lost).
 */
#include "pg_prelude.h"

#include "engine/job_args.h"
#include "engine/spi_util.h"
#include "kinds/kinds.h"
#include "neon/neon_common.h"

#define STEP_DELETE "delete_project"
#define STEP_CONFIRM "confirm_deleted"

typedef struct DeleteStray
{
	char	   *project_id;
	bool		paid;
} DeleteStray;

static SPIPlanPtr deleted_plan;

/* Reads the stray's id (checked like any id) and organization. */
static bool
delete_stray_load(Job *job, const char *args, const char *progress pg_attribute_unused(), const char **error)
{
	DeleteStray *d = MemoryContextAllocZero(job->cxt, sizeof(DeleteStray));
	JobArgs    *a = job_args_parse(args, error);
	const char *id;
	const char *organization;

	job->state = d;
	if (a == NULL)
		return false;
	id = job_args_string(a, "project_id");
	organization = job_args_string(a, "organization");
	if (id == NULL || !neon_valid_id(id, strlen(id)) || organization == NULL
		|| (strcmp(organization, "free") != 0 && strcmp(organization, "paid") != 0))
	{
		job_args_free(a);
		*error = "args need a valid project_id and organization free or paid";
		return false;
	}
	d->project_id = MemoryContextStrdup(job->cxt, id);
	d->paid = strcmp(organization, "paid") == 0;
	job_args_free(a);
	return true;
}

/* The call on the stray, with its organization's key. */
static bool
call_on_stray(Job *job, const char *method, const char **error)
{
	DeleteStray *d = (DeleteStray *) job->state;

	return job_set_call(job, method, d->paid ? KEY_PAID_ORG : KEY_FREE_ORG,
						api_path("/projects/%s", d->project_id), NULL, error);
}

/* DELETE /projects/{id}. */
static bool
build_delete(Job *job, const char **error)
{
	return call_on_stray(job, "DELETE", error);
}

/* GET /projects/{id}: is a stray whose delete answer was lost still there? */
static bool
build_confirm(Job *job, const char **error)
{
	return call_on_stray(job, "GET", error);
}

/* The answer of the delete; a stray already gone (404) counts as deleted. */
static JobOutcome
handle_delete(Job *job, HttpRequest *req)
{
	if (req->status < 300 || req->status == 404)
		return job_outcome(JOB_SUCCEEDED, NULL);
	return job_outcome(JOB_FAILED, job_answer_text(job, req));
}

/* Is the stray still there after a delete whose answer was lost? */
static JobOutcome
handle_confirm(Job *job, HttpRequest *req)
{
	if (req->status == 404)
		return job_outcome(JOB_SUCCEEDED, NULL);
	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	return job_next_step(job, STEP_DELETE);
}

/* The finding that asked for the deletion says it is done. */
static void
delete_stray_record_success(Job *job)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(job->id)};

	spi_run(spi_plan(&deleted_plan, "SELECT neon_platform.stray_deleted($1)", 1, types), values, NULL,
			SPI_OK_SELECT);
}

static const JobStep delete_stray_steps[] = {
	{.name = STEP_DELETE, .mutation = true, .lookup_step = STEP_CONFIRM,
	.build = build_delete, .handle = handle_delete},
	{.name = STEP_CONFIRM, .build = build_confirm, .handle = handle_confirm},
	{.name = NULL}
};

const JobKind delete_stray_kind = {
	.name = "delete_stray",
	.lane = LANE_SWEEP,
	.needs_tenant = false,
	.steps = delete_stray_steps,
	.load = delete_stray_load,
	.record_success = delete_stray_record_success,
};
