/*
 * neon_usage.c
 *		Reading what a project uses: for the check before a downgrade, a
 *		tenant's detail read, and the pages of a usage sweep.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neon/json_prelude.h"
#include "neon/neon_common.h"
#include "neon/neon_usage.h"

/* Reads {"project": {"consumption_period_start": ..., "active_time_seconds": ..., ...}}. */
bool
neon_parse_project_usage(const char *body, NeonUsage *usage, char **error)
{
	json_object *root;
	json_object *project;
	bool		parsed;

	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	project = neon_object_member(root, "project");
	free(usage->period_start);
	free(usage->period_end);
	usage->period_start = usage->period_end = NULL;
	parsed = neon_take_member("project", project, "consumption_period_start", NEON_VALUE_TIMESTAMP, true,
							  &usage->period_start, error)
		&& neon_take_member("project", project, "consumption_period_end", NEON_VALUE_TIMESTAMP, false,
							&usage->period_end, error)
		&& neon_take_count("project", project, "active_time_seconds", &usage->active_time_seconds, error)
		&& neon_take_count("project", project, "compute_time_seconds", &usage->compute_time_seconds, error)
		&& neon_take_count("project", project, "written_data_bytes", &usage->written_data_bytes, error)
		&& neon_take_count("project", project, "data_transfer_bytes", &usage->data_transfer_bytes, error);
	json_object_put(root);
	return parsed;
}

/* Reads {"branches": [{"logical_size": ...}, ...]}; a branch without a size (not yet computed) counts as 0. */
bool
neon_parse_branch_usage(const char *body, NeonUsage *usage, char **error)
{
	json_object *root;
	json_object *list;
	size_t		i;
	bool		parsed = true;

	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	if ((list = neon_array_member(root, "branches")) == NULL)
	{
		json_object_put(root);
		*error = strdup("branch list lacks branches");
		return false;
	}
	usage->branches = (long long) json_object_array_length(list);
	usage->logical_size_bytes = 0;
	for (i = 0; i < json_object_array_length(list) && parsed; i++)
	{
		json_object *b = json_object_array_get_idx(list, i);
		long long	size = 0;

		if (json_object_object_get_ex(b, "logical_size", NULL))
			parsed = neon_take_count("branches[]", b, "logical_size", &size, error);
		if (size > usage->logical_size_bytes)
			usage->logical_size_bytes = size;
	}
	json_object_put(root);
	return parsed;
}

/* Reads {"snapshots": [...]}. */
bool
neon_parse_snapshot_count(const char *body, NeonUsage *usage, char **error)
{
	json_object *root;
	json_object *list;

	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	if ((list = neon_array_member(root, "snapshots")) == NULL)
	{
		json_object_put(root);
		*error = strdup("snapshot list lacks snapshots");
		return false;
	}
	usage->snapshots = (long long) json_object_array_length(list);
	json_object_put(root);
	return true;
}

/* Frees the strings of a usage reading. */
void
neon_usage_free(NeonUsage *usage)
{
	free(usage->period_start);
	free(usage->period_end);
	usage->period_start = usage->period_end = NULL;
}

/*
 * Room for the "where" an error names, each size holding the one above it
 * and what a level adds (a member name, "[N]" with N up to 20 digits).
 */
#define WHERE_ITEM		48		/* projects[N] */
#define WHERE_MEMBER	80		/* projects[N].default_endpoint_settings, projects[N].periods[N] */
#define WHERE_NESTED	120		/* projects[N].settings.quota, projects[N].periods[N].consumption[N] */
#define WHERE_METRIC	160		/* projects[N].periods[N].consumption[N].metrics[N] */

/* Compute sizes a project's defaults may hold (ComputeUnit: 0.25 up to the 56 CU of a fixed size). */
#define CU_MIN		0.25
#define CU_MAX		56.0

/* suspend_timeout_seconds: -1 (never) to a week. */
#define SUSPEND_MIN (-1)
#define SUSPEND_MAX 604800

/* The member `key` of `obj` unless it is absent or null, which Neon uses alike for "not set". */
static json_object *
present_member(json_object *obj, const char *key)
{
	json_object *value;

	if (!json_object_is_type(obj, json_type_object) || !json_object_object_get_ex(obj, key, &value))
		return NULL;
	return value;
}

/*
 * The object member `key` of `obj` into *out (NULL when absent or null);
 * a member of another type is refused, as "where.key".
 */
