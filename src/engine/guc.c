/*
 * guc.c
 *		The neon_platform.* settings and the library's entry point.
 */
#include "pg_prelude.h"

#include "engine/settings.h"
#include "engine/wake.h"
#include "engine/worker.h"

PG_MODULE_MAGIC;

char	   *neon_api_url = NULL;
char	   *neon_database_name = NULL;
char	   *neon_free_org_id = NULL;
char	   *neon_paid_org_id = NULL;
char	   *neon_free_org_api_key = NULL;
char	   *neon_paid_org_api_key = NULL;
char	   *neon_personal_api_key = NULL;
char	   *neon_api_key_file = NULL;
char	   *neon_project_name_prefix = NULL;
char	   *neon_claim_redirect_url = NULL;
int			neon_requests_per_minute = 700;
int			neon_burst_per_second = 40;
int			neon_max_inflight_requests = 64;
int			neon_request_timeout_ms = 30000;
int			neon_settle_margin_ms = 10000;
int			neon_operation_poll_interval_ms = 1000;
int			neon_background_rate_share = 20;
int			neon_sweep_rate_share = 20;
int			neon_max_attempts = 10;
int			neon_job_retention_s = 7 * 24 * 3600;
bool		neon_paused = false;
char	   *neon_alert_thresholds = NULL;
int			neon_usage_poll_interval_s = 900;
int			neon_usage_detail_reads = 100;
int			neon_usage_retention_s = 400 * 24 * 3600;
bool		neon_delete_strays = true;
double		neon_compute_unit_hour_price = 0.106;
int			neon_max_sql_connections = 16;
int			neon_sql_background_connections = 8;
int			neon_sql_connect_timeout_ms = 10000;
int			neon_sql_statement_timeout_ms = 300000;

void		_PG_init(void);

/*
 * Only a superuser may change where calls go: the keys travel with them. A
 * PGC_SIGHUP setting can only come from the configuration files (or ALTER
 * SYSTEM), which only superusers write.
 */
