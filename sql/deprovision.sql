--
-- deprovision: neon_deprovision() validates and enqueues the deletion of a
-- tenant's project in the caller's transaction.
--
\set SHOW_CONTEXT never
-- Job ids in this file start at 5001.
ALTER TABLE neon_platform.jobs ALTER COLUMN id RESTART WITH 5001;

-- Three tenants: two the superuser made ready, as the worker would; one whose provisioning failed.
SELECT count(neon_provision(t, 'free')) FROM unnest(ARRAY['dora', 'eve', 'finn']) AS t;
UPDATE neon_platform.tenants
   SET state = 'ready', project_id = 'dry-sun-' || CASE tenant WHEN 'dora' THEN '11110000' ELSE '22220000' END,
       branch_id = 'br-b', endpoint_id = 'ep-b', database_name = 'neondb', role_name = 'neondb_owner',
       host = 'ep-b.aws.neon.tech', pooler_host = 'ep-b-pooler.aws.neon.tech', ready_at = now()
 WHERE tenant IN ('dora', 'eve');
UPDATE neon_platform.tenants SET state = 'failed', last_error = 'HTTP 422' WHERE tenant = 'finn';
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now() WHERE tenant IN ('dora', 'eve', 'finn');
INSERT INTO neon_platform.tenant_secrets (tenant, role_password) VALUES ('dora', 'npg_x'), ('finn', 'npg_y');

-- Argument errors, each with its SQLSTATE.
SELECT neon_deprovision('dora', NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_deprovision('nobody');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- A tenant whose provisioning never created a project is simply marked deleted.
SELECT neon_deprovision('finn') IS NULL AS no_job;
SELECT tenant, state FROM neon_platform.tenants WHERE tenant = 'finn';
SELECT count(*) AS finn_secrets FROM neon_platform.tenant_secrets WHERE tenant = 'finn';

-- A rolled-back deprovisioning leaves nothing behind.
BEGIN;
SELECT neon_deprovision('dora') IS NOT NULL AS enqueued;
ROLLBACK;
SELECT tenant, state FROM neon_platform.tenants WHERE tenant = 'dora';

-- With and without a final snapshot; a second call returns the same job.
SELECT neon_deprovision('dora') AS dora_job;
SELECT neon_deprovision('eve', final_snapshot => true) AS eve_job;
SELECT neon_deprovision('dora') AS dora_again;
SELECT tenant, kind, step, args FROM neon_platform.jobs WHERE kind = 'deprovision' ORDER BY id;
SELECT tenant, state FROM neon_platform.tenants WHERE tenant IN ('dora', 'eve') ORDER BY 1;

-- A tenant being deprovisioned cannot change tier, nor be connected to.
SELECT neon_set_tier('dora', 'pro');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_connection_uri('dora');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- A tenant busy with another job is refused.
SELECT neon_provision('gus', 'free') IS NOT NULL AS enqueued;
SELECT neon_deprovision('gus');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- EXECUTE is not granted to PUBLIC.
SELECT has_function_privilege('public', 'neon_deprovision(text, boolean)', 'EXECUTE') AS public_may_deprovision;
