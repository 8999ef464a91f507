--
-- privileges: an ordinary role can watch everything but the secrets, can act
-- only once granted, and can neither read the API keys nor redirect api_url.
--
\set SHOW_CONTEXT never
-- Job ids in this file start at 3001.
ALTER TABLE neon_platform.jobs ALTER COLUMN id RESTART WITH 3001;

CREATE ROLE regress_neon_user LOGIN;

-- The worker starts once the test database exists (it restarts every
-- second until then): wait until it has run a pass, so it shows below.
DO $$
BEGIN
    FOR i IN 1..600 LOOP
        PERFORM pg_stat_clear_snapshot();
        EXIT WHEN EXISTS (SELECT FROM neon_platform.worker WHERE state IS NOT NULL);
        PERFORM pg_sleep(0.1);
    END LOOP;
END
$$;

-- As superuser the keys can be shown (none is set in test/regress.conf).
SHOW neon_platform.free_org_api_key;
SHOW neon_platform.paid_org_api_key;
SHOW neon_platform.personal_api_key;

-- A tenant the superuser made ready, as the worker would.
SELECT neon_provision('wayne', 'pro') IS NOT NULL AS enqueued;
UPDATE neon_platform.tenants
   SET state = 'ready', project_id = 'bold-sky-87654321', branch_id = 'br-wild-hill-e5f6a7b8',
       endpoint_id = 'ep-dark-pond-e5f6a7b8', database_name = 'neondb', role_name = 'neondb_owner',
       host = 'ep-dark-pond-e5f6a7b8.us-east-2.aws.neon.tech',
       pooler_host = 'ep-dark-pond-e5f6a7b8-pooler.us-east-2.aws.neon.tech', ready_at = now()
 WHERE tenant = 'wayne';
INSERT INTO neon_platform.tenant_secrets (tenant, role_password) VALUES ('wayne', 'npg_BatCave1939');
INSERT INTO neon_platform.api_calls (job_id, method, path, status, latency_ms, request_id)
SELECT id, 'POST', '/projects', 201, 12.5, 'b6f4b9a0-0000-4000-8000-000000000001'
  FROM neon_platform.jobs WHERE tenant = 'wayne';

SET ROLE regress_neon_user;
SELECT current_user;

-- Everything but the secrets is readable.
SELECT name, organization FROM neon_platform.tiers ORDER BY name;
SELECT tenant, tier, state, project_id, host, pooler_host FROM neon_platform.tenants ORDER BY tenant;
SELECT tenant, kind, args->>'tier' AS args_tier, args->>'project_name' AS args_project_name,
       args->'plan'->>'organization' AS plan_organization, state
  FROM neon_platform.jobs ORDER BY id;
SELECT method, path, status, latency_ms, request_id FROM neon_platform.api_calls ORDER BY id;
SELECT kind, state, jobs FROM neon_platform.queue_summary ORDER BY kind, state;
-- The worker runs (paused) in this instance: its state and activity show
-- through neon_platform.worker, though pg_stat_activity hides from an
-- ordinary role even which backend is the worker.
SELECT count(*) AS workers, bool_and(pid IS NOT NULL) AS has_pid,
       bool_and(state IS NOT NULL) AS state_visible, bool_and(backend_start IS NOT NULL) AS has_start
  FROM neon_platform.worker;
SELECT count(*) AS worker_rows_in_pg_stat_activity
  FROM pg_stat_activity WHERE backend_type = 'neon_platform worker';

-- Not the role passwords.
SELECT * FROM neon_platform.tenant_secrets;
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT count(*) FROM neon_platform.tenant_secrets;

