/* neon_platform 0.1.0: one Neon project per tenant, managed from SQL. */

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

---------------------------------------------------------------------------
-- Tables
---------------------------------------------------------------------------

CREATE TABLE neon_platform.tiers (
    name                    text PRIMARY KEY,
    organization            text NOT NULL,
    active_time_seconds     bigint NOT NULL DEFAULT 0,
    compute_time_seconds    bigint NOT NULL DEFAULT 0,
    written_data_bytes      bigint NOT NULL DEFAULT 0,
    data_transfer_bytes     bigint NOT NULL DEFAULT 0,
    logical_size_bytes      bigint NOT NULL DEFAULT 0,
    autoscaling_min_cu      numeric(4,2) NOT NULL DEFAULT 0.25,
    autoscaling_max_cu      numeric(4,2) NOT NULL DEFAULT 2,
    suspend_timeout_seconds integer NOT NULL DEFAULT 300,
    pg_version              integer NOT NULL DEFAULT 17,
    region_id               text NOT NULL DEFAULT 'aws-us-east-2',
    restore_window_seconds  integer NOT NULL,
    max_branches            integer NOT NULL,
    max_snapshots           integer NOT NULL,
    CONSTRAINT tiers_name_format CHECK (name ~ '^[a-z][a-z0-9_-]{0,31}$'),
    CONSTRAINT tiers_organization_known CHECK (organization IN ('free', 'paid')),
    CONSTRAINT tiers_quotas_not_negative CHECK (
        least(active_time_seconds, compute_time_seconds, written_data_bytes,
              data_transfer_bytes, logical_size_bytes) >= 0),
    CONSTRAINT tiers_compute_range CHECK (
        autoscaling_min_cu >= 0.25 AND autoscaling_max_cu >= autoscaling_min_cu),
    CONSTRAINT tiers_pg_version_supported CHECK (pg_version BETWEEN 14 AND 18),
    CONSTRAINT tiers_region_format CHECK (region_id ~ '^(aws|azure)-[a-z0-9-]+$'),
    CONSTRAINT tiers_limits_positive CHECK (
        restore_window_seconds > 0 AND max_branches >= 1 AND max_snapshots >= 0),
    CONSTRAINT tiers_within_free_org_limits CHECK (
        organization <> 'free' OR (autoscaling_max_cu <= 2
                                   AND suspend_timeout_seconds >= 300
                                   AND restore_window_seconds <= 86400
                                   AND max_branches <= 10
                                   AND max_snapshots <= 1)),
    CONSTRAINT tiers_within_paid_org_limits CHECK (
        organization <> 'paid' OR (autoscaling_max_cu <= 16
                                   AND suspend_timeout_seconds >= 60
                                   AND restore_window_seconds <= 604800
                                   AND max_branches <= 1000
                                   AND max_snapshots <= 10))
);
COMMENT ON TABLE neon_platform.tiers IS
    'Plans a tenant can be on: the Neon organization its project lives in, its quotas and compute settings';
COMMENT ON COLUMN neon_platform.tiers.organization IS
    'free: the sponsored free organization (neon_platform.free_org_id); paid: neon_platform.paid_org_id';
COMMENT ON COLUMN neon_platform.tiers.active_time_seconds IS 'Neon quota per billing period; 0 means unlimited (as do the other quotas)';
COMMENT ON COLUMN neon_platform.tiers.logical_size_bytes IS 'Neon quota on the logical size of each branch';
COMMENT ON COLUMN neon_platform.tiers.suspend_timeout_seconds IS 'Idle seconds before the compute scales to zero';
COMMENT ON COLUMN neon_platform.tiers.restore_window_seconds IS 'history_retention_seconds of the project: how far back restores and branches may reach';

INSERT INTO neon_platform.tiers
    (name, organization, active_time_seconds, logical_size_bytes, data_transfer_bytes,
     autoscaling_min_cu, autoscaling_max_cu, suspend_timeout_seconds,
     restore_window_seconds, max_branches, max_snapshots)
VALUES
    ('free', 'free', 360000, 536870912, 5368709120, 0.25, 2, 300, 86400, 10, 1),
    ('pro', 'paid', 2700000, 10737418240, 53687091200, 0.25, 2, 300, 604800, 1000, 10);

