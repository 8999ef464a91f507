--
-- manage_tenants: neon_manage_tenants() puts triggers on an application's
-- table, so that its INSERT, UPDATE of the tier and DELETE enqueue
-- neon_provision, neon_set_tier and neon_deprovision in its transaction;
-- neon_unmanage_tenants() removes them.
--
\set SHOW_CONTEXT never
-- Job ids in this file start at 6001.
ALTER TABLE neon_platform.jobs ALTER COLUMN id RESTART WITH 6001;

CREATE TABLE users (id serial PRIMARY KEY, name text, plan text, login varchar(63), tier text, age integer);
CREATE VIEW users_view AS SELECT * FROM users;

-- Argument errors, each with its SQLSTATE.
SELECT neon_manage_tenants(NULL, 'name', 'plan');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_manage_tenants('users', NULL, 'plan');
SELECT neon_manage_tenants('users', 'name', NULL);
SELECT neon_manage_tenants('no_such_table', 'name', 'plan');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_manage_tenants('users_view', 'name', 'plan');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_manage_tenants('users_id_seq', 'name', 'plan');
SELECT neon_manage_tenants('users', 'Name', 'plan');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_manage_tenants('users', 'name', 'ctid');
SELECT neon_manage_tenants('users', 'age', 'plan');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_manage_tenants('users', 'name', 'name');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_unmanage_tenants(NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
-- Removing what is not there is no error.
SELECT neon_unmanage_tenants('users');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'users'::regclass;

-- Three row triggers, all calling one function with the column names.
SELECT neon_manage_tenants('users', 'name', 'plan');
SELECT tgname, pg_get_triggerdef(oid) AS definition FROM pg_trigger WHERE tgrelid = 'users'::regclass ORDER BY 1;

-- An INSERT provisions (a NULL tier is 'free'), in the application's transaction.
INSERT INTO users (name, plan) VALUES ('mt-ann', 'pro'), ('mt-bob', NULL);
SELECT tenant, tier, state FROM neon_platform.tenants WHERE tenant LIKE 'mt-%' ORDER BY 1;
SELECT id, tenant, kind, args->>'tier' AS tier FROM neon_platform.jobs WHERE tenant LIKE 'mt-%' ORDER BY id;
-- A rolled-back INSERT leaves no tenant and no job.
BEGIN;
INSERT INTO users (name, plan) VALUES ('mt-cat', 'free');
SELECT count(*) AS jobs_in_transaction FROM neon_platform.jobs WHERE tenant = 'mt-cat';
ROLLBACK;
SELECT (SELECT count(*) FROM neon_platform.tenants WHERE tenant = 'mt-cat') AS tenants,
       (SELECT count(*) FROM neon_platform.jobs WHERE tenant = 'mt-cat') AS jobs;
-- A row neon_provision refuses is refused, with its error.
INSERT INTO users (name, plan) VALUES ('mt dan', 'free');
\echo sqlstate :LAST_ERROR_SQLSTATE
INSERT INTO users (name, plan) VALUES ('mt-dan', 'gold');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- A tenant keeps its name.
UPDATE users SET name = 'mt-ann2' WHERE name = 'mt-ann';
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT name, plan FROM users ORDER BY id;

-- The tenants are ready, as the worker would make them.
UPDATE neon_platform.tenants
   SET state = 'ready', project_id = 'mild-fog-' || CASE tenant WHEN 'mt-ann' THEN '11113333' ELSE '22224444' END,
       branch_id = 'br-c', endpoint_id = 'ep-c', database_name = 'neondb', role_name = 'neondb_owner',
       host = 'ep-c.aws.neon.tech', pooler_host = 'ep-c-pooler.aws.neon.tech', ready_at = now()
 WHERE tenant IN ('mt-ann', 'mt-bob');
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now() WHERE tenant IN ('mt-ann', 'mt-bob');

-- An UPDATE that changes no tier (or another column) enqueues nothing.
UPDATE users SET plan = plan, age = 30;
SELECT count(*) AS change_tier_jobs FROM neon_platform.jobs WHERE kind = 'change_tier' AND tenant LIKE 'mt-%';
-- An UPDATE of the tier changes it.
UPDATE users SET plan = 'pro' WHERE name = 'mt-bob';
SELECT tenant, kind, args->>'tier' AS tier FROM neon_platform.jobs WHERE kind = 'change_tier' AND tenant LIKE 'mt-%';
SELECT tenant, tier, state FROM neon_platform.tenants WHERE tenant = 'mt-bob';
-- A downgrade that does not fit is refused in the application's UPDATE, as by neon_set_tier.
INSERT INTO neon_platform.usage (tenant, period_start, period_end, active_time_seconds, compute_time_seconds,
                                 written_data_bytes, data_transfer_bytes, logical_size_bytes, branches, snapshots)
VALUES ('mt-ann', now() - interval '1 day', NULL, 0, 0, 0, 0, 0, 50, 0);
UPDATE users SET plan = 'free' WHERE name = 'mt-ann';
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT name, plan FROM users WHERE name = 'mt-ann';

-- A DELETE deprovisions; rolled back, it leaves nothing.
BEGIN;
DELETE FROM users WHERE name = 'mt-ann';
SELECT tenant, state FROM neon_platform.tenants WHERE tenant = 'mt-ann';
ROLLBACK;
SELECT tenant, state FROM neon_platform.tenants WHERE tenant = 'mt-ann';
DELETE FROM users WHERE name = 'mt-ann';
SELECT tenant, kind, step FROM neon_platform.jobs WHERE kind = 'deprovision' AND tenant LIKE 'mt-%';
SELECT tenant, state FROM neon_platform.tenants WHERE tenant = 'mt-ann';
-- A tenant busy with a job cannot go yet: the DELETE fails with neon_deprovision's error.
DELETE FROM users WHERE name = 'mt-bob';
\echo sqlstate :LAST_ERROR_SQLSTATE

-- A second call replaces the triggers, here with other columns; a varchar column does.
SELECT neon_manage_tenants('users', 'login', 'tier');
SELECT tgname, pg_get_triggerdef(oid) AS definition FROM pg_trigger WHERE tgrelid = 'users'::regclass ORDER BY 1;
INSERT INTO users (name, login, tier) VALUES ('ignored', 'mt-eve', 'free');
SELECT tenant, tier, state FROM neon_platform.tenants WHERE tenant IN ('ignored', 'mt-eve') ORDER BY 1;

-- Unmanaged, the table changes no tenant.
SELECT neon_unmanage_tenants('users');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'users'::regclass;
INSERT INTO users (name, login, plan) VALUES ('mt-fay', 'mt-fay', 'free');
DELETE FROM users WHERE login = 'mt-eve';
SELECT tenant, state FROM neon_platform.tenants WHERE tenant IN ('mt-eve', 'mt-fay') ORDER BY 1;

-- A partitioned table, with an enum tier and a char(n) tenant (read without its padding).
CREATE TYPE plan_kind AS ENUM ('free', 'pro');
CREATE TABLE accounts (slug char(12), plan plan_kind, region text) PARTITION BY LIST (region);
CREATE TABLE accounts_eu PARTITION OF accounts FOR VALUES IN ('eu');
SELECT neon_manage_tenants('accounts', 'slug', 'plan');
INSERT INTO accounts VALUES ('mt-gil', 'pro', 'eu');
SELECT tenant, tier, state FROM neon_platform.tenants WHERE tenant = 'mt-gil';
SELECT neon_unmanage_tenants('accounts');
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid IN ('accounts'::regclass, 'accounts_eu'::regclass);

-- Privileges. EXECUTE on both functions is not granted to PUBLIC; the trigger
-- function runs as the role that changes the table, so attaching it is harmless.
SELECT p.oid::regprocedure AS function, p.prosecdef AS security_definer,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_can_execute
  FROM pg_proc AS p
 WHERE p.oid IN ('neon_manage_tenants(regclass, name, name)'::regprocedure,
                 'neon_unmanage_tenants(regclass)'::regprocedure,
                 'neon_platform.managed_row_changed()'::regprocedure)
 ORDER BY 1;
CREATE ROLE regress_app;
CREATE ROLE regress_stranger;
CREATE TABLE app_users (name text, plan text);
CREATE TABLE stranger_users (name text, plan text);
ALTER TABLE app_users OWNER TO regress_app;
ALTER TABLE stranger_users OWNER TO regress_stranger;
GRANT EXECUTE ON FUNCTION neon_manage_tenants(regclass, name, name), neon_unmanage_tenants(regclass),
      neon_provision(text, text), neon_set_tier(text, text, boolean), neon_deprovision(text, boolean)
   TO regress_app;

-- A role without grants can neither manage its table nor provision through the trigger.
SET ROLE regress_stranger;
SELECT neon_manage_tenants('stranger_users', 'name', 'plan');
\echo sqlstate :LAST_ERROR_SQLSTATE
CREATE TRIGGER sneaky AFTER INSERT ON stranger_users
    FOR EACH ROW EXECUTE FUNCTION neon_platform.managed_row_changed('name', 'plan');
INSERT INTO stranger_users VALUES ('mt-hal', 'pro');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- Nor manage another role's table.
RESET ROLE;
GRANT EXECUTE ON FUNCTION neon_manage_tenants(regclass, name, name) TO regress_stranger;
SET ROLE regress_stranger;
SELECT neon_manage_tenants('app_users', 'name', 'plan');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- A granted role manages its own table; a role that writes to it needs the grants too.
SET ROLE regress_app;
SELECT neon_manage_tenants('app_users', 'name', 'plan');
INSERT INTO app_users VALUES ('mt-ivy', 'free');
GRANT INSERT ON app_users TO regress_stranger;
SET ROLE regress_stranger;
INSERT INTO app_users VALUES ('mt-jay', 'free');
\echo sqlstate :LAST_ERROR_SQLSTATE
SET ROLE regress_app;
SELECT neon_unmanage_tenants('app_users');
RESET ROLE;
SELECT tenant, tier, state FROM neon_platform.tenants WHERE tenant IN ('mt-hal', 'mt-ivy', 'mt-jay') ORDER BY 1;

-- Cleanup.
DROP VIEW users_view;
DROP TABLE users, accounts, app_users, stranger_users;
DROP TYPE plan_kind;
REVOKE EXECUTE ON FUNCTION neon_manage_tenants(regclass, name, name), neon_unmanage_tenants(regclass),
       neon_provision(text, text), neon_set_tier(text, text, boolean), neon_deprovision(text, boolean)
  FROM regress_app;
REVOKE EXECUTE ON FUNCTION neon_manage_tenants(regclass, name, name) FROM regress_stranger;
DROP ROLE regress_app, regress_stranger;
