/*
 * branch_job.c
 *		The input of the branch kinds, the read of one branch, and what
 *		every branch mutation's answer gives: the branch's id and the
 *		operations to wait for.
 */
#include "pg_prelude.h"

#include "engine/version_state.h"
#include "engine/job_args.h"
#include "engine/opwait.h"
#include "kinds/branch_job.h"
#include "kinds/plan.h"
#include "neon/neon_branches.h"
#include "neon/neon_common.h"
#include "neon/neon_operations.h"

/* The kind's state of a job. */
BranchJob *
branch_job(Job *job)
{
	return (BranchJob *) job->state;
}

/* A string of the args in the job's memory: one the kind requires (else *error names it), or NULL when absent. */
static const char *
branch_arg(Job *job, JobArgs *args, const char *path, bool required, const char **error)
{
	return (required || job_args_string(args, path)) ? plan_string(job, args, path, error) : NULL;
}

/* Reads the compute settings of the branch's endpoint; false when one is missing. */
static bool
read_compute(JobArgs *args, BranchJob *b)
{
	double		suspend = 0;

	if (!job_args_number(args, "autoscaling_min_cu", &b->autoscaling_min_cu)
		|| !job_args_number(args, "autoscaling_max_cu", &b->autoscaling_max_cu)
		|| !job_args_number(args, "suspend_timeout_seconds", &suspend))
		return false;
	b->suspend_timeout_seconds = (int) suspend;
	return true;
}

/*
 * Reads jobs.args, written by the SQL function that enqueued the job: the
 * branch's name always, and the members the kind `required`.
 */
bool
branch_job_load(Job *job, const char *args_text, int required, const char **error)
{
	BranchJob  *b = MemoryContextAllocZero(job->cxt, sizeof(BranchJob));
	JobArgs    *args = job_args_parse(args_text, error);

	if (args == NULL)
		return false;
	*error = NULL;
	job->state = b;
	b->name = branch_arg(job, args, "name", true, error);
	b->branch_id = branch_arg(job, args, "branch_id", (required & BRANCH_ARG_ID) != 0, error);
	b->parent_branch_id = branch_arg(job, args, "parent_branch_id", (required & BRANCH_ARG_PARENT) != 0, error);
	b->at = branch_arg(job, args, "at", false, error);
	if ((required & BRANCH_ARG_COMPUTE) && !read_compute(args, b))
		*error = "args lack the compute settings (autoscaling_min_cu, autoscaling_max_cu, suspend_timeout_seconds)";
	job_args_free(args);
	if (*error == NULL && job->view.project_id == NULL)
		*error = "the tenant has no Neon project";
	return *error == NULL;
}

/* GET /projects/{id}/branches/{branch_id}: is the branch there, once its operations ended? */
bool
branch_build_get(Job *job, const char **error)
{
	return job_set_call(job, "GET", KEY_TENANT_ORG,
						api_path("/projects/%s/branches/%s", job->view.project_id, branch_job(job)->branch_id),
						NULL, error);
}

/*
 * Takes an answer about the branch ({"branch", "operations"}): the branch
 * id, when the job does not know it yet (a create), else it must be the
 * job's; its operations become pending, so the next step waits for them.
 * false, with *refused set, when the answer is not taken.
 */
bool
branch_take_answer(Job *job, HttpRequest *req, JobOutcome *refused)
{
	BranchJob  *b = branch_job(job);
	char	   *id = NULL;
	char	  **ops = NULL;
	int			n = 0;
	char	   *error = NULL;

	if (!neon_parse_branch_answer(req->response, &id, &ops, &n, &error))
	{
		*refused = job_refused_answer(job, req, error);
		return false;
	}
	if (b->branch_id && strcmp(id, b->branch_id) != 0)
	{
		*refused = job_refused_answer(job, req, neon_format("branch.id %s is not branch %s", id, b->branch_id));
		free(id);
		neon_operation_ids_free(ops, n);
		return false;
	}
	if (b->branch_id == NULL)
		b->branch_id = MemoryContextStrdup(job->cxt, id);
	free(id);
	opwait_add_pending(job, ops, n);
	return true;
}

/* The job is done: the branch it acted on. */
JobOutcome
branch_done(Job *job)
{
	JobOutcome	o = job_outcome(JOB_SUCCEEDED, NULL);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"branch_id\": ");
	escape_json(&buf, branch_job(job)->branch_id);
	appendStringInfoChar(&buf, '}');
	o.result_json = buf.data;
	return o;
}

/*
 * A job on the branch ended: its row, if still `while_state`, goes to
 * `new_state`, with the reason of a failure (NULL on success). Nothing
 * when the job's input could not even name the branch.
 */
void
branch_job_ended(Job *job, const char *while_state, const char *new_state, const char *error)
{
	BranchJob  *b = branch_job(job);

	if (b && b->name)
		branch_state_ended(job->tenant, b->name, while_state, new_state, error);
}
