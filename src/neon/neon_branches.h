/*
 * neon_branches.h
 *		Neon branches: the bodies of POST /projects/{id}/branches (a branch
 *		with its own read-write compute) and of
 *		POST /projects/{id}/branches/{branch_id}/restore; the answers of
 *		branch create, get, restore and delete; the search of
 *		GET /projects/{id}/branches by name; the read-write endpoint of
 *		GET /projects/{id}/branches/{branch_id}/endpoints.
 *
 * Strings are malloc'd; parsers return false with *error set (malloc'd)
 * when the body is not what Neon sends, or holds a value that fails its
 * check (see neon_common.h).
 */
#ifndef NEON_PLATFORM_NEON_BRANCHES_H
#define NEON_PLATFORM_NEON_BRANCHES_H

#include <stdbool.h>

/* What we ask for when creating a development branch. */
typedef struct NeonBranchSpec
{
	const char *name;
	const char *parent_id;
	const char *parent_timestamp;	/* RFC 3339; NULL: the parent's head */
	double		autoscaling_min_cu;
	double		autoscaling_max_cu;
	int			suspend_timeout_seconds;
} NeonBranchSpec;

/* The compute of a branch, where a client connects. */
typedef struct NeonBranchEndpoint
{
	char	   *endpoint_id;
	char	   *host;			/* direct */
	char	   *pooler_host;	/* via PgBouncer, derived from host as for a project */
} NeonBranchEndpoint;

/*
 * Body of POST /projects/{id}/branches:
 * {"branch": {"name", "parent_id", "parent_timestamp"?},
 *  "endpoints": [{"type": "read_write", compute settings}]}. malloc'd.
 */
extern char *neon_build_create_branch(const NeonBranchSpec *spec);

/* Body of POST .../branches/{branch_id}/restore: {"source_branch_id": ...}. malloc'd. */
extern char *neon_build_restore_branch(const char *source_branch_id);

/*
 * Any answer that carries {"branch": {"id", ...}, "operations"?: [...]}:
 * create, get, restore, delete. Gives the branch id and the ids of its
 * operations still worth waiting for (none when operations is absent).
 */
extern bool neon_parse_branch_answer(const char *body, char **branch_id, char ***operation_ids, int *n,
									 char **error);

/*
 * One page of GET /projects/{id}/branches?search=...: the branch named
 * exactly `name` (Neon's search matches substrings of names and ids) other
 * than `except_id` (the production branch). *branch_id is NULL when none;
 * *settled tells whether it is past init/resetting. Every id on the page is
 * checked.
 */
extern bool neon_find_branch_by_name(const char *body, const char *name, const char *except_id,
									 char **branch_id, bool *settled, char **error);

/*
 * The read_write endpoint of `branch_id` in
 * GET /projects/{id}/branches/{branch_id}/endpoints: its id, its host and
 * the pooled host derived from it. Refused when the branch has none.
 */
extern bool neon_parse_branch_endpoint(const char *body, const char *branch_id, NeonBranchEndpoint *out,
									   char **error);

extern void neon_branch_endpoint_free(NeonBranchEndpoint *endpoint);

#endif							/* NEON_PLATFORM_NEON_BRANCHES_H */
