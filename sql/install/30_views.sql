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
