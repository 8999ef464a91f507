--
-- claim: neon_claim() validates and enqueues a claim link for a tenant's
-- end user in the caller's transaction; neon_platform.claims shows the links.
--
\set SHOW_CONTEXT never
-- Job ids in this file start at 7001.
ALTER TABLE neon_platform.jobs ALTER COLUMN id RESTART WITH 7001;

-- Two tenants the superuser made ready, as the worker would; one still provisioning.
SELECT count(neon_provision(t, 'free')) FROM unnest(ARRAY['gina', 'hugo', 'ivan']) AS t;
UPDATE neon_platform.tenants
   SET state = 'ready', project_id = 'calm-sea-' || CASE tenant WHEN 'gina' THEN '33330000' ELSE '44440000' END,
       branch_id = 'br-c', endpoint_id = 'ep-c', database_name = 'neondb', role_name = 'neondb_owner',
       host = 'ep-c.aws.neon.tech', pooler_host = 'ep-c-pooler.aws.neon.tech', ready_at = now()
 WHERE tenant IN ('gina', 'hugo');
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now() WHERE tenant IN ('gina', 'hugo');

-- Argument errors, each with its SQLSTATE.
SELECT neon_claim('gina', NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_claim('gina', '30 seconds');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_claim('gina', '31 days');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_claim('nobody');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_claim('ivan');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- A rolled-back claim leaves nothing behind.
BEGIN;
SELECT neon_claim('gina') IS NOT NULL AS enqueued;
ROLLBACK;
SELECT count(*) AS claim_jobs FROM neon_platform.jobs WHERE kind = 'claim';

-- The job carries the link's lifetime and the redirect (neon_platform.claim_redirect_url).
SELECT neon_claim('gina', '2 hours') AS gina_job;
SELECT tenant, kind, args FROM neon_platform.jobs WHERE kind = 'claim';
-- While it is being made, a second call returns the same job.
SELECT neon_claim('gina') AS gina_again;

-- A link still open is the answer; an expired one is replaced, with a notice.
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now() WHERE kind = 'claim';
UPDATE neon_platform.tenants
   SET claim_url = 'https://console.neon.tech/app/claim?p=calm-sea-33330000&tr=t-1',
       claim_expires_at = now() + interval '1 hour'
 WHERE tenant = 'gina';
SELECT neon_claim('gina') AS gina_open;
SELECT tenant, status FROM neon_platform.claims;
UPDATE neon_platform.tenants SET claim_expires_at = now() - interval '1 minute' WHERE tenant = 'gina';
SELECT tenant, status FROM neon_platform.claims;
SELECT neon_claim('gina') AS gina_new;

-- A claimed tenant is managed no more.
UPDATE neon_platform.tenants SET state = 'claimed' WHERE tenant = 'hugo';
SELECT neon_claim('hugo');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_set_tier('hugo', 'pro');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_deprovision('hugo');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_connection_uri('hugo');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- EXECUTE is not granted to PUBLIC.
SELECT has_function_privilege('public', 'neon_claim(text, interval)', 'EXECUTE') AS public_may_claim;
