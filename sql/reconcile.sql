--
-- reconcile: what neon_platform.reconcile() makes of a sweep's complete
-- inventory (strays, unowned projects, missing tenants, drifted settings),
-- billing figures, and tenants.suspended_by.
--
\set SHOW_CONTEXT never
ALTER TABLE neon_platform.jobs ALTER COLUMN id RESTART WITH 10001;
SHOW neon_platform.delete_strays;
SHOW neon_platform.compute_unit_hour_price;

-- The earlier files' tenants leave the stage.
UPDATE neon_platform.tenants SET state = 'deleted';
UPDATE neon_platform.jobs SET state = 'cancelled', finished_at = now() WHERE state IN ('queued', 'running');

-- Four free tenants the superuser made ready, as the worker would, a paid one, and one whose provisioning failed.
SELECT count(neon_provision(t, CASE t WHEN 'rex' THEN 'pro' ELSE 'free' END))
  FROM unnest(ARRAY['rae', 'rob', 'roy', 'ria', 'rex', 'rue']) AS t;
UPDATE neon_platform.tenants
   SET state = 'ready',
       project_id = 'rich-fox-' || CASE tenant WHEN 'rae' THEN '00000001' WHEN 'rob' THEN '00000002'
                                               WHEN 'roy' THEN '00000003' WHEN 'ria' THEN '00000004'
                                               ELSE '00000005' END,
       branch_id = 'br-r', endpoint_id = 'ep-r', database_name = 'neondb', role_name = 'neondb_owner',
       host = 'ep-r.aws.neon.tech', pooler_host = 'ep-r-pooler.aws.neon.tech', ready_at = now(),
       created_at = now() - interval '1 hour', updated_at = now() - interval '1 hour'
 WHERE tenant IN ('rae', 'rob', 'roy', 'ria', 'rex');
UPDATE neon_platform.tenants SET state = 'failed', created_at = now() - interval '1 hour',
                                 updated_at = now() - interval '1 hour' WHERE tenant = 'rue';
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now() - interval '1 hour',
                              updated_at = now() - interval '1 hour'
 WHERE state NOT IN ('succeeded', 'failed', 'cancelled');
SELECT tenant, tier, state, project_id, project_name FROM neon_platform.tenants WHERE state <> 'deleted' ORDER BY tenant;

-- settings_drift: only what differs, compute settings only when listed.
SELECT neon_platform.settings_drift(
           '{"active_time_seconds": 360000, "compute_time_seconds": 0, "written_data_bytes": 0,
             "data_transfer_bytes": 0, "logical_size_bytes": 0, "autoscaling_max_cu": 2}', t) AS no_drift,
       neon_platform.settings_drift(
           '{"active_time_seconds": 1, "compute_time_seconds": 0, "written_data_bytes": 0,
             "data_transfer_bytes": 0, "logical_size_bytes": 0, "autoscaling_max_cu": 4}', t) AS drift
  FROM neon_platform.tiers AS t WHERE t.name = 'free';

-- A sweep (job 500) listed: rae and rob as they should be, roy with a
-- changed quota and rex with a larger compute, ria nowhere, two projects
-- named for rae (one older than rae), one for rue (whose provisioning
-- failed), one with the prefix that is no tenant's, and one without it.
INSERT INTO neon_platform.inventory (sweep_id, project_id, organization, name, created_at, settings, read_at)
SELECT 500, i.id, i.org, i.name, now() - i.age, i.settings::jsonb, now() - interval '5 minutes'
  FROM (VALUES
    ('rich-fox-00000001', 'free', 'tenant-rae', interval '1 hour', '{"active_time_seconds": 360000, "autoscaling_max_cu": 2}'),
    ('rich-fox-00000002', 'free', 'tenant-rob', interval '1 hour', '{}'),
    ('rich-fox-00000005', 'paid', 'tenant-rex', interval '1 hour', '{"autoscaling_max_cu": 8}'),
    ('rich-fox-00000003', 'free', 'tenant-roy', interval '1 hour', '{"active_time_seconds": 1}'),
    ('late-owl-11111111', 'free', 'tenant-rae', interval '30 minutes', '{}'),
    ('old-elk-22222222', 'free', 'tenant-rae', interval '2 days', '{}'),
    ('late-owl-33333333', 'free', 'tenant-rue', interval '50 minutes', '{}'),
    ('odd-yak-44444444', 'paid', 'tenant-nobody', interval '3 days', '{}'),
    ('other-app-5555555', 'free', 'analytics', interval '3 days', '{}')) AS i(id, org, name, age, settings);
-- The listed quotas are the tiers' but where a row names its own.
UPDATE neon_platform.inventory AS i
   SET settings = jsonb_build_object('active_time_seconds', r.active_time_seconds,
                                     'compute_time_seconds', r.compute_time_seconds,
                                     'written_data_bytes', r.written_data_bytes,
                                     'data_transfer_bytes', r.data_transfer_bytes,
                                     'logical_size_bytes', r.logical_size_bytes) || i.settings
  FROM neon_platform.tenants AS t JOIN neon_platform.tiers AS r ON r.name = t.tier
 WHERE t.project_id = i.project_id;
