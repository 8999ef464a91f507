/*
 * downgrade_check.h
 *		The fresh check before a tenant moves from the paid to the free
 *		organization (downgrade_check.c), steps of change_tier.
 */
#ifndef NEON_PLATFORM_DOWNGRADE_CHECK_H
#define NEON_PLATFORM_DOWNGRADE_CHECK_H

#include "engine/job.h"

#define DOWNGRADE_STEP_USAGE "read_usage"
#define DOWNGRADE_STEP_BRANCHES "read_branches"
#define DOWNGRADE_STEP_SNAPSHOTS "read_snapshots"

extern bool downgrade_build_usage(Job *job, const char **error);
extern JobOutcome downgrade_handle_usage(Job *job, HttpRequest *req);
extern bool downgrade_build_branches(Job *job, const char **error);
extern JobOutcome downgrade_handle_branches(Job *job, HttpRequest *req);
extern bool downgrade_build_snapshots(Job *job, const char **error);
extern JobOutcome downgrade_handle_snapshots(Job *job, HttpRequest *req);

/* The three reads, as entries of a kind's step table. */
#define DOWNGRADE_CHECK_STEPS \
	{.name = DOWNGRADE_STEP_USAGE, .build = downgrade_build_usage, .handle = downgrade_handle_usage}, \
	{.name = DOWNGRADE_STEP_BRANCHES, .build = downgrade_build_branches, .handle = downgrade_handle_branches}, \
	{.name = DOWNGRADE_STEP_SNAPSHOTS, .build = downgrade_build_snapshots, .handle = downgrade_handle_snapshots}

#endif							/* NEON_PLATFORM_DOWNGRADE_CHECK_H */
