/*
 * neon_snapshots.c
 *		Parsing of snapshot answers: the one a create returns, and the
 *		list, searched by name when a create's answer was lost and by id
 *		to confirm a create or a delete.
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
	return neon_parse_mutation_answer(body, "snapshot", snapshot_id, operation_ids, n, error);
}

/*
 * Finds in {"snapshots": [...]} the first snapshot whose member `key` is
 * `value`, and gives its id; every id on the page is checked.
 */
static bool
find_snapshot(const char *body, const char *key, const char *value, char **snapshot_id, char **error)
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
		if (parsed && *snapshot_id == NULL && neon_member_equals(s, key, value))
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

/* The snapshot named `name`: a create whose answer was lost, looked up. */
bool
neon_find_snapshot_by_name(const char *body, const char *name, char **snapshot_id, char **error)
{
	return find_snapshot(body, "name", name, snapshot_id, error);
}

/* Whether the snapshot `snapshot_id` is listed: after its create or its delete ended. */
bool
neon_snapshot_listed(const char *body, const char *snapshot_id, bool *listed, char **error)
{
	char	   *found = NULL;

	if (!find_snapshot(body, "id", snapshot_id, &found, error))
		return false;
	*listed = found != NULL;
	free(found);
	return true;
}