SELECT neon_platform.reconcile(500, true);
SELECT finding, tenant, project_id, organization, project_name, action, job_id IS NOT NULL AS has_job
  FROM neon_platform.findings ORDER BY id;
SELECT regexp_replace(detail, '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ', '<time>', 'g') AS detail
  FROM neon_platform.findings WHERE finding IN ('stray', 'drift', 'missing') ORDER BY id;
SELECT kind, tenant, args - 'plan' - 'from_plan' AS args, args ? 'from_plan' AS skips_endpoints
  FROM neon_platform.jobs WHERE state = 'queued' ORDER BY id;
SELECT tenant, state FROM neon_platform.tenants WHERE state <> 'deleted' ORDER BY tenant;
SELECT project_id, finding, tenant, action FROM neon_platform.strays ORDER BY project_id;

-- The stray's deletion finished.
SELECT neon_platform.stray_deleted(id) FROM neon_platform.jobs WHERE kind = 'delete_stray';
SELECT project_id, action FROM neon_platform.strays WHERE finding = 'stray' ORDER BY project_id;

-- A later sweep (501): ria's project is back; the drifted tenants'
-- apply_tier jobs are still queued (they are left alone); the old
-- inventory is dropped; with delete_strays off a stray is only reported.
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now(), updated_at = now() - interval '1 hour'
 WHERE kind IN ('delete_stray');
INSERT INTO neon_platform.inventory (sweep_id, project_id, organization, name, created_at, settings)
SELECT 501, i.project_id, i.organization, i.name, i.created_at, i.settings
  FROM neon_platform.inventory AS i WHERE i.sweep_id = 500 AND i.project_id <> 'late-owl-11111111';
INSERT INTO neon_platform.inventory (sweep_id, project_id, organization, name, created_at, settings)
VALUES (501, 'rich-fox-00000004', 'free', 'tenant-ria', now() - interval '1 hour', '{}');
SELECT neon_platform.reconcile(501, false);
SELECT finding, tenant, project_id, action FROM neon_platform.findings WHERE sweep_id = 501 ORDER BY id;
SELECT tenant, state, last_error FROM neon_platform.tenants WHERE tenant = 'ria';
SELECT DISTINCT sweep_id FROM neon_platform.inventory;
SELECT sweep_id, projects, strays, unowned, missing, found, drift FROM neon_platform.reconciliations ORDER BY sweep_id;

-- Billing: one consumption page; rows only for known, live tenants (the price: test/t/026_reconcile.pl).
SELECT neon_platform.record_consumption_page('[
  {"project_id": "rich-fox-00000005", "period_start": "2099-01-01T00:00:00Z", "period_end": null,
   "compute_unit_seconds": 7200, "storage_byte_hours": 744000000000, "transfer_bytes": 2500000000},
  {"project_id": "odd-yak-44444444", "period_start": "2099-01-01T00:00:00Z", "period_end": null,
   "compute_unit_seconds": 1, "storage_byte_hours": 1, "transfer_bytes": 1}]') AS billed;
SELECT tenant, period_start, compute_unit_hours, storage_gb_months, transfer_gb, compute_cost_usd FROM neon_platform.billing;
-- A later page of the same period replaces the figures.
SELECT neon_platform.record_consumption_page('[
  {"project_id": "rich-fox-00000005", "period_start": "2099-01-01T00:00:00Z", "period_end": null,
   "compute_unit_seconds": 36000, "storage_byte_hours": 0, "transfer_bytes": 0}]') AS billed;

-- suspended_by: a reading that uses up a period quota marks the tenant; an
-- upgrade (its tier changes) lifts it; logical size never suspends.
SELECT neon_platform.record_usage('rob', date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', NULL,
                                  360000, NULL, NULL, NULL, NULL, NULL, NULL, false);
SELECT tenant, suspended_by FROM neon_platform.tenants WHERE tenant = 'rob';
SELECT tenant, metric, percent_used, suspended FROM neon_platform.quota_status WHERE tenant = 'rob';
UPDATE neon_platform.tenants SET tier = 'pro', organization = 'paid' WHERE tenant = 'rob';
SELECT tenant, suspended_by FROM neon_platform.tenants WHERE tenant = 'rob';
SELECT tenant, metric, percent_used, suspended FROM neon_platform.quota_status WHERE tenant = 'rob';

-- neon_reconcile() is a sweep: the one queued is returned; only granted roles may call it.
SELECT neon_reconcile() = neon_sync_usage() AS same_sweep;
SELECT has_function_privilege('public', 'neon_reconcile()', 'EXECUTE') AS public_may_reconcile,
       has_table_privilege('public', 'neon_platform.strays', 'SELECT') AS public_reads_strays,
       has_table_privilege('public', 'neon_platform.inventory', 'SELECT') AS public_reads_inventory;
