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
 * One item of a project list: its id (checked: it names a tenant's row)
 * and its figures; a synthetic_storage_size that is absent or null was not
 * given, one that is there must be a count.
 */
static bool
take_listed_project(json_object *item, size_t i, NeonListedProject *out, char **error)
{
	json_object *size;
	char		where[48];

	snprintf(where, sizeof(where), "projects[%zu]", i);
	out->synthetic_storage_size = -1;
	if (!neon_take_member(where, item, "id", NEON_VALUE_ID, true, &out->id, error)
		|| !neon_take_count(where, item, "active_time", &out->active_time, error))
		return false;
	if (json_object_object_get_ex(item, "synthetic_storage_size", &size) && size != NULL)
		return neon_take_count(where, item, "synthetic_storage_size", &out->synthetic_storage_size, error);
	return true;
}

/* Reads {"projects": [{"id", "active_time", "synthetic_storage_size", ...}], "pagination": {"cursor"}}. */
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

/* Frees every id of a page and zeroes it. */
void
neon_project_page_free(NeonProjectPage *page)
{
	for (int i = 0; i < page->n_projects; i++)
		free(page->projects[i].id);
	free(page->projects);
	free(page->cursor);
	memset(page, 0, sizeof(*page));
}
