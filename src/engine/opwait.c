/*
 * opwait.c
 *		Before a step mutates a project whose operations may still run,
 *		wait for them.
 *
 * Neon refuses (423) a mutation while a conflicting operation of the
 * project runs, and an operation can end badly. The ids of the operations a
 * mutation started are kept in tenants.pending_operations; a step marked
 * waits_for_operations first polls each of them by id
 * (GET /projects/{id}/operations/{operation_id}) every
 * neon_platform.operation_poll_interval until it ends. finished and skipped
 * let the job go on (the id leaves pending_operations); failed, error and
 * cancelled fail the job with Neon's reason; an operation Neon no longer
 * knows (404, it deletes old ones) is over. A poll still running costs one
 * request per interval and is not counted as an attempt.
 */
#include "pg_prelude.h"

#include "engine/opwait.h"
#include "engine/settings.h"
#include "neon/neon_operations.h"

/* Whether the job's step must first wait for pending operations. */
bool
opwait_needed(Job *job)
{
	return job->step->waits_for_operations && job->view.n_pending_operations > 0
		&& job->view.project_id != NULL;
}

/* The call that polls the first pending operation. */
bool
opwait_build(Job *job, const char **error)
{
	job->waiting_on_operation = true;
	return job_set_call(job, "GET", KEY_TENANT_ORG,
						api_path("/projects/%s/operations/%s", job->view.project_id,
								 job->view.pending_operations[0]),
						NULL, error);
}

/* The first pending operation has ended well: forget it and go on. */
static JobOutcome
operation_over(Job *job)
{
	TenantView *v = &job->view;

	memmove(&v->pending_operations[0], &v->pending_operations[1],
			sizeof(char *) * (v->n_pending_operations - 1));
	v->n_pending_operations--;
	job->operations_changed = true;
	return job_build_call(job);
}

/* The answer of one operation poll (2xx or a 4xx). */
JobOutcome
opwait_handle(Job *job, HttpRequest *req)
{
	NeonOperation op = {0};
	char	   *error = NULL;
	JobOutcome	o;

	if (req->status == 404)
		return operation_over(job);
	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_parse_operation(req->response, &op, &error))
	{
		o = job_retry_at(NULL, psprintf("unreadable operation: %s", error));
		free(error);
		return o;
	}
	switch (neon_operation_outcome(op.status))
	{
		case NEON_OUTCOME_SUCCEEDED:
			o = operation_over(job);
			break;
		case NEON_OUTCOME_IN_PROGRESS:
			o = job_retry_at(NULL, psprintf("waiting for Neon operation %s (%s) to end", op.id, op.action));
			o.retry_in = neon_operation_poll_interval_ms / 1000.0;
			o.not_an_attempt = true;
			break;
		default:
			o = job_outcome(JOB_FAILED,
							psprintf("Neon operation %s (%s) of project %s ended %s: %s", op.id, op.action,
									 job->view.project_id, neon_operation_status_name(op.status),
									 op.error ? op.error : "no reason given"));
			break;
	}
	neon_operation_free(&op);
	return o;
}
