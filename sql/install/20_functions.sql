---------------------------------------------------------------------------
-- Functions
---------------------------------------------------------------------------

-- Sets the worker's latch when the inserting or updating transaction commits.
CREATE OR REPLACE FUNCTION neon_platform.wake_worker() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'neon_platform_wake_worker';

CREATE OR REPLACE TRIGGER jobs_wake_worker
    AFTER INSERT OR UPDATE OF state, run_after ON neon_platform.jobs
    FOR EACH STATEMENT EXECUTE FUNCTION neon_platform.wake_worker();

-- A tier's definition changed: re-apply it to every tenant on it, as
-- background jobs (each behind the tenant's earlier jobs, so a provisioning
-- in flight gets the new plan too). pg_version and region_id apply to new
-- tenants only; a tier cannot change organization while tenants use it.
CREATE OR REPLACE FUNCTION neon_platform.reapply_tier() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF NEW.name <> OLD.name OR NEW.organization <> OLD.organization THEN
        IF EXISTS (SELECT FROM neon_platform.tenants AS t WHERE t.tier = OLD.name AND t.state <> 'deleted') THEN
            RAISE EXCEPTION 'tier "%" is in use: its name and organization cannot change', OLD.name
                USING ERRCODE = 'feature_not_supported',
                      HINT = 'Create a new tier instead; changing the organization of a tier would have to move its tenants'' projects.';
        END IF;
        RETURN NEW;
    END IF;
    IF (NEW.active_time_seconds, NEW.compute_time_seconds, NEW.written_data_bytes, NEW.data_transfer_bytes,
        NEW.logical_size_bytes, NEW.autoscaling_min_cu, NEW.autoscaling_max_cu, NEW.suspend_timeout_seconds,
        NEW.restore_window_seconds)
       IS DISTINCT FROM
       (OLD.active_time_seconds, OLD.compute_time_seconds, OLD.written_data_bytes, OLD.data_transfer_bytes,
        OLD.logical_size_bytes, OLD.autoscaling_min_cu, OLD.autoscaling_max_cu, OLD.suspend_timeout_seconds,
        OLD.restore_window_seconds) THEN
        INSERT INTO neon_platform.jobs (tenant, kind, args)
        SELECT t.tenant, 'apply_tier', jsonb_build_object('tier', NEW.name, 'plan', to_jsonb(NEW), 'from_plan', to_jsonb(OLD))
          FROM neon_platform.tenants AS t
         WHERE t.tier = NEW.name AND t.state IN ('provisioning', 'ready');
    END IF;
    RETURN NEW;
END
$function$;

CREATE OR REPLACE TRIGGER tiers_reapply
    AFTER UPDATE ON neon_platform.tiers
    FOR EACH ROW EXECUTE FUNCTION neon_platform.reapply_tier();

-- Whether a row was written by this transaction or one of its subtransactions
-- (such a job is invisible to the worker until commit).
CREATE OR REPLACE FUNCTION neon_platform.written_by_this_transaction(xid) RETURNS boolean
    LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'neon_platform_written_by_this_transaction';

