---------------------------------------------------------------------------
-- Views
---------------------------------------------------------------------------

CREATE OR REPLACE VIEW neon_platform.queue_summary AS
SELECT kind,
       state,
       count(*) AS jobs,
       min(created_at) AS oldest_created_at,
       min(run_after) FILTER (WHERE state = 'queued') AS next_run_after,
       max(attempts) AS max_attempts_so_far
  FROM neon_platform.jobs
 GROUP BY kind, state;
COMMENT ON VIEW neon_platform.queue_summary IS 'How many jobs of each kind are in each state';

CREATE OR REPLACE VIEW neon_platform.worker AS
SELECT pid, backend_start, state, wait_event_type, wait_event, activity
  FROM neon_platform.worker_status();
COMMENT ON VIEW neon_platform.worker IS 'The neon_platform background worker, if it is running';


CREATE OR REPLACE VIEW neon_platform.claims AS
SELECT tenant,
       project_id,
       claim_url,
       claim_expires_at,
       CASE WHEN state = 'claimed' THEN 'claimed'
            WHEN claim_expires_at <= now() THEN 'expired'
            ELSE 'open' END AS status
  FROM neon_platform.tenants
 WHERE claim_url IS NOT NULL;
COMMENT ON VIEW neon_platform.claims IS
    'Claim links made by neon_claim(): open (the end user may still take the project), expired, or claimed';

CREATE OR REPLACE VIEW neon_platform.versions AS
SELECT s.tenant,
       coalesce(s.ready_at, s.created_at) AS at,
       'snapshot'::text AS kind,
       s.name,
       NULL::timestamptz AS to_time,
       s.state,
       NULL::bigint AS restore_id,
       false AS next_undo,
       false AS next_redo
  FROM neon_platform.snapshots AS s
 WHERE s.state IN ('creating', 'ready', 'deleting')
UNION ALL
SELECT r.tenant,
       r.created_at,
       'restore',
       coalesce(r.snapshot, 'point in time'),
       r.to_time,
       r.state,
       r.id,
       r.id IS NOT DISTINCT FROM (SELECT max(x.id) FROM neon_platform.restores AS x
                                   WHERE x.tenant = r.tenant AND x.state = 'applied'),
       r.id IS NOT DISTINCT FROM (SELECT min(x.id) FROM neon_platform.restores AS x
                                   WHERE x.tenant = r.tenant AND x.state = 'undone')
  FROM neon_platform.restores AS r
 WHERE r.state <> 'discarded';
COMMENT ON VIEW neon_platform.versions IS
    'A tenant''s timeline for an undo/redo UI (ORDER BY at DESC): snapshots, and restores with the one neon_undo_restore() would undo (next_undo) and the one neon_redo_restore() would redo (next_redo)';

CREATE OR REPLACE VIEW neon_platform.quota_status AS
SELECT t.tenant,
       m.metric,
       m.used,
       m.quota,
       round(m.used * 100.0 / nullif(m.quota, 0), 1) AS percent_used,
       coalesce(m.quota > 0 AND m.used >= m.quota AND m.metric <> 'logical_size_bytes', false) AS suspended,
       u.read_at AS as_of
  FROM neon_platform.tenants AS t
  JOIN neon_platform.tiers AS r ON r.name = t.tier
  JOIN LATERAL (SELECT * FROM neon_platform.usage AS x WHERE x.tenant = t.tenant
                 ORDER BY x.period_start DESC LIMIT 1) AS u ON u.period_end IS NULL OR u.period_end > now()
 CROSS JOIN LATERAL (VALUES
       ('active_time_seconds', u.active_time_seconds, r.active_time_seconds),
       ('compute_time_seconds', u.compute_time_seconds, r.compute_time_seconds),
       ('written_data_bytes', u.written_data_bytes, r.written_data_bytes),
       ('data_transfer_bytes', u.data_transfer_bytes, r.data_transfer_bytes),
       ('logical_size_bytes', u.logical_size_bytes, r.logical_size_bytes)) AS m(metric, used, quota)
 WHERE t.state NOT IN ('deleted', 'claimed') AND m.used IS NOT NULL;
COMMENT ON VIEW neon_platform.quota_status IS
    'Each tenant''s use of each quota of its tier in the current period, as last read; suspended: a period quota is used up (Neon suspends the computes)';

CREATE OR REPLACE VIEW neon_platform.billing AS
SELECT c.tenant,
       c.period_start,
       c.period_end,
       round(c.compute_unit_seconds / 3600.0, 4) AS compute_unit_hours,
       round(c.storage_byte_hours / 744.0 / 1e9, 6) AS storage_gb_months,
       round(c.transfer_bytes / 1e9, 6) AS transfer_gb,
       round(c.compute_unit_seconds / 3600.0
             * current_setting('neon_platform.compute_unit_hour_price')::numeric, 2) AS compute_cost_usd,
       c.read_at AS as_of
  FROM neon_platform.consumption AS c;
COMMENT ON VIEW neon_platform.billing IS
    'Each paid tenant''s compute-unit hours, storage (GB-months of 744 hours) and transfer per period from Neon''s consumption API, with the compute cost at neon_platform.compute_unit_hour_price';

CREATE OR REPLACE VIEW neon_platform.strays AS
SELECT f.project_id,
       f.project_name,
       f.organization,
       f.finding,
       f.tenant,
       f.action,
       f.job_id,
       f.detail,
       f.found_at
  FROM neon_platform.findings AS f
 WHERE f.finding IN ('stray', 'unowned')
   AND f.sweep_id = (SELECT max(r.sweep_id) FROM neon_platform.reconciliations AS r);
COMMENT ON VIEW neon_platform.strays IS
    'Projects the last reconciliation found that are no tenant''s: unowned ones (the name prefix, no such tenant: reported, never deleted) and strays named for a tenant (deleted unless neon_platform.delete_strays is off)';

CREATE OR REPLACE VIEW neon_platform.sql_runs AS
SELECT md5(j.args->>'sql') AS sql_id,
       min(left(j.args->>'sql', 200)) AS sql,
       count(*) AS tenants,
       count(*) FILTER (WHERE j.state = 'queued') AS queued,
       count(*) FILTER (WHERE j.state = 'running') AS running,
       count(*) FILTER (WHERE j.state = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE j.state = 'failed') AS failed,
       count(*) FILTER (WHERE j.state = 'cancelled') AS cancelled,
       sum((j.result->>'rows_affected')::bigint) AS rows_affected,
       round(avg((j.result->>'duration_ms')::numeric), 1) AS avg_duration_ms,
       min(j.created_at) AS enqueued_at,
       max(j.finished_at) AS last_finished_at
  FROM neon_platform.jobs AS j
 WHERE j.kind = 'run_sql'
 GROUP BY md5(j.args->>'sql');
COMMENT ON VIEW neon_platform.sql_runs IS
    'Progress of neon_run_sql() per SQL text (a fleet-wide migration is one row): tenants queued, running, succeeded, failed, rows affected; each tenant''s outcome is its job row';
