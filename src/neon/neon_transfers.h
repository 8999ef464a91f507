/*
 * neon_transfers.h
 *		Moving projects between organizations:
 *		POST /organizations/{source_org_id}/projects/transfer, and reading
 *		back which organization a project is in; and handing a project to
 *		another Neon account: POST /projects/{project_id}/transfer_requests.
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

/*
 * Whether a 422 answer to a transfer ({"projects": [{"id", "integration"}]})
 * names `project_id` among the projects that cannot move; an answer that
 * cannot be read names every project.
 */
extern bool neon_transfer_refuses_project(const char *body, const char *project_id);

/* Body of the transfer request call: {"ttl_seconds": N}; malloc'd. */
extern char *neon_build_transfer_request(long long ttl_seconds);

/* A transfer request created: {"id", "project_id", "created_at", "expires_at"}. */
typedef struct NeonTransferRequest
{
	char	   *id;
	char	   *project_id;
	char	   *expires_at;
} NeonTransferRequest;

/* Reads the answer to POST /projects/{project_id}/transfer_requests (every value checked). */
extern bool neon_parse_transfer_request(const char *body, NeonTransferRequest *out, char **error);
extern void neon_transfer_request_free(NeonTransferRequest *request);

#endif							/* NEON_PLATFORM_NEON_TRANSFERS_H */
