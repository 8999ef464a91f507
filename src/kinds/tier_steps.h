/*
 * tier_steps.h
 *		The steps that give a project a tier's plan (tier_steps.c), for the
 *		kinds apply_tier and change_tier.
 */
#ifndef NEON_PLATFORM_TIER_STEPS_H
#define NEON_PLATFORM_TIER_STEPS_H

#include "engine/job.h"
#include "neon/neon_projects.h"
#include "neon/neon_usage.h"

#define TIER_STEP_UPDATE_PROJECT "update_project"
#define TIER_STEP_ENDPOINTS "fetch_endpoints"
#define TIER_STEP_UPDATE_ENDPOINT "update_endpoint"

/* Longest list of endpoints to patch kept in jobs.progress. */
#define TIER_MAX_ENDPOINTS 64

typedef struct TierJob
{
	NeonProjectSpec spec;
	long long	max_branches;	/* the plan's limits, for a downgrade's check */
	long long	max_snapshots;
	const char *tier;
	const char *from_organization;	/* with change_tier across organizations */
	const char *to_organization;
	bool		transferred;	/* the project is in to_organization now */
	bool		keeps_compute;	/* the endpoints have the plan's compute settings already */
	const char *after_endpoints;	/* the step after the endpoints (NULL: the job is done) */
	bool		downgrade;		/* paid to free: checked and shrunk before the transfer */
	bool		force;			/* moved even if the usage does not fit */
	NeonUsage	usage;			/* what the check read (period_start NULL: nothing yet) */
	char	   *endpoints[TIER_MAX_ENDPOINTS];	/* still to patch, in the job's memory */
	int			n_endpoints;
	int			patched;
} TierJob;

extern TierJob *tier_job(Job *job);
extern bool tier_job_load(Job *job, const char *args, const char *progress, const char **error);
extern char *tier_job_save_progress(Job *job);
extern void tier_job_release(Job *job);

extern JobOutcome tier_to_endpoints(Job *job);

extern bool tier_build_update_project(Job *job, const char **error);
extern JobOutcome tier_handle_update_project(Job *job, HttpRequest *req);
extern bool tier_build_endpoints(Job *job, const char **error);
extern JobOutcome tier_handle_endpoints(Job *job, HttpRequest *req);
extern bool tier_build_update_endpoint(Job *job, const char **error);
extern JobOutcome tier_handle_update_endpoint(Job *job, HttpRequest *req);

/* The three steps, as entries of a kind's step table. */
#define TIER_SETTINGS_STEPS \
	{.name = TIER_STEP_UPDATE_PROJECT, .mutation = true, .lookup_step = TIER_STEP_UPDATE_PROJECT, \
	.waits_for_operations = true, .build = tier_build_update_project, .handle = tier_handle_update_project}, \
	{.name = TIER_STEP_ENDPOINTS, .build = tier_build_endpoints, .handle = tier_handle_endpoints}, \
	{.name = TIER_STEP_UPDATE_ENDPOINT, .mutation = true, .lookup_step = TIER_STEP_UPDATE_ENDPOINT, \
	.waits_for_operations = true, .build = tier_build_update_endpoint, .handle = tier_handle_update_endpoint}

#endif							/* NEON_PLATFORM_TIER_STEPS_H */
