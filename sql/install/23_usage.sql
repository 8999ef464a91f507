
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

-- One page of a project list (GET /projects) of an organization, read by
-- the sweep `sweep_id`: the active time and storage of every tenant's
-- project on it, in the current calendar month (Neon's period), and every
-- project in the sweep's inventory. items: [{"id", "name", "created_at",
-- "active_time", "synthetic_storage_size", "settings"}]. Returns how many
-- tenants it matched.
CREATE OR REPLACE FUNCTION neon_platform.record_project_page(sweep_id bigint, organization text, items jsonb)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    month_start timestamptz := date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    matched integer := 0;
    item record;
BEGIN
    INSERT INTO neon_platform.inventory (sweep_id, project_id, organization, name, created_at, settings)
    SELECT record_project_page.sweep_id, i->>'id', record_project_page.organization, i->>'name',
           (i->>'created_at')::timestamptz, i->'settings'
      FROM jsonb_array_elements(items) AS i
        ON CONFLICT DO NOTHING;
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

-- One page of the paid organization's consumption history: each tenant's
-- billing figures per period. items: [{"project_id", "period_start",
-- "period_end", "compute_unit_seconds", "storage_byte_hours",
-- "transfer_bytes"}]. Returns how many tenants it matched.
CREATE OR REPLACE FUNCTION neon_platform.record_consumption_page(items jsonb) RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $function$
    WITH written AS (
        INSERT INTO neon_platform.consumption AS c
            (tenant, period_start, period_end, compute_unit_seconds, storage_byte_hours, transfer_bytes)
        SELECT t.tenant, (i->>'period_start')::timestamptz, (i->>'period_end')::timestamptz,
               (i->>'compute_unit_seconds')::bigint, (i->>'storage_byte_hours')::bigint, (i->>'transfer_bytes')::bigint
          FROM jsonb_array_elements(items) AS i
          JOIN neon_platform.tenants AS t ON t.project_id = i->>'project_id'
         WHERE t.state NOT IN ('deleted', 'claimed')
        ON CONFLICT ON CONSTRAINT consumption_pkey DO UPDATE
           SET period_end = excluded.period_end,
               compute_unit_seconds = excluded.compute_unit_seconds,
               storage_byte_hours = excluded.storage_byte_hours,
               transfer_bytes = excluded.transfer_bytes,
               read_at = now()
        RETURNING 1)
    SELECT count(*)::integer FROM written
$function$;

-- The period quota a tenant has used up on `tier` by its current period's
-- last reading (Neon suspends the project's computes for it), or NULL.
CREATE OR REPLACE FUNCTION neon_platform.exceeded_quota(tenant text, tier text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT m.metric
      FROM neon_platform.tiers AS r
      JOIN LATERAL (SELECT * FROM neon_platform.usage AS x WHERE x.tenant = exceeded_quota.tenant
                     ORDER BY x.period_start DESC LIMIT 1) AS u ON u.period_end IS NULL OR u.period_end > now()
     CROSS JOIN LATERAL (VALUES
           (1, 'active_time_seconds', u.active_time_seconds, r.active_time_seconds),
           (2, 'compute_time_seconds', u.compute_time_seconds, r.compute_time_seconds),
           (3, 'written_data_bytes', u.written_data_bytes, r.written_data_bytes),
           (4, 'data_transfer_bytes', u.data_transfer_bytes, r.data_transfer_bytes)) AS m(n, metric, used, quota)
     WHERE r.name = exceeded_quota.tier AND m.quota > 0 AND m.used >= m.quota
     ORDER BY m.n
     LIMIT 1
$function$;

-- A tier change recomputes whether the tenant is suspended: a larger quota
-- lifts Neon's suspension.
CREATE OR REPLACE FUNCTION neon_platform.tier_lifts_suspension() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    NEW.suspended_by := neon_platform.exceeded_quota(NEW.tenant, NEW.tier);
    RETURN NEW;
END
$function$;

CREATE OR REPLACE TRIGGER tenants_suspension
    BEFORE UPDATE OF tier ON neon_platform.tenants
    FOR EACH ROW WHEN (NEW.tier IS DISTINCT FROM OLD.tier)
    EXECUTE FUNCTION neon_platform.tier_lifts_suspension();

-- A reading changed whether the tenant is suspended: tenants.suspended_by
-- follows, unless the application holds the tenant's row (the next reading
-- catches up; the worker never waits for a lock an application holds).
CREATE OR REPLACE FUNCTION neon_platform.note_suspension(tenant text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    now_by text;
    row_tier text;
    was_by text;
BEGIN
    SELECT t.tier, t.suspended_by INTO row_tier, was_by FROM neon_platform.tenants AS t WHERE t.tenant = note_suspension.tenant;
    now_by := neon_platform.exceeded_quota(note_suspension.tenant, row_tier);
    IF now_by IS NOT DISTINCT FROM was_by THEN
        RETURN;
    END IF;
    BEGIN
        PERFORM FROM neon_platform.tenants AS t WHERE t.tenant = note_suspension.tenant FOR NO KEY UPDATE NOWAIT;
        UPDATE neon_platform.tenants AS t SET suspended_by = now_by WHERE t.tenant = note_suspension.tenant;
    EXCEPTION WHEN lock_not_available THEN
        NULL;
    END;
END
$function$;

-- A reading crossed an alert threshold: one row in neon_platform.alerts and
-- a NOTIFY neon_platform_alerts (sent when the recording commits), for the
-- highest threshold crossed, once per tenant, metric and period; and
-- tenants.suspended_by follows the reading.
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
    PERFORM neon_platform.note_suspension(NEW.tenant);
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

-- Reconciliation is part of every sweep: asking for one is asking for a sweep.
CREATE OR REPLACE FUNCTION @extschema@.neon_reconcile()
RETURNS bigint
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT @extschema@.neon_sync_usage()
$function$;
COMMENT ON FUNCTION @extschema@.neon_reconcile() IS
    'Enqueue a sweep that lists every project of both organizations and reconciles them with the tenants (or return the one queued or running); returns the job id';

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

-- Called by the worker every 10 seconds: usage, billing figures, alerts and
-- findings of periods older than the retention go (the current period's
-- never do).
CREATE OR REPLACE FUNCTION neon_platform.prune_usage(retention_seconds integer) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $function$
    DELETE FROM neon_platform.usage
     WHERE period_start < now() - make_interval(secs => retention_seconds)
       AND (period_end IS NOT NULL AND period_end < now());
    DELETE FROM neon_platform.consumption
     WHERE period_start < now() - make_interval(secs => retention_seconds)
       AND (period_end IS NOT NULL AND period_end < now());
    DELETE FROM neon_platform.alerts WHERE created_at < now() - make_interval(secs => retention_seconds);
    DELETE FROM neon_platform.findings WHERE found_at < now() - make_interval(secs => retention_seconds);
    DELETE FROM neon_platform.reconciliations
     WHERE reconciled_at < now() - make_interval(secs => retention_seconds)
       AND sweep_id < (SELECT max(r.sweep_id) FROM neon_platform.reconciliations AS r);
$function$;
