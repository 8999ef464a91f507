/*
 * snapshot_steps.c
 *		The steps that take a snapshot of the tenant's production branch,
 *		and the DELETE of one, shared by snapshot, delete_snapshot and
 *		deprovision (its final snapshot).
 *
 *	 take_snapshot ──200──> then (the kind's step), or find_snapshot to confirm it
 *	   │ unknown outcome (after request_timeout + settle_margin)
 *	   v
 *	 find_snapshot ──listed──> then, or done
 *	   │ looked up by name, not found: take_snapshot
 *	   │ confirmed by id, not listed: failed
 *
 * POST /projects/{id}/branches/{branch_id}/snapshot?name=...&expires_at=...
 * (Neon takes its parameters in the query string, and snapshots only of
 * root branches: the production branch is one) waits for the project's
 * pending operations first; its answer's operations become pending, so
 * the next step waits for the snapshot to be taken, and fails the job if
 * its operation ends failed, error or cancelled (it did not happen). A
 * create whose answer was lost is looked up by the name the caller chose
 * (unique per tenant in neon_platform.snapshots; Neon refuses no duplicate
 * name, so there is no 409 to resolve). A snapshot found so is taken as it
 * is: the ids of its operations were in the lost answer, and the look-up
 * comes request_timeout + settle_margin after the create left.
 *
 * DELETE /projects/{id}/snapshots/{snapshot_id} answers 202 with the
 * deletion's operations, or 404 when the snapshot is gone already (Neon
 * deletes a snapshot itself once its expires_at passed). Repeating it is
 * harmless, so a delete whose answer was lost is simply sent again.
 *
 * Cost: the create, 1 request, and the list that confirms it when the job
 * is the snapshot itself (deprovision goes on to its delete instead), plus
 * the reads of operations: those still pending before the create, and the
 * snapshot's own before the list. A DELETE is 1 request.
 */
#include "pg_prelude.h"

#include "engine/job_args.h"
#include "engine/opwait.h"
#include "kinds/snapshot_steps.h"
#include "neon/neon_operations.h"
#include "neon/neon_snapshots.h"

/* The kind's state of a job. */
SnapshotJob *
snapshot_job(Job *job)
{
	return (SnapshotJob *) job->state;
}

/* An optional string of the args or the progress, in the job's memory. */
static const char *
optional_string(Job *job, JobArgs *args, const char *path)
{
	const char *value = job_args_string(args, path);

	return value ? MemoryContextStrdup(job->cxt, value) : NULL;
}

/*
 * Reads the snapshot's name (the member `name_key` of jobs.args), its
 * expiry, the snapshot to delete (replace_snapshot_id, or snapshot_id for
 * an expired one) and, from jobs.progress, whether that one is gone and
 * the id of the snapshot taken. `then` is the kind's step once the
 * snapshot is taken (NULL: the job is the snapshot).
 */
bool
snapshot_job_load(Job *job, const char *name_key, const char *then, const char *args_text,
				  const char *progress_text, const char **error)
{
	SnapshotJob *s = MemoryContextAllocZero(job->cxt, sizeof(SnapshotJob));
	JobArgs    *args = job_args_parse(args_text, error);
	JobArgs    *progress;

	if (args == NULL)
		return false;
	job->state = s;
	s->then = then;
	s->name = optional_string(job, args, name_key);
	s->expires_at = optional_string(job, args, "expires_at");
	s->replace_name = optional_string(job, args, "replace_name");
	s->delete_id = optional_string(job, args, "replace_snapshot_id");
	if (s->delete_id == NULL)
		s->delete_id = optional_string(job, args, "snapshot_id");
	job_args_free(args);
	if (job->view.project_id == NULL)
	{
		*error = "the tenant has no Neon project";
		return false;
	}
	if ((progress = job_args_parse(progress_text, error)) == NULL)
		return false;
	s->snapshot_id = optional_string(job, progress, "snapshot_id");
	s->deleted = job_args_true(progress, "deleted");
	job_args_free(progress);
	return true;
}

/* Whether the snapshot to delete is gone, and the id of the one taken, for jobs.progress. */
char *
snapshot_job_save_progress(Job *job)
{
	SnapshotJob *s = snapshot_job(job);
	StringInfoData buf;

	if (s->snapshot_id == NULL && !s->deleted)
		return NULL;
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"deleted\": %s", s->deleted ? "true" : "false");
	if (s->snapshot_id)
	{
		appendStringInfoString(&buf, ", \"snapshot_id\": ");
		escape_json(&buf, s->snapshot_id);
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* POST /projects/{id}/branches/{branch_id}/snapshot?name=...[&expires_at=...]. */
bool
snapshot_build_take(Job *job, const char **error)
{
	SnapshotJob *s = snapshot_job(job);
	char	   *path;

	if (s->name == NULL || job->view.branch_id == NULL)
	{
		*error = "no snapshot to take: the job names none, or the tenant has no production branch";
		return false;
	}
	if (s->expires_at)
		path = api_path("/projects/%s/branches/%s/snapshot?name=%s&expires_at=%s", job->view.project_id,
						job->view.branch_id, s->name, s->expires_at);
	else
		path = api_path("/projects/%s/branches/%s/snapshot?name=%s", job->view.project_id,
						job->view.branch_id, s->name);
	return job_set_call(job, "POST", KEY_TENANT_ORG, path, NULL, error);
}

/* GET /projects/{id}/snapshots: a lost create looked up, or an answered one confirmed. */
bool
snapshot_build_find(Job *job, const char **error)
{
	return job_set_call(job, "GET", KEY_TENANT_ORG, api_path("/projects/%s/snapshots", job->view.project_id),
						NULL, error);
}

/* The snapshot exists: on to the kind's next step, or the job is done. */
static JobOutcome
taken(Job *job)
{
	SnapshotJob *s = snapshot_job(job);
	JobOutcome	o;
	StringInfoData buf;

	if (s->then)
		return job_next_step(job, s->then);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"snapshot_id\": ");
	escape_json(&buf, s->snapshot_id);
	appendStringInfoChar(&buf, '}');
	o = job_outcome(JOB_SUCCEEDED, NULL);
	o.result_json = buf.data;
	return o;
}