static void
define_endpoint_settings(void)
{
	DefineCustomStringVariable("neon_platform.api_url",
							   "Base URL of the Neon management API.",
							   NULL, &neon_api_url,
							   "https://console.neon.tech/api/v2",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("neon_platform.database_name",
							   "Database the neon_platform worker runs in (where the extension is created).",
							   NULL, &neon_database_name, "postgres",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("neon_platform.free_org_id",
							   "Neon organization of tiers whose organization is 'free'.",
							   NULL, &neon_free_org_id, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("neon_platform.paid_org_id",
							   "Neon organization of tiers whose organization is 'paid'.",
							   NULL, &neon_paid_org_id, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("neon_platform.project_name_prefix",
							   "Prefix of the Neon project name of each tenant.",
							   "The project of tenant t is named prefix || t; the worker finds a project whose creation outcome is unknown by this name.",
							   &neon_project_name_prefix, "tenant-",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("neon_platform.claim_redirect_url",
							   "Where Neon's console sends an end user who has claimed a project (the ru of claim links).",
							   "Empty: the console's default page.",
							   &neon_claim_redirect_url, "",
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
}

/*
 * The API keys: settable only in the configuration files and readable only
 * by superusers (and pg_read_all_settings); never shown by SHOW ALL.
 */
static void
define_key_settings(void)
{
	int			flags = GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL;

	DefineCustomStringVariable("neon_platform.free_org_api_key",
							   "Organization API key of the free organization.",
							   NULL, &neon_free_org_api_key, "",
							   PGC_SIGHUP, flags, NULL, NULL, NULL);
	DefineCustomStringVariable("neon_platform.paid_org_api_key",
							   "Organization API key of the paid organization.",
							   NULL, &neon_paid_org_api_key, "",
							   PGC_SIGHUP, flags, NULL, NULL, NULL);
	DefineCustomStringVariable("neon_platform.personal_api_key",
							   "Personal API key of an admin of both organizations (project transfers).",
							   NULL, &neon_personal_api_key, "",
							   PGC_SIGHUP, flags, NULL, NULL, NULL);
	DefineCustomStringVariable("neon_platform.api_key_file",
							   "File holding the API keys (lines name = key), re-read on reload.",
							   "Keys in this file take precedence over the key settings and never reach the server log; the file must not be readable by group or others.",
							   &neon_api_key_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
}

/* How hard and how long the worker works at the queue. */
static void
define_pacing_settings(void)
{
	DefineCustomIntVariable("neon_platform.requests_per_minute",
							"Most API calls in any 60 seconds (Neon allows 700 per account).",
							NULL, &neon_requests_per_minute, 700, 1, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("neon_platform.burst_per_second",
							"Most API calls in any second (Neon allows 40 per route).",
							NULL, &neon_burst_per_second, 40, 1, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("neon_platform.max_inflight_requests",
							"Most API calls in flight at once.",
							NULL, &neon_max_inflight_requests, 64, 1, 4096,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("neon_platform.request_timeout",
							"Time after which an API call is abandoned.",
							NULL, &neon_request_timeout_ms, 30000, 100, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("neon_platform.settle_margin",
							"Time after request_timeout before a mutation whose answer was lost is looked up.",
							"A request abandoned by the worker may still be carried out by Neon; until request_timeout plus this margin has passed since it was sent, nobody looks for its effect.",
							&neon_settle_margin_ms, 10000, 0, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("neon_platform.operation_poll_interval",
							"Time between two looks at a Neon operation a mutation waits for.",
							"0 polls nothing: a mutation that meets a running operation gets 423 and is retried with backoff.",
							&neon_operation_poll_interval_ms, 1000, 0, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("neon_platform.background_rate_share",
							"Largest share of the rate limit and of the calls in flight that background work may use, in percent.",
							NULL, &neon_background_rate_share, 20, 1, 100,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("neon_platform.sweep_rate_share",
							"Largest share of the rate limit and of the calls in flight that usage sweeps and reconciliation may use, in percent.",
							NULL, &neon_sweep_rate_share, 20, 1, 100,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("neon_platform.max_sql_connections",
							"Most connections to tenant databases at once (bootstrap SQL, neon_run_sql).",
							"Work a person waits for (a tier's bootstrap) may use them all; background work, sql_background_connections of them.",
							&neon_max_sql_connections, 16, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("neon_platform.sql_background_connections",
							"Most connections to tenant databases that background work (neon_run_sql, fleet-wide migrations) holds at once.",
							"Capped by max_sql_connections; the rest stays free for work a person waits for.",
							&neon_sql_background_connections, 8, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("neon_platform.sql_connect_timeout",
							"Time after which a connection to a tenant database that is not ready is abandoned (and retried).",
							"A compute that scaled to zero wakes up on the first connection, which can take seconds.",
							&neon_sql_connect_timeout_ms, 10000, 100, 600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("neon_platform.sql_statement_timeout",
							"statement_timeout of the SQL the worker runs in tenant databases (0: none).",
							NULL, &neon_sql_statement_timeout_ms, 300000, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("neon_platform.max_attempts",
							"Times a job is tried before it fails.",
							NULL, &neon_max_attempts, 10, 1, 1000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("neon_platform.job_retention",
							"How long finished jobs and API call records are kept (0 = forever).",
							NULL, &neon_job_retention_s, 7 * 24 * 3600, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomBoolVariable("neon_platform.paused",
							 "Stops the worker from taking new jobs (calls in flight finish).",
							 NULL, &neon_paused, false,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
}

/*
 * alert_thresholds is read in SQL on every usage reading: only a list of
 * whole percents from 1 to 1000, comma-separated, gets through.
 */
static bool
check_alert_thresholds(char **newval, void **extra pg_attribute_unused(), GucSource source pg_attribute_unused())
{
	const char *p = *newval;

	while (*p)
	{
		char	   *end;
		long		value;

		while (*p == ' ')
			p++;
		value = strtol(p, &end, 10);
		if (end == p || value < 1 || value > 1000)
		{
			GUC_check_errdetail("neon_platform.alert_thresholds takes whole percents from 1 to 1000, separated by commas.");
			return false;
		}
		for (p = end; *p == ' '; p++)
			;
		if (*p == ',')
			p++;
		else if (*p)
		{
			GUC_check_errdetail("neon_platform.alert_thresholds takes whole percents from 1 to 1000, separated by commas.");
			return false;
		}
	}
	return true;
}

/* How often tenants' usage is read, how many are read in detail, and when to alert. */
static void
define_usage_settings(void)
{
	DefineCustomIntVariable("neon_platform.usage_poll_interval",
							"Time between two sweeps that read every tenant's usage (0 = only neon_sync_usage()).",
							NULL, &neon_usage_poll_interval_s, 900, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("neon_platform.usage_detail_reads",
							"Most tenants a sweep reads in detail (GET /projects/{id}), those closest to a quota first.",
							NULL, &neon_usage_detail_reads, 100, 0, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("neon_platform.alert_thresholds",
							   "Percents of a quota at which a tenant gets an alert (neon_platform.alerts, NOTIFY neon_platform_alerts).",
							   NULL, &neon_alert_thresholds, "80,95",
							   PGC_SIGHUP, 0, check_alert_thresholds, NULL, NULL);
	DefineCustomIntVariable("neon_platform.usage_retention",
							"How long usage, billing figures, alerts and reconciliation findings are kept (0 = forever).",
							NULL, &neon_usage_retention_s, 400 * 24 * 3600, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomRealVariable("neon_platform.compute_unit_hour_price",
							 "Price of a compute-unit hour in US dollars, for the billing view.",
							 NULL, &neon_compute_unit_hour_price, 0.106, 0, 1000,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("neon_platform.delete_strays",
							 "Whether reconciliation deletes projects named for a tenant that are not its project.",
							 NULL, &neon_delete_strays, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
}

/*
 * The library must be preloaded: it reserves shared memory and starts the
 * worker at server start.
 */
void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("neon_platform must be loaded via shared_preload_libraries"),
				 errhint("Add neon_platform to shared_preload_libraries and restart the server.")));

	define_endpoint_settings();
	define_key_settings();
	define_pacing_settings();
	define_usage_settings();
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("neon_platform");
#else
	EmitWarningsOnPlaceholders("neon_platform");
#endif

	wake_register_shmem();
	worker_register();
}
