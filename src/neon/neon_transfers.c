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