/* The create's answer: keep the id; its operations are waited for in the next step. */
JobOutcome
snapshot_handle_take(Job *job, HttpRequest *req)
{
	SnapshotJob *s = snapshot_job(job);
	char	   *id = NULL;
	char	  **ops = NULL;
	int			n = 0;
	char	   *error = NULL;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, psprintf("the snapshot was refused: %s", job_answer_text(job, req)));
	if (!neon_parse_snapshot(req->response, &id, &ops, &n, &error))
		return job_refused_answer(job, req, error);
	s->snapshot_id = MemoryContextStrdup(job->cxt, id);
	free(id);
	opwait_add_pending(job, ops, n);
	return job_next_step(job, s->then ? s->then : SNAPSHOT_STEP_FIND);
}

/*
 * Whether the project's snapshots (the answer of GET
 * /projects/{id}/snapshots) hold `snapshot_id`; false with *failed when
 * the list cannot be had or read.
 */
bool
snapshot_read_listed(Job *job, HttpRequest *req, const char *snapshot_id, bool *listed, JobOutcome *failed)
{
	char	   *error = NULL;

	if (req->status >= 300)
	{
		*failed = job_outcome(JOB_FAILED, job_answer_text(job, req));
		return false;
	}
	if (!neon_snapshot_listed(req->response, snapshot_id, listed, &error))
	{
		*failed = job_refused_answer(job, req, error);
		return false;
	}
	return true;
}

/* The snapshot answered by the create, still listed once its operation ended. */
static JobOutcome
confirm_taken(Job *job, HttpRequest *req)
{
	SnapshotJob *s = snapshot_job(job);
	bool		listed = false;
	JobOutcome	failed;

	if (!snapshot_read_listed(job, req, s->snapshot_id, &listed, &failed))
		return failed;
	if (!listed)
		return job_outcome(JOB_FAILED, psprintf("Neon no longer lists snapshot %s once its operation ended",
												s->snapshot_id));
	return taken(job);
}

/* The project's snapshots: confirm the one answered, or find a lost one by name (else take it again). */
JobOutcome
snapshot_handle_find(Job *job, HttpRequest *req)
{
	SnapshotJob *s = snapshot_job(job);
	char	   *id = NULL;
	char	   *error = NULL;

	if (s->snapshot_id)
		return confirm_taken(job, req);
	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_find_snapshot_by_name(req->response, s->name, &id, &error))
		return job_refused_answer(job, req, error);
	if (id == NULL)
		return job_next_step(job, SNAPSHOT_STEP_TAKE);
	s->snapshot_id = MemoryContextStrdup(job->cxt, id);
	free(id);
	return taken(job);
}

/* DELETE /projects/{id}/snapshots/{snapshot_id}. */
bool
snapshot_build_delete(Job *job, const char **error)
{
	SnapshotJob *s = snapshot_job(job);

	if (s->delete_id == NULL)
	{
		*error = "no snapshot to delete: the job names none";
		return false;
	}
	return job_set_call(job, "DELETE", KEY_TENANT_ORG,
						api_path("/projects/%s/snapshots/%s", job->view.project_id, s->delete_id), NULL, error);
}

/*
 * The answer of a snapshot DELETE: true when the snapshot is gone, 202
 * (its deletion's operations become pending: the next step waits for
 * them) or 404 (Neon has it no more); false with *failed otherwise.
 */
bool
snapshot_delete_answered(Job *job, HttpRequest *req, JobOutcome *failed)
{
	char	  **ops = NULL;
	int			n = 0;
	char	   *error = NULL;

	if (req->status >= 300 && req->status != 404)
	{
		*failed = job_outcome(JOB_FAILED, psprintf("the snapshot's deletion was refused: %s",
												   job_answer_text(job, req)));
		return false;
	}
	if (req->status != 404)
	{
		if (!neon_parse_operation_ids(req->response, &ops, &n, &error))
		{
			*failed = job_refused_answer(job, req, error);
			return false;
		}
		opwait_add_pending(job, ops, n);
	}
	snapshot_job(job)->deleted = true;
	return true;
}
