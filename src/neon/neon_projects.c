/*
 * neon_projects.c
 *		The bodies of POST /projects and of the PATCH that applies a tier,
 *		the parsing of the create answer, and the search of GET /projects
 *		for a tenant's project.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neon/json_prelude.h"
#include "neon/neon_common.h"
#include "neon/neon_endpoints.h"
#include "neon/neon_operations.h"
#include "neon/neon_projects.h"

/* Adds a string member unless the value is NULL or empty (then Neon's default applies). */
static void
add_string(json_object *obj, const char *key, const char *value)
{
	if (value && value[0])
		json_object_object_add(obj, key, json_object_new_string(value));
}

/* Adds an integer member; int64 so quotas above 2 GiB survive. */
static void
add_int(json_object *obj, const char *key, long long value)
{
	json_object_object_add(obj, key, json_object_new_int64(value));
}

/* The settings.quota object: all five limits, since Neon may replace rather than merge it. */
static json_object *
build_quota(const NeonProjectSpec *spec)
{
	json_object *quota = json_object_new_object();

	add_int(quota, "active_time_seconds", spec->active_time_seconds);
	add_int(quota, "compute_time_seconds", spec->compute_time_seconds);
	add_int(quota, "written_data_bytes", spec->written_data_bytes);
	add_int(quota, "data_transfer_bytes", spec->data_transfer_bytes);
	add_int(quota, "logical_size_bytes", spec->logical_size_bytes);
	return quota;
}

/*
 * Adds what a tier sets to a project: the restore window, the quotas, and
 * the compute limits of the endpoint Neon creates with the project (and of
 * later ones). Create and update send the very same fields.
 */
static void
add_tier(json_object *project, const NeonProjectSpec *spec)
{
	json_object *settings = json_object_new_object();

	/* Neon reads the restore window here, not under settings. */
	add_int(project, "history_retention_seconds", spec->history_retention_seconds);
	json_object_object_add(settings, "quota", build_quota(spec));
	json_object_object_add(project, "settings", settings);
	json_object_object_add(project, "default_endpoint_settings",
						   neon_compute_settings(spec->autoscaling_min_cu, spec->autoscaling_max_cu,
												 spec->suspend_timeout_seconds));
}

/* Every Neon request body is one object wrapping the resource: {"project": {...}}. */
char *
neon_request_body(const char *key, json_object *member)
{
	json_object *root = json_object_new_object();
	char	   *body;

	json_object_object_add(root, key, member);
	body = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	return body;
}

/* Builds the POST /projects body from a tier's settings. */
char *
neon_build_create_project(const NeonProjectSpec *spec)
{
	json_object *project = json_object_new_object();
	json_object *branch = json_object_new_object();

	add_string(project, "name", spec->name);
	add_string(project, "org_id", spec->org_id);
	add_string(project, "region_id", spec->region_id);
	add_int(project, "pg_version", spec->pg_version);
	add_tier(project, spec);

	add_string(branch, "database_name", spec->database_name);
	add_string(branch, "role_name", spec->role_name);
	json_object_object_add(project, "branch", branch);
	return neon_request_body("project", project);
}

/*
 * Builds the PATCH /projects/{project_id} body that moves a project to a
 * tier. Only the tier's fields are sent, so name, region and the rest stay
 * as they are; the quota object goes whole, as Neon replaces it.
 */
char *
neon_build_update_project(const NeonProjectSpec *spec)
{
	json_object *project = json_object_new_object();

	add_tier(project, spec);
	return neon_request_body("project", project);
}

/* The password of role `name` in the roles[] array of a create response. */
static json_object *
role_password(json_object *roles, json_object *name)
{
	size_t		n = roles && name ? json_object_array_length(roles) : 0;

	for (size_t i = 0; i < n; i++)
	{
		json_object *role = json_object_array_get_idx(roles, i);

		if (neon_member_equals(role, "name", json_object_get_string(name)))
			return neon_string_member(role, "password");
	}
	return NULL;
}

/*
 * Takes the connection fields of a create response: connection_uris[0]'s
 * connection_parameters when present (what Neon documents as the source of
 * truth for hosts), else databases[], roles[] and the endpoint.
 */
