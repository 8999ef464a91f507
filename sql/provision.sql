--
-- provision: neon_provision() validates, then enqueues in the caller's transaction.
-- The worker is paused (test/regress.conf): the queue stays as the SQL API leaves it.
--
\set SHOW_CONTEXT never
-- Job ids in this file start at 1001.
ALTER TABLE neon_platform.jobs ALTER COLUMN id RESTART WITH 1001;

SHOW neon_platform.project_name_prefix;

-- Invalid tenant names, each with its SQLSTATE.
SELECT neon_provision(NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_provision('');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_provision('acme corp');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_provision('-acme');
SELECT neon_provision('_acme');
SELECT neon_provision('acme;drop');
SELECT neon_provision('acme/prod');
SELECT neon_provision(E'acme\n');
SELECT neon_provision('acme$');
SELECT neon_provision(repeat('a', 64));
\echo sqlstate :LAST_ERROR_SQLSTATE

-- Unknown tiers: the HINT lists the tiers there are.
SELECT neon_provision('acme', 'gold');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_provision('acme', 'Free');
SELECT neon_provision('acme', NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE

-- Nothing half-done after those errors.
SELECT (SELECT count(*) FROM neon_platform.tenants) AS tenants,
       (SELECT count(*) FROM neon_platform.jobs) AS jobs;

-- A valid call: one tenant, provisioning, named prefix || tenant, and one queued job.
SELECT neon_provision('acme', 'pro') AS acme_job \gset
SELECT :acme_job AS acme_job;
SELECT tenant, tier, organization, project_name, state, project_id, branch_id, endpoint_id,
       host, pooler_host, pending_operations, last_error, ready_at IS NULL AS not_ready_yet
  FROM neon_platform.tenants ORDER BY tenant;
SELECT id, tenant, kind, args, state, step, attempts, lease_until, last_http_status, last_error,
       result, started_at, finished_at, run_after <= now() AS due_now
  FROM neon_platform.jobs ORDER BY id;
SELECT kind, state, jobs, next_run_after IS NOT NULL AS has_next_run_after, max_attempts_so_far
  FROM neon_platform.queue_summary ORDER BY kind, state;

-- Calling again returns the same job and inserts nothing.
SELECT neon_provision('acme', 'pro') = :acme_job AS same_job;
SELECT neon_provision(tier => 'pro', tenant => 'acme') = :acme_job AS same_job;
SELECT (SELECT count(*) FROM neon_platform.tenants) AS tenants,
       (SELECT count(*) FROM neon_platform.jobs) AS jobs;

-- Another tier for an existing tenant is an error (the default tier too).
SELECT neon_provision('acme', 'free');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_provision('acme');
SELECT (SELECT count(*) FROM neon_platform.tenants) AS tenants,
       (SELECT count(*) FROM neon_platform.jobs) AS jobs;

-- The default tier is free; every allowed character and 63 characters are fine.
SELECT neon_provision('globex') AS globex_job \gset
SELECT neon_provision('Init.ech_42@x-y') IS NOT NULL AS enqueued;
SELECT neon_provision(repeat('z', 63)) IS NOT NULL AS enqueued;
SELECT neon_provision('7eleven', 'pro') IS NOT NULL AS enqueued;
SELECT t.tenant, t.tier, t.organization, t.project_name, t.state, j.kind, j.args, j.state AS job_state
  FROM neon_platform.tenants AS t JOIN neon_platform.jobs AS j USING (tenant)
 ORDER BY j.id;

-- The project name prefix comes from the server configuration only: a
-- session cannot pick the project name (the worker finds projects by it).
SET neon_platform.project_name_prefix = 'acme-prod-';
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT set_config('neon_platform.project_name_prefix', 'acme-prod-', true);

-- A rolled-back call leaves nothing behind.
BEGIN;
SELECT neon_provision('rolled-back', 'pro') IS NOT NULL AS enqueued;
SELECT count(*) AS tenants_in_transaction FROM neon_platform.tenants WHERE tenant = 'rolled-back';
ROLLBACK;
SELECT (SELECT count(*) FROM neon_platform.tenants WHERE tenant = 'rolled-back') AS tenants,
       (SELECT count(*) FROM neon_platform.jobs WHERE tenant = 'rolled-back') AS jobs;

-- An error later in the caller's transaction takes the enqueued job with it.
BEGIN;
SELECT neon_provision('doomed') IS NOT NULL AS enqueued;
SELECT 1 / 0;
COMMIT;
SELECT count(*) AS doomed FROM neon_platform.tenants WHERE tenant = 'doomed';

-- A tenant whose provisioning failed before a project existed is queued again.
UPDATE neon_platform.jobs
   SET state = 'failed', attempts = 10, last_http_status = 500, last_error = 'HTTP 500: internal error',
       finished_at = now()
 WHERE id = :globex_job;
UPDATE neon_platform.tenants SET state = 'failed', last_error = 'HTTP 500: internal error'
 WHERE tenant = 'globex';
SELECT neon_provision('globex') AS globex_retry \gset
SELECT :globex_retry > :globex_job AS new_job;
SELECT tenant, tier, state, last_error FROM neon_platform.tenants WHERE tenant = 'globex';
-- The retry starts by looking for a project the failed attempt may have created.
SELECT id = :globex_job AS first_job, state, attempts, args, step
  FROM neon_platform.jobs WHERE tenant = 'globex' ORDER BY id;
-- ... and a second call returns the new job.
SELECT neon_provision('globex') = :globex_retry AS same_job;
-- A different tier is still refused while it is failed.
UPDATE neon_platform.jobs SET state = 'failed', last_error = 'HTTP 500', finished_at = now()
 WHERE id = :globex_retry;
UPDATE neon_platform.tenants SET state = 'failed', last_error = 'HTTP 500' WHERE tenant = 'globex';
SELECT neon_provision('globex', 'pro');
SELECT count(*) AS globex_jobs FROM neon_platform.jobs WHERE tenant = 'globex';

-- A failed tenant that has a project is not provisioned again: the call
-- returns its last job (never a second project).
UPDATE neon_platform.jobs SET state = 'failed', last_error = 'HTTP 500', finished_at = now()
 WHERE id = :acme_job;
UPDATE neon_platform.tenants SET state = 'failed', project_id = 'proud-river-12345678', last_error = 'HTTP 500'
 WHERE tenant = 'acme';
SELECT neon_provision('acme', 'pro') = :acme_job AS same_job;
SELECT state, count(*) FROM neon_platform.jobs WHERE tenant = 'acme' GROUP BY state ORDER BY state;

-- A tenant whose jobs were deleted (job retention): NULL and a notice.
DELETE FROM neon_platform.jobs WHERE tenant = 'acme';
SELECT neon_provision('acme', 'pro') AS job;
SELECT count(*) AS acme_jobs FROM neon_platform.jobs WHERE tenant = 'acme';

-- Two tenants can never share a project name (the worker finds projects by
-- it): a name taken under another prefix is refused, and nothing is written.
INSERT INTO neon_platform.tenants (tenant, tier, organization, project_name)
VALUES ('old-naming', 'free', 'free', 'tenant-collide');
SELECT neon_provision('collide');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT count(*) AS collide_rows FROM neon_platform.tenants WHERE tenant = 'collide';

-- Cleanup.
DELETE FROM neon_platform.jobs;
DELETE FROM neon_platform.tenants;
