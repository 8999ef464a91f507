/*
 * branch_job.h
 *		What the kinds that act on one branch of a tenant's project share
 *		(branch_job.c): create_branch, reset_branch, delete_branch and
 *		expire_branch.
 */
#ifndef NEON_PLATFORM_BRANCH_JOB_H
#define NEON_PLATFORM_BRANCH_JOB_H

#include "engine/job.h"

/* Which members of jobs.args a kind requires, besides "name". */
#define BRANCH_ARG_ID		0x01	/* "branch_id": the branch acted on */
#define BRANCH_ARG_PARENT	0x02	/* "parent_branch_id" */
#define BRANCH_ARG_COMPUTE	0x04	/* "autoscaling_min_cu", "autoscaling_max_cu", "suspend_timeout_seconds" */

typedef struct BranchJob
{
	const char *name;			/* neon_platform.branches.name, and the branch's name at Neon */
	const char *branch_id;		/* from args, or (create) once Neon named it */
	const char *parent_branch_id;
	const char *at;				/* create: the parent's point in time; NULL: its head */
	double		autoscaling_min_cu;
	double		autoscaling_max_cu;
	int			suspend_timeout_seconds;
	bool		name_taken;		/* create: Neon answered 409 */
	const char *endpoint_id;	/* create: the branch's compute, once read */
	const char *host;
	const char *pooler_host;
} BranchJob;

extern BranchJob *branch_job(Job *job);
extern bool branch_job_load(Job *job, const char *args, int required, const char **error);
extern bool branch_build_get(Job *job, const char **error);
extern bool branch_take_answer(Job *job, HttpRequest *req, JobOutcome *refused);
extern JobOutcome branch_done(Job *job);
extern void branch_job_ended(Job *job, const char *while_state, const char *new_state, const char *error);

#endif							/* NEON_PLATFORM_BRANCH_JOB_H */
