/*
 * registry.c
 *		The table of job kinds: a new kind is a file in src/kinds/ and a
 *		line here.
 */
#include "pg_prelude.h"

#include "engine/job.h"
#include "kinds/kinds.h"

static const JobKind *const kinds[] = {
	&provision_kind,
	&apply_tier_kind,
	&change_tier_kind,
	&deprovision_kind,
	&claim_kind,
	&create_branch_kind,
	&reset_branch_kind,
	&delete_branch_kind,
	&expire_branch_kind,
	&snapshot_kind,
	&delete_snapshot_kind,
	&restore_kind,
	&restore_snapshot_kind,
	&usage_sweep_kind,
	&read_usage_kind,
	&delete_stray_kind,
	&run_sql_kind,
};

/* The kind named `name`, or NULL (a kind this version does not know). */
const JobKind *
job_kind_by_name(const char *name)
{
	size_t		i;

	for (i = 0; i < lengthof(kinds); i++)
		if (strcmp(kinds[i]->name, name) == 0)
			return kinds[i];
	return NULL;
}

/*
 * The call of a step its kind does not have: the job fails with the
 * reason, rather than every pass of the worker that claims it.
 */
static bool
unknown_step_build(Job *job, const char **error)
{
	*error = psprintf("job kind \"%s\" has no step named like jobs.step (changed by hand, or left by another version of neon_platform)",
					  job->kind->name);
	return false;
}

/* What a step name its kind does not have resolves to: a read step whose call cannot be built. */
static const JobStep unknown_step = {.name = "unknown", .build = unknown_step_build};

/*
 * The step of `kind` named `name`; NULL names the first step. A name the
 * kind does not have (a jobs.step edited by hand, or saved by another
 * version) gives a step that fails its job, and is logged.
 */
const JobStep *
job_step_by_name(const JobKind *kind, const char *name)
{
	const JobStep *step;

	if (name == NULL)
		return &kind->steps[0];
	for (step = kind->steps; step->name != NULL; step++)
		if (strcmp(step->name, name) == 0)
			return step;
	ereport(LOG, (errmsg("neon_platform: job kind \"%s\" has no step \"%s\"", kind->name, name)));
	return &unknown_step;
}

/* The names of the kinds of one lane, as a text[] for the claim query. */
Datum
job_kinds_of_lane(JobLane lane)
{
	Datum		names[lengthof(kinds)];
	int			n = 0;
	size_t		i;

	for (i = 0; i < lengthof(kinds); i++)
		if (kinds[i]->lane == lane)
			names[n++] = CStringGetTextDatum(kinds[i]->name);
	return PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
}
