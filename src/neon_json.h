/*
 * neon_json.h
 *		Request bodies for, and parsing of, Neon API responses (json-c).
 *
 * Plain C (json-c and libc only), so the parsers are tested directly against
 * the responses recorded from the live API (test/unit). Strings are malloc'd;
 * free structs with the matching *_free function. Every parser returns false
 * with *error set (malloc'd) when the body is not what Neon sends.
 */
#ifndef NEON_PLATFORM_NEON_JSON_H
#define NEON_PLATFORM_NEON_JSON_H

#include <stdbool.h>

/* What we ask for when creating a tenant's project. */
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

/* The 201 answer of POST /projects. */
extern bool neon_parse_create_project(const char *body, NeonProject *out, char **error);

/*
 * The answer of GET /projects?search=...: finds the project whose name is
 * exactly `name`. *project_id is NULL when none is on this page;
 * *page_count is the number of projects on the page.
 */
extern bool neon_find_project_by_name(const char *body, const char *name,
									  char **project_id, char **last_id,
									  int *page_count, char **error);

/*
 * The answer of GET /projects/{id}/endpoints: fills branch_id, endpoint_id,
 * host and pooler_host from the read_write endpoint of the default branch
 * (the first read_write endpoint when the default is not known).
 */
extern bool neon_parse_endpoints(const char *body, NeonProject *project, char **error);

/*
 * The answer of GET /projects/{id}/connection_uri: fills role_name,
 * password, host, database_name from the URI.
 */
extern bool neon_parse_connection_uri(const char *body, NeonProject *project, char **error);

/* "code: message" of a GeneralError body, or a short excerpt of any other body; malloc'd. */
extern char *neon_error_message(const char *body);

/* Derives the pooled host of a direct one ("ep-x.region..." -> "ep-x-pooler.region..."); malloc'd. */
extern char *neon_pooler_host(const char *host);

extern void neon_project_free(NeonProject *project);

#endif							/* NEON_PLATFORM_NEON_JSON_H */
