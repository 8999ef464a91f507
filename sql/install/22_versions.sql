
---------------------------------------------------------------------------
-- Versions: snapshots, restores with undo and redo, development branches
---------------------------------------------------------------------------

-- A tenant the versioning functions may act on now: managed and ready.
CREATE OR REPLACE FUNCTION neon_platform.ready_tenant(name text) RETURNS neon_platform.tenants
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    found_tenant neon_platform.tenants := neon_platform.managed_tenant(name);
BEGIN
    IF found_tenant.state <> 'ready' THEN
        RAISE EXCEPTION 'tenant "%" is not ready (state %)', name, found_tenant.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Wait for its current job with neon_wait().';
    END IF;
    RETURN found_tenant;
END
$function$;

-- The error every versioning function raises for a NULL argument.
CREATE OR REPLACE FUNCTION neon_platform.require(value anyelement, argument text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', argument
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
END
$function$;

-- A point in time a branch may be taken or restored from: not in the
-- future, and within the tier's restore window.
CREATE OR REPLACE FUNCTION neon_platform.check_point_in_time(t neon_platform.tenants, at timestamptz, argument text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    window_seconds integer := (neon_platform.known_tier(t.tier)).restore_window_seconds;
BEGIN
    IF at > now() THEN
        RAISE EXCEPTION '% is in the future', argument
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'History reaches back from now, not forward.';
    END IF;
    IF at < now() - make_interval(secs => window_seconds) THEN
        RAISE EXCEPTION '% is outside the restore window of tier "%"', argument, t.tier
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Tier "%s" keeps %s seconds of history; choose a later time.', t.tier, window_seconds);
    END IF;
END
$function$;

-- A future expiry, or none.
CREATE OR REPLACE FUNCTION neon_platform.check_expiry(expires_at timestamptz) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    IF expires_at <= now() THEN
        RAISE EXCEPTION 'expires_at is not in the future'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Leave expires_at out to keep it until it is deleted.';
    END IF;
END
$function$;

-- Refuses a new branch when the project would exceed the tier's branch
-- limit: production, the development and backup branches that exist or are
-- being made, and `extra` more.
CREATE OR REPLACE FUNCTION neon_platform.check_branch_room(t neon_platform.tenants, extra integer, what text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    max_branches integer := (neon_platform.known_tier(t.tier)).max_branches;
    used integer := 1 + (SELECT count(*) FROM neon_platform.branches AS b
                          WHERE b.tenant = t.tenant AND b.state NOT IN ('deleted', 'failed'));
BEGIN
    IF used + extra > max_branches THEN
        RAISE EXCEPTION '% would exceed the branch limit of tier "%" (% branches)', what, t.tier, max_branches
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = format('Tenant "%s" has %s branches: production and %s development or backup branches.',
                                  t.tenant, used, used - 1),
                  HINT = 'Delete a development branch (neon_delete_branch), or move the tenant to a larger tier.';
    END IF;
END
$function$;

-- A tenant's branch by name (development or backup), or the error.
CREATE OR REPLACE FUNCTION neon_platform.known_branch(tenant text, name text) RETURNS neon_platform.branches
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    found_branch neon_platform.branches;
BEGIN
    SELECT * INTO found_branch FROM neon_platform.branches AS b
     WHERE b.tenant = known_branch.tenant AND b.name = known_branch.name AND b.state <> 'deleted';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'branch "%" does not exist for tenant "%"', neon_platform.shorten(name), tenant
            USING ERRCODE = 'undefined_object',
                  HINT = 'See neon_platform.branches; neon_create_branch() makes one.';
    END IF;
    RETURN found_branch;
END
$function$;

-- The latest job of a kind for one named snapshot or branch of a tenant:
-- what a repeated call returns.
CREATE OR REPLACE FUNCTION neon_platform.latest_job_for(tenant text, kind text, name text) RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT j.id FROM neon_platform.jobs AS j
     WHERE j.tenant = latest_job_for.tenant AND j.kind = latest_job_for.kind AND j.args->>'name' = latest_job_for.name
     ORDER BY j.id DESC LIMIT 1
$function$;

CREATE OR REPLACE FUNCTION @extschema@.neon_snapshot(tenant text, name text, expires_at timestamptz DEFAULT NULL,
                                                     replace boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    t        neon_platform.tenants;
    existing neon_platform.snapshots;
    oldest   neon_platform.snapshots;
    max_snapshots integer;
    job_id   bigint;
BEGIN
    PERFORM neon_platform.require(name, 'name'), neon_platform.require(replace, 'replace');
    IF name !~ '^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid snapshot name: %', quote_literal(neon_platform.shorten(name))
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A snapshot name has 1 to 63 characters: letters, digits, space, "_", ".", ":" and "-", starting with a letter or digit.';
    END IF;
    PERFORM neon_platform.check_expiry(expires_at);
    t := neon_platform.ready_tenant(tenant);
    SELECT * INTO existing FROM neon_platform.snapshots AS s WHERE s.tenant = t.tenant AND s.name = neon_snapshot.name;
    IF existing.state IN ('creating', 'ready') THEN
        RETURN neon_platform.latest_job_for(t.tenant, 'snapshot', name);
    END IF;
    max_snapshots := (neon_platform.known_tier(t.tier)).max_snapshots;
    IF (SELECT count(*) FROM neon_platform.snapshots AS s
         WHERE s.tenant = t.tenant AND s.state IN ('creating', 'ready', 'deleting')) >= max_snapshots THEN
        SELECT * INTO oldest FROM neon_platform.snapshots AS s
         WHERE s.tenant = t.tenant AND s.state = 'ready' ORDER BY s.ready_at, s.name LIMIT 1;
        IF NOT replace OR oldest.name IS NULL THEN
            RAISE EXCEPTION 'tenant "%" has reached the snapshot limit of tier "%" (%)', tenant, t.tier, max_snapshots
                USING ERRCODE = 'program_limit_exceeded',
                      HINT = CASE WHEN oldest.name IS NULL
                                  THEN 'Wait for the snapshots being made or deleted, or move the tenant to a larger tier.'
                                  ELSE 'Pass replace => true to delete the oldest snapshot first.' END;
        END IF;
        UPDATE neon_platform.snapshots AS s SET state = 'deleting', updated_at = now()
         WHERE s.tenant = t.tenant AND s.name = oldest.name;
    END IF;
    INSERT INTO neon_platform.snapshots AS s (tenant, name, expires_at)
    VALUES (t.tenant, neon_snapshot.name, neon_snapshot.expires_at)
    ON CONFLICT ON CONSTRAINT snapshots_pkey DO UPDATE
       SET state = 'creating', snapshot_id = NULL, expires_at = excluded.expires_at, last_error = NULL,
           created_at = now(), updated_at = now(), ready_at = NULL;
    INSERT INTO neon_platform.jobs (tenant, kind, args, step)
    VALUES (t.tenant, 'snapshot',
            jsonb_strip_nulls(jsonb_build_object('name', name, 'expires_at', expires_at,
                                                 'replace_name', oldest.name, 'replace_snapshot_id', oldest.snapshot_id)),
            CASE WHEN oldest.name IS NOT NULL THEN 'delete_replaced' END)
    RETURNING id INTO job_id;
    RETURN job_id;
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_snapshot(text, text, timestamptz, boolean) IS
    'Enqueue a snapshot of the tenant''s production branch (replacing the oldest at the tier''s limit if asked) in the caller''s transaction; returns the job id';

-- Starts a restore of the production branch: the tenant is restoring, and an
-- undone restore can be redone no more (its redo branch expires now).
CREATE OR REPLACE FUNCTION neon_platform.begin_restore(t neon_platform.tenants) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
BEGIN
    UPDATE neon_platform.branches AS b SET expires_at = now(), updated_at = now()
      FROM neon_platform.restores AS r
     WHERE r.tenant = t.tenant AND r.state = 'undone' AND b.tenant = t.tenant AND b.name = r.redo_branch;
    UPDATE neon_platform.restores AS r SET state = 'discarded', updated_at = now()
     WHERE r.tenant = t.tenant AND r.state = 'undone';
    UPDATE neon_platform.tenants AS x SET state = 'restoring', last_error = NULL, updated_at = now()
     WHERE x.tenant = t.tenant;
END
$function$;

-- Records that a restore will keep the state it replaces under a backup
-- branch, which expires with the tier's restore window.
CREATE OR REPLACE FUNCTION neon_platform.plan_backup(t neon_platform.tenants, name text) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $function$
    INSERT INTO neon_platform.branches AS b (tenant, name, kind, expires_at)
    VALUES (t.tenant, name, 'backup',
            now() + make_interval(secs => (neon_platform.known_tier(t.tier)).restore_window_seconds))
    ON CONFLICT ON CONSTRAINT branches_pkey DO UPDATE
       SET state = 'creating', branch_id = NULL, expires_at = excluded.expires_at, last_error = NULL,
           created_at = now(), updated_at = now(), ready_at = NULL
$function$;

-- A new restore of the production branch, with the name of its backup.
CREATE OR REPLACE FUNCTION neon_platform.new_restore(t neon_platform.tenants, kind text, to_time timestamptz,
                                                     snapshot text)
RETURNS neon_platform.restores
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    r neon_platform.restores;
    id bigint := nextval(pg_get_serial_sequence('neon_platform.restores', 'id'));
BEGIN
    PERFORM neon_platform.check_branch_room(t, 1, 'the backup of a restore');
    PERFORM neon_platform.begin_restore(t);
    INSERT INTO neon_platform.restores AS x (id, tenant, kind, to_time, snapshot, backup_branch)
    OVERRIDING SYSTEM VALUE
    VALUES (id, t.tenant, kind, to_time, snapshot,
            format('backup-%s-%s', id, to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"')))
    RETURNING * INTO r;
    PERFORM neon_platform.plan_backup(t, r.backup_branch);
    RETURN r;
END
$function$;

-- Links a restore to the job carrying it out.
CREATE OR REPLACE FUNCTION neon_platform.enqueue_restore(r neon_platform.restores, kind text, args jsonb)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    new_job bigint;
BEGIN
    INSERT INTO neon_platform.jobs (tenant, kind, args)
    VALUES (r.tenant, kind, args || jsonb_build_object('restore_id', r.id))
    RETURNING id INTO new_job;
    UPDATE neon_platform.restores AS x SET job_id = new_job WHERE x.id = r.id;
    RETURN new_job;
END
$function$;

CREATE OR REPLACE FUNCTION @extschema@.neon_restore(tenant text, to_time timestamptz)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    t neon_platform.tenants;
    r neon_platform.restores;
BEGIN
    PERFORM neon_platform.require(to_time, 'to_time');
    t := neon_platform.ready_tenant(tenant);
    PERFORM neon_platform.check_point_in_time(t, to_time, 'to_time');
    r := neon_platform.new_restore(t, 'point_in_time', to_time, NULL);
    RETURN neon_platform.enqueue_restore(r, 'restore',
        jsonb_build_object('mode', 'point_in_time', 'to_time', to_time, 'preserve_under_name', r.backup_branch));
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_restore(text, timestamptz) IS
    'Enqueue an in-place point-in-time restore of the tenant''s production branch, keeping its state under a backup branch; returns the job id';

CREATE OR REPLACE FUNCTION @extschema@.neon_restore_snapshot(tenant text, snapshot text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    t neon_platform.tenants;
    s neon_platform.snapshots;
    r neon_platform.restores;
BEGIN
    PERFORM neon_platform.require(snapshot, 'snapshot');
    t := neon_platform.ready_tenant(tenant);
    SELECT * INTO s FROM neon_platform.snapshots AS x WHERE x.tenant = t.tenant AND x.name = snapshot;
    IF s.state IS DISTINCT FROM 'ready' THEN
        RAISE EXCEPTION 'snapshot "%" of tenant "%" is not ready (%)', neon_platform.shorten(snapshot), tenant,
                        coalesce(s.state, 'it does not exist')
            USING ERRCODE = CASE WHEN s.state IS NULL THEN 'undefined_object' ELSE 'object_not_in_prerequisite_state' END,
                  HINT = 'See neon_platform.snapshots.';
    END IF;
    r := neon_platform.new_restore(t, 'snapshot', NULL, snapshot);
    RETURN neon_platform.enqueue_restore(r, 'restore_snapshot',
        jsonb_build_object('snapshot', snapshot, 'snapshot_id', s.snapshot_id, 'preserve_under_name', r.backup_branch));
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_restore_snapshot(text, text) IS
    'Enqueue the restore of a snapshot into the tenant''s production branch (finalized), keeping its state under a backup branch; returns the job id';

-- One step back or forth on the tenant's restores: production is restored
-- from the branch that keeps the state to return to (the backup of the
-- last applied restore, or the redo branch of the first undone one), and
-- the state it leaves is kept under the other name of the pair.
CREATE OR REPLACE FUNCTION neon_platform.step_restore(tenant text, undo boolean)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    t      neon_platform.tenants := neon_platform.ready_tenant(tenant);
    r      neon_platform.restores;
    source neon_platform.branches;
    keep   text;
BEGIN
    SELECT * INTO r FROM neon_platform.restores AS x
     WHERE x.tenant = t.tenant AND x.state = CASE WHEN undo THEN 'applied' ELSE 'undone' END
     ORDER BY CASE WHEN undo THEN -x.id ELSE x.id END LIMIT 1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant "%" has no % to %', tenant, CASE WHEN undo THEN 'restore' ELSE 'undone restore' END,
                        CASE WHEN undo THEN 'undo' ELSE 'redo' END
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A new restore discards what was undone; see neon_platform.versions.';
    END IF;
    SELECT * INTO source FROM neon_platform.branches AS b
     WHERE b.tenant = t.tenant AND b.name = CASE WHEN undo THEN r.backup_branch ELSE r.redo_branch END;
    IF source.state IS DISTINCT FROM 'ready' THEN
        RAISE EXCEPTION 'the branch that keeps the state before restore % of tenant "%" is gone (%)', r.id, tenant,
                        coalesce(source.state, 'never made')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'It expired with the tier''s restore window; neon_restore() can still go back within it.';
    END IF;
    PERFORM neon_platform.check_branch_room(t, 1, CASE WHEN undo THEN 'the redo branch of an undo' ELSE 'the backup of a redo' END);
    keep := CASE WHEN undo THEN format('redo-%s-%s', r.id, to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"'))
                 ELSE r.backup_branch END;
    IF EXISTS (SELECT FROM neon_platform.branches AS b
                WHERE b.tenant = t.tenant AND b.name = keep AND b.state NOT IN ('deleted', 'failed')) THEN
        RAISE EXCEPTION 'branch "%" of tenant "%" still exists', keep, tenant
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'The undo could not delete it (see the tenant''s last_error); a redo keeps the undone state under that name again.';
    END IF;
    UPDATE neon_platform.restores AS x
       SET state = CASE WHEN undo THEN 'undoing' ELSE 'redoing' END,
           redo_branch = CASE WHEN undo THEN keep ELSE x.redo_branch END, updated_at = now()
     WHERE x.id = r.id;
    UPDATE neon_platform.tenants AS x SET state = 'restoring', last_error = NULL, updated_at = now()
     WHERE x.tenant = t.tenant;
    PERFORM neon_platform.plan_backup(t, keep);
    RETURN neon_platform.enqueue_restore(r, 'restore',
        jsonb_build_object('mode', CASE WHEN undo THEN 'undo' ELSE 'redo' END, 'source_branch', source.name,
                           'source_branch_id', source.branch_id, 'preserve_under_name', keep));
END
$function$;

CREATE OR REPLACE FUNCTION @extschema@.neon_undo_restore(tenant text)
RETURNS bigint
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT neon_platform.step_restore(tenant, true)
$function$;
COMMENT ON FUNCTION @extschema@.neon_undo_restore(text) IS
    'Enqueue putting the tenant''s production branch back as it was before its last restore (again: further back); returns the job id';

CREATE OR REPLACE FUNCTION @extschema@.neon_redo_restore(tenant text)
RETURNS bigint
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT neon_platform.step_restore(tenant, false)
$function$;
COMMENT ON FUNCTION @extschema@.neon_redo_restore(text) IS
    'Enqueue re-applying the restore the last neon_undo_restore() undid; returns the job id';

CREATE OR REPLACE FUNCTION @extschema@.neon_create_branch(tenant text, branch text, parent text DEFAULT NULL,
                                                          at timestamptz DEFAULT NULL,
                                                          expires_at timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    t        neon_platform.tenants;
    existing neon_platform.branches;
    from_branch neon_platform.branches;
    plan     neon_platform.tiers;
    job_id   bigint;
BEGIN
    PERFORM neon_platform.require(branch, 'branch');
    IF branch !~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' OR branch ~ '^(backup|redo)-' THEN
        RAISE EXCEPTION 'invalid branch name: %', quote_literal(neon_platform.shorten(branch))
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A branch name has 1 to 63 characters: letters, digits, "_", "." and "-", starting with a letter or digit; backup- and redo- are kept for restores.';
    END IF;
    PERFORM neon_platform.check_expiry(expires_at);
    t := neon_platform.ready_tenant(tenant);
    IF at IS NOT NULL THEN
        PERFORM neon_platform.check_point_in_time(t, at, 'at');
    END IF;
    SELECT * INTO existing FROM neon_platform.branches AS b WHERE b.tenant = t.tenant AND b.name = branch;
    IF existing.state IN ('creating', 'ready', 'resetting', 'deleting') THEN
        IF existing.kind <> 'development' OR existing.state = 'deleting' THEN
            RAISE EXCEPTION 'branch "%" of tenant "%" is a % branch (state %)', branch, tenant, existing.kind, existing.state
                USING ERRCODE = 'duplicate_object',
                      HINT = 'Choose another name.';
        END IF;
        RETURN neon_platform.latest_job_for(t.tenant, 'create_branch', branch);
    END IF;
    IF parent IS NOT NULL THEN
        from_branch := neon_platform.known_branch(t.tenant, parent);
        IF from_branch.kind <> 'development' OR from_branch.state <> 'ready' THEN
            RAISE EXCEPTION 'branch "%" of tenant "%" cannot be a parent (% branch, state %)', parent, tenant,
                            from_branch.kind, from_branch.state
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'A development branch grows from production or from a ready development branch.';
        END IF;
    END IF;
    PERFORM neon_platform.check_branch_room(t, 1, format('branch "%s"', branch));
    plan := neon_platform.known_tier(t.tier);
    INSERT INTO neon_platform.branches AS b (tenant, name, kind, parent, parent_branch_id, parent_time, expires_at)
    VALUES (t.tenant, branch, 'development', parent, coalesce(from_branch.branch_id, t.branch_id), at, expires_at)
    ON CONFLICT ON CONSTRAINT branches_pkey DO UPDATE
       SET kind = 'development', state = 'creating', branch_id = NULL, parent = excluded.parent,
           parent_branch_id = excluded.parent_branch_id, parent_time = excluded.parent_time,
           endpoint_id = NULL, host = NULL, pooler_host = NULL, expires_at = excluded.expires_at,
           last_error = NULL, created_at = now(), updated_at = now(), ready_at = NULL;
    INSERT INTO neon_platform.jobs (tenant, kind, args)
    VALUES (t.tenant, 'create_branch',
            jsonb_strip_nulls(jsonb_build_object(
                'name', branch, 'parent_branch_id', coalesce(from_branch.branch_id, t.branch_id), 'at', at,
                'autoscaling_min_cu', plan.autoscaling_min_cu, 'autoscaling_max_cu', plan.autoscaling_max_cu,
                'suspend_timeout_seconds', plan.suspend_timeout_seconds)))
    RETURNING id INTO job_id;
    RETURN job_id;
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_create_branch(text, text, text, timestamptz, timestamptz) IS
    'Enqueue a development branch with its own read-write compute, from production or another branch, optionally at a point in time; returns the job id';

-- A development branch a job may act on: ready, with no branch of ours
-- grown from it when `leaf` is asked.
CREATE OR REPLACE FUNCTION neon_platform.ready_development_branch(t neon_platform.tenants, name text, leaf boolean)
RETURNS neon_platform.branches
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    b neon_platform.branches := neon_platform.known_branch(t.tenant, name);
BEGIN
    IF b.kind <> 'development' OR b.state NOT IN ('ready', 'failed') OR b.branch_id IS NULL THEN
        RAISE EXCEPTION 'branch "%" of tenant "%" is not a ready development branch (% branch, state %)', name,
                        t.tenant, b.kind, b.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Wait for its current job with neon_wait(); backup branches expire by themselves.';
    END IF;
    IF leaf AND EXISTS (SELECT FROM neon_platform.branches AS c
                         WHERE c.tenant = t.tenant AND c.parent = ready_development_branch.name
                           AND c.state NOT IN ('deleted', 'failed')) THEN
        RAISE EXCEPTION 'branch "%" of tenant "%" has branches grown from it', name, t.tenant
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Delete them first.';
    END IF;
    RETURN b;
END
$function$;

-- Enqueues a job on one development branch, which goes to `new_state`.
CREATE OR REPLACE FUNCTION neon_platform.enqueue_branch_job(b neon_platform.branches, kind text, new_state text,
                                                            args jsonb)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    job_id bigint;
BEGIN
    UPDATE neon_platform.branches AS x SET state = new_state, last_error = NULL, updated_at = now()
     WHERE x.tenant = b.tenant AND x.name = b.name;
    INSERT INTO neon_platform.jobs (tenant, kind, args)
    VALUES (b.tenant, kind, args || jsonb_build_object('name', b.name, 'branch_id', b.branch_id))
    RETURNING id INTO job_id;
    RETURN job_id;
END
$function$;

CREATE OR REPLACE FUNCTION @extschema@.neon_reset_branch(tenant text, branch text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    t neon_platform.tenants;
    b neon_platform.branches;
BEGIN
    PERFORM neon_platform.require(branch, 'branch');
    t := neon_platform.ready_tenant(tenant);
    b := neon_platform.ready_development_branch(t, branch, true);
    RETURN neon_platform.enqueue_branch_job(b, 'reset_branch', 'resetting',
        jsonb_build_object('parent_branch_id', coalesce((SELECT p.branch_id FROM neon_platform.branches AS p
                                                          WHERE p.tenant = t.tenant AND p.name = b.parent), t.branch_id)));
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_reset_branch(text, text) IS
    'Enqueue resetting a development branch to its parent''s current state; returns the job id';

CREATE OR REPLACE FUNCTION @extschema@.neon_delete_branch(tenant text, branch text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    t neon_platform.tenants;
    b neon_platform.branches;
BEGIN
    PERFORM neon_platform.require(branch, 'branch');
    t := neon_platform.managed_tenant(tenant);
    SELECT * INTO b FROM neon_platform.branches AS x WHERE x.tenant = t.tenant AND x.name = branch;
    IF b.state = 'deleting' THEN
        RETURN neon_platform.latest_job_for(t.tenant, 'delete_branch', branch);
    END IF;
    b := neon_platform.ready_development_branch(t, branch, true);
    RETURN neon_platform.enqueue_branch_job(b, 'delete_branch', 'deleting', '{}');
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_delete_branch(text, text) IS
    'Enqueue the deletion of a development branch and its compute; returns the job id';

-- Called by the worker every 10 seconds: snapshots and branches whose
-- expiry has passed are deleted by background jobs (one whose deletion
-- failed is tried again after 10 minutes). Rows an application holds are
-- left for the next round, so the worker never waits.
CREATE OR REPLACE FUNCTION neon_platform.enqueue_expired() RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    n_snapshots integer;
    n_branches  integer;
BEGIN
    WITH expired AS (
        UPDATE neon_platform.snapshots AS s SET state = 'deleting', updated_at = now()
         WHERE (s.tenant, s.name) IN (SELECT x.tenant, x.name FROM neon_platform.snapshots AS x
                                       WHERE x.state = 'ready' AND x.expires_at <= now()
                                         AND (x.last_error IS NULL OR x.updated_at < now() - interval '10 minutes')
                                       FOR UPDATE SKIP LOCKED)
        RETURNING s.tenant, s.name, s.snapshot_id)
    INSERT INTO neon_platform.jobs (tenant, kind, args)
    SELECT e.tenant, 'delete_snapshot', jsonb_build_object('name', e.name, 'snapshot_id', e.snapshot_id)
      FROM expired AS e;
    GET DIAGNOSTICS n_snapshots = ROW_COUNT;
    WITH expired AS (
        UPDATE neon_platform.branches AS b SET state = 'deleting', updated_at = now()
         WHERE (b.tenant, b.name) IN (SELECT x.tenant, x.name FROM neon_platform.branches AS x
                                       WHERE x.state = 'ready' AND x.expires_at <= now()
                                         AND (x.last_error IS NULL OR x.updated_at < now() - interval '10 minutes')
                                       FOR UPDATE SKIP LOCKED)
        RETURNING b.tenant, b.name, b.branch_id)
    INSERT INTO neon_platform.jobs (tenant, kind, args)
    SELECT e.tenant, 'expire_branch', jsonb_build_object('name', e.name, 'branch_id', e.branch_id)
      FROM expired AS e;
    GET DIAGNOSTICS n_branches = ROW_COUNT;
    RETURN n_snapshots + n_branches;
END
$function$;