CREATE TABLE neon_platform.tenants (
    tenant             text PRIMARY KEY,
    tier               text NOT NULL REFERENCES neon_platform.tiers (name),
    organization       text NOT NULL,
    project_name       text NOT NULL UNIQUE,
    state              text NOT NULL DEFAULT 'provisioning',
    project_id         text UNIQUE,
    org_id             text,
    branch_id          text,
    endpoint_id        text,
    database_name      text,
    role_name          text,
    host               text,
    pooler_host        text,
    pending_operations text[] NOT NULL DEFAULT '{}',
    last_error         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    ready_at           timestamptz,
    CONSTRAINT tenants_name_format CHECK (tenant ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}$'),
    CONSTRAINT tenants_organization_known CHECK (organization IN ('free', 'paid')),
    CONSTRAINT tenants_state_known CHECK (state IN ('provisioning', 'ready', 'failed',
                                                    'changing_tier', 'deprovisioning', 'deleted')),
    CONSTRAINT tenants_ready_has_connection CHECK (
        state <> 'ready' OR (project_id IS NOT NULL AND branch_id IS NOT NULL
                             AND host IS NOT NULL AND pooler_host IS NOT NULL
                             AND database_name IS NOT NULL AND role_name IS NOT NULL))
);
COMMENT ON TABLE neon_platform.tenants IS 'One row per tenant: its tier, its Neon project and where to connect';
COMMENT ON COLUMN neon_platform.tenants.organization IS 'The organization the project lives in now (free or paid)';
COMMENT ON COLUMN neon_platform.tenants.project_name IS
    'Deterministic Neon project name (neon_platform.project_name_prefix || tenant), used to find a project whose creation outcome is unknown';
COMMENT ON COLUMN neon_platform.tenants.state IS 'provisioning, ready, failed, changing_tier, deprovisioning or deleted';
COMMENT ON COLUMN neon_platform.tenants.branch_id IS 'The default branch of the project';
COMMENT ON COLUMN neon_platform.tenants.endpoint_id IS 'The read-write compute of the default branch';
COMMENT ON COLUMN neon_platform.tenants.pending_operations IS
    'Neon operations that may still be running; the next mutation of the project waits for them';
COMMENT ON COLUMN neon_platform.tenants.last_error IS 'Why the last job of this tenant failed, if it did';

