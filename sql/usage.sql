--
-- usage: readings of a tenant's consumption per period, quota_status, and
-- alerts (once per tenant, metric and period, the highest threshold crossed).
--
\set SHOW_CONTEXT never
ALTER TABLE neon_platform.jobs ALTER COLUMN id RESTART WITH 9001;
ALTER TABLE neon_platform.alerts ALTER COLUMN id RESTART WITH 1;
SHOW neon_platform.alert_thresholds;

-- Three free tenants the superuser made ready, as the worker would.
SELECT count(neon_provision(t, 'free')) FROM unnest(ARRAY['uma', 'ugo', 'ula']) AS t;
UPDATE neon_platform.tenants
   SET state = 'ready', project_id = 'busy-bee-' || tenant, branch_id = 'br-u', endpoint_id = 'ep-u',
       database_name = 'neondb', role_name = 'neondb_owner', host = 'ep-u.aws.neon.tech',
       pooler_host = 'ep-u-pooler.aws.neon.tech', ready_at = now()
 WHERE tenant IN ('uma', 'ugo', 'ula');
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now() WHERE tenant IN ('uma', 'ugo', 'ula');

-- A reading under every threshold: no alert.
SELECT neon_platform.record_usage('uma', '2099-01-01Z', '2099-02-01Z', 100000, NULL, NULL, NULL, 1000, NULL, NULL, false);
SELECT count(*) AS alerts FROM neon_platform.alerts;
-- 83 % of the free tier's 360000 s of active time: the 80 % alert (NOTIFY: test/t/025_usage.pl).
SELECT neon_platform.record_usage('uma', '2099-01-01Z', '2099-02-01Z', 298800, NULL, NULL, NULL, NULL, NULL, NULL, false);
-- The same reading again: nothing new.
SELECT neon_platform.record_usage('uma', '2099-01-01Z', '2099-02-01Z', 299000, NULL, NULL, NULL, NULL, NULL, NULL, false);
-- 97 %: the 95 % alert.
SELECT neon_platform.record_usage('uma', '2099-01-01Z', '2099-02-01Z', 349200, NULL, NULL, NULL, NULL, NULL, NULL, false);
-- Straight to 96 %: only the highest threshold crossed fires.
SELECT neon_platform.record_usage('ugo', '2099-01-01Z', '2099-02-01Z', 345600, NULL, NULL, NULL, NULL, NULL, NULL, false);
-- A new period starts afresh.
SELECT neon_platform.record_usage('uma', '2099-02-01Z', '2099-03-01Z', 300000, NULL, NULL, NULL, NULL, NULL, NULL, false);
SELECT id, tenant, metric, threshold, percent_used, period_start FROM neon_platform.alerts ORDER BY id;

-- Figures a reading does not give keep the period's earlier ones.
SELECT neon_platform.record_usage('ula', '2099-01-01Z', '2099-02-01Z', 10, 20, 30, 40, 50, 2, 1, true);
SELECT neon_platform.record_usage('ula', '2099-01-01Z', '2099-02-01Z', 11, NULL, NULL, NULL, 55, NULL, NULL, false);
SELECT active_time_seconds, compute_time_seconds, written_data_bytes, data_transfer_bytes, logical_size_bytes,
       branches, snapshots, detail_read_at IS NOT NULL AS detailed
  FROM neon_platform.usage WHERE tenant = 'ula';

-- quota_status: the current period of each tenant; a used-up period quota is a suspension.
SELECT neon_platform.record_usage('ugo', '2099-01-01Z', '2099-02-01Z', 360000, NULL, NULL, NULL, NULL, NULL, NULL, false);
SELECT tenant, metric, used, quota, percent_used, suspended FROM neon_platform.quota_status
 WHERE tenant IN ('uma', 'ugo', 'ula') ORDER BY tenant, metric;

-- Detail reads go to the tenants nearest a quota first, within the budget
-- (this month only: the readings above are in 2099).
SELECT neon_platform.record_usage(t, date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', NULL, a,
                                  NULL, NULL, NULL, NULL, NULL, NULL, false)
  FROM (VALUES ('uma', 260000), ('ugo', 340000), ('ula', 1000)) AS v(t, a);
SELECT neon_platform.enqueue_usage_reads(1) AS enqueued;
SELECT neon_platform.enqueue_usage_reads(5) AS enqueued_more;
SELECT tenant, kind FROM neon_platform.jobs WHERE kind = 'read_usage' ORDER BY id;

-- neon_sync_usage: one sweep at a time.
SELECT neon_sync_usage() AS sweep, neon_sync_usage() AS same_sweep;
SELECT tenant, kind, args FROM neon_platform.jobs WHERE kind = 'usage_sweep';
SELECT neon_platform.enqueue_due_sweep(900);
SELECT count(*) AS sweeps FROM neon_platform.jobs WHERE kind = 'usage_sweep';
SELECT has_function_privilege('public', 'neon_sync_usage()', 'EXECUTE') AS public_may_sync;

-- prune_usage: past periods go after the retention, the current one never.
SELECT neon_platform.record_usage('ula', '2020-01-01Z', '2020-02-01Z', 10, NULL, NULL, NULL, NULL, NULL, NULL, false);
INSERT INTO neon_platform.alerts (tenant, metric, threshold, percent_used, period_start, period_end, created_at)
VALUES ('ula', 'active_time_seconds', 80, 81, '2020-01-01Z', '2020-02-01Z', '2020-01-20Z');
SELECT tenant, CASE WHEN period_start < '2021-01-01Z' THEN '2020' WHEN period_start > '2098-01-01Z' THEN '2099'
                     ELSE 'this month' END AS period
  FROM neon_platform.usage WHERE tenant = 'ula' ORDER BY period_start;
SELECT neon_platform.prune_usage(86400 * 400);
SELECT tenant, CASE WHEN period_start < '2021-01-01Z' THEN '2020' WHEN period_start > '2098-01-01Z' THEN '2099'
                     ELSE 'this month' END AS period
  FROM neon_platform.usage WHERE tenant = 'ula' ORDER BY period_start;
SELECT count(*) AS alerts_of_2020 FROM neon_platform.alerts WHERE period_start < '2021-01-01Z';
SELECT neon_platform.prune_usage(1);
SELECT tenant, count(*) FROM neon_platform.usage GROUP BY 1 ORDER BY 1;
