
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
    bootstrap_sql           text,
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
    final_snapshot_id  text,
    claim_url          text,
    claim_expires_at   timestamptz,
    suspended_by       text,
    CONSTRAINT tenants_name_format CHECK (tenant ~ '^[A-Za-z0-9][A-Za-z0-9_.@-]{0,62}$'),
    CONSTRAINT tenants_organization_known CHECK (organization IN ('free', 'paid')),
    CONSTRAINT tenants_state_known CHECK (state IN ('provisioning', 'ready', 'failed',
                                                    'changing_tier', 'deprovisioning', 'deleted', 'claimed', 'restoring',
                                                    'missing')),
    CONSTRAINT tenants_ready_has_connection CHECK (
        state <> 'ready' OR (project_id IS NOT NULL AND branch_id IS NOT NULL
                             AND host IS NOT NULL AND pooler_host IS NOT NULL
                             AND database_name IS NOT NULL AND role_name IS NOT NULL))
);
COMMENT ON TABLE neon_platform.tenants IS 'One row per tenant: its tier, its Neon project and where to connect';
COMMENT ON COLUMN neon_platform.tenants.organization IS 'The organization the project lives in now (free or paid)';
COMMENT ON COLUMN neon_platform.tenants.project_name IS
    'Deterministic Neon project name (neon_platform.project_name_prefix || tenant), used to find a project whose creation outcome is unknown';
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
    tenant           text REFERENCES neon_platform.tenants (tenant),
    kind             text NOT NULL,
    args             jsonb NOT NULL DEFAULT '{}',
    state            text NOT NULL DEFAULT 'queued',
    step             text,
    attempts         integer NOT NULL DEFAULT 0,
    run_after        timestamptz NOT NULL DEFAULT now(),
    last_http_status integer,
    last_error       text,
    result           jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    progress         jsonb,
    mutation_sent_at timestamptz,
    CONSTRAINT jobs_kind_known CHECK (kind IN ('provision', 'apply_tier', 'change_tier', 'deprovision', 'claim',
                                         'snapshot', 'delete_snapshot', 'restore', 'restore_snapshot',
                                         'create_branch', 'reset_branch', 'delete_branch', 'expire_branch',
                                         'usage_sweep', 'read_usage', 'delete_stray', 'run_sql')),
    CONSTRAINT jobs_state_known CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    CONSTRAINT jobs_finished_when_terminal CHECK (
        (state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
    CONSTRAINT jobs_attempts_not_negative CHECK (attempts >= 0)
);
CREATE INDEX jobs_due_idx ON neon_platform.jobs (kind, run_after, id) WHERE state = 'queued';
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