CREATE TABLE neon_platform.tenant_secrets (
    tenant        text PRIMARY KEY REFERENCES neon_platform.tenants (tenant) ON DELETE CASCADE,
    role_password text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE neon_platform.tenant_secrets IS
    'Role passwords of the tenants'' projects; readable only through neon_connection_uri() by roles granted it';

CREATE TABLE neon_platform.jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant           text NOT NULL REFERENCES neon_platform.tenants (tenant),
    kind             text NOT NULL,
    args             jsonb NOT NULL DEFAULT '{}',
    state            text NOT NULL DEFAULT 'queued',
    step             text,
    attempts         integer NOT NULL DEFAULT 0,
    run_after        timestamptz NOT NULL DEFAULT now(),
    lease_until      timestamptz,
    last_http_status integer,
    last_error       text,
    result           jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT jobs_kind_known CHECK (kind IN ('provision')),
    CONSTRAINT jobs_state_known CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    CONSTRAINT jobs_finished_when_terminal CHECK (
        (state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
    CONSTRAINT jobs_leased_when_running CHECK ((state = 'running') = (lease_until IS NOT NULL)),
    CONSTRAINT jobs_attempts_not_negative CHECK (attempts >= 0)
);
COMMENT ON TABLE neon_platform.jobs IS
    'The durable queue: work enqueued by the SQL API, carried out by the neon_platform worker';
COMMENT ON COLUMN neon_platform.jobs.state IS
    'queued (waiting for run_after), running (leased by the worker), or the terminal succeeded, failed, cancelled';
COMMENT ON COLUMN neon_platform.jobs.step IS
    'Where a job of several API calls stands; find_existing means the outcome of an earlier create is unknown';
COMMENT ON COLUMN neon_platform.jobs.attempts IS 'How many times the worker has taken up this job';
COMMENT ON COLUMN neon_platform.jobs.run_after IS 'Not taken up before this time (retry backoff)';
COMMENT ON COLUMN neon_platform.jobs.lease_until IS
    'While running: when the lease ends; a job still running after its lease (a crashed worker) is taken up again';
COMMENT ON COLUMN neon_platform.jobs.last_http_status IS 'HTTP status of the last API call, NULL if it got no response';
COMMENT ON COLUMN neon_platform.jobs.result IS 'What the job produced, e.g. the project id';

CREATE INDEX jobs_due_idx ON neon_platform.jobs (run_after, id) WHERE state = 'queued';
CREATE INDEX jobs_tenant_active_idx ON neon_platform.jobs (tenant, id) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_finished_idx ON neon_platform.jobs (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE neon_platform.api_calls (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id      bigint,
    method      text NOT NULL,
    path        text NOT NULL,
    status      integer,
    latency_ms  double precision NOT NULL,
    request_id  text,
    error       text,
    called_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE neon_platform.api_calls IS
    'Audit of every Neon API call the worker made; never holds keys or passwords';
COMMENT ON COLUMN neon_platform.api_calls.path IS 'Path and query below neon_platform.api_url';
COMMENT ON COLUMN neon_platform.api_calls.status IS 'HTTP status, NULL when no response came (network error, timeout)';
COMMENT ON COLUMN neon_platform.api_calls.request_id IS 'Neon''s x-neon-ret-request-id, to quote to Neon support';

CREATE INDEX api_calls_job_idx ON neon_platform.api_calls (job_id);
CREATE INDEX api_calls_called_at_idx ON neon_platform.api_calls (called_at);

SELECT pg_catalog.pg_extension_config_dump('neon_platform.tiers', 'WHERE name NOT IN (''free'', ''pro'')');
SELECT pg_catalog.pg_extension_config_dump('neon_platform.tenants', '');
SELECT pg_catalog.pg_extension_config_dump('neon_platform.tenant_secrets', '');
SELECT pg_catalog.pg_extension_config_dump('neon_platform.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('neon_platform.api_calls', '');

---------------------------------------------------------------------------
-- Functions
---------------------------------------------------------------------------

-- Sets the worker's latch when the inserting or updating transaction commits.
CREATE FUNCTION neon_platform.wake_worker() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'neon_platform_wake_worker';

CREATE TRIGGER jobs_wake_worker
    AFTER INSERT OR UPDATE OF state, run_after ON neon_platform.jobs
    FOR EACH STATEMENT EXECUTE FUNCTION neon_platform.wake_worker();

-- Whether a row was written by this transaction or one of its subtransactions
-- (such a job is invisible to the worker until commit).
CREATE FUNCTION neon_platform.written_by_this_transaction(xid) RETURNS boolean
    LANGUAGE c STABLE STRICT AS 'MODULE_PATHNAME', 'neon_platform_written_by_this_transaction';

-- Percent-encodes one component of a connection URI.
CREATE FUNCTION neon_platform.uri_encode(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $function$
    SELECT coalesce(string_agg(CASE WHEN c ~ '^[A-Za-z0-9._~-]$' THEN c
                                    ELSE upper(regexp_replace(encode(convert_to(c, 'UTF8'), 'hex'), '(..)', '%\1', 'g'))
                               END, '' ORDER BY i), '')
      FROM regexp_split_to_table(value, '') WITH ORDINALITY AS t(c, i)
$function$;

CREATE FUNCTION @extschema@.neon_provision(tenant text, tier text DEFAULT 'free')
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
BEGIN
    IF tenant IS NULL OR tenant !~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}$' THEN
        RAISE EXCEPTION 'invalid tenant name: %', coalesce(quote_literal(tenant), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A tenant name has 1 to 63 characters: letters, digits, "_", ".", "@" and "-", starting with a letter or digit.';
    END IF;

    IF tier IS NULL THEN
        RAISE EXCEPTION 'tier must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass a tier of neon_platform.tiers, or leave it out for ''free''.';
    END IF;
    SELECT * INTO wanted FROM neon_platform.tiers AS t WHERE t.name = neon_provision.tier;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tier "%" does not exist', tier
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Known tiers: %s (see neon_platform.tiers).',
                                (SELECT string_agg(name, ', ' ORDER BY name) FROM neon_platform.tiers));
    END IF;

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

    IF NOT FOUND THEN
        SELECT * INTO existing FROM neon_platform.tenants AS t
         WHERE t.tenant = neon_provision.tenant FOR UPDATE;
        IF existing.tier <> wanted.name THEN
            RAISE EXCEPTION 'tenant "%" already exists with tier "%"', tenant, existing.tier
                USING ERRCODE = 'duplicate_object',
                      HINT = 'A tenant is provisioned once; neon_provision() with its current tier returns its job.';
        END IF;
        IF existing.state <> 'failed' OR existing.project_id IS NOT NULL THEN
            SELECT j.id INTO job_id FROM neon_platform.jobs AS j
             WHERE j.tenant = neon_provision.tenant AND j.kind = 'provision'
             ORDER BY j.id DESC LIMIT 1;
            IF job_id IS NULL THEN
                RAISE NOTICE 'tenant "%" was provisioned by a job that has since been deleted', tenant;
            END IF;
            RETURN job_id;
        END IF;
        -- A provisioning that failed is tried again; an earlier attempt may
        -- have created the project without learning it, so look for it first.
        UPDATE neon_platform.tenants AS t
           SET state = 'provisioning', last_error = NULL, updated_at = now()
         WHERE t.tenant = neon_provision.tenant;
        first_step := 'find_existing';
    END IF;

    INSERT INTO neon_platform.jobs (tenant, kind, args, step)
    VALUES (neon_provision.tenant, 'provision', jsonb_build_object('tier', wanted.name), first_step)
    RETURNING id INTO job_id;
    RETURN job_id;
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_provision(text, text) IS
    'Enqueue the creation of the tenant''s Neon project in the caller''s transaction; returns the job id';

CREATE FUNCTION @extschema@.neon_wait(job bigint, timeout interval DEFAULT '60 s')
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

CREATE FUNCTION @extschema@.neon_connection_uri(tenant text, branch text DEFAULT NULL, pooled boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    t        neon_platform.tenants;
    password text;
BEGIN
    SELECT * INTO t FROM neon_platform.tenants AS x WHERE x.tenant = neon_connection_uri.tenant;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant "%" does not exist', tenant
            USING ERRCODE = 'undefined_object',
                  HINT = 'Provision it first: SELECT neon_provision(tenant, tier).';
    END IF;
    IF t.state = 'failed' THEN
        RAISE EXCEPTION 'tenant "%" is not ready: its last job failed', tenant
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = coalesce(t.last_error, 'No reason was recorded.'),
                  HINT = 'Fix the cause, then call neon_provision() again to retry.';
    END IF;
    IF t.state NOT IN ('ready', 'changing_tier') THEN
        RAISE EXCEPTION 'tenant "%" is not ready (state %)', tenant, t.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = CASE WHEN t.state = 'provisioning'
                              THEN 'Wait for its provisioning job with neon_wait().'
                              ELSE 'The tenant has no project to connect to.' END;
    END IF;
    IF branch IS NOT NULL AND branch <> t.branch_id THEN
        RAISE EXCEPTION 'branch "%" does not exist for tenant "%"', branch, tenant
            USING ERRCODE = 'undefined_object',
                  HINT = format('The tenant''s default branch is %s.', t.branch_id);
    END IF;
    SELECT s.role_password INTO password FROM neon_platform.tenant_secrets AS s WHERE s.tenant = t.tenant;
    IF password IS NULL THEN
        RAISE EXCEPTION 'the password of tenant "%" is not known', tenant
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'neon_platform.tenant_secrets has no row for the tenant.';
    END IF;
    RETURN format('postgresql://%s:%s@%s/%s?sslmode=require',
                  neon_platform.uri_encode(t.role_name), neon_platform.uri_encode(password),
                  CASE WHEN pooled THEN t.pooler_host ELSE t.host END,
                  neon_platform.uri_encode(t.database_name));
END
$function$;
COMMENT ON FUNCTION @extschema@.neon_connection_uri(text, text, boolean) IS
    'Connection string of a ready tenant, pooled (host with -pooler) unless pooled => false; contains the password';

---------------------------------------------------------------------------
-- Views
---------------------------------------------------------------------------

CREATE VIEW neon_platform.queue_summary AS
SELECT kind,
       state,
       count(*) AS jobs,
       min(created_at) AS oldest_created_at,
       min(run_after) FILTER (WHERE state = 'queued') AS next_run_after,
       max(attempts) AS max_attempts_so_far
  FROM neon_platform.jobs
 GROUP BY kind, state;
COMMENT ON VIEW neon_platform.queue_summary IS 'How many jobs of each kind are in each state';

CREATE VIEW neon_platform.worker AS
SELECT pid, backend_start, state, wait_event_type, wait_event, query AS activity
  FROM pg_catalog.pg_stat_activity
 WHERE backend_type = 'neon_platform worker';
COMMENT ON VIEW neon_platform.worker IS 'The neon_platform background worker, if it is running';

---------------------------------------------------------------------------
-- Privileges: everything but secrets is readable; acting needs a grant
---------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA neon_platform FROM PUBLIC;
GRANT USAGE ON SCHEMA neon_platform TO PUBLIC;
GRANT SELECT ON neon_platform.tiers, neon_platform.tenants, neon_platform.jobs, neon_platform.api_calls,
                neon_platform.queue_summary, neon_platform.worker TO PUBLIC;
REVOKE ALL ON FUNCTION neon_platform.wake_worker() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION neon_platform.written_by_this_transaction(xid) TO PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_provision(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_connection_uri(text, text, boolean) FROM PUBLIC;
