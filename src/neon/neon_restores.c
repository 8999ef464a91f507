/*
 * neon_restores.c
 *		The bodies of the restores of a production branch (in place, and
 *		finalized from a snapshot), of the rename of the branch a snapshot
 *		restore leaves behind, and the parsing of that branch.
 */
#include <stdlib.h>
#include <string.h>

#include "neon/json_prelude.h"
#include "neon/neon_common.h"
#include "neon/neon_projects.h"
#include "neon/neon_restores.h"

/* One object, one line, malloc'd. */
static char *
body_of(json_object *root)
{
	char	   *body = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));

	json_object_put(root);
	return body;
}

/*
 * The name always goes with the restore: Neon then keeps the replaced
 * state under a name this job chose, the one a lost answer is looked up by.
 */
char *
neon_build_restore_preserving(const char *source_branch_id, const char *source_timestamp,
							  const char *preserve_under_name)
{
	json_object *root = json_object_new_object();

	json_object_object_add(root, "source_branch_id", json_object_new_string(source_branch_id));
	if (source_timestamp)
		json_object_object_add(root, "source_timestamp", json_object_new_string(source_timestamp));
	json_object_object_add(root, "preserve_under_name", json_object_new_string(preserve_under_name));
	return body_of(root);
}

/*
 * The target is always named: Neon's default is the snapshot's source
 * branch, which after an earlier finalized restore is the "(old)" one.
 */
char *
neon_build_finalized_snapshot_restore(const char *target_branch_id)
{
	json_object *root = json_object_new_object();

	json_object_object_add(root, "target_branch_id", json_object_new_string(target_branch_id));
	json_object_object_add(root, "finalize_restore", json_object_new_boolean(1));
	return body_of(root);
}

/* Renames a branch and changes nothing else of it. */
char *
neon_build_branch_rename(const char *name)
{
	json_object *branch = json_object_new_object();

	json_object_object_add(branch, "name", json_object_new_string(name));
	return neon_request_body("branch", branch);
}

/* Whether the boolean member `key` is true; absent or not a boolean is false. */
static bool
member_is_true(json_object *obj, const char *key)
{
	json_object *value;

	return json_object_object_get_ex(obj, key, &value) && json_object_is_type(value, json_type_boolean)
		&& json_object_get_boolean(value);
}

/*
 * Reads {"branch": {"id", "default", "restored_as"?}}: a finalized restore
 * takes the default flag from the branch it replaces and names its
 * successor there.
 */
bool
neon_parse_replaced_branch(const char *body, const char *branch_id, char **restored_as, char **error)
{
	json_object *root;
	json_object *branch;
	char	   *id = NULL;
	bool		parsed;

	*restored_as = NULL;
	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	branch = neon_object_member(root, "branch");
	parsed = neon_take_member("branch", branch, "id", NEON_VALUE_ID, true, &id, error);
	if (parsed && strcmp(id, branch_id) != 0)
	{
		*error = neon_format("branch.id is %s, not the branch asked for", id);
		parsed = false;
	}
	if (parsed && !member_is_true(branch, "default"))
	{
		parsed = neon_take_member("branch", branch, "restored_as", NEON_VALUE_ID, true, restored_as, error);
		if (!parsed)
			neon_replace_string(error, neon_format("branch %s is no longer the default branch: %s", id, *error));
	}
	free(id);
	json_object_put(root);
	return parsed;
}
