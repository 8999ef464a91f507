/*
 * neon_endpoints.h
 *		Neon endpoints: the answer of GET /projects/{id}/endpoints, and the
 *		pooled host of a direct one.
 *
 * The parser returns false with *error set (malloc'd) when the body is not
 * what Neon sends, or holds a value that fails its check (see
 * neon_common.h).
 */
#ifndef NEON_PLATFORM_NEON_ENDPOINTS_H
#define NEON_PLATFORM_NEON_ENDPOINTS_H

#include <stdbool.h>

#include "neon/neon_projects.h"

/*
 * The answer of GET /projects/{id}/endpoints: fills branch_id, endpoint_id,
 * host and pooler_host from the read_write endpoint of the default branch
 * (the first read_write endpoint when the default is not known).
 */
extern bool neon_parse_endpoints(const char *body, NeonProject *project, char **error);

/* Derives the pooled host of a direct one ("ep-x.region..." -> "ep-x-pooler.region..."); malloc'd. */
extern char *neon_pooler_host(const char *host);

/* For the parsers of src/neon (json-c is not included here, see neon_common.h). */
struct json_object;

/*
 * The read_write endpoint of `branch_id` in the array `endpoints`, or the
 * first read_write endpoint when branch_id is NULL or none matches.
 */
extern struct json_object *neon_read_write_endpoint(struct json_object *endpoints,
													const char *branch_id);

/* neon_pooler_host, checked as a host; *pooler_host is NULL when host is. */
extern bool neon_take_pooler_host(const char *host, char **pooler_host, char **error);

#endif							/* NEON_PLATFORM_NEON_ENDPOINTS_H */