static bool
take_optional_object(const char *where, json_object *obj, const char *key, json_object **out, char **error)
{
	*out = present_member(obj, key);
	if (*out == NULL || json_object_is_type(*out, json_type_object))
		return true;
	*error = neon_format("%s.%s is not an object", where, key);
	*out = NULL;
	return false;
}

/* settings.quota: each of the five counts, 0 (unlimited) when quota or the count is absent. */
static bool
take_quota(const char *where, json_object *settings, NeonListedSettings *out, char **error)
{
	static const char *const keys[] = {"active_time_seconds", "compute_time_seconds", "written_data_bytes",
	"data_transfer_bytes", "logical_size_bytes"};
	long long  *const counts[] = {&out->active_time_seconds, &out->compute_time_seconds,
	&out->written_data_bytes, &out->data_transfer_bytes, &out->logical_size_bytes};
	json_object *quota;
	char		quota_where[WHERE_NESTED];

	if (!take_optional_object(where, settings, "quota", &quota, error))
		return false;
	snprintf(quota_where, sizeof(quota_where), "%s.quota", where);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
	{
		*counts[i] = 0;
		if (present_member(quota, keys[i]) && !neon_take_count(quota_where, quota, keys[i], counts[i], error))
			return false;
	}
	return true;
}

/*
 * An autoscaling limit of default_endpoint_settings: -1 when absent, null
 * or 0 (list items showed 0/0 CU in 2024 where GET showed 0.25: 0 is the
 * list giving no value), else a number of compute units in range.
 */
static bool
take_compute_units(const char *where, json_object *des, const char *key, double *out, char **error)
{
	json_object *node = present_member(des, key);
	double		cu;

	*out = -1;
	if (node == NULL)
		return true;
	cu = json_object_get_double(node);
	if ((json_object_is_type(node, json_type_int) || json_object_is_type(node, json_type_double))
		&& (cu == 0 || (cu >= CU_MIN && cu <= CU_MAX)))
	{
		if (cu != 0)
			*out = cu;
		return true;
	}
	*error = neon_format("%s.%s is not a number of compute units from %g to %g", where, key, CU_MIN, CU_MAX);
	return false;
}

/* default_endpoint_settings.suspend_timeout_seconds: -2 when absent or null, else an integer in range. */
static bool
take_suspend_timeout(const char *where, json_object *des, long long *out, char **error)
{
	json_object *node = present_member(des, "suspend_timeout_seconds");

	*out = -2;
	if (node == NULL)
		return true;
	if (json_object_is_type(node, json_type_int) && json_object_get_int64(node) >= SUSPEND_MIN
		&& json_object_get_int64(node) <= SUSPEND_MAX)
	{
		*out = (long long) json_object_get_int64(node);
		return true;
	}
	*error = neon_format("%s.suspend_timeout_seconds is not an integer from %d to %d", where, SUSPEND_MIN,
						 SUSPEND_MAX);
	return false;
}

/* The settings a list item shows: settings.quota and default_endpoint_settings, each optional. */
static bool
take_listed_settings(const char *where, json_object *item, NeonListedSettings *out, char **error)
{
	json_object *settings;
	json_object *des;
	char		settings_where[WHERE_MEMBER];
	char		des_where[WHERE_MEMBER];

	snprintf(settings_where, sizeof(settings_where), "%s.settings", where);
	snprintf(des_where, sizeof(des_where), "%s.default_endpoint_settings", where);
	return take_optional_object(where, item, "settings", &settings, error)
		&& take_quota(settings_where, settings, out, error)
		&& take_optional_object(where, item, "default_endpoint_settings", &des, error)
		&& take_compute_units(des_where, des, "autoscaling_limit_min_cu", &out->autoscaling_min_cu, error)
		&& take_compute_units(des_where, des, "autoscaling_limit_max_cu", &out->autoscaling_max_cu, error)
		&& take_suspend_timeout(des_where, des, &out->suspend_timeout_seconds, error);
}

/*
 * One item of a project list: its id (checked: it names a tenant's row),
 * name, creation time, figures and settings; a synthetic_storage_size that
 * is absent or null was not given, one that is there must be a count.
 */
