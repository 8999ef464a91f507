/*
 * neon_projects.h
 *		Neon projects: the bodies of POST /projects and of the PATCH that
 *		applies a tier, the create answer, and the search of GET /projects
 *		for a tenant's project.
 *
 * Strings are malloc'd; free a NeonProject with neon_project_free. Every
 * parser returns false with *error set (malloc'd) when the body is not what
 * Neon sends, or holds a value that fails its check (see neon_common.h).
 */
#ifndef NEON_PLATFORM_NEON_PROJECTS_H
#define NEON_PLATFORM_NEON_PROJECTS_H

#include <stdbool.h>

/* What we ask for when creating a tenant's project, or applying its tier to it. */
typedef struct NeonProjectSpec
{
	const char *name;
	const char *org_id;			/* NULL to leave it to the key */
	const char *region_id;
	int			pg_version;
	long long	history_retention_seconds;
	const char *database_name;
	const char *role_name;
	double		autoscaling_min_cu;
	double		autoscaling_max_cu;
	int			suspend_timeout_seconds;
	long long	active_time_seconds;	/* quotas; 0 = unlimited */
	long long	compute_time_seconds;
	long long	written_data_bytes;
	long long	data_transfer_bytes;
	long long	logical_size_bytes;
} NeonProjectSpec;

/* Where a tenant's project is and how to connect to it. */
typedef struct NeonProject
{
	char	   *project_id;
	char	   *org_id;
	char	   *branch_id;		/* default branch */
	char	   *endpoint_id;	/* its read_write endpoint */
	char	   *database_name;
	char	   *role_name;
	char	   *password;
	char	   *host;			/* direct */
	char	   *pooler_host;	/* via PgBouncer */
	char	  **operation_ids;	/* operations not finished when the response was made */
	int			n_operations;
} NeonProject;

/* Body of POST /projects; malloc'd. */
extern char *neon_build_create_project(const NeonProjectSpec *spec);

/*
 * Body of PATCH /projects/{project_id} that applies a tier: the whole
 * settings.quota object (every quota, 0 included), history_retention_seconds
 * (a top-level project field) and default_endpoint_settings
 * (autoscaling_limit_min_cu, autoscaling_limit_max_cu, suspend_timeout_seconds).
 * Uses spec's quota, history_retention_seconds, autoscaling_* and suspend_timeout_seconds fields only. malloc'd.
 */
extern char *neon_build_update_project(const NeonProjectSpec *spec);

/* The 201 answer of POST /projects. */
extern bool neon_parse_create_project(const char *body, NeonProject *out, char **error);

/*
 * The answer of GET /projects?search=...: finds the project whose name is
 * exactly `name`. *project_id is NULL when none is on this page;
 * *page_count is the number of projects on the page and *last_id the id of
 * the last one (the cursor of the next page), NULL on an empty page.
 */
extern bool neon_find_project_by_name(const char *body, const char *name,
									  char **project_id, char **last_id,
									  int *page_count, char **error);

extern void neon_project_free(NeonProject *project);

/* For the builders of src/neon (json-c is not included here, see neon_common.h). */
struct json_object;

/* The request body {"key": member}, one line; member is consumed. malloc'd. */
extern char *neon_request_body(const char *key, struct json_object *member);

#endif							/* NEON_PLATFORM_NEON_PROJECTS_H */
