/*
 * neon_transfers.c
 *		Bodies and answers of project transfers between organizations.
 */
#include <stdlib.h>
#include <string.h>

#include "neon/json_prelude.h"
#include "neon/neon_common.h"
#include "neon/neon_transfers.h"

/* Builds the body of POST /organizations/{source_org_id}/projects/transfer. */
char *
neon_build_transfer(const char *destination_org_id, const char *const *project_ids, int n)
{
	json_object *root = json_object_new_object();
	json_object *ids = json_object_new_array();
	char	   *body;
	int			i;

	for (i = 0; i < n; i++)
		json_object_array_add(ids, json_object_new_string(project_ids[i]));
	json_object_object_add(root, "destination_org_id", json_object_new_string(destination_org_id));
	json_object_object_add(root, "project_ids", ids);
	body = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	return body;
}

/* Reads project.org_id of GET /projects/{project_id}: where a transfer left the project. */
bool
neon_parse_project_org(const char *body, char **org_id, char **error)
{
	json_object *root;
	json_object *project;
	bool		parsed;

	*org_id = NULL;
	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	if ((project = neon_object_member(root, "project")) == NULL)
	{
		json_object_put(root);
		*error = strdup("project response lacks project");
		return false;
	}
	parsed = neon_take_member("project", project, "org_id", NEON_VALUE_ID, true, org_id, error);
	json_object_put(root);
	return parsed;
}

/* A 422 names the projects with an integration: the others of the call may go on. */
bool
neon_transfer_refuses_project(const char *body, const char *project_id)
{
	char	   *error = NULL;
	json_object *root = neon_parse_object(body, &error);
	json_object *list = root ? neon_array_member(root, "projects") : NULL;
	bool		named = list == NULL;
	size_t		i;

	for (i = 0; list && i < json_object_array_length(list) && !named; i++)
		named = neon_member_equals(json_object_array_get_idx(list, i), "id", project_id);
	json_object_put(root);
	free(error);
	return named;
}

/* Builds the body of POST /projects/{project_id}/transfer_requests. */
char *
neon_build_transfer_request(long long ttl_seconds)
{
	json_object *root = json_object_new_object();
	char	   *body;

	json_object_object_add(root, "ttl_seconds", json_object_new_int64(ttl_seconds));
	body = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	return body;
}

/* Takes the id, project and expiry of a new transfer request: they go into a link for the end user. */
bool
neon_parse_transfer_request(const char *body, NeonTransferRequest *out, char **error)
{
	json_object *root;
	bool		parsed;

	memset(out, 0, sizeof(*out));
	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	parsed = neon_take_member("transfer_request", root, "id", NEON_VALUE_ID, true, &out->id, error)
		&& neon_take_member("transfer_request", root, "project_id", NEON_VALUE_ID, true, &out->project_id, error)
		&& neon_take_member("transfer_request", root, "expires_at", NEON_VALUE_TIMESTAMP, true,
							&out->expires_at, error);
	json_object_put(root);
	if (!parsed)
		neon_transfer_request_free(out);
	return parsed;
}

/* Frees a transfer request's strings. */
void
neon_transfer_request_free(NeonTransferRequest *request)
{
	free(request->id);
	free(request->project_id);
	free(request->expires_at);
	memset(request, 0, sizeof(*request));
}
