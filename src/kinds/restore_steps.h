/*
 * restore_steps.h
 *		What the kinds restore and restore_snapshot share
 *		(restore_steps.c): the job's state, its input and progress, the
 *		step that finds the branch keeping the replaced state by its name,
 *		and the recording of the outcome.
 */
#ifndef NEON_PLATFORM_RESTORE_STEPS_H
#define NEON_PLATFORM_RESTORE_STEPS_H

#include "engine/job.h"

#define RESTORE_STEP_FIND_PRESERVED "find_preserved"

typedef enum RestoreMode
{
	RESTORE_POINT_IN_TIME,		/* production from its own history */
	RESTORE_UNDO,				/* production from the backup of its last restore */
	RESTORE_REDO,				/* production from the redo branch of its last undo */
	RESTORE_SNAPSHOT			/* a finalized snapshot restore into production */
} RestoreMode;

/* The state of a job of either kind. */
typedef struct RestoreJob
{
	RestoreMode mode;
	long long	restore_id;
	const char *preserve_under_name;	/* the name that keeps production's replaced state */
	const char *to_time;		/* point_in_time */
	const char *source_branch_id;	/* undo, redo: the branch production is restored from */
	const char *snapshot_id;	/* snapshot */
	const char *preserving_step;	/* the kind's call that gives the preserved branch its name */
	const char *after_preserved;	/* the kind's step once it is found; NULL: done */
	bool		answered;		/* Neon answered the preserving call: a name not found is an error */
	bool		restored;		/* production has the restored state */
	bool		source_deleted; /* the branch restored from is gone */
	char	   *preserved_id;	/* the branch keeping the replaced state, once known */
	char	   *new_branch_id;	/* snapshot: production's id after the restore */
	char	   *endpoint_id;	/* snapshot: production's read-write endpoint after it */
} RestoreJob;

extern RestoreJob *restore_job(Job *job);
extern bool restore_job_load(Job *job, const char *args, const char *progress, const char **mode,
							 const char **error);
extern char *restore_job_save_progress(Job *job);
extern const char *restore_production_id(Job *job);
extern JobOutcome restore_done(Job *job);
extern char *restore_take_branch_answer(Job *job, HttpRequest *req, const char *expected_id,
										JobOutcome *refused);
extern void restore_record_success(Job *job);
extern void restore_record_failure(Job *job, const char *error);

extern bool restore_build_find_preserved(Job *job, const char **error);
extern JobOutcome restore_handle_find_preserved(Job *job, HttpRequest *req);

/*
 * Finds the branch named preserve_under_name, as an entry of a kind's step
 * table: after an answered restore it waits for the restore's operations
 * and learns the branch's id; after a lost answer (or a 409) it tells
 * whether the call happened.
 */
#define RESTORE_FIND_PRESERVED_STEP \
	{.name = RESTORE_STEP_FIND_PRESERVED, .waits_for_operations = true, \
	.build = restore_build_find_preserved, .handle = restore_handle_find_preserved}

#endif							/* NEON_PLATFORM_RESTORE_STEPS_H */
