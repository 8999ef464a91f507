/*
 * apply_tier.c
 *		The apply_tier job: gives a tenant's project the plan of its tier
 *		again, after the tier's definition changed (background lane).
 *
 * Input (jobs.args, written by the trigger on neon_platform.tiers):
 *   {"tier": "pro", "plan": {the tier's row after the change},
 *    "from_plan": {the row before}}
 *
 * Steps and cost: those of tier_steps.c (1 request per tenant when only
 * quotas or the restore window changed; 2 plus 1 per endpoint whose
 * settings differ when compute settings changed).
 */
#include "pg_prelude.h"

#include "engine/tenant_state.h"
#include "kinds/kinds.h"
#include "kinds/tier_steps.h"

/* Reads the plan; a tenant without a project has nothing to apply it to. */
static bool
apply_tier_load(Job *job, const char *args, const char *progress, const char **error)
{
	if (job->view.project_id == NULL)
	{
		*error = "the tenant has no Neon project to apply its tier to";
		return false;
	}
	return tier_job_load(job, args, progress, error);
}

/*
 * A failed re-apply leaves the tenant as it is (still usable), with the
 * reason; one without a project keeps the reason it has none.
 */
static void
apply_tier_record_failure(Job *job, const char *error)
{
	if (job->view.project_id)
		tenant_state_note_error(job->tenant, error);
}

static const JobStep apply_tier_steps[] = {
	TIER_SETTINGS_STEPS,
	{.name = NULL}
};

const JobKind apply_tier_kind = {
	.name = "apply_tier",
	.lane = LANE_BACKGROUND,
	.needs_tenant = true,
	.steps = apply_tier_steps,
	.load = apply_tier_load,
	.save_progress = tier_job_save_progress,
	.record_failure = apply_tier_record_failure,
	.release = tier_job_release,
};
