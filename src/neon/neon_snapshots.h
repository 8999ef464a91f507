/*
 * neon_snapshots.h
 *		Neon snapshots: the answer of
 *		POST /projects/{project_id}/branches/{branch_id}/snapshot and the
 *		search of GET /projects/{project_id}/snapshots by name or id.
 *
 * Strings are malloc'd; parsers return false with *error set (malloc'd)
 * when the body is not what Neon sends (see neon_common.h).
 */
#ifndef NEON_PLATFORM_NEON_SNAPSHOTS_H
#define NEON_PLATFORM_NEON_SNAPSHOTS_H

#include <stdbool.h>

/* The snapshot id of a create answer, and the ids of its operations still worth waiting for. */
extern bool neon_parse_snapshot(const char *body, char **snapshot_id, char ***operation_ids, int *n,
								char **error);

/* The id of the snapshot named exactly `name` in a list answer; *snapshot_id NULL when none. */
extern bool neon_find_snapshot_by_name(const char *body, const char *name, char **snapshot_id, char **error);

/* Whether a list answer holds the snapshot `snapshot_id`. */
extern bool neon_snapshot_listed(const char *body, const char *snapshot_id, bool *listed, char **error);

#endif							/* NEON_PLATFORM_NEON_SNAPSHOTS_H */
