/*
 * neon_endpoints.h
 *		Neon endpoints: the answer of GET /projects/{id}/endpoints (the
 *		endpoint tenants connect to, and every endpoint's compute settings),
 *		the body of PATCH /projects/{id}/endpoints/{endpoint_id}, and the
 *		pooled host of a direct one.
 *
 * The parsers return false with *error set (malloc'd) when the body is not
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

/* The compute settings of one endpoint. */
typedef struct NeonEndpointSettings
{
	char	   *endpoint_id;
	double		autoscaling_min_cu;
	double		autoscaling_max_cu;
	int			suspend_timeout_seconds;
} NeonEndpointSettings;

/*
 * Every endpoint of GET /projects/{id}/endpoints with its compute settings
 * (ids validated like every id). *out is a malloc'd array of *n entries,
 * NULL when there are none.
 */
extern bool neon_parse_endpoint_settings(const char *body, NeonEndpointSettings **out, int *n, char **error);
extern void neon_endpoint_settings_free(NeonEndpointSettings *settings, int n);

/* Body of PATCH /projects/{id}/endpoints/{endpoint_id}: autoscaling limits and suspend timeout. malloc'd. */
extern char *neon_build_update_endpoint(double autoscaling_min_cu, double autoscaling_max_cu,
										int suspend_timeout_seconds);

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

/*
 * The compute settings as Neon names them in an endpoint and in a project's
 * default_endpoint_settings: {autoscaling_limit_min_cu,
 * autoscaling_limit_max_cu, suspend_timeout_seconds}.
 */
extern struct json_object *neon_compute_settings(double autoscaling_min_cu, double autoscaling_max_cu,
												 int suspend_timeout_seconds);

#endif							/* NEON_PLATFORM_NEON_ENDPOINTS_H */
