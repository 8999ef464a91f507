/*
 * neon_branches.c
 *		The bodies of branch create and restore, and the parsing of branch
 *		answers: create, get, restore and delete, the search by name, and
 *		the compute of one branch.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>

#include "neon/json_prelude.h"
#include "neon/neon_branches.h"
#include "neon/neon_common.h"
#include "neon/neon_endpoints.h"
#include "neon/neon_operations.h"
#include "neon/neon_projects.h"

/* The branch part of a create: name, parent, and the point in time when one is asked. */
static json_object *
build_branch(const NeonBranchSpec *spec)
{
	json_object *branch = json_object_new_object();

	json_object_object_add(branch, "name", json_object_new_string(spec->name));
	json_object_object_add(branch, "parent_id", json_object_new_string(spec->parent_id));
	if (spec->parent_timestamp)
		json_object_object_add(branch, "parent_timestamp", json_object_new_string(spec->parent_timestamp));
	return branch;
}

/*
 * Builds the create body. Without endpoints Neon makes a branch nobody can
 * connect to, so it always asks for its read_write compute, with the tier's
 * settings.
 */
char *
neon_build_create_branch(const NeonBranchSpec *spec)
{
	json_object *root = json_object_new_object();
	json_object *endpoints = json_object_new_array();
	json_object *endpoint = neon_compute_settings(spec->autoscaling_min_cu, spec->autoscaling_max_cu,
												  spec->suspend_timeout_seconds);
	char	   *body;

	json_object_object_add(endpoint, "type", json_object_new_string("read_write"));
	json_object_array_add(endpoints, endpoint);
	json_object_object_add(root, "branch", build_branch(spec));
	json_object_object_add(root, "endpoints", endpoints);
	body = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	return body;
}

/* Builds the restore body: the branch becomes the head of `source_branch_id` (its reset to its parent). */
char *
neon_build_restore_branch(const char *source_branch_id)
{
	return neon_request_body("source_branch_id", json_object_new_string(source_branch_id));
}

/* Reads {"branch": {"id": ...}, "operations": [...]}; nothing is returned on failure. */
bool
neon_parse_branch_answer(const char *body, char **branch_id, char ***operation_ids, int *n, char **error)
{
	return neon_parse_mutation_answer(body, "branch", branch_id, operation_ids, n, error);
}

/* Whether Neon is still making (or resetting) the branch. */
static bool
branch_in_progress(json_object *branch)
{
	return neon_member_equals(branch, "current_state", "init")
		|| neon_member_equals(branch, "current_state", "resetting");
}

/* Scans the page for the exact name; one bad id refuses the page (an id goes into request paths). */
bool
neon_find_branch_by_name(const char *body, const char *name, const char *except_id,
						 char **branch_id, bool *settled, char **error)
{
	json_object *root;
	json_object *list;
	size_t		i;
	bool		parsed = true;

	*branch_id = NULL;
	*settled = false;
	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	if ((list = neon_array_member(root, "branches")) == NULL)
	{
		json_object_put(root);
		*error = strdup("branch list lacks branches[]");
		return false;
	}
	for (i = 0; i < json_object_array_length(list) && parsed; i++)
	{
		json_object *b = json_object_array_get_idx(list, i);
		char	   *id = NULL;

		parsed = neon_take_member("branches[]", b, "id", NEON_VALUE_ID, true, &id, error);
		if (parsed && *branch_id == NULL && neon_member_equals(b, "name", name)
			&& !(except_id && strcmp(id, except_id) == 0))
		{
			*branch_id = id;
			*settled = !branch_in_progress(b);
		}
		else
			free(id);
	}
	json_object_put(root);
	if (!parsed)
	{
		free(*branch_id);
		*branch_id = NULL;
		*settled = false;
	}
	return parsed;
}

/* Takes id, host and the derived pooled host of one endpoint, each checked. */
static bool
take_branch_endpoint(json_object *endpoint, NeonBranchEndpoint *out, char **error)
{
	return neon_take_member("endpoints[]", endpoint, "id", NEON_VALUE_ID, true, &out->endpoint_id, error)
		&& neon_take_member("endpoints[]", endpoint, "host", NEON_VALUE_HOST, true, &out->host, error)
		&& neon_take_pooler_host(out->host, &out->pooler_host, error);
}

/*
 * Finds the branch's read_write endpoint. neon_read_write_endpoint falls
 * back to any read_write endpoint: one of another branch is refused here,
 * since a client would then reach that other branch's data.
 */
bool
neon_parse_branch_endpoint(const char *body, const char *branch_id, NeonBranchEndpoint *out, char **error)
{
	json_object *root;
	json_object *endpoint;
	bool		parsed;

	memset(out, 0, sizeof(*out));
	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	endpoint = neon_read_write_endpoint(neon_array_member(root, "endpoints"), branch_id);
	if (endpoint == NULL || !neon_member_equals(endpoint, "branch_id", branch_id))
	{
		json_object_put(root);
		*error = neon_format("branch %s has no read_write endpoint", branch_id);
		return false;
	}
	parsed = take_branch_endpoint(endpoint, out, error);
	json_object_put(root);
	if (!parsed)
		neon_branch_endpoint_free(out);
	return parsed;
}

/* Frees the strings of an endpoint and zeroes it. */
void
neon_branch_endpoint_free(NeonBranchEndpoint *endpoint)
{
	free(endpoint->endpoint_id);
	free(endpoint->host);
	free(endpoint->pooler_host);
	memset(endpoint, 0, sizeof(*endpoint));
}
