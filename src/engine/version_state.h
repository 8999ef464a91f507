/*
 * version_state.h
 *		Every write of the worker to neon_platform.branches and
 *		neon_platform.snapshots (version_state.c).
 */
#ifndef NEON_PLATFORM_VERSION_STATE_H
#define NEON_PLATFORM_VERSION_STATE_H

extern void branch_state_ready(const char *tenant, const char *name, const char *branch_id,
							   const char *endpoint_id, const char *host, const char *pooler_host);
extern void branch_state_ended(const char *tenant, const char *name, const char *while_state,
							   const char *new_state, const char *error);
extern void snapshot_state_ready(const char *tenant, const char *name, const char *snapshot_id);
extern void snapshot_state_ended(const char *tenant, const char *name, const char *while_state,
								 const char *new_state, const char *error);

#endif							/* NEON_PLATFORM_VERSION_STATE_H */
