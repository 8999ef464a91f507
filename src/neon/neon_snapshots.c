/*
 * neon_snapshots.c
 *		Parsing of snapshot answers: the one a create returns, and the
 *		list searched by name when a create's answer was lost.
 */
#include <stdlib.h>
#include <string.h>

#include "neon/json_prelude.h"
#include "neon/neon_common.h"
#include "neon/neon_operations.h"
#include "neon/neon_snapshots.h"

/* Reads {"snapshot": {"id": ...}, "operations": [...]}. */
bool
neon_parse_snapshot(const char *body, char **snapshot_id, char ***operation_ids, int *n, char **error)
{
	json_object *root;
	bool		parsed;

	*snapshot_id = NULL;
	*operation_ids = NULL;
	*n = 0;
	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	parsed = neon_take_member("snapshot", neon_object_member(root, "snapshot"), "id", NEON_VALUE_ID, true,
							  snapshot_id, error)
		&& neon_take_operation_ids(root, operation_ids, n, error);
	json_object_put(root);
	if (!parsed)
	{
		free(*snapshot_id);
		*snapshot_id = NULL;
	}
	return parsed;
}

/* Finds the snapshot named `name` in {"snapshots": [...]}; every id on the page is checked. */
bool
neon_find_snapshot_by_name(const char *body, const char *name, char **snapshot_id, char **error)
{
	json_object *root;
	json_object *list;
	size_t		i;
	bool		parsed = true;

	*snapshot_id = NULL;
	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	if ((list = neon_array_member(root, "snapshots")) == NULL)
	{
		json_object_put(root);
		*error = strdup("snapshot list lacks snapshots");
		return false;
	}
	for (i = 0; i < json_object_array_length(list) && parsed; i++)
	{
		json_object *s = json_object_array_get_idx(list, i);
		char	   *id = NULL;

		parsed = neon_take_member("snapshots[]", s, "id", NEON_VALUE_ID, true, &id, error);
		if (parsed && *snapshot_id == NULL && neon_member_equals(s, "name", name))
			*snapshot_id = id;
		else
			free(id);
	}
	json_object_put(root);
	if (!parsed)
	{
		free(*snapshot_id);
		*snapshot_id = NULL;
	}
	return parsed;
}
