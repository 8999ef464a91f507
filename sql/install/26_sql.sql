
---------------------------------------------------------------------------
-- SQL in tenant databases: a tier's bootstrap, and neon_run_sql()
---------------------------------------------------------------------------

-- Called by the worker when it takes up a job that runs SQL in a tenant's
-- database: the direct connection URI of production, or of the
-- development branch `branch_id`; NULL while a part of it is not known.
CREATE OR REPLACE FUNCTION neon_platform.sql_connection_uri(tenant text, branch_id text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT neon_platform.format_connection_uri(t.role_name, s.role_password, h.host, t.database_name)
      FROM neon_platform.tenants AS t
      JOIN neon_platform.tenant_secrets AS s ON s.tenant = t.tenant
      LEFT JOIN neon_platform.branches AS b ON b.tenant = t.tenant AND b.branch_id = sql_connection_uri.branch_id
     CROSS JOIN LATERAL (SELECT CASE WHEN sql_connection_uri.branch_id IS NULL THEN t.host ELSE b.host END) AS h(host)
     WHERE t.tenant = sql_connection_uri.tenant
       AND h.host IS NOT NULL AND t.role_name IS NOT NULL AND t.database_name IS NOT NULL
$function$;

CREATE OR REPLACE FUNCTION @extschema@.neon_run_sql(tenant text, sql text, branch text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    t neon_platform.tenants;
    branch_id text;
    job_id bigint;
BEGIN
    PERFORM neon_platform.require(sql, 'sql');
    IF btrim(sql, E' \t\r\n;') = '' THEN
        RAISE EXCEPTION 'sql must hold a statement'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass one or more SQL statements, separated by semicolons.';
    END IF;
    IF octet_length(sql) > 1048576 THEN
        RAISE EXCEPTION 'sql is % bytes long; at most 1 MB is taken', octet_length(sql)
            USING ERRCODE = 'program_limit_exceeded',
                  HINT = 'Split it into several neon_run_sql() calls: a tenant''s jobs run in order.';
    END IF;
    t := neon_platform.known_tenant(tenant);
    IF t.state NOT IN ('provisioning', 'ready', 'changing_tier', 'restoring') THEN
        -- A fleet-wide SELECT neon_run_sql(tenant, ...) FROM neon_platform.tenants
        -- meets deleted and failed tenants: they are passed over, not an error.
        RAISE NOTICE 'tenant "%" has no database to run SQL in (state %): nothing enqueued', tenant, t.state;
        RETURN NULL;
    END IF;
    IF branch IS NOT NULL AND branch <> t.branch_id THEN
        branch_id := (neon_platform.development_branch(t, branch)).branch_id;
    END IF;
    INSERT INTO neon_platform.jobs (tenant, kind, args)
    VALUES (t.tenant, 'run_sql', jsonb_strip_nulls(jsonb_build_object('sql', sql, 'branch_id', branch_id)))
    RETURNING id INTO job_id;
    RETURN job_id;
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_run_sql(text, text, text) IS
    'Enqueue SQL to run in a tenant''s database (production, or a development branch by name or id) as its owner role, after the tenant''s earlier jobs; returns the job id, or NULL (with a notice) for a tenant without a database';