static bool
take_connection(json_object *root, json_object *endpoint, NeonProject *out, char **error)
{
	json_object *params = neon_object_member(neon_first_object(root, "connection_uris"),
											 "connection_parameters");
	json_object *database = neon_string_member(params, "database");
	json_object *role = neon_string_member(params, "role");
	json_object *password = neon_string_member(params, "password");
	json_object *host = neon_string_member(params, "host");
	json_object *pooler_host = neon_string_member(params, "pooler_host");

	if (database == NULL)
		database = neon_string_member(neon_first_object(root, "databases"), "name");
	if (role == NULL)
		role = neon_string_member(neon_first_object(root, "roles"), "name");
	if (password == NULL)
		password = role_password(neon_array_member(root, "roles"), role);
	if (host == NULL)
		host = neon_string_member(endpoint, "host");

	return neon_take_string("database name", database, NEON_VALUE_NAME, &out->database_name, error) &&
		neon_take_string("role name", role, NEON_VALUE_NAME, &out->role_name, error) &&
		neon_take_string("password", password, NEON_VALUE_PASSWORD, &out->password, error) &&
		neon_take_string("host", host, NEON_VALUE_HOST, &out->host, error) &&
		(pooler_host ?
		 neon_take_string("pooler host", pooler_host, NEON_VALUE_HOST, &out->pooler_host, error) :
		 neon_take_pooler_host(out->host, &out->pooler_host, error));
}

/* Takes every field of a create response, each checked; stops at the first bad one. */
static bool
take_created(json_object *root, NeonProject *out, char **error)
{
	json_object *project = neon_object_member(root, "project");
	json_object *endpoint;

	if (!neon_take_member("project", project, "id", NEON_VALUE_ID, false, &out->project_id, error) ||
		!neon_take_member("project", project, "org_id", NEON_VALUE_ID, false, &out->org_id, error) ||
		!neon_take_member("branch", neon_object_member(root, "branch"), "id", NEON_VALUE_ID, false,
						  &out->branch_id, error))
		return false;
	endpoint = neon_read_write_endpoint(neon_array_member(root, "endpoints"), out->branch_id);
	return neon_take_member("endpoints[]", endpoint, "id", NEON_VALUE_ID, false, &out->endpoint_id, error) &&
		take_connection(root, endpoint, out, error) &&
		neon_take_operation_ids(root, &out->operation_ids, &out->n_operations, error);
}

/* The name of the first required field the parsed create response lacks, or NULL. */
static const char *
missing_create_field(const NeonProject *p)
{
	if (p->project_id == NULL)
		return "project.id";
	if (p->branch_id == NULL)
		return "branch.id";
	if (p->endpoint_id == NULL)
		return "a read_write endpoint";
	if (p->host == NULL)
		return "the endpoint host";
	if (p->database_name == NULL)
		return "the database name";
	if (p->role_name == NULL)
		return "the role name";
	return NULL;
}

/* Extracts ids, connection data and pending operations from a 201 answer of POST /projects. */
bool
neon_parse_create_project(const char *body, NeonProject *out, char **error)
{
	json_object *root;
	const char *missing = NULL;
	bool		parsed;

	memset(out, 0, sizeof(*out));
	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	parsed = take_created(root, out, error);
	json_object_put(root);

	if (parsed && (missing = missing_create_field(out)) != NULL)
		*error = neon_format("create project response lacks %s", missing);
	if (!parsed || missing)
	{
		neon_project_free(out);
		return false;
	}
	return true;
}

/*
 * Scans one page of GET /projects for an exact name (Neon's search matches
 * substrings). Every id on the page is checked, the last one being the
 * cursor of the next page; one bad id refuses the page.
 */
bool
neon_find_project_by_name(const char *body, const char *name,
						  char **project_id, char **last_id,
						  int *page_count, char **error)
{
	json_object *root;
	json_object *projects;
	size_t		n;

	*project_id = NULL;
	*last_id = NULL;
	*page_count = 0;
	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	if ((projects = neon_array_member(root, "projects")) == NULL)
	{
		json_object_put(root);
		*error = strdup("project list response lacks projects[]");
		return false;
	}

	n = json_object_array_length(projects);
	for (size_t i = 0; i < n; i++)
	{
		json_object *p = json_object_array_get_idx(projects, i);
		char		where[48];
		char	   *id;

		snprintf(where, sizeof(where), "projects[%zu]", i);
		if (!neon_take_member(where, p, "id", NEON_VALUE_ID, true, &id, error))
		{
			free(*project_id);
			free(*last_id);
			*project_id = NULL;
			*last_id = NULL;
			json_object_put(root);
			return false;
		}
		if (*project_id == NULL && neon_member_equals(p, "name", name))
			*project_id = strdup(id);
		free(*last_id);
		*last_id = id;
	}
	*page_count = (int) n;
	json_object_put(root);
	return true;
}

/* Frees every string of a project (wiping the password) and zeroes the struct for reuse. */
void
neon_project_free(NeonProject *project)
{
	free(project->project_id);
	free(project->org_id);
	free(project->branch_id);
	free(project->endpoint_id);
	free(project->database_name);
	free(project->role_name);
	neon_free_secret(project->password);
	free(project->host);
	free(project->pooler_host);
	neon_operation_ids_free(project->operation_ids, project->n_operations);
	memset(project, 0, sizeof(*project));
}
