/*
 * neon_transfers.h
 *		Moving projects between organizations:
 *		POST /organizations/{source_org_id}/projects/transfer, and reading
 *		back which organization a project is in.
 *
 * Strings are malloc'd; parsers return false with *error set (malloc'd)
 * when the body is not what Neon sends (see neon_common.h).
 */
#ifndef NEON_PLATFORM_NEON_TRANSFERS_H
#define NEON_PLATFORM_NEON_TRANSFERS_H

#include <stdbool.h>

/* Neon's limit of project ids per transfer call. */
#define NEON_TRANSFER_MAX_PROJECTS 400

/* Body of the transfer call: {"destination_org_id": ..., "project_ids": [...]}; malloc'd. */
extern char *neon_build_transfer(const char *destination_org_id, const char *const *project_ids, int n);

/* The organization of the project in GET /projects/{project_id} (validated as an id). */
extern bool neon_parse_project_org(const char *body, char **org_id, char **error);

#endif							/* NEON_PLATFORM_NEON_TRANSFERS_H */