-- No writing to the tables, and nothing new in the schema.
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('mine', 'paid', 86400, 10, 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
UPDATE neon_platform.tenants SET state = 'failed' WHERE tenant = 'wayne';
UPDATE neon_platform.jobs SET state = 'succeeded';
DELETE FROM neon_platform.api_calls;
INSERT INTO neon_platform.tenant_secrets (tenant, role_password) VALUES ('wayne', 'x');
TRUNCATE neon_platform.jobs;
CREATE TABLE neon_platform.mine (id int);
\echo sqlstate :LAST_ERROR_SQLSTATE

-- Acting needs a grant; waiting does not.
SELECT neon_provision('rogue');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_provision('rogue', 'free');
SELECT neon_connection_uri('wayne');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_connection_uri('wayne', pooled => false);
SELECT neon_platform.wake_worker();
SELECT neon_wait(999999, '1 s');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- The API keys cannot be read, by any route.
SHOW neon_platform.free_org_api_key;
\echo sqlstate :LAST_ERROR_SQLSTATE
SHOW neon_platform.paid_org_api_key;
SHOW neon_platform.personal_api_key;
SELECT current_setting('neon_platform.free_org_api_key');
SELECT current_setting('neon_platform.personal_api_key', true);
SELECT name FROM pg_settings WHERE name LIKE 'neon\_platform.%api\_key' ORDER BY name;
-- The other settings are visible.
SHOW neon_platform.api_url;
SHOW neon_platform.database_name;

-- api_url and the keys cannot be changed, by any route.
SET neon_platform.api_url = 'http://127.0.0.1:9/api/v2';
\echo sqlstate :LAST_ERROR_SQLSTATE
SET LOCAL neon_platform.api_url = 'http://127.0.0.1:9/api/v2';
SELECT set_config('neon_platform.api_url', 'http://127.0.0.1:9/api/v2', false);
SET neon_platform.free_org_api_key = 'stolen';
SET neon_platform.personal_api_key = 'stolen';
ALTER ROLE regress_neon_user SET neon_platform.api_url = 'http://127.0.0.1:9/api/v2';
\echo sqlstate :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET neon_platform.api_url = 'http://127.0.0.1:9/api/v2';
\echo sqlstate :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET neon_platform.personal_api_key = 'stolen';
SELECT pg_reload_conf();
\echo sqlstate :LAST_ERROR_SQLSTATE
SHOW neon_platform.api_url;
-- Nor can the worker be paused or moved, or the project names chosen.
SET neon_platform.paused = off;
SET neon_platform.database_name = 'postgres';
SET neon_platform.project_name_prefix = 'tenant-wayne';

RESET ROLE;
-- neon_platform.worker reads a SECURITY DEFINER function every role may call.
SELECT p.oid::regprocedure AS function, p.prosecdef AS security_definer, p.proconfig AS config,
       has_function_privilege('regress_neon_user', p.oid, 'EXECUTE') AS user_can_execute,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_can_execute
  FROM pg_proc AS p WHERE p.oid = 'neon_platform.worker_status()'::regprocedure;
GRANT EXECUTE ON FUNCTION neon_provision(text, text), neon_connection_uri(text, text, boolean)
   TO regress_neon_user;
SET ROLE regress_neon_user;

-- Granted: it can provision and get connection strings, still not read the table.
SELECT neon_provision('robin') IS NOT NULL AS enqueued;
SELECT neon_provision('robin', 'free') = (SELECT id FROM neon_platform.jobs WHERE tenant = 'robin') AS same_job;
SELECT neon_provision('robin', 'pro');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_wait((SELECT id FROM neon_platform.jobs WHERE tenant = 'robin'), '0.1 s');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT tenant, tier, organization, project_name, state FROM neon_platform.tenants ORDER BY tenant;
SELECT tenant, kind, args->>'tier' AS args_tier, args->>'project_name' AS args_project_name,
       args->'plan'->>'organization' AS plan_organization, state
  FROM neon_platform.jobs ORDER BY id;
SELECT neon_connection_uri('wayne');
SELECT neon_connection_uri('wayne', pooled => false);
SELECT neon_connection_uri('robin');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT * FROM neon_platform.tenant_secrets;
-- The SECURITY DEFINER functions run with a fixed search_path: a look-alike
-- object in the caller's search_path does not change what they do.
CREATE TEMP TABLE tenants (tenant text, state text);
INSERT INTO tenants VALUES ('robin', 'ready');
SET search_path = pg_temp, public;
SELECT neon_connection_uri('robin');
RESET search_path;
DROP TABLE tenants;

-- Once the worker (here: the superuser) has made robin ready, its URI comes too.
RESET ROLE;
SELECT current_user = session_user AS back_to_superuser;
UPDATE neon_platform.tenants
   SET state = 'ready', project_id = 'calm-bay-11223344', branch_id = 'br-red-moon-c9d0e1f2',
       endpoint_id = 'ep-blue-fog-c9d0e1f2', database_name = 'neondb', role_name = 'neondb_owner',
       host = 'ep-blue-fog-c9d0e1f2.eu-central-1.aws.neon.tech',
       pooler_host = 'ep-blue-fog-c9d0e1f2-pooler.eu-central-1.aws.neon.tech', ready_at = now()
 WHERE tenant = 'robin';
INSERT INTO neon_platform.tenant_secrets (tenant, role_password) VALUES ('robin', 'npg_Rob1nHood');
SET ROLE regress_neon_user;
SELECT neon_connection_uri('robin');
SELECT neon_connection_uri('robin', 'br-red-moon-c9d0e1f2', false);
SELECT tenant, role_password FROM neon_platform.tenant_secrets WHERE tenant = 'robin';
RESET ROLE;

-- Cleanup.
DELETE FROM neon_platform.api_calls;
DELETE FROM neon_platform.jobs;
DELETE FROM neon_platform.tenants;
REVOKE EXECUTE ON FUNCTION neon_provision(text, text), neon_connection_uri(text, text, boolean)
    FROM regress_neon_user;
DROP ROLE regress_neon_user;
SELECT (SELECT count(*) FROM neon_platform.tenants) AS tenants,
       (SELECT count(*) FROM neon_platform.tenant_secrets) AS secrets,
       (SELECT count(*) FROM neon_platform.jobs) AS jobs;
