
---------------------------------------------------------------------------
-- Usage: what the worker reads of each tenant's consumption, and alerts
---------------------------------------------------------------------------

-- The alert thresholds, in percent of a quota (neon_platform.alert_thresholds).
CREATE OR REPLACE FUNCTION neon_platform.alert_thresholds() RETURNS integer[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT coalesce(array_agg(t::integer ORDER BY t::integer), '{}')
      FROM unnest(string_to_array(replace(current_setting('neon_platform.alert_thresholds'), ' ', ''), ',')) AS t
     WHERE t <> ''
$function$;

-- Records one reading of a tenant's consumption in its period: figures not
-- read (NULL) keep what an earlier reading of the period found.
CREATE OR REPLACE FUNCTION neon_platform.record_usage(
    tenant text, period_start timestamptz, period_end timestamptz,
    active_time_seconds bigint, compute_time_seconds bigint, written_data_bytes bigint,
    data_transfer_bytes bigint, logical_size_bytes bigint, branches integer, snapshots integer,
    detail boolean)
RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $function$
    INSERT INTO neon_platform.usage AS u
        (tenant, period_start, period_end, active_time_seconds, compute_time_seconds, written_data_bytes,
         data_transfer_bytes, logical_size_bytes, branches, snapshots, detail_read_at)
    VALUES (tenant, period_start, period_end, active_time_seconds, compute_time_seconds, written_data_bytes,
            data_transfer_bytes, logical_size_bytes, branches, snapshots, CASE WHEN detail THEN now() END)
    ON CONFLICT ON CONSTRAINT usage_pkey DO UPDATE
       SET period_end = coalesce(excluded.period_end, u.period_end),
           active_time_seconds = coalesce(excluded.active_time_seconds, u.active_time_seconds),
           compute_time_seconds = coalesce(excluded.compute_time_seconds, u.compute_time_seconds),
           written_data_bytes = coalesce(excluded.written_data_bytes, u.written_data_bytes),
           data_transfer_bytes = coalesce(excluded.data_transfer_bytes, u.data_transfer_bytes),
           logical_size_bytes = coalesce(excluded.logical_size_bytes, u.logical_size_bytes),
           branches = coalesce(excluded.branches, u.branches),
           snapshots = coalesce(excluded.snapshots, u.snapshots),
           read_at = now(),
           detail_read_at = coalesce(excluded.detail_read_at, u.detail_read_at)
$function$;

-- One page of a project list (GET /projects): the active time and storage
-- of every tenant's project on it, in the current calendar month (Neon's
-- period). items: [{"id", "active_time", "synthetic_storage_size"}]. Returns
-- how many tenants it matched.
CREATE OR REPLACE FUNCTION neon_platform.record_project_page(items jsonb) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    month_start timestamptz := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    matched integer := 0;
    item record;
BEGIN
    FOR item IN
        SELECT t.tenant, (i->>'active_time')::bigint AS active_time, (i->>'synthetic_storage_size')::bigint AS storage
          FROM jsonb_array_elements(items) AS i
          JOIN neon_platform.tenants AS t ON t.project_id = i->>'id'
         WHERE t.state NOT IN ('deleted', 'claimed')
    LOOP
        PERFORM neon_platform.record_usage(item.tenant, month_start, month_start + interval '1 month',
                                           item.active_time, NULL, NULL, NULL, item.storage, NULL, NULL, false);
        matched := matched + 1;
    END LOOP;
    RETURN matched;
END
$function$;

-- A reading crossed an alert threshold: one row in neon_platform.alerts and
-- a NOTIFY neon_platform_alerts (sent when the recording commits), for the
-- highest threshold crossed, once per tenant, metric and period.
CREATE OR REPLACE FUNCTION neon_platform.raise_alerts() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    plan neon_platform.tiers;
    m    record;
    top  integer;
    percent numeric;
    alert neon_platform.alerts;
