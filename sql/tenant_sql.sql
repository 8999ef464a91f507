--
-- tenant_sql: neon_run_sql() validates and enqueues in the caller's
-- transaction; a tier's bootstrap_sql that failed is the only thing
-- neon_provision() runs again; sql_connection_uri gives the worker the
-- direct connection; sql_runs shows a migration's progress.
--
\set SHOW_CONTEXT never
ALTER TABLE neon_platform.jobs ALTER COLUMN id RESTART WITH 12001;
SHOW neon_platform.max_sql_connections;
SHOW neon_platform.sql_connect_timeout;
SHOW neon_platform.sql_statement_timeout;

-- Two tenants the superuser made ready, as the worker would, with a development branch.
SELECT count(neon_provision(t, 'free')) FROM unnest(ARRAY['sue', 'sam']) AS t;
UPDATE neon_platform.tenants
   SET state = 'ready', project_id = 'calm-sea-' || CASE tenant WHEN 'sue' THEN '70000001' ELSE '70000002' END,
       branch_id = 'br-prod-' || tenant, endpoint_id = 'ep-s', database_name = 'neondb', role_name = 'neondb_owner',
       host = '127.0.0.1:40001', pooler_host = '127.0.0.1:40002', ready_at = now()
 WHERE tenant IN ('sue', 'sam');
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now() WHERE tenant IN ('sue', 'sam');
INSERT INTO neon_platform.tenant_secrets (tenant, role_password) VALUES ('sue', 'p@ss/w:rd'), ('sam', 'npg_x');
INSERT INTO neon_platform.branches (tenant, name, kind, state, branch_id, endpoint_id, host, pooler_host)
VALUES ('sue', 'dev', 'development', 'ready', 'br-dev-sue', 'ep-d', '127.0.0.1:40011', '127.0.0.1:40012');

