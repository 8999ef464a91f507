---------------------------------------------------------------------------
-- Tenants managed from the application's own table (neon_manage_tenants)
---------------------------------------------------------------------------

-- The one trigger function of every managed table: a row inserted provisions
-- its tenant, a tier changed moves it, a row deleted deprovisions it, all in
-- the application's transaction. TG_ARGV holds the tenant and tier columns,
-- so no code is generated per table. It runs as the role that changes the
-- table, so that role needs EXECUTE on the API function it ends up calling.
CREATE OR REPLACE FUNCTION neon_platform.managed_row_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    tenant     text;
    tier       text;
    old_tenant text;
BEGIN
    -- As a cast to text reads them: a char(n) value loses its padding.
    EXECUTE format('SELECT ($1).%1$I::text, ($1).%2$I::text, ($2).%1$I::text', TG_ARGV[0], TG_ARGV[1])
       INTO tenant, tier, old_tenant
      USING NEW, OLD;
    -- A NULL tier is the default one, as for neon_provision().
    tier := coalesce(tier, 'free');
    IF TG_OP = 'INSERT' THEN
        PERFORM @extschema@.neon_provision(tenant, tier);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM @extschema@.neon_deprovision(old_tenant);
    ELSIF tenant IS DISTINCT FROM old_tenant THEN
        RAISE EXCEPTION 'tenant "%" cannot be renamed to "%"', neon_platform.shorten(old_tenant),
                neon_platform.shorten(tenant)
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = format('Column "%s" of table %s names the tenant of each row.', TG_ARGV[0], TG_RELID::regclass),
                  HINT = 'A tenant keeps its name: delete the row (which deprovisions the tenant) and insert a new one.';
    ELSE
        PERFORM @extschema@.neon_set_tier(tenant, tier);
    END IF;
    RETURN NULL;
END
$function$;

-- The error neon_manage_tenants() raises for a column the trigger cannot
-- read as a tenant or tier name: missing, or not of a string or enum type
-- (text, varchar, char(n), name, citext, enums, and domains over them).
CREATE OR REPLACE FUNCTION neon_platform.check_managed_column(tbl regclass, col name) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    column_type regtype;
    category    "char";
BEGIN
    SELECT a.atttypid, t.typcategory INTO column_type, category
      FROM pg_attribute AS a JOIN pg_type AS t ON t.oid = a.atttypid
     WHERE a.attrelid = tbl AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', col, tbl
            USING ERRCODE = 'undefined_column',
                  HINT = 'Pass the column''s name as the table spells it (case matters).';
    END IF;
    IF category NOT IN ('S', 'E') THEN
        RAISE EXCEPTION 'column "%" of table % is of type %, not a string or enum type', col, tbl, column_type
            USING ERRCODE = 'datatype_mismatch',
                  HINT = 'The tenant and tier columns hold names: text, varchar, an enum or a domain over one of them.';
    END IF;
END
$function$;

-- Lets an application drive its tenants from its own table instead of calls
-- scattered through its code: checks the arguments, then creates (or
-- replaces) the three triggers.
CREATE OR REPLACE FUNCTION @extschema@.neon_manage_tenants(tbl regclass, tenant_column name, tier_column name)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    trigger_name text;
    event        text;
    condition    text;
BEGIN
    IF tbl IS NULL OR tenant_column IS NULL OR tier_column IS NULL THEN
        RAISE EXCEPTION 'neon_manage_tenants() needs a table, a tenant column and a tier column'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'For example: SELECT neon_manage_tenants(''users'', ''name'', ''plan'').';
    END IF;
    IF (SELECT c.relkind FROM pg_class AS c WHERE c.oid = tbl) NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', tbl
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'Tenants are managed from an ordinary or partitioned table.';
    END IF;
    IF tenant_column = tier_column THEN
        RAISE EXCEPTION 'the tenant and the tier must be two columns, not both "%"', tenant_column
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The tenant column names the tenant, the tier column its tier (NULL for ''free'').';
    END IF;
    PERFORM neon_platform.check_managed_column(tbl, tenant_column);
    PERFORM neon_platform.check_managed_column(tbl, tier_column);

    -- Fixed names: a second call replaces the triggers, columns and all. The
    -- UPDATE one watches the tenant column too, to refuse a rename.
    FOR trigger_name, event, condition IN VALUES
        ('neon_platform_manage_insert', 'INSERT', ''),
        ('neon_platform_manage_update', format('UPDATE OF %I, %I', tenant_column, tier_column),
         format('WHEN (OLD.%1$I IS DISTINCT FROM NEW.%1$I OR OLD.%2$I IS DISTINCT FROM NEW.%2$I)',
                tenant_column, tier_column)),
        ('neon_platform_manage_delete', 'DELETE', '')
    LOOP
        EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER %s ON %s FOR EACH ROW %s
                        EXECUTE FUNCTION neon_platform.managed_row_changed(%L, %L)',
                       trigger_name, event, tbl, condition, tenant_column, tier_column);
    END LOOP;
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_manage_tenants(regclass, name, name) IS
    'Put triggers on an application''s table: INSERT provisions the row''s tenant, UPDATE of the tier column changes its tier, DELETE deprovisions it, in the application''s transaction';

-- Undoes neon_manage_tenants(): the table's writes touch no tenant any more.
CREATE OR REPLACE FUNCTION @extschema@.neon_unmanage_tenants(tbl regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    trigger_name name;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'neon_unmanage_tenants() needs a table'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- A partitioned table's clones on its partitions go with it.
    FOR trigger_name IN
        SELECT t.tgname FROM pg_trigger AS t
         WHERE t.tgrelid = tbl AND t.tgparentid = 0
           AND t.tgfoid = 'neon_platform.managed_row_changed()'::regprocedure
         ORDER BY 1
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trigger_name, tbl);
    END LOOP;
    IF NOT FOUND THEN
        RAISE NOTICE '% is not managed: it has no tenant triggers to remove', tbl;
    END IF;
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_unmanage_tenants(regclass) IS
    'Remove the triggers neon_manage_tenants() put on a table; its tenants stay as they are';
