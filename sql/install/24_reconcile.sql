
---------------------------------------------------------------------------
-- Reconciliation: what Neon holds against what the tenants say, on the
-- complete inventory of a sweep
---------------------------------------------------------------------------

-- A time as findings show it, whatever the session's DateStyle and TimeZone.
CREATE OR REPLACE FUNCTION neon_platform.utc(t timestamptz) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$function$;

-- The differences between a listed project's settings and its tier's, as
-- "field listed <> tier"; empty when none. A compute setting the list does
-- not show is not compared.
CREATE OR REPLACE FUNCTION neon_platform.settings_drift(settings jsonb, plan neon_platform.tiers) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT coalesce(string_agg(format('%s %s <> %s', d.field, d.listed, d.wanted), '; ' ORDER BY d.n), '')
      FROM (VALUES
            (1, 'active_time_seconds', settings->>'active_time_seconds', plan.active_time_seconds::text),
            (2, 'compute_time_seconds', settings->>'compute_time_seconds', plan.compute_time_seconds::text),
            (3, 'written_data_bytes', settings->>'written_data_bytes', plan.written_data_bytes::text),
            (4, 'data_transfer_bytes', settings->>'data_transfer_bytes', plan.data_transfer_bytes::text),
            (5, 'logical_size_bytes', settings->>'logical_size_bytes', plan.logical_size_bytes::text),
            (6, 'autoscaling_min_cu', settings->>'autoscaling_min_cu', plan.autoscaling_min_cu::text),
            (7, 'autoscaling_max_cu', settings->>'autoscaling_max_cu', plan.autoscaling_max_cu::text),
            (8, 'suspend_timeout_seconds', settings->>'suspend_timeout_seconds', plan.suspend_timeout_seconds::text))
           AS d(n, field, listed, wanted)
     WHERE d.listed IS NOT NULL AND d.listed::numeric <> d.wanted::numeric
$function$;

