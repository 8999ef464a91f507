--
-- setup: CREATE EXTENSION and the objects it creates.
--
-- The server is started with test/regress.conf: neon_platform is preloaded,
-- neon_platform.database_name = 'contrib_regression' (the test database) and
-- neon_platform.paused = on, so the worker never takes a job.
--
\set SHOW_CONTEXT never

SHOW neon_platform.database_name;
SHOW neon_platform.paused;

-- The settings and their defaults (the API keys are never listed).
SELECT name, setting, unit, context, vartype
  FROM pg_settings WHERE name LIKE 'neon\_platform.%' ORDER BY name COLLATE "C";

CREATE EXTENSION neon_platform;

-- Not relocatable; the API functions live in the extension's schema (public).
SELECT e.extname, e.extversion, e.extrelocatable, n.nspname AS schema
  FROM pg_extension AS e JOIN pg_namespace AS n ON n.oid = e.extnamespace
 WHERE e.extname = 'neon_platform';

-- Every member object, like \dx+ neon_platform.
SELECT pg_describe_object(classid, objid, objsubid) COLLATE "C" AS object
  FROM pg_depend
 WHERE refclassid = 'pg_extension'::regclass
   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'neon_platform')
   AND deptype = 'e'
 ORDER BY 1;

-- Relations of the schema neon_platform (tables, views, indexes, sequences),
-- and none of them UNLOGGED: a crash must not lose the queue.
SELECT c.relname COLLATE "C" AS relname, c.relkind, c.relpersistence
  FROM pg_class AS c
 WHERE c.relnamespace = 'neon_platform'::regnamespace
 ORDER BY 1;

-- Columns of the tables and views.
SELECT c.relname COLLATE "C" AS relname, a.attnum, a.attname,
       format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
       pg_get_expr(d.adbin, d.adrelid) AS default_value, a.attidentity AS identity
  FROM pg_class AS c
  JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef AS d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE c.relnamespace = 'neon_platform'::regnamespace AND c.relkind IN ('r', 'v')
 ORDER BY 1, 2;

-- Constraints (names are part of the contract: errors quote them).
SELECT conrelid::regclass::text COLLATE "C" AS "table", conname COLLATE "C" AS constraint_name,
       contype, pg_get_constraintdef(oid) AS definition
  FROM pg_constraint
 WHERE connamespace = 'neon_platform'::regnamespace
 ORDER BY 1, 2;

-- Indexes.
SELECT indexrelid::regclass::text COLLATE "C" AS index, pg_get_indexdef(indexrelid) AS definition
  FROM pg_index
 WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'neon_platform'::regnamespace)
 ORDER BY 1;

-- Triggers.
SELECT tgrelid::regclass::text AS "table", tgname, pg_get_triggerdef(oid) AS definition
  FROM pg_trigger
 WHERE NOT tgisinternal
   AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'neon_platform'::regnamespace)
 ORDER BY 1, 2;

-- Functions: signatures, language, SECURITY DEFINER, volatility, pinned search_path.
SELECT p.oid::regprocedure::text COLLATE "C" AS function,
       pg_get_function_result(p.oid) AS result,
       l.lanname AS language, p.prosecdef AS security_definer, p.provolatile AS volatility,
       p.proconfig AS config
  FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang
 WHERE p.oid IN (SELECT objid FROM pg_depend
                  WHERE refclassid = 'pg_extension'::regclass AND classid = 'pg_proc'::regclass
                    AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'neon_platform')
                    AND deptype = 'e')
 ORDER BY 1;

-- Default arguments of the API.
SELECT pg_get_function_arguments('neon_provision(text, text)'::regprocedure);
SELECT pg_get_function_arguments('neon_wait(bigint, interval)'::regprocedure);
SELECT pg_get_function_arguments('neon_connection_uri(text, text, boolean)'::regprocedure);

-- Tables whose rows pg_dump keeps (user tiers only, not the seeded ones).
SELECT cfg::text AS config_table, cond AS condition
  FROM pg_extension AS e,
       unnest(e.extconfig::regclass[], e.extcondition) AS u(cfg, cond)
 WHERE e.extname = 'neon_platform'
 ORDER BY 1;

-- The queue starts empty.
SELECT (SELECT count(*) FROM neon_platform.tenants) AS tenants,
       (SELECT count(*) FROM neon_platform.tenant_secrets) AS secrets,
       (SELECT count(*) FROM neon_platform.jobs) AS jobs,
       (SELECT count(*) FROM neon_platform.api_calls) AS api_calls;

-- DROP EXTENSION removes everything; creating it again works.
DROP EXTENSION neon_platform;
SELECT count(*) AS leftover_schemas FROM pg_namespace WHERE nspname = 'neon_platform';
SELECT count(*) AS leftover_functions FROM pg_proc WHERE proname LIKE 'neon\_%';
CREATE EXTENSION neon_platform;
SELECT count(*) AS tiers FROM neon_platform.tiers;

-- Only once per database.
CREATE EXTENSION neon_platform;

-- The install script refuses any database but neon_platform.database_name
-- (the worker runs there only).  Try it in another database through dblink.
CREATE DATABASE regress_neon_platform_other;
CREATE EXTENSION dblink;
SELECT dblink_exec('dbname=regress_neon_platform_other', 'CREATE EXTENSION neon_platform');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- Nothing was left behind there.
SELECT * FROM dblink('dbname=regress_neon_platform_other',
                     $$SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'neon_platform'),
                              (SELECT count(*) FROM pg_namespace WHERE nspname = 'neon_platform')$$)
    AS t(extensions bigint, schemas bigint);
DROP EXTENSION dblink;
DROP DATABASE regress_neon_platform_other WITH (FORCE);
