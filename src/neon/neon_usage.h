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

/* The settings a tier gives a project, as a project list shows them (for drift). */
typedef struct NeonListedSettings
{
	long long	active_time_seconds;	/* settings.quota.*: absent or 0 = unlimited (0) */
	long long	compute_time_seconds;
	long long	written_data_bytes;
	long long	data_transfer_bytes;
	long long	logical_size_bytes;
	double		autoscaling_min_cu; /* default_endpoint_settings.*; below 0: absent */
	double		autoscaling_max_cu;
	long long	suspend_timeout_seconds;	/* below -1: absent */
} NeonListedSettings;

/* One project of a page of GET /projects, with the usage and settings the list carries. */
typedef struct NeonListedProject
{
	char	   *id;
	char	   *name;			/* valid UTF-8 (other projects of the organization may have any name) */
	char	   *created_at;		/* RFC 3339 */
	long long	active_time;	/* seconds of active compute in the current period */
	long long	synthetic_storage_size; /* bytes; below 0: not on the item */
	NeonListedSettings settings;
} NeonListedProject;

/* A page of GET /projects?limit=N[&cursor=...]. */
typedef struct NeonProjectPage
{
	NeonListedProject *projects;
	int			n_projects;
	char	   *cursor;			/* pagination.cursor (the last id); NULL when absent (an empty page) */
} NeonProjectPage;

/*
 * Every project of the page (id, name and created_at checked, active_time
 * a count, synthetic_storage_size a count when present, the quota counts,
 * the endpoint settings numbers in range) and the cursor of the next page
 * (an id); one bad value refuses the whole page.
 */
extern bool neon_parse_project_page(const char *body, NeonProjectPage *page, char **error);

extern void neon_project_page_free(NeonProjectPage *page);

/* One project's billing figures in one period of GET /consumption_history/v2/projects. */
typedef struct NeonConsumption
{
	char	   *project_id;
	char	   *period_start;	/* RFC 3339 */
	char	   *period_end;		/* NULL for the current period (Neon gives none) */
	long long	compute_unit_seconds;	/* summed over the period's timeframes */
	long long	storage_byte_hours; /* root_branch_bytes_month + child_branch_bytes_month */
	long long	transfer_bytes; /* public_network_transfer_bytes */
} NeonConsumption;

/* A page of the consumption history: one entry per project and period. */
typedef struct NeonConsumptionPage
{
	NeonConsumption *items;
	int			n_items;
	int			n_projects;		/* projects on the page (a page is full at `limit` projects) */
	char	   *cursor;			/* pagination.cursor (a project id); NULL when absent */
} NeonConsumptionPage;

/*
 * Every project and period of a consumption page (ids and timestamps
 * checked, metric values counts, unknown metrics ignored, missing ones 0);
 * one bad value refuses the whole page.
 */
extern bool neon_parse_consumption_page(const char *body, NeonConsumptionPage *page, char **error);

extern void neon_consumption_page_free(NeonConsumptionPage *page);

#endif							/* NEON_PLATFORM_NEON_USAGE_H */
