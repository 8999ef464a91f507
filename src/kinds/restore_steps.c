/*
 * restore_steps.c
 *		What the kinds restore (point in time, undo, redo) and
 *		restore_snapshot share: their input and progress, the look-up of
 *		the branch that keeps production's replaced state, and the
 *		recording of the outcome.
 *
 * Every restore keeps the state it replaces in a branch whose name the SQL
 * function chose (preserve_under_name, unique per restore): that branch
 * exists if and only if the call that names it happened, so a lost answer
 * is resolved by looking the name up (GET /projects/{id}/branches?search=),
 * never by restoring twice. The same look-up, after an answered call,
 * waits for the call's operations and learns the branch's id.
 *
 * The outcome is written through restore_state.c: production restored
 * (restores row applied or undone, the preserved branch ready with its id,
 * the branch restored from deleted), or not (restores row failed, or back
 * to applied / undone for an undo / redo; the preserved branch failed).
 * A job that fails after production was restored records the restore as
 * done, with the reason on the tenant.
 */
#include "pg_prelude.h"

#include "engine/job_args.h"
#include "engine/opwait.h"
#include "engine/restore_state.h"
#include "kinds/plan.h"
#include "kinds/restore_steps.h"
#include "neon/neon_branches.h"
#include "neon/neon_operations.h"

/* The kind's state of a job. */
RestoreJob *
restore_job(Job *job)
{
	return (RestoreJob *) job->state;
}

/* A string of the args or the progress in the job's memory, NULL when absent. */
static char *
optional_string(Job *job, JobArgs *args, const char *path)
{
	const char *value = job_args_string(args, path);

	return value ? MemoryContextStrdup(job->cxt, value) : NULL;
}

/* What the job learned before a restart, from jobs.progress. */
static bool
read_progress(Job *job, const char *progress_text, const char **error)
{
	RestoreJob *r = restore_job(job);
	JobArgs    *progress = job_args_parse(progress_text, error);

	if (progress == NULL)
		return false;
	r->answered = job_args_true(progress, "answered");
	r->restored = job_args_true(progress, "restored");
	r->source_deleted = job_args_true(progress, "source_deleted");
	r->preserved_id = optional_string(job, progress, "preserved_id");
	r->new_branch_id = optional_string(job, progress, "new_branch_id");
	r->endpoint_id = optional_string(job, progress, "endpoint_id");
	job_args_free(progress);
	return true;
}

/*
 * Reads what both kinds take from jobs.args (every member a kind may need;
 * each kind checks its own), with "mode" in *mode when asked (NULL when
 * absent), then jobs.progress. The state is set first, so that a job whose
 * args cannot be read still records its failure.
 */
bool
restore_job_load(Job *job, const char *args_text, const char *progress_text, const char **mode,
				 const char **error)
{
	RestoreJob *r = MemoryContextAllocZero(job->cxt, sizeof(RestoreJob));
	JobArgs    *args;
	double		id = 0;

	job->state = r;
	if ((args = job_args_parse(args_text, error)) == NULL)
		return false;
	*error = NULL;
	if (!job_args_number(args, "restore_id", &id) || id < 1)
		*error = "args.restore_id is missing";
	r->restore_id = (long long) id;
	r->preserve_under_name = plan_string(job, args, "preserve_under_name", error);
	r->to_time = optional_string(job, args, "to_time");
	r->source_branch_id = optional_string(job, args, "source_branch_id");
	r->snapshot_id = optional_string(job, args, "snapshot_id");
	if (mode)
		*mode = optional_string(job, args, "mode");
	job_args_free(args);
	if (*error == NULL && (job->view.project_id == NULL || job->view.branch_id == NULL))
		*error = "the tenant has no Neon project to restore";
	return *error == NULL && read_progress(job, progress_text, error);
}

/* Appends `, "key": "value"` when value is known. */
static void
append_known(StringInfo buf, const char *key, const char *value)
{
	if (value == NULL)
		return;
	appendStringInfo(buf, ", \"%s\": ", key);
	escape_json(buf, value);
}

/* What the job has learned, for jobs.progress. */
char *
restore_job_save_progress(Job *job)
{
	RestoreJob *r = restore_job(job);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"answered\": %s, \"restored\": %s, \"source_deleted\": %s",
					 r->answered ? "true" : "false", r->restored ? "true" : "false",
					 r->source_deleted ? "true" : "false");
	append_known(&buf, "preserved_id", r->preserved_id);
	append_known(&buf, "new_branch_id", r->new_branch_id);
	append_known(&buf, "endpoint_id", r->endpoint_id);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* Production's branch id now: a finalized snapshot restore changes it. */