-- Tenants the reconciliation of a sweep that began listing at `began` must
-- leave alone: a job of theirs (other than a usage read) is queued or
-- running, or their row or such a job changed since then (a project moving between the organizations during
-- the sweep may be on neither list).
CREATE OR REPLACE FUNCTION neon_platform.busy_tenants(began timestamptz) RETURNS TABLE (tenant text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT j.tenant FROM neon_platform.jobs AS j
     WHERE j.tenant IS NOT NULL AND j.kind <> 'read_usage'
       AND (j.state IN ('queued', 'running') OR j.updated_at >= began)
    UNION
    SELECT t.tenant FROM neon_platform.tenants AS t WHERE t.updated_at >= began
$function$;

-- Projects named like a tenant's project that are not its project. Created
-- since the tenant's row (around its provisioning): a create whose answer
-- was lost or that Neon carried out late; deleted by a delete_stray job
-- when `deleting` (neon_platform.delete_strays). Any other: reported.
CREATE OR REPLACE FUNCTION neon_platform.reconcile_strays(sweep_id bigint, began timestamptz, deleting boolean)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    stray record;
    job bigint;
    n integer := 0;
BEGIN
    FOR stray IN
        SELECT i.*, t.tenant, i.created_at >= t.created_at - interval '1 minute' AS ours
          FROM neon_platform.inventory AS i
          JOIN neon_platform.tenants AS t ON t.project_name = i.name
         WHERE i.sweep_id = reconcile_strays.sweep_id
           AND i.project_id IS DISTINCT FROM t.project_id
           AND t.tenant NOT IN (SELECT b.tenant FROM neon_platform.busy_tenants(began) AS b)
    LOOP
        job := NULL;
        IF deleting AND stray.ours THEN
            SELECT j.id INTO job FROM neon_platform.jobs AS j
             WHERE j.kind = 'delete_stray' AND j.state IN ('queued', 'running') AND j.args->>'project_id' = stray.project_id;
            IF NOT FOUND THEN
                INSERT INTO neon_platform.jobs (kind, args)
                VALUES ('delete_stray', jsonb_build_object('project_id', stray.project_id,
                                                           'organization', stray.organization, 'name', stray.name))
                RETURNING id INTO job;
            END IF;
        END IF;
        INSERT INTO neon_platform.findings (sweep_id, finding, tenant, project_id, organization, project_name, detail,
                                            action, job_id)
        VALUES (sweep_id, 'stray', stray.tenant, stray.project_id, stray.organization, stray.name,
                format('named for tenant %s, whose project is %s; created %s (the tenant since %s)', stray.tenant,
                       coalesce((SELECT t.project_id FROM neon_platform.tenants AS t WHERE t.tenant = stray.tenant), 'none'),
                       neon_platform.utc(stray.created_at),
                       (SELECT neon_platform.utc(t.created_at) FROM neon_platform.tenants AS t WHERE t.tenant = stray.tenant)),
                CASE WHEN job IS NULL THEN 'report' ELSE 'delete' END, job);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$function$;

-- Projects with the name prefix that belong to no tenant at all: reported,
-- never deleted.
CREATE OR REPLACE FUNCTION neon_platform.reconcile_unowned(sweep_id bigint) RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $function$
    WITH found AS (
        INSERT INTO neon_platform.findings (sweep_id, finding, project_id, organization, project_name, detail, action)
        SELECT i.sweep_id, 'unowned', i.project_id, i.organization, i.name,
               format('has the prefix %L, no tenant has this name or project; created %s',
                      current_setting('neon_platform.project_name_prefix'), neon_platform.utc(i.created_at)),
               'report'
          FROM neon_platform.inventory AS i
         WHERE i.sweep_id = reconcile_unowned.sweep_id
           AND current_setting('neon_platform.project_name_prefix') <> ''
           AND starts_with(i.name, current_setting('neon_platform.project_name_prefix'))
           AND NOT EXISTS (SELECT FROM neon_platform.tenants AS t
                            WHERE t.project_name = i.name OR t.project_id = i.project_id)
        RETURNING 1)
    SELECT count(*)::integer FROM found
$function$;

-- Ready tenants whose project is on neither list become missing (never
-- re-created); missing ones whose project is back are ready again.
CREATE OR REPLACE FUNCTION neon_platform.reconcile_missing(sweep_id bigint, began timestamptz,
                                                           OUT missing_count integer, OUT found_count integer)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    WITH gone AS (
        UPDATE neon_platform.tenants AS t
           SET state = 'missing', updated_at = now(),
               last_error = format('project %s was on neither organization''s project list on %s: deleted or moved outside neon_platform; it is not re-created',
                                   t.project_id, neon_platform.utc(began))
         WHERE t.state = 'ready' AND t.claim_url IS NULL
           AND t.tenant NOT IN (SELECT b.tenant FROM neon_platform.busy_tenants(began) AS b)
           AND NOT EXISTS (SELECT FROM neon_platform.inventory AS i
                            WHERE i.sweep_id = reconcile_missing.sweep_id AND i.project_id = t.project_id)
        RETURNING t.tenant, t.project_id, t.organization, t.project_name, t.last_error)
    INSERT INTO neon_platform.findings (sweep_id, finding, tenant, project_id, organization, project_name, detail, action)
    SELECT reconcile_missing.sweep_id, 'missing', g.tenant, g.project_id, g.organization, g.project_name, g.last_error,
           'mark_missing'
      FROM gone AS g;
    GET DIAGNOSTICS missing_count = ROW_COUNT;
    WITH back AS (
        UPDATE neon_platform.tenants AS t
           SET state = 'ready', last_error = NULL, updated_at = now(), organization = i.organization
          FROM neon_platform.inventory AS i
         WHERE t.state = 'missing' AND i.sweep_id = reconcile_missing.sweep_id AND i.project_id = t.project_id
        RETURNING t.tenant, t.project_id, t.organization, t.project_name)
    INSERT INTO neon_platform.findings (sweep_id, finding, tenant, project_id, organization, project_name, detail, action)
    SELECT reconcile_missing.sweep_id, 'found', b.tenant, b.project_id, b.organization, b.project_name,
           'the project is listed again', 'mark_ready'
      FROM back AS b;
    GET DIAGNOSTICS found_count = ROW_COUNT;
END
$function$;

-- Ready tenants whose project's quotas or compute settings differ from
-- their tier's: an apply_tier job (background) puts the tier back. The
-- endpoints are read only when a compute setting drifted.
CREATE OR REPLACE FUNCTION neon_platform.reconcile_drift(sweep_id bigint, began timestamptz) RETURNS integer
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $function$
    WITH drifted AS (
        SELECT t.tenant, t.project_id, t.organization, t.project_name, r AS plan,
               neon_platform.settings_drift(i.settings, r) AS detail,
               neon_platform.settings_drift(i.settings - ARRAY['autoscaling_min_cu', 'autoscaling_max_cu',
                                                               'suspend_timeout_seconds'], r) AS quota_detail
          FROM neon_platform.tenants AS t
          JOIN neon_platform.tiers AS r ON r.name = t.tier
          JOIN neon_platform.inventory AS i ON i.sweep_id = reconcile_drift.sweep_id AND i.project_id = t.project_id
         WHERE t.state = 'ready'
           AND t.tenant NOT IN (SELECT b.tenant FROM neon_platform.busy_tenants(began) AS b)),
    jobs AS (
        INSERT INTO neon_platform.jobs (tenant, kind, args)
        SELECT d.tenant, 'apply_tier',
               jsonb_build_object('tier', (d.plan).name, 'plan', to_jsonb(d.plan))
               || CASE WHEN d.detail = d.quota_detail THEN jsonb_build_object('from_plan', to_jsonb(d.plan))
                       ELSE '{}' END
          FROM drifted AS d
         WHERE d.detail <> ''
        RETURNING id, tenant),
    found AS (
        INSERT INTO neon_platform.findings (sweep_id, finding, tenant, project_id, organization, project_name, detail,
                                            action, job_id)
        SELECT reconcile_drift.sweep_id, 'drift', d.tenant, d.project_id, d.organization, d.project_name, d.detail,
               'reapply', j.id
          FROM drifted AS d JOIN jobs AS j ON j.tenant = d.tenant
        RETURNING 1)
    SELECT count(*)::integer FROM found
$function$;

-- Called by the worker when a sweep has listed every page of both
-- organizations (only then: a partial inventory changes nothing), with
-- neon_platform.delete_strays. Keeps this sweep's inventory and drops the
-- older ones.
CREATE OR REPLACE FUNCTION neon_platform.reconcile(sweep_id bigint, delete_strays boolean) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    began timestamptz;
    r neon_platform.reconciliations;
BEGIN
    SELECT coalesce(min(i.read_at), now()) INTO began FROM neon_platform.inventory AS i
     WHERE i.sweep_id = reconcile.sweep_id;
    r.sweep_id := sweep_id;
    SELECT count(*) INTO r.projects FROM neon_platform.inventory AS i WHERE i.sweep_id = reconcile.sweep_id;
    r.strays := neon_platform.reconcile_strays(sweep_id, began, delete_strays);
    r.unowned := neon_platform.reconcile_unowned(sweep_id);
    SELECT m.missing_count, m.found_count INTO r.missing, r.found FROM neon_platform.reconcile_missing(sweep_id, began) AS m;
    r.drift := neon_platform.reconcile_drift(sweep_id, began);
    r.reconciled_at := now();
    INSERT INTO neon_platform.reconciliations VALUES (r.*);
    DELETE FROM neon_platform.inventory AS i WHERE i.sweep_id < reconcile.sweep_id;
    RETURN to_jsonb(r) - 'reconciled_at' - 'sweep_id';
END
$function$;

-- A delete_stray job finished: the stray is gone.
CREATE OR REPLACE FUNCTION neon_platform.stray_deleted(job_id bigint) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $function$
    UPDATE neon_platform.findings AS f SET action = 'deleted' WHERE f.job_id = stray_deleted.job_id AND f.finding = 'stray'
$function$;