static bool
take_listed_project(json_object *item, size_t i, NeonListedProject *out, char **error)
{
	char		where[WHERE_ITEM];

	snprintf(where, sizeof(where), "projects[%zu]", i);
	out->synthetic_storage_size = -1;
	if (!neon_take_member(where, item, "id", NEON_VALUE_ID, true, &out->id, error)
		|| !neon_take_member(where, item, "name", NEON_VALUE_TEXT, true, &out->name, error)
		|| !neon_take_member(where, item, "created_at", NEON_VALUE_TIMESTAMP, true, &out->created_at, error)
		|| !neon_take_count(where, item, "active_time", &out->active_time, error))
		return false;
	if (present_member(item, "synthetic_storage_size")
		&& !neon_take_count(where, item, "synthetic_storage_size", &out->synthetic_storage_size, error))
		return false;
	return take_listed_settings(where, item, &out->settings, error);
}

/* Reads {"projects": [{"id", "name", "created_at", "active_time", "settings", ...}], "pagination": {"cursor"}}. */
bool
neon_parse_project_page(const char *body, NeonProjectPage *page, char **error)
{
	json_object *root;
	json_object *list;
	bool		parsed = true;

	*error = NULL;
	memset(page, 0, sizeof(*page));
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	if ((list = neon_array_member(root, "projects")) == NULL)
	{
		json_object_put(root);
		*error = strdup("project list response lacks projects[]");
		return false;
	}
	page->n_projects = (int) json_object_array_length(list);
	page->projects = calloc(page->n_projects + 1, sizeof(NeonListedProject));
	if (page->projects == NULL)
	{
		json_object_put(root);
		page->n_projects = 0;
		*error = strdup("out of memory");
		return false;
	}
	for (int i = 0; i < page->n_projects && parsed; i++)
		parsed = take_listed_project(json_object_array_get_idx(list, i), (size_t) i, &page->projects[i], error);
	if (parsed)
		parsed = neon_take_member("pagination", neon_object_member(root, "pagination"), "cursor", NEON_VALUE_ID,
								  false, &page->cursor, error);
	json_object_put(root);
	if (!parsed)
		neon_project_page_free(page);
	return parsed;
}

/* Frees every string of a page and zeroes it. */
void
neon_project_page_free(NeonProjectPage *page)
{
	for (int i = 0; i < page->n_projects; i++)
	{
		free(page->projects[i].id);
		free(page->projects[i].name);
		free(page->projects[i].created_at);
	}
	free(page->projects);
	free(page->cursor);
	memset(page, 0, sizeof(*page));
}

/* Which total of a period a metric adds to; NULL for the metrics not read. */
static long long *
metric_total(NeonConsumption *c, const char *metric_name)
{
	if (strcmp(metric_name, "compute_unit_seconds") == 0)
		return &c->compute_unit_seconds;
	if (strcmp(metric_name, "root_branch_bytes_month") == 0
		|| strcmp(metric_name, "child_branch_bytes_month") == 0)
		return &c->storage_byte_hours;
	if (strcmp(metric_name, "public_network_transfer_bytes") == 0)
		return &c->transfer_bytes;
	return NULL;
}

/*
 * Adds one {"metric_name", "value"} of a timeframe to its period's total:
 * the value must be a count (an integer: Neon's figures are int64), and a
 * total that would overflow refuses the page rather than wrap.
 */
static bool
add_metric(const char *where, json_object *metric, NeonConsumption *c, char **error)
{
	json_object *name = neon_string_member(metric, "metric_name");
	long long  *total;
	long long	value;

	if (name == NULL)
	{
		*error = neon_format("%s.metric_name is missing or not a string", where);
		return false;
	}
	if ((total = metric_total(c, json_object_get_string(name))) == NULL)
		return true;
	if (!neon_take_count(where, metric, "value", &value, error))
		return false;
	if (__builtin_add_overflow(*total, value, total))
	{
		*error = neon_format("%s.value (%s) overflows the period's total", where, json_object_get_string(name));
		return false;
	}
	return true;
}

/* The array member `key` of `obj`, refused (as "where.key[]") when absent or of another type. */
static json_object *
take_array(const char *where, json_object *obj, const char *key, char **error)
{
	json_object *array = neon_array_member(obj, key);

	if (array == NULL)
		*error = neon_format("%s.%s[] is missing or not a list", where, key);
	return array;
}

