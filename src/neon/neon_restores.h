/*
 * neon_restores.h
 *		Restores of a production branch: the bodies of
 *		POST /projects/{id}/branches/{branch_id}/restore (in place, keeping
 *		the replaced state under a name), of
 *		POST /projects/{id}/snapshots/{snapshot_id}/restore (finalized into
 *		the production branch) and of the rename that makes the branch a
 *		finalized restore leaves behind a backup; and the answer of
 *		GET /projects/{id}/branches/{branch_id} that tells whether a
 *		snapshot restore replaced that branch.
 *
 * The answers of restore, rename and delete ({"branch", "operations"}),
 * the search of branches by name and the compute of one branch are read
 * with the parsers of neon_branches.h. Strings are malloc'd; parsers return
 * false with *error set (malloc'd) when the body is not what Neon sends
 * (see neon_common.h).
 */
#ifndef NEON_PLATFORM_NEON_RESTORES_H
#define NEON_PLATFORM_NEON_RESTORES_H

#include <stdbool.h>

/*
 * Body of POST .../branches/{branch_id}/restore:
 * {"source_branch_id", "source_timestamp"? (NULL: the source's head),
 * "preserve_under_name"}. malloc'd.
 */
extern char *neon_build_restore_preserving(const char *source_branch_id, const char *source_timestamp,
										   const char *preserve_under_name);

/* Body of POST .../snapshots/{snapshot_id}/restore: {"target_branch_id", "finalize_restore": true}. malloc'd. */
extern char *neon_build_finalized_snapshot_restore(const char *target_branch_id);

/* Body of PATCH .../branches/{branch_id}: {"branch": {"name"}}. malloc'd. */
extern char *neon_build_branch_rename(const char *name);

/*
 * The answer of GET .../branches/{branch_id} for the branch that was
 * production before a finalized snapshot restore: *restored_as is NULL
 * while it is still the default branch (nothing replaced it), else the id
 * of the branch that took its place (its "restored_as"). A branch that is
 * no longer the default and names no successor, or whose id is not
 * `branch_id`, is refused.
 */
extern bool neon_parse_replaced_branch(const char *body, const char *branch_id, char **restored_as,
									   char **error);

#endif							/* NEON_PLATFORM_NEON_RESTORES_H */
