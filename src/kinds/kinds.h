/*
 * kinds.h
 *		Every job kind, one file each under src/kinds/, listed in
 *		src/engine/registry.c.
 */
#ifndef NEON_PLATFORM_KINDS_H
#define NEON_PLATFORM_KINDS_H

#include "engine/job.h"

extern const JobKind provision_kind;
extern const JobKind apply_tier_kind;
extern const JobKind change_tier_kind;
extern const JobKind deprovision_kind;
extern const JobKind claim_kind;
extern const JobKind create_branch_kind;
extern const JobKind reset_branch_kind;
extern const JobKind delete_branch_kind;
extern const JobKind expire_branch_kind;
extern const JobKind snapshot_kind;
extern const JobKind delete_snapshot_kind;
extern const JobKind restore_kind;
extern const JobKind restore_snapshot_kind;
extern const JobKind usage_sweep_kind;
extern const JobKind read_usage_kind;
extern const JobKind delete_stray_kind;
extern const JobKind run_sql_kind;

#endif							/* NEON_PLATFORM_KINDS_H */
