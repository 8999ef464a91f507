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