-- An input as error messages quote it: at most 64 characters, so a huge
-- argument never comes back whole.
CREATE OR REPLACE FUNCTION neon_platform.shorten(value text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT CASE WHEN value IS NULL THEN 'NULL'
                WHEN length(value) <= 64 THEN value
                ELSE left(value, 61) || '...' END
$function$;

-- Percent-encodes one component of a connection URI.
CREATE OR REPLACE FUNCTION neon_platform.uri_encode(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT coalesce(string_agg(CASE WHEN c ~ '^[A-Za-z0-9._~-]$' THEN c
                                    ELSE upper(regexp_replace(encode(convert_to(c, 'UTF8'), 'hex'), '(..)', '%\1', 'g'))
                               END, '' ORDER BY i), '')
      FROM regexp_split_to_table(value, '') WITH ORDINALITY AS t(c, i)
$function$;

-- The tier named `name`, or the error every function raises for an unknown one.
CREATE OR REPLACE FUNCTION neon_platform.known_tier(name text) RETURNS neon_platform.tiers
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    found_tier neon_platform.tiers;
BEGIN
    SELECT * INTO found_tier FROM neon_platform.tiers AS t WHERE t.name = known_tier.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tier "%" does not exist', neon_platform.shorten(name)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Known tiers: %s (see neon_platform.tiers).',
                                (SELECT string_agg(t.name, ', ' ORDER BY t.name) FROM neon_platform.tiers AS t));
    END IF;
    RETURN found_tier;
END
$function$;

-- The tenant named `name`, or the error every function raises for an unknown one.
CREATE OR REPLACE FUNCTION neon_platform.known_tenant(name text) RETURNS neon_platform.tenants
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    found_tenant neon_platform.tenants;
BEGIN
    SELECT * INTO found_tenant FROM neon_platform.tenants AS t WHERE t.tenant = known_tenant.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant "%" does not exist', neon_platform.shorten(name)
            USING ERRCODE = 'undefined_object',
                  HINT = 'Provision it first: SELECT neon_provision(tenant, tier).';
    END IF;
    RETURN found_tenant;
END
$function$;

-- A tenant the functions may act on: known, and not claimed by its end user
-- (whose project is in their own Neon account now).
CREATE OR REPLACE FUNCTION neon_platform.managed_tenant(name text) RETURNS neon_platform.tenants
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    found_tenant neon_platform.tenants := neon_platform.known_tenant(name);
BEGIN
    IF found_tenant.state = 'claimed' THEN
        RAISE EXCEPTION 'tenant "%" was claimed: its project is in its end user''s own Neon account', name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A claimed tenant is managed no more.';
    END IF;
    RETURN found_tenant;
END
$function$;

-- The tenant's latest job of a kind: what a repeated call returns.
CREATE OR REPLACE FUNCTION neon_platform.latest_job(tenant text, kind text) RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT j.id FROM neon_platform.jobs AS j
     WHERE j.tenant = latest_job.tenant AND j.kind = latest_job.kind
     ORDER BY j.id DESC LIMIT 1
$function$;

-- What of a tenant's last known usage does not fit a tier: one item per
-- figure over its limit ("branches 12 > 10"), empty when all fit or nothing
-- is known. Period counters count only while their period runs; a quota of 0
-- is unlimited. The worker words its own fresh check the same way.
CREATE OR REPLACE FUNCTION neon_platform.tier_misfits(tenant text, target neon_platform.tiers) RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT coalesce(array_agg(format('%s %s > %s', c.item, c.used, c.allowed) ORDER BY c.ord), '{}')
      FROM (SELECT u.*, (u.period_end IS NULL OR u.period_end > now()) AS running
              FROM neon_platform.usage AS u
             WHERE u.tenant = tier_misfits.tenant
             ORDER BY u.period_start DESC LIMIT 1) AS u,
           LATERAL (VALUES
               (1, 'logical_size_bytes', u.logical_size_bytes, target.logical_size_bytes, true),
               (2, 'active_time_seconds', u.active_time_seconds, target.active_time_seconds, u.running),
               (3, 'compute_time_seconds', u.compute_time_seconds, target.compute_time_seconds, u.running),
               (4, 'written_data_bytes', u.written_data_bytes, target.written_data_bytes, u.running),
               (5, 'data_transfer_bytes', u.data_transfer_bytes, target.data_transfer_bytes, u.running),
               (6, 'branches', u.branches, target.max_branches, true),
               (7, 'snapshots', u.snapshots, target.max_snapshots, true)) AS c(ord, item, used, allowed, counts)
     WHERE c.counts AND c.used > c.allowed AND (c.allowed > 0 OR c.ord >= 6)
$function$;

CREATE OR REPLACE FUNCTION @extschema@.neon_provision(tenant text, tier text DEFAULT 'free')
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    wanted   neon_platform.tiers;
    existing neon_platform.tenants;
    job_id   bigint;
    first_step text;
    project  text;
    bootstrap_failed boolean;
BEGIN
    IF tenant IS NULL OR tenant !~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid tenant name: %', CASE WHEN tenant IS NULL THEN 'NULL'
                                                        ELSE quote_literal(neon_platform.shorten(tenant)) END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A tenant name has 1 to 63 characters: letters, digits, "_", ".", "@" and "-", starting with a letter or digit.';
    END IF;

    IF tier IS NULL THEN
        RAISE EXCEPTION 'tier must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass a tier of neon_platform.tiers, or leave it out for ''free''.';
    END IF;
    wanted := neon_platform.known_tier(tier);

    project := current_setting('neon_platform.project_name_prefix') || neon_provision.tenant;
    IF EXISTS (SELECT FROM neon_platform.tenants AS t
                WHERE t.project_name = project AND t.tenant <> neon_provision.tenant) THEN
        RAISE EXCEPTION 'tenant "%" would get the project name "%", which another tenant has', tenant, project
            USING ERRCODE = 'unique_violation',
                  HINT = 'Project names are neon_platform.project_name_prefix || tenant; a changed prefix can make two tenants collide.';
    END IF;

    INSERT INTO neon_platform.tenants AS t (tenant, tier, organization, project_name)
    VALUES (neon_provision.tenant, wanted.name, wanted.organization, project)
    ON CONFLICT ON CONSTRAINT tenants_pkey DO NOTHING;

    -- No row lock here: the worker must never wait for a transaction of
    -- the application (it writes tenant rows with NOWAIT and sets aside).
    IF NOT FOUND THEN
        SELECT * INTO existing FROM neon_platform.tenants AS t
         WHERE t.tenant = neon_provision.tenant;
        IF existing.tier <> wanted.name THEN
            RAISE EXCEPTION 'tenant "%" already exists with tier "%"', tenant, existing.tier
                USING ERRCODE = 'duplicate_object',
                      HINT = 'A tenant is provisioned once; neon_provision() with its current tier returns its job.';
        END IF;
        job_id := neon_platform.latest_job(tenant, 'provision');
        bootstrap_failed := existing.state = 'failed' AND existing.project_id IS NOT NULL
                            AND coalesce((SELECT j.step FROM neon_platform.jobs AS j WHERE j.id = job_id)
                                         IN ('bootstrap', 'sql_outcome_unknown'), false);
        IF NOT bootstrap_failed AND (existing.state <> 'failed' OR existing.project_id IS NOT NULL) THEN
            IF job_id IS NULL THEN
                RAISE NOTICE 'tenant "%" was provisioned by a job that has since been deleted', tenant;
            END IF;
            RETURN job_id;
        END IF;
        -- A provisioning that failed is tried again; an earlier attempt may
        -- have created the project without learning it, so look for it
        -- first. One whose project exists but whose tier's bootstrap failed
        -- runs only the bootstrap again, with the tier's bootstrap_sql as it
        -- is now.
        UPDATE neon_platform.tenants AS t
           SET state = 'provisioning', last_error = NULL, updated_at = now()
         WHERE t.tenant = neon_provision.tenant AND t.state = 'failed';
        IF NOT FOUND THEN
            -- Another transaction retried it first: its job is the answer.
            RETURN neon_platform.latest_job(tenant, 'provision');
        END IF;
        project := existing.project_name;
        first_step := CASE WHEN bootstrap_failed THEN 'bootstrap' ELSE 'find_existing' END;
    END IF;

    -- The job carries the plan as it is now: what the caller asked for.
    INSERT INTO neon_platform.jobs (tenant, kind, args, step)
    VALUES (neon_provision.tenant, 'provision',
            jsonb_build_object('tier', wanted.name, 'project_name', project, 'plan', to_jsonb(wanted)),
            first_step)
    RETURNING id INTO job_id;
    RETURN job_id;
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_provision(text, text) IS
    'Enqueue the creation of the tenant''s Neon project in the caller''s transaction; returns the job id';

-- A move from the paid to the free organization: refused (with each figure
-- that does not fit) unless forced, judged on the usage last read; the
-- worker judges again on fresh figures before the transfer. Compute and
-- restore window shrink to the tier's with the move: said, not refused.
CREATE OR REPLACE FUNCTION neon_platform.check_downgrade(t neon_platform.tenants, wanted neon_platform.tiers, force boolean)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    misfits text[] := neon_platform.tier_misfits(t.tenant, wanted);
    current_tier neon_platform.tiers := neon_platform.known_tier(t.tier);
BEGIN
    IF cardinality(misfits) > 0 AND NOT force THEN
        RAISE EXCEPTION 'tenant "%" does not fit tier "%"', t.tenant, wanted.name
            USING ERRCODE = 'check_violation',
                  DETAIL = array_to_string(misfits, '; '),
                  HINT = 'Bring the usage under the tier''s limits (or wait for the next period), or pass force => true to move it anyway.';
    END IF;
    IF cardinality(misfits) > 0 THEN
        RAISE NOTICE 'tenant "%" is moved to tier "%" although it does not fit: %', t.tenant, wanted.name,
            array_to_string(misfits, '; ');
    ELSIF NOT EXISTS (SELECT FROM neon_platform.usage AS u WHERE u.tenant = t.tenant) THEN
        RAISE NOTICE 'no usage of tenant "%" has been read yet: the worker checks it before the transfer', t.tenant;
    END IF;
    IF current_tier.autoscaling_max_cu > wanted.autoscaling_max_cu
       OR current_tier.restore_window_seconds > wanted.restore_window_seconds THEN
        RAISE NOTICE 'tenant "%" gets the compute and restore window of tier "%": at most % CU, % s of history',
            t.tenant, wanted.name, wanted.autoscaling_max_cu, wanted.restore_window_seconds;
    END IF;
END
$function$;

CREATE OR REPLACE FUNCTION @extschema@.neon_set_tier(tenant text, tier text, force boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    t            neon_platform.tenants;
    wanted       neon_platform.tiers;
    current_tier neon_platform.tiers;
    job_id       bigint;
BEGIN
    IF force IS NULL OR tier IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', CASE WHEN tier IS NULL THEN 'tier' ELSE 'force' END
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass a tier of neon_platform.tiers; force => true skips the checks of a downgrade.';
    END IF;
    t := neon_platform.managed_tenant(tenant);
    wanted := neon_platform.known_tier(tier);
    IF t.state <> 'ready' THEN
        RAISE EXCEPTION 'tenant "%" is not ready (state %)', tenant, t.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A tier changes only for a ready tenant; wait for its current job with neon_wait().';
    END IF;
    IF wanted.name = t.tier THEN
        RAISE NOTICE 'tenant "%" already has tier "%"', tenant, tier;
        RETURN NULL;
    END IF;
    current_tier := neon_platform.known_tier(t.tier);
    IF t.organization = 'paid' AND wanted.organization = 'free' THEN
        PERFORM neon_platform.check_downgrade(t, wanted, force);
    END IF;

    UPDATE neon_platform.tenants AS x SET state = 'changing_tier', last_error = NULL, updated_at = now()
     WHERE x.tenant = neon_set_tier.tenant;
    -- The job carries the target plan as it is now; within one organization
    -- there is nothing to transfer.
    INSERT INTO neon_platform.jobs (tenant, kind, args, step)
    VALUES (neon_set_tier.tenant, 'change_tier',
            jsonb_build_object('tier', wanted.name, 'plan', to_jsonb(wanted), 'from_plan', to_jsonb(current_tier),
                               'from_organization', t.organization, 'to_organization', wanted.organization,
                               'force', force),
            CASE WHEN t.organization = wanted.organization THEN 'update_project'
                 WHEN wanted.organization = 'free' THEN 'read_usage' END)
    RETURNING id INTO job_id;
    RETURN job_id;
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_set_tier(text, text, boolean) IS
    'Enqueue the move of a ready tenant to another tier (across organizations: a batched transfer) in the caller''s transaction; returns the job id';

CREATE OR REPLACE FUNCTION @extschema@.neon_deprovision(tenant text, final_snapshot boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    t      neon_platform.tenants;
    job_id bigint;
BEGIN
    IF final_snapshot IS NULL THEN
        RAISE EXCEPTION 'final_snapshot must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass final_snapshot => true to keep a snapshot of the project, or leave it out.';
    END IF;
    t := neon_platform.managed_tenant(tenant);
    IF t.state IN ('deprovisioning', 'deleted') THEN
        RETURN neon_platform.latest_job(tenant, 'deprovision');
    END IF;
    IF t.state = 'failed' AND t.project_id IS NULL THEN
        -- A provisioning that never created a project: nothing to delete at Neon.
        UPDATE neon_platform.tenants AS x SET state = 'deleted', updated_at = now()
         WHERE x.tenant = neon_deprovision.tenant;
        DELETE FROM neon_platform.tenant_secrets AS s WHERE s.tenant = neon_deprovision.tenant;
        RAISE NOTICE 'tenant "%" had no Neon project; it is marked deleted', tenant;
        RETURN NULL;
    END IF;
    -- A missing tenant's project may still exist elsewhere: the delete finds out (404: gone).
    IF t.state NOT IN ('ready', 'failed', 'missing') THEN
        RAISE EXCEPTION 'tenant "%" is busy (state %)', tenant, t.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Wait for its current job with neon_wait(), then deprovision it.';
    END IF;
    UPDATE neon_platform.tenants AS x SET state = 'deprovisioning', last_error = NULL, updated_at = now()
     WHERE x.tenant = neon_deprovision.tenant;
    INSERT INTO neon_platform.jobs (tenant, kind, args, step)
    VALUES (neon_deprovision.tenant, 'deprovision',
            CASE WHEN final_snapshot
                 THEN jsonb_build_object('snapshot_name', 'final-' || neon_deprovision.tenant)
                 ELSE '{}'::jsonb END,
            CASE WHEN final_snapshot THEN NULL ELSE 'delete_project' END)
    RETURNING id INTO job_id;
    RETURN job_id;
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_deprovision(text, boolean) IS
    'Enqueue the deletion of the tenant''s Neon project (after a final snapshot if asked) in the caller''s transaction; returns the job id';

CREATE OR REPLACE FUNCTION @extschema@.neon_claim(tenant text, ttl interval DEFAULT '24 hours')
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    t      neon_platform.tenants;
    job_id bigint;
BEGIN
    IF ttl IS NULL OR ttl < interval '1 minute' OR ttl > interval '30 days' THEN
        RAISE EXCEPTION 'invalid claim ttl: %', coalesce(ttl::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A claim link lives from 1 minute to 30 days; leave ttl out for 24 hours.';
    END IF;
    t := neon_platform.managed_tenant(tenant);
    job_id := neon_platform.latest_job(tenant, 'claim');
    IF EXISTS (SELECT FROM neon_platform.jobs AS j WHERE j.id = job_id AND j.state IN ('queued', 'running'))
       OR (t.state = 'ready' AND t.claim_expires_at > now()) THEN
        -- One link at a time: the one being made, or the one still open.
        RETURN job_id;
    END IF;
    IF t.state <> 'ready' THEN
        RAISE EXCEPTION 'tenant "%" is not ready (state %)', tenant, t.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A claim link is made for a ready tenant; wait for its current job with neon_wait().';
    END IF;
    IF t.claim_expires_at IS NOT NULL THEN
        RAISE NOTICE 'the claim link of tenant "%" has expired; a new one is made', tenant;
    END IF;
    INSERT INTO neon_platform.jobs (tenant, kind, args)
    VALUES (neon_claim.tenant, 'claim',
            jsonb_build_object('ttl_seconds', extract(epoch FROM ttl)::bigint,
                               'redirect_url', current_setting('neon_platform.claim_redirect_url')))
    RETURNING id INTO job_id;
    RETURN job_id;
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_claim(text, interval) IS
    'Enqueue a claim link (a Neon transfer request) with which the tenant''s end user takes the project into their own Neon account; returns the job id';

CREATE OR REPLACE FUNCTION @extschema@.neon_wait(job bigint, timeout interval DEFAULT '60 s')
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    job_state text;
    own_insert boolean;
    deadline  timestamptz := clock_timestamp() + timeout;
    nap       double precision := 0.005;
BEGIN
    IF job IS NULL OR timeout IS NULL THEN
        RAISE EXCEPTION 'neon_wait() needs a job id and a timeout'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT j.state, neon_platform.written_by_this_transaction(j.xmin)
      INTO job_state, own_insert
      FROM neon_platform.jobs AS j WHERE j.id = job;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'job % does not exist', job
            USING ERRCODE = 'no_data_found',
                  HINT = 'Finished jobs are deleted after neon_platform.job_retention.';
    END IF;
    IF own_insert AND job_state IN ('queued', 'running') THEN
        RAISE EXCEPTION 'job % was enqueued or changed by this transaction', job
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'The worker only sees committed jobs: commit, then call neon_wait().';
    END IF;
    LOOP
        IF job_state IN ('succeeded', 'failed', 'cancelled') THEN
            RETURN job_state;
        END IF;
        IF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION 'neon_wait() cannot see the job change in a % transaction', current_setting('transaction_isolation')
                USING ERRCODE = 'invalid_transaction_state',
                      HINT = 'Call it in a READ COMMITTED transaction, or on its own.';
        END IF;
        IF clock_timestamp() >= deadline THEN
            RAISE EXCEPTION 'timed out after % waiting for job % (state %)', timeout, job, job_state
                USING ERRCODE = 'query_canceled',
                      HINT = 'The job goes on; see neon_platform.jobs and neon_platform.api_calls for its progress.';
        END IF;
        PERFORM pg_sleep(least(nap, greatest(extract(epoch FROM deadline - clock_timestamp()), 0)));
        nap := least(nap * 2, 0.1);
        SELECT j.state INTO job_state FROM neon_platform.jobs AS j WHERE j.id = job;
    END LOOP;
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_wait(bigint, interval) IS
    'Wait until a job ends; returns succeeded, failed or cancelled';

-- A development branch of the tenant by name or id, ready (or being reset)
-- with its own compute; raises when there is none.
CREATE OR REPLACE FUNCTION neon_platform.development_branch(t neon_platform.tenants, branch text)
RETURNS neon_platform.branches
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    found_branch neon_platform.branches;
BEGIN
    SELECT * INTO found_branch FROM neon_platform.branches AS b
     WHERE b.tenant = t.tenant AND b.kind = 'development' AND b.state IN ('ready', 'resetting')
       AND branch IN (b.name, b.branch_id);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'branch "%" does not exist for tenant "%"', neon_platform.shorten(branch), t.tenant
            USING ERRCODE = 'undefined_object',
                  HINT = format('Leave branch out for production (%s); neon_platform.branches lists the ready development branches.',
                                t.branch_id);
    END IF;
    RETURN found_branch;
END
$function$;

-- postgresql://role:password@host/database?sslmode=require, the parts
-- percent-encoded (a host is checked by the worker before it is stored).
CREATE OR REPLACE FUNCTION neon_platform.format_connection_uri(role_name text, password text, host text, database_name text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT format('postgresql://%s:%s@%s/%s?sslmode=require', neon_platform.uri_encode(role_name),
                  neon_platform.uri_encode(password), host, neon_platform.uri_encode(database_name))
$function$;

CREATE OR REPLACE FUNCTION @extschema@.neon_connection_uri(tenant text, branch text DEFAULT NULL, pooled boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    t        neon_platform.tenants;
    dev      neon_platform.branches;
    password text;
    host     text;
BEGIN
    IF pooled IS NULL THEN
        RAISE EXCEPTION 'pooled must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass pooled => true for the connection pooler (the default) or pooled => false for a direct connection.';
    END IF;
    t := neon_platform.managed_tenant(tenant);
    IF t.state = 'failed' THEN
        RAISE EXCEPTION 'tenant "%" is not ready: its last job failed', tenant
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = coalesce(t.last_error, 'No reason was recorded.'),
                  HINT = 'Fix the cause, then call neon_provision() again to retry.';
    END IF;
    IF t.state NOT IN ('ready', 'changing_tier', 'restoring') THEN
        RAISE EXCEPTION 'tenant "%" is not ready (state %)', tenant, t.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = CASE t.state
                              WHEN 'provisioning' THEN 'Wait for its provisioning job with neon_wait().'
                              WHEN 'deprovisioning' THEN 'Its project is being deleted (neon_deprovision).'
                              ELSE 'The tenant has no project to connect to.' END;
    END IF;
    host := CASE WHEN pooled THEN t.pooler_host ELSE t.host END;
    IF branch IS NOT NULL AND branch <> t.branch_id THEN
        -- A development branch: its own compute, the same role.
        dev := neon_platform.development_branch(t, branch);
        host := CASE WHEN pooled THEN dev.pooler_host ELSE dev.host END;
    END IF;
    SELECT s.role_password INTO password FROM neon_platform.tenant_secrets AS s WHERE s.tenant = t.tenant;
    IF password IS NULL THEN
        RAISE EXCEPTION 'the password of tenant "%" is not known', tenant
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'neon_platform.tenant_secrets has no row for the tenant.';
    END IF;
    RETURN neon_platform.format_connection_uri(t.role_name, password, host, t.database_name);
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_connection_uri(text, text, boolean) IS
    'Connection string of a ready tenant (or of one of its development branches), pooled (host with -pooler) unless pooled => false; contains the password';

-- The worker's row of pg_stat_activity, as its owner sees it: ordinary roles
-- see other sessions' state and activity as NULL.
CREATE OR REPLACE FUNCTION neon_platform.worker_status(
    OUT pid integer, OUT backend_start timestamptz, OUT state text,
    OUT wait_event_type text, OUT wait_event text, OUT activity text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT a.pid, a.backend_start, a.state, a.wait_event_type, a.wait_event, a.query
      FROM pg_catalog.pg_stat_activity AS a
     WHERE a.backend_type = 'neon_platform worker'
$function$;