-- neon_run_sql: argument errors, each with its SQLSTATE; nothing enqueued.
SELECT neon_run_sql('sue', NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_run_sql('sue', ' ; ');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_run_sql('sue', repeat('x', 1048577));
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_run_sql('nobody', 'SELECT 1');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_run_sql('sue', 'SELECT 1', branch => 'nope');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT count(*) AS run_sql_jobs FROM neon_platform.jobs WHERE kind = 'run_sql';
-- Tenants without a database are passed over (a fleet-wide SELECT meets them); busy ones get the SQL after their job.
UPDATE neon_platform.tenants SET state = 'deleted' WHERE tenant = 'sam';
SELECT neon_run_sql('sam', 'SELECT 1') IS NULL AS passed_over;
UPDATE neon_platform.tenants SET state = 'failed' WHERE tenant = 'sam';
SELECT neon_run_sql('sam', 'SELECT 1') IS NULL AS passed_over;
UPDATE neon_platform.tenants SET state = 'changing_tier' WHERE tenant = 'sam';
SELECT neon_run_sql('sam', 'SELECT 1') IS NOT NULL AS enqueued_behind_its_job;
UPDATE neon_platform.tenants SET state = 'ready' WHERE tenant = 'sam';
DELETE FROM neon_platform.jobs WHERE kind = 'run_sql';
ALTER TABLE neon_platform.jobs ALTER COLUMN id RESTART WITH 12003;

-- Production, a branch by name and by id; a rolled-back call leaves nothing.
SELECT neon_run_sql('sue', 'CREATE TABLE t (id int)') AS production_job;
SELECT neon_run_sql('sue', 'DELETE FROM t', branch => 'dev') AS branch_job;
SELECT neon_run_sql('sue', 'DELETE FROM t', branch => 'br-dev-sue') AS branch_by_id_job;
SELECT neon_run_sql('sue', 'SELECT 1', branch => 'br-prod-sue') AS production_by_id_job;
BEGIN;
SELECT neon_run_sql('sam', 'DROP TABLE t') IS NOT NULL AS enqueued;
ROLLBACK;
SELECT id, tenant, kind, state, args FROM neon_platform.jobs WHERE kind = 'run_sql' ORDER BY id;

-- The worker's connection: direct host, percent-encoded password; the branch's host for a branch.
SELECT neon_platform.sql_connection_uri('sue', NULL) AS production,
       neon_platform.sql_connection_uri('sue', 'br-dev-sue') AS branch,
       neon_platform.sql_connection_uri('sue', 'br-none') AS unknown_branch,
       neon_platform.sql_connection_uri('nobody', NULL) AS unknown_tenant;
SELECT neon_connection_uri('sue') AS pooled_uri;

-- Privileges: only granted roles may run SQL in tenants, nobody else sees connections.
SELECT has_function_privilege('public', 'neon_run_sql(text, text, text)', 'EXECUTE') AS public_may_run,
       has_function_privilege('public', 'neon_platform.sql_connection_uri(text, text)', 'EXECUTE') AS public_may_connect,
       has_table_privilege('public', 'neon_platform.sql_runs', 'SELECT') AS public_sees_progress;

-- sql_runs: one row per SQL text, as the jobs end.
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now(),
       result = '{"rows_affected": 3, "statements": 1, "duration_ms": 12.5, "connect_ms": 4.0, "command_tag": "DELETE 3"}'
 WHERE id = 12004;
UPDATE neon_platform.jobs SET state = 'failed', finished_at = now(), last_error = 'the SQL failed: ERROR 42P01: relation "t" does not exist',
       result = '{"rows_affected": 0, "statements": 1, "duration_ms": 7.5, "connect_ms": 4.0, "sqlstate": "42P01"}'
 WHERE id = 12005;
SELECT sql, tenants, queued, running, succeeded, failed, cancelled, rows_affected, avg_duration_ms
  FROM neon_platform.sql_runs ORDER BY sql;

-- A tier's bootstrap: in the provisioning job's plan; a failed bootstrap is
-- the only part neon_provision() runs again, with the tier's SQL as it is now.
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots, bootstrap_sql)
VALUES ('boot', 'free', 3600, 1, 0, 'CREATE TABLE app (id int)');
SELECT neon_provision('bea', 'boot') AS bea_job \gset
SELECT args->'plan'->>'bootstrap_sql' AS bootstrap_sql, step FROM neon_platform.jobs WHERE id = :bea_job;
UPDATE neon_platform.jobs SET state = 'failed', step = 'bootstrap', finished_at = now(),
       last_error = 'the tier''s bootstrap SQL failed: ERROR 42601: syntax error'
 WHERE id = :bea_job;
UPDATE neon_platform.tenants SET state = 'failed', project_id = 'calm-sea-70000003', last_error = 'bootstrap failed'
 WHERE tenant = 'bea';
UPDATE neon_platform.tiers SET bootstrap_sql = 'CREATE TABLE app (id int PRIMARY KEY)' WHERE name = 'boot';
SELECT neon_provision('bea', 'boot') AS bea_retry \gset
SELECT :bea_retry > :bea_job AS new_job;
SELECT id = :bea_job AS first_job, state, step, args->'plan'->>'bootstrap_sql' AS bootstrap_sql
  FROM neon_platform.jobs WHERE tenant = 'bea' ORDER BY id;
SELECT state, last_error FROM neon_platform.tenants WHERE tenant = 'bea';
SELECT neon_provision('bea', 'boot') = :bea_retry AS same_job_while_it_runs;
-- A bootstrap the worker stopped in the middle of is run again only when asked, too.
UPDATE neon_platform.jobs SET state = 'failed', step = 'sql_outcome_unknown', finished_at = now() WHERE id = :bea_retry;
UPDATE neon_platform.tenants SET state = 'failed' WHERE tenant = 'bea';
SELECT neon_provision('bea', 'boot') > :bea_retry AS retried_again;
SELECT step FROM neon_platform.jobs WHERE tenant = 'bea' ORDER BY id DESC LIMIT 1;
-- A bootstrap_sql change re-applies nothing to existing tenants.
SELECT count(*) AS reapplies FROM neon_platform.jobs WHERE kind = 'apply_tier' AND args->>'tier' = 'boot';
