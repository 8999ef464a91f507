/*
 * batch.c
 *		One call for several jobs.
 *
 * A job whose step has a JobBatch waits in its lane's parked list instead
 * of sending its own call. The worker sends the first parked job together
 * with every later one at the same step with the same key, up to the
 * step's max_jobs, once the group is full, or no more due jobs of the lane
 * are to be claimed now, or the first has waited BATCH_LINGER_SECONDS.
 * The answer is given to every job of the call (each its own copy), and
 * each goes on from it alone: its own outcome, its own audit row, its own
 * lookup if the answer was lost.
 */
#include "pg_prelude.h"

#include "engine/batch.h"

/* Whether the job's next call is one that several jobs may share. */
bool
batch_parks(const Job *job)
{
	return job->step->batch != NULL && !job->waiting_on_operation;
}

/* Whether `other` may share the call of `first`. */
static bool
same_batch(Job *first, Job *other)
{
	return other->step == first->step && !other->waiting_on_operation
		&& strcmp(first->step->batch->key(first), other->step->batch->key(other)) == 0;
}

/* Whether the first parked job's call should leave now. */
bool
batch_due(JobList *parked, bool more_may_come, double now)
{
	Job		   *first = parked->head;
	Job		   *job;
	int			n = 0;

	if (first == NULL)
		return false;
	if (!more_may_come || now - first->parked_at >= BATCH_LINGER_SECONDS)
		return true;
	for (job = first; job != NULL && n < first->step->batch->max_jobs; job = job->next)
		if (same_batch(first, job))
			n++;
	return n >= first->step->batch->max_jobs;
}

/*
 * Takes the first parked job and those that may share its call, builds
 * the one call into the first, and returns it with ->batch set (*taken:
 * how many jobs left the parked list). When the call cannot be built (the configuration lacks a key), every job of the
 * group goes to `refused` with that outcome instead, and NULL is returned.
 */
Job *
batch_gather(JobList *parked, JobList *refused, int *taken)
{
	Job		   *first = parked->head;
	const JobBatch *batch = first->step->batch;
	Job		  **jobs = MemoryContextAlloc(first->cxt, sizeof(Job *) * batch->max_jobs);
	JobList		rest = {0};
	Job		   *job;
	const char *error = NULL;
	int			n = 0;
	int			i;

	while ((job = list_pop(parked)) != NULL)
	{
		if (n < batch->max_jobs && same_batch(first, job))
			jobs[n++] = job;
		else
			list_push(&rest, job);
	}
	*parked = rest;
	*taken = n;

	first->config_missing = false;
	if (!batch->build(jobs, n, &error))
	{
		JobOutcome	o = job_outcome(first->config_missing ? JOB_WAIT_CONFIG : JOB_FAILED,
									MemoryContextStrdup(first->cxt, error));

		for (i = 0; i < n; i++)
		{
			jobs[i]->outcome = o;
			jobs[i]->unrecorded = true;
			list_push(refused, jobs[i]);
		}
		pfree(jobs);
		return NULL;
	}
	for (i = 1; i < n; i++)
	{
		http_request_free(jobs[i]->call);
		jobs[i]->call = NULL;
	}
	first->batch = jobs;
	first->n_batch = n;
	return first;
}

/*
 * Gives each job of an answered batched call the answer as its own (a
 * copy for all but the first), as if it had made the call itself.
 */
void
batch_share_answer(Job *carrier, HttpRequest *req)
{
	int			i;

	for (i = 0; i < carrier->n_batch; i++)
	{
		Job		   *job = carrier->batch[i];

		job->answer = i == 0 ? req : http_request_copy_result(req);
		if (job->answer == NULL)
			elog(ERROR, "neon_platform: out of memory");
		job->answer_path = MemoryContextStrdup(job->cxt, carrier->call_path);
		job->call_is_mutation = carrier->call_is_mutation;
		job->call = NULL;
	}
}
