/*
 * opwait.c
 *		Before a step mutates a project whose operations may still run,
 *		wait for them.
 *
 * Neon refuses (423) a mutation while a conflicting operation of the
 * project runs, and an operation can end badly. The ids of the operations a
 * mutation started are kept in tenants.pending_operations; a step marked
 * waits_for_operations first reads the project's latest operations, one
 * request for all of them (GET /projects/{id}/operations?limit=N, newest
 * first), every neon_platform.operation_poll_interval until none of ours
 * runs. finished and skipped let the job go on (the id leaves
 * pending_operations); failed, error and cancelled fail the job with Neon's
 * reason. An operation older than the page is polled by id
 * (GET /projects/{id}/operations/{operation_id}); one Neon no longer knows
 * (404, it deletes old ones) is over. Polls are not counted as attempts.
 *
 * Measured (test/t/016_apply_tier.pl, 10 tenants re-applied right after
 * provisioning, operations of 1.5 s, poll interval 1 s), requests per
 * tenant: polling each operation by id 7.0, reading the list 6.0, meeting
 * 423 and backing off 5.0. Once the operations have ended (a later
 * mutation), the list costs 1 read, 423 nothing, by id one per operation.
 * The list is the default because, unlike 423, it tells a failed
 * operation; operation_poll_interval = 0 chooses 423.
 */
#include "pg_prelude.h"

#include "engine/opwait.h"
#include "engine/settings.h"
#include "neon/neon_operations.h"

/* Operations read per poll of the list: enough to hold ours, within Neon's maximum. */
#define MIN_OPERATION_PAGE 10
#define MAX_OPERATION_PAGE 1000

/*
 * Whether the job's step must first wait for pending operations. With
 * operation_poll_interval = 0 nobody polls: a mutation meets a running
 * operation as a 423, retried with backoff. A batched call (a transfer of
 * up to 400 projects) waits only when its own job started operations: for
 * those left by earlier jobs, Neon's 423 to the one call is cheaper than a
 * read per project.
 */
bool
opwait_needed(Job *job)
{
	if (!job->step->waits_for_operations || job->view.n_pending_operations == 0
		|| job->view.project_id == NULL || neon_operation_poll_interval_ms <= 0)
		return false;
	return job->step->batch == NULL || job->started_operations;
}

/*
 * Adds the operations a mutation started (malloc'd ids, freed here) to the
 * tenant's pending ones, so the next mutation of the project waits for
 * them; the engine writes them to tenants.pending_operations.
 */
void
opwait_add_pending(Job *job, char **ids, int n)
{
	TenantView *v = &job->view;
	char	  **all = MemoryContextAlloc(job->cxt, sizeof(char *) * Max(v->n_pending_operations + n, 1));
	int			i;

	for (i = 0; i < v->n_pending_operations; i++)
		all[i] = v->pending_operations[i];
	for (i = 0; i < n && neon_operation_poll_interval_ms > 0; i++)
		all[v->n_pending_operations++] = MemoryContextStrdup(job->cxt, ids[i]);
	v->pending_operations = all;
	job->operations_changed = true;
	job->started_operations |= n > 0;
	neon_operation_ids_free(ids, n);
}

/* The call that reads the project's latest operations, or polls the first pending one by id. */
bool
opwait_build(Job *job, const char **error)
{
	TenantView *v = &job->view;
	int			limit = Min(MAX_OPERATION_PAGE, Max(MIN_OPERATION_PAGE, 4 * v->n_pending_operations));

	job->waiting_on_operation = true;
	if (job->operations_by_id)
		return job_set_call(job, "GET", KEY_TENANT_ORG,
							api_path("/projects/%s/operations/%s", v->project_id, v->pending_operations[0]),
							NULL, error);
	return job_set_call(job, "GET", KEY_TENANT_ORG,
						api_path("/projects/%s/operations?limit=%d", v->project_id, limit), NULL, error);
}

/* Forgets the pending operation at `i`: it has ended well. */
static void
forget_operation(Job *job, int i)
{
	TenantView *v = &job->view;

	memmove(&v->pending_operations[i], &v->pending_operations[i + 1],
			sizeof(char *) * (v->n_pending_operations - i - 1));
	v->n_pending_operations--;
	job->operations_changed = true;
}

/* Come back after the poll interval: an operation still runs (not an attempt). */
static JobOutcome
still_running(const NeonOperation *op)
{
	JobOutcome	o = job_retry_at(NULL, psprintf("waiting for Neon operation %s (%s) to end", op->id, op->action));

	o.retry_in = neon_operation_poll_interval_ms / 1000.0;
	o.not_an_attempt = true;
	return o;
}

/*
 * An operation ended badly: the job fails with Neon's reason, and the
 * operation (pending at `i`) is over, so no later job fails on it again.
 */
static JobOutcome
operation_failed(Job *job, const NeonOperation *op, int i)
{
	JobOutcome	o = job_outcome(JOB_FAILED,
								psprintf("Neon operation %s (%s) of project %s ended %s: %s", op->id, op->action,
										 job->view.project_id, neon_operation_status_name(op->status),
										 op->error ? op->error : "no reason given"));

	forget_operation(job, i);
	return o;
}

/*
 * What the list of the project's latest operations says of the pending
 * ones: go on when all ended well, wait while one runs, fail when one
 * failed; those older than the page are then polled by id.
 */
static JobOutcome
judge_operations(Job *job, NeonOperation *ops, int n)
{
	TenantView *v = &job->view;
	const NeonOperation *running = NULL;
	bool		older = false;
	int			i = 0;

	while (i < v->n_pending_operations)
	{
		const NeonOperation *op = NULL;
		int			k;

		for (k = 0; k < n && op == NULL; k++)
			if (strcmp(ops[k].id, v->pending_operations[i]) == 0)
				op = &ops[k];
		if (op == NULL)
			older = true;
		else if (neon_operation_outcome(op->status) == NEON_OUTCOME_FAILED)
			return operation_failed(job, op, i);
		else if (neon_operation_outcome(op->status) == NEON_OUTCOME_IN_PROGRESS)
			running = op;
		else
		{
			forget_operation(job, i);
			continue;
		}
		i++;
	}
	if (running)
		return still_running(running);
	job->operations_by_id = older;
	return job_build_call(job);
}

/* The answer of one poll of a single operation. */
static JobOutcome
judge_operation(Job *job, const NeonOperation *op)
{
	switch (neon_operation_outcome(op->status))
	{
		case NEON_OUTCOME_SUCCEEDED:
			forget_operation(job, 0);
			return job_build_call(job);
		case NEON_OUTCOME_IN_PROGRESS:
			return still_running(op);
		default:
			return operation_failed(job, op, 0);
	}
}

/* The answer of a poll (2xx or a 4xx): the list, or one operation. */
JobOutcome
opwait_handle(Job *job, HttpRequest *req)
{
	NeonOperation *ops = NULL;
	NeonOperation op = {0};
	int			n = 0;
	char	   *error = NULL;
	bool		parsed;
	JobOutcome	o;

	if (req->status == 404 && job->operations_by_id)
	{
		forget_operation(job, 0);
		return job_build_call(job);
	}
	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	parsed = job->operations_by_id ? neon_parse_operation(req->response, &op, &error)
		: neon_parse_operation_list(req->response, &ops, &n, &error);
	if (!parsed)
	{
		o = job_retry_at(NULL, psprintf("unreadable operations: %s", error));
		free(error);
		return o;
	}
	o = job->operations_by_id ? judge_operation(job, &op) : judge_operations(job, ops, n);
	neon_operation_free(&op);
	neon_operation_list_free(ops, n);
	return o;
}
