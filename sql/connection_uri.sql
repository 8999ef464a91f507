--
-- connection_uri: neon_connection_uri() for tenants in each state.  The worker
-- is paused, so the test writes what the worker would on success: the tenant's
-- connection data and its role password.
--
\set SHOW_CONTEXT never

-- A tenant that does not exist.
SELECT neon_connection_uri('nobody');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_connection_uri(NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
-- A huge name comes back cut to 64 characters.
SELECT neon_connection_uri(repeat('x', 1000000));
\echo sqlstate :LAST_ERROR_SQLSTATE
DO $$
DECLARE
    msg text;
BEGIN
    PERFORM neon_connection_uri(repeat('x', 1000000));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
    RAISE NOTICE 'sqlstate %, message of % characters', SQLSTATE, length(msg);
END
$$;

-- A tenant still being provisioned.
SELECT neon_provision('umbrella', 'pro') IS NOT NULL AS enqueued;
SELECT neon_connection_uri('umbrella');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- A tenant whose provisioning failed: the DETAIL says why.
UPDATE neon_platform.tenants
   SET state = 'failed', last_error = 'HTTP 422: organization project limit reached'
 WHERE tenant = 'umbrella';
SELECT neon_connection_uri('umbrella');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- A ready tenant must have its connection data (terse: the failing row has timestamps).
\set VERBOSITY terse
UPDATE neon_platform.tenants SET state = 'ready', last_error = NULL WHERE tenant = 'umbrella';
\echo sqlstate :LAST_ERROR_SQLSTATE
\set VERBOSITY default

-- What the worker writes when the project is created.
BEGIN;
UPDATE neon_platform.tenants
   SET state = 'ready', last_error = NULL,
       project_id = 'proud-river-12345678', org_id = 'org-agent-paid',
       branch_id = 'br-cool-sun-a1b2c3d4', endpoint_id = 'ep-misty-leaf-a1b2c3d4',
       database_name = 'neondb', role_name = 'neondb_owner',
       host = 'ep-misty-leaf-a1b2c3d4.us-east-2.aws.neon.tech',
       pooler_host = 'ep-misty-leaf-a1b2c3d4-pooler.us-east-2.aws.neon.tech',
       ready_at = now(), updated_at = now()
 WHERE tenant = 'umbrella';
INSERT INTO neon_platform.tenant_secrets (tenant, role_password) VALUES ('umbrella', 'npg_S3cretPassw0rd');
COMMIT;

-- Pooled by default, direct with pooled => false.
SELECT neon_connection_uri('umbrella');
SELECT neon_connection_uri('umbrella', pooled => false);
SELECT neon_connection_uri('umbrella', NULL, true);
-- The default branch, by id.
SELECT neon_connection_uri('umbrella', 'br-cool-sun-a1b2c3d4');
SELECT neon_connection_uri('umbrella', branch => 'br-cool-sun-a1b2c3d4', pooled => false);
-- Any other branch does not exist.
SELECT neon_connection_uri('umbrella', 'br-no-such-branch');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_connection_uri('umbrella', 'main');
-- A huge branch name comes back cut to 64 characters.
SELECT neon_connection_uri('umbrella', repeat('b', 1000000));
\echo sqlstate :LAST_ERROR_SQLSTATE
DO $$
DECLARE
    msg text;
BEGIN
    PERFORM neon_connection_uri('umbrella', repeat('b', 1000000));
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
    RAISE NOTICE 'sqlstate %, message of % characters', SQLSTATE, length(msg);
END
$$;

-- pooled => NULL is an error, not a guess at one of the two hosts.
SELECT neon_connection_uri('umbrella', pooled => NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_connection_uri('umbrella', 'br-cool-sun-a1b2c3d4', NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE

-- Tenant names are case-sensitive.
SELECT neon_connection_uri('UMBRELLA');

-- A tenant changing tier keeps its connection.
UPDATE neon_platform.tenants SET state = 'changing_tier' WHERE tenant = 'umbrella';
SELECT neon_connection_uri('umbrella');
-- A tenant being deprovisioned or deleted has none.
UPDATE neon_platform.tenants SET state = 'deprovisioning' WHERE tenant = 'umbrella';
SELECT neon_connection_uri('umbrella');
UPDATE neon_platform.tenants SET state = 'deleted' WHERE tenant = 'umbrella';
SELECT neon_connection_uri('umbrella');
UPDATE neon_platform.tenants SET state = 'ready' WHERE tenant = 'umbrella';

-- A new password (the worker resets it) shows at once.
UPDATE neon_platform.tenant_secrets SET role_password = 'npg_N3wPassw0rd', updated_at = now()
 WHERE tenant = 'umbrella';
SELECT neon_connection_uri('umbrella', pooled => false);

-- Characters that mean something in a URI are percent-encoded.
UPDATE neon_platform.tenant_secrets SET role_password = 'p@ss:w/rd#1%é'
 WHERE tenant = 'umbrella';
SELECT neon_connection_uri('umbrella', pooled => false);

-- A ready tenant whose password is missing gets an error, not a URI without one.
DELETE FROM neon_platform.tenant_secrets WHERE tenant = 'umbrella';
SELECT neon_connection_uri('umbrella');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- Secrets go with their tenant.
INSERT INTO neon_platform.tenant_secrets (tenant, role_password) VALUES ('umbrella', 'x');
DELETE FROM neon_platform.jobs WHERE tenant = 'umbrella';
DELETE FROM neon_platform.tenants WHERE tenant = 'umbrella';
SELECT count(*) AS secrets FROM neon_platform.tenant_secrets;
SELECT count(*) AS tenants FROM neon_platform.tenants;
