/*
 * sql_steps.h
 *		What the kinds that run SQL in a tenant's database share: its
 *		connection read when the job is taken up, the SQL call, the outcome of
 *		SQL that ran, and the step a restarted worker resumes at when the SQL
 *		may have run (sql_steps.c).
 */
#ifndef NEON_PLATFORM_SQL_STEPS_H
#define NEON_PLATFORM_SQL_STEPS_H

#include "engine/job.h"

/* Where a job resumes when the worker stopped while its SQL ran: it fails, the SQL is not run again. */
#define SQL_STEP_UNKNOWN "sql_outcome_unknown"

typedef struct TenantSql
{
	char	   *conninfo;		/* direct URI with the password; malloc'd, wiped */
	const char *sql;			/* in the job's memory */
} TenantSql;

extern bool tenant_sql_load(Job *job, TenantSql *t, const char *branch_id, const char *sql, const char **error);
extern bool tenant_sql_build(Job *job, TenantSql *t, const char **error);
extern JobOutcome tenant_sql_outcome(Job *job, SqlRequest *req, const char *what);
extern bool tenant_sql_unknown_outcome(Job *job, const char **error);
extern void tenant_sql_release(TenantSql *t);

#endif							/* NEON_PLATFORM_SQL_STEPS_H */
