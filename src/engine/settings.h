/*
 * settings.h
 *		The neon_platform.* settings (guc.c).
 */
#ifndef NEON_PLATFORM_SETTINGS_H
#define NEON_PLATFORM_SETTINGS_H

extern char *neon_api_url;
extern char *neon_database_name;
extern char *neon_free_org_id;
extern char *neon_paid_org_id;
extern char *neon_free_org_api_key;
extern char *neon_paid_org_api_key;
extern char *neon_personal_api_key;
extern char *neon_api_key_file;
extern char *neon_project_name_prefix;
extern char *neon_claim_redirect_url;
extern int	neon_requests_per_minute;
extern int	neon_burst_per_second;
extern int	neon_max_inflight_requests;
extern int	neon_request_timeout_ms;
extern int	neon_settle_margin_ms;
extern int	neon_operation_poll_interval_ms;
extern int	neon_background_rate_share;
extern int	neon_sweep_rate_share;
extern int	neon_max_attempts;
extern int	neon_job_retention_s;
extern bool neon_paused;
extern char *neon_alert_thresholds;
extern int	neon_usage_poll_interval_s;
extern int	neon_usage_detail_reads;
extern int	neon_usage_retention_s;
extern bool neon_delete_strays;
extern double neon_compute_unit_hour_price;
extern int	neon_max_sql_connections;
extern int	neon_sql_background_connections;
extern int	neon_sql_connect_timeout_ms;
extern int	neon_sql_statement_timeout_ms;

#endif							/* NEON_PLATFORM_SETTINGS_H */
