/*
 * neon_usage.h
 *		What a project uses, read from Neon's answers: the period counters
 *		of GET /projects/{id}, the branches (count, largest logical size)
 *		and the snapshots (count).
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
	long long	logical_size_bytes; /* the largest branch's */
	long long	branches;
	long long	snapshots;
} NeonUsage;

/* The period and its counters from GET /projects/{project_id}. */
extern bool neon_parse_project_usage(const char *body, NeonUsage *usage, char **error);

/* The number of branches and the largest logical size from GET /projects/{project_id}/branches. */
extern bool neon_parse_branch_usage(const char *body, NeonUsage *usage, char **error);

/* The number of snapshots from GET /projects/{project_id}/snapshots. */
extern bool neon_parse_snapshot_count(const char *body, NeonUsage *usage, char **error);

extern void neon_usage_free(NeonUsage *usage);

#endif							/* NEON_PLATFORM_NEON_USAGE_H */