BEGIN
    SELECT r.* INTO plan FROM neon_platform.tenants AS t JOIN neon_platform.tiers AS r ON r.name = t.tier
     WHERE t.tenant = NEW.tenant;
    FOR m IN
        SELECT * FROM (VALUES
            ('active_time_seconds', NEW.active_time_seconds, plan.active_time_seconds),
            ('compute_time_seconds', NEW.compute_time_seconds, plan.compute_time_seconds),
            ('written_data_bytes', NEW.written_data_bytes, plan.written_data_bytes),
            ('data_transfer_bytes', NEW.data_transfer_bytes, plan.data_transfer_bytes),
            ('logical_size_bytes', NEW.logical_size_bytes, plan.logical_size_bytes)) AS v(metric, used, quota)
         WHERE v.quota > 0 AND v.used IS NOT NULL
    LOOP
        percent := round(m.used * 100.0 / m.quota, 1);
        SELECT max(x) INTO top FROM unnest(neon_platform.alert_thresholds()) AS x WHERE x <= percent;
        CONTINUE WHEN top IS NULL OR EXISTS (
            SELECT FROM neon_platform.alerts AS a
             WHERE a.tenant = NEW.tenant AND a.metric = m.metric AND a.period_start = NEW.period_start
               AND a.threshold >= top);
        INSERT INTO neon_platform.alerts (tenant, metric, threshold, percent_used, period_start, period_end)
        VALUES (NEW.tenant, m.metric, top, percent, NEW.period_start, NEW.period_end)
        RETURNING * INTO alert;
        PERFORM pg_notify('neon_platform_alerts',
                          json_build_object('alert_id', alert.id, 'tenant', alert.tenant, 'metric', alert.metric,
                                            'threshold', alert.threshold, 'percent_used', alert.percent_used,
                                            'period_start', alert.period_start, 'period_end', alert.period_end)::text);
    END LOOP;
    RETURN NULL;
END
$function$;

CREATE OR REPLACE TRIGGER usage_raise_alerts
    AFTER INSERT OR UPDATE ON neon_platform.usage
    FOR EACH ROW EXECUTE FUNCTION neon_platform.raise_alerts();

CREATE OR REPLACE FUNCTION @extschema@.neon_sync_usage()
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    job_id bigint;
BEGIN
    SELECT j.id INTO job_id FROM neon_platform.jobs AS j
     WHERE j.kind = 'usage_sweep' AND j.state IN ('queued', 'running') ORDER BY j.id LIMIT 1;
    IF FOUND THEN
        RETURN job_id;
    END IF;
    INSERT INTO neon_platform.jobs (kind, args) VALUES ('usage_sweep', '{}') RETURNING id INTO job_id;
    RETURN job_id;
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_sync_usage() IS
    'Enqueue a usage sweep of every tenant now (or return the one queued or running); returns the job id';

-- Called by the worker every 10 seconds: a sweep is due when none is queued
-- or running and the last began usage_poll_interval ago.
CREATE OR REPLACE FUNCTION neon_platform.enqueue_due_sweep(poll_interval_seconds integer) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $function$
    INSERT INTO neon_platform.jobs (kind, args)
    SELECT 'usage_sweep', '{}'
     WHERE poll_interval_seconds > 0
       AND NOT EXISTS (SELECT FROM neon_platform.jobs AS j
                        WHERE j.kind = 'usage_sweep'
                          AND (j.state IN ('queued', 'running')
                               OR j.created_at > now() - make_interval(secs => poll_interval_seconds)))
$function$;

-- After a sweep read every project list: the tenants closest to a quota by
-- the list's active time get a detail read (GET /projects/{id}, every
-- period counter), nearest first, at most `budget` of them.
CREATE OR REPLACE FUNCTION neon_platform.enqueue_usage_reads(budget integer) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    n integer;
    floor_percent integer := coalesce((neon_platform.alert_thresholds())[1], 80) - 10;
BEGIN
    INSERT INTO neon_platform.jobs (tenant, kind, args)
    SELECT c.tenant, 'read_usage', '{}'
      FROM (SELECT u.tenant, u.active_time_seconds * 100.0 / r.active_time_seconds AS percent
              FROM neon_platform.usage AS u
              JOIN neon_platform.tenants AS t ON t.tenant = u.tenant
              JOIN neon_platform.tiers AS r ON r.name = t.tier
             WHERE t.state = 'ready' AND r.active_time_seconds > 0
               AND u.period_start = date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
               AND NOT EXISTS (SELECT FROM neon_platform.jobs AS j
                                WHERE j.tenant = u.tenant AND j.kind = 'read_usage'
                                  AND j.state IN ('queued', 'running'))) AS c
     WHERE c.percent >= floor_percent
     ORDER BY c.percent DESC
     LIMIT budget;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$function$;
