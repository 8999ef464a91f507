/*
 * neon_usage.h
 *		What a project uses, read from Neon's answers: the period counters
 *		of GET /projects/{id}, the branches (count, largest logical size),
 *		the snapshots (count), and the figures every project of a page of
 *		GET /projects carries.
 *
 * Strings are malloc'd; parsers return false with *error set (malloc'd)
 * when the body is not what Neon sends (see neon_common.h).
 */
#ifndef NEON_PLATFORM_NEON_USAGE_H
#define NEON_PLATFORM_NEON_USAGE_H

#include <stdbool.h>

typedef struct NeonUsage
{
	char	   *period_start;	/* consumption_period_start, RFC 3339 */
	char	   *period_end;		/* NULL when Neon gives none */
	long long	active_time_seconds;
	long long	compute_time_seconds;
	long long	written_data_bytes;
	long long	data_transfer_bytes;
	long long	logical_size_bytes; /* the largest branch's; below 0: not read */
	long long	branches;		/* below 0: not read */
	long long	snapshots;		/* below 0: not read */
} NeonUsage;

/* The period and its counters from GET /projects/{project_id}. */
extern bool neon_parse_project_usage(const char *body, NeonUsage *usage, char **error);

/* The number of branches and the largest logical size from GET /projects/{project_id}/branches. */
extern bool neon_parse_branch_usage(const char *body, NeonUsage *usage, char **error);

/* The number of snapshots from GET /projects/{project_id}/snapshots. */
extern bool neon_parse_snapshot_count(const char *body, NeonUsage *usage, char **error);

extern void neon_usage_free(NeonUsage *usage);

/* One project of a page of GET /projects, with the usage the list carries. */
typedef struct NeonListedProject
{
	char	   *id;
	long long	active_time;	/* seconds of active compute in the current period */
	long long	synthetic_storage_size; /* bytes; below 0: not on the item */
} NeonListedProject;

/* A page of GET /projects?limit=N[&cursor=...]. */
typedef struct NeonProjectPage
{
	NeonListedProject *projects;
	int			n_projects;
	char	   *cursor;			/* pagination.cursor (the last id); NULL when absent (an empty page) */
} NeonProjectPage;

/*
 * Every project of the page (id checked, active_time a count,
 * synthetic_storage_size a count when present) and the cursor of the next
 * page (an id); one bad value refuses the whole page.
 */
extern bool neon_parse_project_page(const char *body, NeonProjectPage *page, char **error);

extern void neon_project_page_free(NeonProjectPage *page);

#endif							/* NEON_PLATFORM_NEON_USAGE_H */
