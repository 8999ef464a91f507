/*
 * tenant_state.h
 *		Every write of the worker to neon_platform.tenants and
 *		neon_platform.tenant_secrets, and the read of a tenant's connection
 *		(tenant_state.c).
 */
#ifndef NEON_PLATFORM_TENANT_STATE_H
#define NEON_PLATFORM_TENANT_STATE_H

#include "neon/neon_projects.h"
#include "neon/neon_usage.h"

extern void tenant_state_lock(const char *tenant);
extern void tenant_state_project(const char *tenant, const NeonProject *project, const char *org_id, bool ready);
extern void tenant_state_bootstrapped(const char *tenant);
extern char *tenant_state_sql_conninfo(const char *tenant, const char *branch_id);
extern void tenant_state_job_failed(const char *tenant, const char *while_state, const char *new_state,
									const char *error);
extern void tenant_state_note_error(const char *tenant, const char *error);
extern void tenant_state_tier_changed(const char *tenant, const char *tier, const char *organization,
									  const char *org_id);
extern void tenant_state_tier_unchanged(const char *tenant, const char *organization, const char *org_id,
										const char *error);
extern void tenant_state_deleted(const char *tenant, const char *final_snapshot_id);
extern void tenant_state_set_pending_operations(const char *tenant, char **ids, int n);
extern void tenant_state_claim_link(const char *tenant, const char *url, const char *expires_at);
extern void tenant_state_claimed(const char *tenant, const char *error);
extern void tenant_state_usage_read(const char *tenant, const NeonUsage *usage);
extern void tenant_state_restore_ended(const char *tenant, const char *branch_id, const char *endpoint_id,
									   const char *error);

#endif							/* NEON_PLATFORM_TENANT_STATE_H */
