/*
 * plan.c
 *		A tier's plan as the SQL functions put it in jobs.args:
 *		{"tier": "pro", "plan": {the tier's row: organization, quotas, ...}}.
 */
#include "pg_prelude.h"

#include "kinds/plan.h"

/* A string of the args, copied into the job's memory; NULL (and *missing set) when absent. */
const char *
plan_string(Job *job, JobArgs *args, const char *path, const char **missing)
{
	const char *value = job_args_string(args, path);

	if (value == NULL)
	{
		*missing = psprintf("args.%s is missing", path);
		return NULL;
	}
	return MemoryContextStrdup(job->cxt, value);
}

/* A number of the args; 0 (and *missing set) when absent. */
static double
plan_number(JobArgs *args, const char *path, const char **missing)
{
	double		value = 0;

	if (!job_args_number(args, path, &value))
		*missing = psprintf("args.%s is missing", path);
	return value;
}

/* Fills the project spec's plan fields (region, version, quotas, compute) from args.plan. */
void
plan_read_spec(Job *job, JobArgs *args, NeonProjectSpec *spec, const char **missing)
{
	spec->region_id = plan_string(job, args, "plan.region_id", missing);
	spec->pg_version = (int) plan_number(args, "plan.pg_version", missing);
	spec->history_retention_seconds = (long long) plan_number(args, "plan.restore_window_seconds", missing);
	spec->autoscaling_min_cu = plan_number(args, "plan.autoscaling_min_cu", missing);
	spec->autoscaling_max_cu = plan_number(args, "plan.autoscaling_max_cu", missing);
	spec->suspend_timeout_seconds = (int) plan_number(args, "plan.suspend_timeout_seconds", missing);
	spec->active_time_seconds = (long long) plan_number(args, "plan.active_time_seconds", missing);
	spec->compute_time_seconds = (long long) plan_number(args, "plan.compute_time_seconds", missing);
	spec->written_data_bytes = (long long) plan_number(args, "plan.written_data_bytes", missing);
	spec->data_transfer_bytes = (long long) plan_number(args, "plan.data_transfer_bytes", missing);
	spec->logical_size_bytes = (long long) plan_number(args, "plan.logical_size_bytes", missing);
}

/*
 * Whether args.from_plan (the tier the tenant leaves, or the tier's row
 * before it changed) has the compute settings of args.plan: its endpoints
 * already have them, and reading them would be a request for nothing.
 */
bool
plan_keeps_compute(JobArgs *args)
{
	static const char *const fields[] = {"autoscaling_min_cu", "autoscaling_max_cu", "suspend_timeout_seconds"};
	size_t		i;

	for (i = 0; i < lengthof(fields); i++)
	{
		double		before;
		double		after;

		if (!job_args_number(args, psprintf("from_plan.%s", fields[i]), &before)
			|| !job_args_number(args, psprintf("plan.%s", fields[i]), &after) || before != after)
			return false;
	}
	return true;
}
