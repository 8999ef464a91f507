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
-- A huge name comes back cut to 64 characters, never whole.
SELECT neon_provision(repeat('x', 1000000));
\echo sqlstate :LAST_ERROR_SQLSTATE
DO $$
DECLARE
    msg text;
BEGIN
    PERFORM neon_provision(repeat('x', 1000000));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
    RAISE NOTICE 'sqlstate %, message of % characters, ends with %',
        SQLSTATE, length(msg), right(msg, 6);
END
$$;

-- Unknown tiers: the HINT lists the tiers there are.
SELECT neon_provision('acme', 'gold');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_provision('acme', 'Free');
SELECT neon_provision('acme', NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
-- A huge tier name comes back cut to 64 characters too.
SELECT neon_provision('acme', repeat('t', 1000000));
\echo sqlstate :LAST_ERROR_SQLSTATE
DO $$
DECLARE
    msg text;
BEGIN
    PERFORM neon_provision('acme', repeat('t', 1000000));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
    RAISE NOTICE 'sqlstate %, message of % characters', SQLSTATE, length(msg);
END
$$;

-- Nothing half-done after those errors.
SELECT (SELECT count(*) FROM neon_platform.tenants) AS tenants,
       (SELECT count(*) FROM neon_platform.jobs) AS jobs;

-- A valid call: one tenant, provisioning, named prefix || tenant, and one queued job.
SELECT neon_provision('acme', 'pro') AS acme_job \gset
SELECT :acme_job AS acme_job;
SELECT tenant, tier, organization, project_name, state, project_id, branch_id, endpoint_id,
       host, pooler_host, pending_operations, last_error, ready_at IS NULL AS not_ready_yet
  FROM neon_platform.tenants ORDER BY tenant;
SELECT id, tenant, kind, state, step, attempts, progress, mutation_sent_at, last_http_status,
       last_error, result, started_at, finished_at, run_after <= now() AS due_now
  FROM neon_platform.jobs ORDER BY id;
-- The job carries what the worker needs: the tier, the project name, and
-- the tier's whole row as the plan, as it was at enqueue time.
SELECT jsonb_pretty(args) AS args FROM neon_platform.jobs WHERE id = :acme_job;
SELECT args->'plan' = (SELECT to_jsonb(r) FROM neon_platform.tiers AS r WHERE r.name = 'pro') AS plan_is_tier_row
  FROM neon_platform.jobs WHERE id = :acme_job;
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
SELECT t.tenant, t.tier, t.organization, t.project_name, t.state, j.kind, j.state AS job_state,
       j.args->>'tier' AS args_tier, j.args->>'project_name' = t.project_name AS args_project_name,
       j.args->'plan'->>'organization' AS plan_organization, j.args->'plan'->>'name' AS plan_name
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
SELECT id = :globex_job AS first_job, state, attempts, step, args->>'tier' AS args_tier,
       args->>'project_name' AS args_project_name, args->'plan'->>'organization' AS plan_organization
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

-- neon_provision() takes no row lock on a tenant that exists: the worker
-- writes tenant rows with NOWAIT (and sets the job aside when it cannot),
-- so an application transaction that calls it must not hold the worker up.
-- A second session tries the worker's lock, FOR NO KEY UPDATE NOWAIT.
CREATE EXTENSION dblink;
SELECT dblink_connect('other', 'dbname=contrib_regression');
SELECT dblink_exec('other', $$
    CREATE FUNCTION pg_temp.try_lock(name text) RETURNS text LANGUAGE plpgsql AS $f$
    BEGIN
        PERFORM FROM neon_platform.tenants WHERE tenant = name FOR NO KEY UPDATE NOWAIT;
        RETURN 'free';
    EXCEPTION WHEN lock_not_available THEN
        RETURN 'locked (' || SQLSTATE || ')';
    END
    $f$
$$);
BEGIN;
-- 7eleven is provisioning, acme failed with a project (its jobs deleted).
SELECT neon_provision('7eleven', 'pro') IS NOT NULL AS same_job;
SELECT neon_provision('acme', 'pro') AS job;
-- A row this transaction does lock, to show that the probe sees a lock.
SELECT tenant FROM neon_platform.tenants WHERE tenant = 'Init.ech_42@x-y' FOR SHARE;
SELECT * FROM dblink('other', $$SELECT pg_temp.try_lock('7eleven'), pg_temp.try_lock('acme'),
                                       pg_temp.try_lock('Init.ech_42@x-y')$$)
    AS t("7eleven" text, acme text, "Init.ech_42@x-y" text);
COMMIT;

-- A retry of a failed tenant writes its row only while it is still failed:
-- of two concurrent retries, the second returns the first one's job and
-- enqueues nothing.  This session holds globex (FOR SHARE), so the other
-- session's retry reads it failed and then waits at its UPDATE; this
-- session retries meanwhile and commits.
BEGIN;
SELECT tenant, state FROM neon_platform.tenants WHERE tenant = 'globex' FOR SHARE;
SELECT dblink_send_query('other', $$SELECT neon_provision('globex')$$);
DO $$
BEGIN
    FOR i IN 1..3000 LOOP
        EXIT WHEN EXISTS (SELECT FROM pg_locks WHERE NOT granted);
        PERFORM pg_sleep(0.01);
    END LOOP;
END
$$;
SELECT neon_provision('globex') AS globex_retry2 \gset
COMMIT;
SELECT job = :globex_retry2 AS same_job FROM dblink_get_result('other') AS r(job bigint);
SELECT id = :globex_retry2 AS retry, state, step FROM neon_platform.jobs WHERE tenant = 'globex' ORDER BY id;
SELECT tenant, state, last_error FROM neon_platform.tenants WHERE tenant = 'globex';
SELECT dblink_disconnect('other');
DROP EXTENSION dblink;

-- The job carries the plan as it was at enqueue time: a later change of the
-- tier does not rewrite the args of a job already queued.
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('snapshot', 'paid', 3600, 5, 0);
SELECT neon_provision('plan-snapshot', 'snapshot') AS snapshot_job \gset
UPDATE neon_platform.tiers SET suspend_timeout_seconds = 600 WHERE name = 'snapshot';
SELECT args->'plan'->>'suspend_timeout_seconds' AS job_suspend_timeout,
       (SELECT suspend_timeout_seconds FROM neon_platform.tiers WHERE name = 'snapshot') AS tier_suspend_timeout
  FROM neon_platform.jobs WHERE id = :snapshot_job;

-- Cleanup.
DELETE FROM neon_platform.jobs;
DELETE FROM neon_platform.tenants;
DELETE FROM neon_platform.tiers WHERE name = 'snapshot';
