/* neon_platform 0.2.0: one Neon project per tenant, managed from SQL. */

\echo Use "CREATE EXTENSION neon_platform" to load this file. \quit

-- The background worker runs in one database only (neon_platform.database_name);
-- the queue is useless anywhere else, so refuse to install it there.
DO $guard$
BEGIN
    IF current_setting('neon_platform.database_name', true) IS NULL THEN
        RAISE EXCEPTION 'neon_platform is not loaded'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Add neon_platform to shared_preload_libraries and restart the server.';
    END IF;
    IF current_database() <> current_setting('neon_platform.database_name') THEN
        RAISE EXCEPTION 'neon_platform can only be created in database "%"',
                current_setting('neon_platform.database_name')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('The current database is "%s"; the background worker only runs in neon_platform.database_name.',
                                  current_database()),
                  HINT = 'Create the extension in that database, or set neon_platform.database_name and restart the server.';
    END IF;
END
$guard$;

CREATE SCHEMA neon_platform;
COMMENT ON SCHEMA neon_platform IS 'neon_platform: tenants, tiers, the job queue and the audit of Neon API calls';
