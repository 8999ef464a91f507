/*
 * restore_state.h
 *		Every write of the worker to neon_platform.restores and to the
 *		backup and redo branches restores make or consume
 *		(restore_state.c).
 */
#ifndef NEON_PLATFORM_RESTORE_STATE_H
#define NEON_PLATFORM_RESTORE_STATE_H

extern void restore_state_done(int64 job_id, const char *tenant, const char *preserved_branch_id,
							   bool source_deleted, const char *branch_id, const char *endpoint_id,
							   const char *error);
extern void restore_state_failed(int64 job_id, const char *tenant, const char *error);

#endif							/* NEON_PLATFORM_RESTORE_STATE_H */