const char *
restore_production_id(Job *job)
{
	RestoreJob *r = restore_job(job);

	return r->new_branch_id ? r->new_branch_id : job->view.branch_id;
}

/* The job is done: its result names production and the preserved branch. */
JobOutcome
restore_done(Job *job)
{
	RestoreJob *r = restore_job(job);
	JobOutcome	o = job_outcome(JOB_SUCCEEDED, NULL);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"restore_id\": %lld", r->restore_id);
	append_known(&buf, "branch_id", restore_production_id(job));
	append_known(&buf, "preserved_branch_id", r->preserved_id);
	appendStringInfoChar(&buf, '}');
	o.result_json = buf.data;
	return o;
}

/*
 * Reads {"branch", "operations"}, the answer of a restore, a rename or a
 * delete of a branch: its operations become pending, its branch id (the
 * one expected, when given) is returned in the job's memory. NULL, with
 * *refused, when the answer is not that.
 */
char *
restore_take_branch_answer(Job *job, HttpRequest *req, const char *expected_id, JobOutcome *refused)
{
	char	   *id = NULL;
	char	  **ops = NULL;
	int			n = 0;
	char	   *error = NULL;
	char	   *taken;

	if (!neon_parse_branch_answer(req->response, &id, &ops, &n, &error))
	{
		*refused = job_refused_answer(job, req, error);
		return NULL;
	}
	if (expected_id && strcmp(id, expected_id) != 0)
	{
		*refused = job_refused_answer(job, req, strdup(psprintf("branch.id is %s, not %s", id, expected_id)));
		free(id);
		neon_operation_ids_free(ops, n);
		return NULL;
	}
	taken = MemoryContextStrdup(job->cxt, id);
	free(id);
	opwait_add_pending(job, ops, n);
	return taken;
}

/* GET /projects/{id}/branches?search={preserve_under_name}. */
bool
restore_build_find_preserved(Job *job, const char **error)
{
	return job_set_call(job, "GET", KEY_TENANT_ORG,
						api_path("/projects/%s/branches?search=%s", job->view.project_id,
								 restore_job(job)->preserve_under_name),
						NULL, error);
}

/*
 * The branch named preserve_under_name: found, the call that names it
 * happened (its id is kept, and must be the one the kind expects when it
 * knows it already); not found, the call is made again, unless Neon
 * answered it, which would be a contradiction.
 */
JobOutcome
restore_handle_find_preserved(Job *job, HttpRequest *req)
{
	RestoreJob *r = restore_job(job);
	char	   *id = NULL;
	bool		settled;
	char	   *error = NULL;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_find_branch_by_name(req->response, r->preserve_under_name, restore_production_id(job), &id,
								  &settled, &error))
		return job_refused_answer(job, req, error);
	if (id == NULL && r->answered)
		return job_outcome(JOB_FAILED, psprintf("Neon answered the call, but has no branch named \"%s\"",
												r->preserve_under_name));
	if (id == NULL)
		return job_next_step(job, r->preserving_step);
	if (r->preserved_id && strcmp(id, r->preserved_id) != 0)
	{
		error = psprintf("branch \"%s\" is %s, not %s, the branch production left", r->preserve_under_name,
						 id, r->preserved_id);
		free(id);
		return job_outcome(JOB_FAILED, error);
	}
	r->preserved_id = MemoryContextStrdup(job->cxt, id);
	free(id);
	r->restored = true;
	return r->after_preserved ? job_next_step(job, r->after_preserved) : restore_done(job);
}

/* Production is restored: the restore, its branches and the tenant say so. */
void
restore_record_success(Job *job)
{
	RestoreJob *r = restore_job(job);

	restore_state_done(job->id, job->tenant, r->preserved_id, r->source_deleted, r->new_branch_id,
					   r->endpoint_id, NULL);
}

/*
 * The job failed: before production was restored, the restore did not
 * happen; after, it did, and only what came later (deleting the branch
 * restored from, renaming the one a snapshot restore left) is missing.
 */
void
restore_record_failure(Job *job, const char *error)
{
	RestoreJob *r = restore_job(job);

	if (r && r->restored && r->preserved_id)
		restore_state_done(job->id, job->tenant, r->preserved_id, r->source_deleted, r->new_branch_id,
						   r->endpoint_id, error);
	else
		restore_state_failed(job->id, job->tenant, error);
}
