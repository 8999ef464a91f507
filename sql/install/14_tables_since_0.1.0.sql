
---------------------------------------------------------------------------
-- Tables added since 0.1.0 (the upgrade from it creates them with this piece)
---------------------------------------------------------------------------

CREATE TABLE neon_platform.usage (
    tenant               text NOT NULL REFERENCES neon_platform.tenants (tenant) ON DELETE CASCADE,
    period_start         timestamptz NOT NULL,
    period_end           timestamptz,
    active_time_seconds  bigint,
    compute_time_seconds bigint,
    written_data_bytes   bigint,
    data_transfer_bytes  bigint,
    logical_size_bytes   bigint,
    branches             integer,
    snapshots            integer,
    read_at              timestamptz NOT NULL DEFAULT now(),
    detail_read_at       timestamptz,
    PRIMARY KEY (tenant, period_start)
);

CREATE TABLE neon_platform.alerts (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant       text NOT NULL REFERENCES neon_platform.tenants (tenant) ON DELETE CASCADE,
    metric       text NOT NULL,
    threshold    integer NOT NULL,
    percent_used numeric NOT NULL,
    period_start timestamptz NOT NULL,
    period_end   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, metric, period_start, threshold)
);

CREATE TABLE neon_platform.consumption (
    tenant               text NOT NULL REFERENCES neon_platform.tenants (tenant) ON DELETE CASCADE,
    period_start         timestamptz NOT NULL,
    period_end           timestamptz,
    compute_unit_seconds bigint NOT NULL,
    storage_byte_hours   bigint NOT NULL,
    transfer_bytes       bigint NOT NULL,
    read_at              timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, period_start)
);

CREATE TABLE neon_platform.inventory (
    sweep_id     bigint NOT NULL,
    project_id   text NOT NULL,
    organization text NOT NULL,
    name         text NOT NULL,
    created_at   timestamptz NOT NULL,
    settings     jsonb NOT NULL,
    read_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sweep_id, project_id)
);
CREATE INDEX inventory_name_idx ON neon_platform.inventory (sweep_id, name);

CREATE TABLE neon_platform.reconciliations (
    sweep_id      bigint PRIMARY KEY,
    projects      integer NOT NULL,
    strays        integer NOT NULL,
    unowned       integer NOT NULL,
    missing       integer NOT NULL,
    found         integer NOT NULL,
    drift         integer NOT NULL,
    reconciled_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE neon_platform.findings (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sweep_id     bigint NOT NULL,
    finding      text NOT NULL,
    tenant       text,
    project_id   text,
    organization text,
    project_name text,
    detail       text NOT NULL,
    action       text NOT NULL,
    job_id       bigint,
    found_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT findings_finding_known CHECK (finding IN ('stray', 'unowned', 'missing', 'found', 'drift')),
    CONSTRAINT findings_action_known CHECK (action IN ('delete', 'deleted', 'report', 'mark_missing', 'mark_ready',
                                                       'reapply'))
);
CREATE INDEX findings_sweep_idx ON neon_platform.findings (sweep_id, finding);

CREATE TABLE neon_platform.branches (
    tenant           text NOT NULL REFERENCES neon_platform.tenants (tenant),
    name             text NOT NULL,
    kind             text NOT NULL,
    state            text NOT NULL DEFAULT 'creating',
    branch_id        text UNIQUE,
    parent           text,
    parent_branch_id text,
    parent_time      timestamptz,
    endpoint_id      text,
    host             text,
    pooler_host      text,
    expires_at       timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    ready_at         timestamptz,
    PRIMARY KEY (tenant, name),
    CONSTRAINT branches_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    CONSTRAINT branches_kind_known CHECK (kind IN ('development', 'backup')),
    CONSTRAINT branches_state_known CHECK (state IN ('creating', 'ready', 'resetting', 'deleting', 'deleted', 'failed')),
    CONSTRAINT branches_ready_has_id CHECK (state NOT IN ('ready', 'resetting') OR branch_id IS NOT NULL)
);
CREATE INDEX branches_expires_idx ON neon_platform.branches (expires_at) WHERE state = 'ready';

CREATE TABLE neon_platform.snapshots (
    tenant      text NOT NULL REFERENCES neon_platform.tenants (tenant),
    name        text NOT NULL,
    state       text NOT NULL DEFAULT 'creating',
    snapshot_id text UNIQUE,
    expires_at  timestamptz,
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    ready_at    timestamptz,
    PRIMARY KEY (tenant, name),
    CONSTRAINT snapshots_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9 _.:-]{0,62}$'),
    CONSTRAINT snapshots_state_known CHECK (state IN ('creating', 'ready', 'deleting', 'deleted', 'failed')),
    CONSTRAINT snapshots_ready_has_id CHECK (state <> 'ready' OR snapshot_id IS NOT NULL)
);
CREATE INDEX snapshots_expires_idx ON neon_platform.snapshots (expires_at) WHERE state = 'ready';

CREATE TABLE neon_platform.restores (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant        text NOT NULL REFERENCES neon_platform.tenants (tenant),
    kind          text NOT NULL,
    to_time       timestamptz,
    snapshot      text,
    state         text NOT NULL DEFAULT 'restoring',
    backup_branch text NOT NULL,
    redo_branch   text,
    job_id        bigint,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT restores_kind_known CHECK (kind IN ('point_in_time', 'snapshot')),
    CONSTRAINT restores_state_known CHECK (state IN ('restoring', 'applied', 'undoing', 'undone', 'redoing',
                                                     'discarded', 'failed')),
    CONSTRAINT restores_target CHECK ((kind = 'point_in_time') = (to_time IS NOT NULL)
                                      AND (kind = 'snapshot') = (snapshot IS NOT NULL))
);
CREATE INDEX restores_tenant_idx ON neon_platform.restores (tenant, id);

SELECT pg_catalog.pg_extension_config_dump('neon_platform.usage', '');
SELECT pg_catalog.pg_extension_config_dump('neon_platform.alerts', '');
SELECT pg_catalog.pg_extension_config_dump('neon_platform.consumption', '');
SELECT pg_catalog.pg_extension_config_dump('neon_platform.findings', '');
SELECT pg_catalog.pg_extension_config_dump('neon_platform.reconciliations', '');
SELECT pg_catalog.pg_extension_config_dump('neon_platform.branches', '');
SELECT pg_catalog.pg_extension_config_dump('neon_platform.snapshots', '');
SELECT pg_catalog.pg_extension_config_dump('neon_platform.restores', '');