/* Sums the metrics of every timeframe of a period's consumption[]. */
static bool
sum_consumption(const char *where, json_object *period, NeonConsumption *c, char **error)
{
	json_object *timeframes = take_array(where, period, "consumption", error);
	char		tf_where[WHERE_NESTED];
	char		metric_where[WHERE_METRIC];

	if (timeframes == NULL)
		return false;
	for (size_t t = 0; t < json_object_array_length(timeframes); t++)
	{
		json_object *metrics;

		snprintf(tf_where, sizeof(tf_where), "%s.consumption[%zu]", where, t);
		if ((metrics = take_array(tf_where, json_object_array_get_idx(timeframes, t), "metrics", error)) == NULL)
			return false;
		for (size_t m = 0; m < json_object_array_length(metrics); m++)
		{
			snprintf(metric_where, sizeof(metric_where), "%s.metrics[%zu]", tf_where, m);
			if (!add_metric(metric_where, json_object_array_get_idx(metrics, m), c, error))
				return false;
		}
	}
	return true;
}

/*
 * One period of a project: its bounds (period_end absent or null in the
 * current period, a timestamp otherwise) and its summed metrics.
 */
static bool
take_period(const char *where, json_object *period, NeonConsumption *c, char **error)
{
	return neon_take_member(where, period, "period_start", NEON_VALUE_TIMESTAMP, true, &c->period_start, error)
		&& neon_take_member(where, period, "period_end", NEON_VALUE_TIMESTAMP,
							present_member(period, "period_end") != NULL, &c->period_end, error)
		&& sum_consumption(where, period, c, error);
}

/* One project of a consumption page: an item per period, each naming the project. */
static bool
take_consumption_project(json_object *project, size_t i, NeonConsumptionPage *page, char **error)
{
	json_object *periods;
	char	   *project_id;
	char		where[WHERE_ITEM];
	char		period_where[WHERE_MEMBER];
	size_t		n_periods;
	NeonConsumption *items;
	bool		taken = true;

	snprintf(where, sizeof(where), "projects[%zu]", i);
	if (!neon_take_member(where, project, "project_id", NEON_VALUE_ID, true, &project_id, error))
		return false;
	if ((periods = take_array(where, project, "periods", error)) == NULL)
	{
		free(project_id);
		return false;
	}
	n_periods = json_object_array_length(periods);
	items = realloc(page->items, (page->n_items + n_periods + 1) * sizeof(NeonConsumption));
	if (items == NULL)
	{
		free(project_id);
		*error = strdup("out of memory");
		return false;
	}
	page->items = items;
	for (size_t p = 0; p < n_periods && taken; p++)
	{
		NeonConsumption *c = &page->items[page->n_items++];

		memset(c, 0, sizeof(*c));
		c->project_id = strdup(project_id);
		snprintf(period_where, sizeof(period_where), "%s.periods[%zu]", where, p);
		taken = take_period(period_where, json_object_array_get_idx(periods, p), c, error);
	}
	free(project_id);
	return taken;
}

/*
 * Reads {"projects": [{"project_id", "periods": [{"period_start", "period_end",
 * "consumption": [{"metrics": [{"metric_name", "value"}]}]}]}], "pagination": {"cursor"}}.
 */
bool
neon_parse_consumption_page(const char *body, NeonConsumptionPage *page, char **error)
{
	json_object *root;
	json_object *list;
	bool		parsed = true;

	*error = NULL;
	memset(page, 0, sizeof(*page));
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	if ((list = neon_array_member(root, "projects")) == NULL)
	{
		json_object_put(root);
		*error = strdup("consumption response lacks projects[]");
		return false;
	}
	page->n_projects = (int) json_object_array_length(list);
	for (int i = 0; i < page->n_projects && parsed; i++)
		parsed = take_consumption_project(json_object_array_get_idx(list, i), (size_t) i, page, error);
	if (parsed)
		parsed = neon_take_member("pagination", neon_object_member(root, "pagination"), "cursor", NEON_VALUE_ID,
								  false, &page->cursor, error);
	json_object_put(root);
	if (!parsed)
		neon_consumption_page_free(page);
	return parsed;
}

/* Frees every string of a consumption page and zeroes it. */
void
neon_consumption_page_free(NeonConsumptionPage *page)
{
	for (int i = 0; i < page->n_items; i++)
	{
		free(page->items[i].project_id);
		free(page->items[i].period_start);
		free(page->items[i].period_end);
	}
	free(page->items);
	free(page->cursor);
	memset(page, 0, sizeof(*page));
}
