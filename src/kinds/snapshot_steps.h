/*
 * snapshot_steps.h
 *		The steps that take a snapshot of the production branch and delete
 *		one (snapshot_steps.c), for the kinds snapshot, delete_snapshot and
 *		deprovision (its final snapshot).
 */
#ifndef NEON_PLATFORM_SNAPSHOT_STEPS_H
#define NEON_PLATFORM_SNAPSHOT_STEPS_H

#include "engine/job.h"

#define SNAPSHOT_STEP_TAKE "take_snapshot"
#define SNAPSHOT_STEP_FIND "find_snapshot"

/* The state of a job of the three kinds. */
typedef struct SnapshotJob
{
	const char *name;			/* the snapshot to take or delete (NULL: none to take) */
	const char *expires_at;		/* when Neon deletes it by itself (NULL: never) */
	const char *replace_name;	/* the snapshot deleted before this one is taken */
	const char *delete_id;		/* the snapshot to delete: the replaced or the expired one */
	bool		deleted;		/* Neon took the DELETE of delete_id, or had it no more */
	const char *snapshot_id;	/* the snapshot taken, once Neon answered or listed it */
	const char *then;			/* the kind's step once it is taken; NULL: confirm it, then done */
} SnapshotJob;

extern SnapshotJob *snapshot_job(Job *job);
extern bool snapshot_job_load(Job *job, const char *name_key, const char *then, const char *args,
							  const char *progress, const char **error);
extern char *snapshot_job_save_progress(Job *job);

extern bool snapshot_build_take(Job *job, const char **error);
extern JobOutcome snapshot_handle_take(Job *job, HttpRequest *req);
extern bool snapshot_build_find(Job *job, const char **error);
extern JobOutcome snapshot_handle_find(Job *job, HttpRequest *req);
extern bool snapshot_read_listed(Job *job, HttpRequest *req, const char *snapshot_id, bool *listed,
								 JobOutcome *failed);

extern bool snapshot_build_delete(Job *job, const char **error);
extern bool snapshot_delete_answered(Job *job, HttpRequest *req, JobOutcome *failed);

/*
 * The two steps that take the snapshot, as entries of a kind's step table:
 * the create waits for the project's pending operations; the list, which
 * looks a lost create up by name or confirms an answered one by id, waits
 * for the create's own operation.
 */
#define SNAPSHOT_TAKE_STEPS \
	{.name = SNAPSHOT_STEP_TAKE, .mutation = true, .lookup_step = SNAPSHOT_STEP_FIND, \
	.waits_for_operations = true, .build = snapshot_build_take, .handle = snapshot_handle_take}, \
	{.name = SNAPSHOT_STEP_FIND, .waits_for_operations = true, \
	.build = snapshot_build_find, .handle = snapshot_handle_find}

#endif							/* NEON_PLATFORM_SNAPSHOT_STEPS_H */
