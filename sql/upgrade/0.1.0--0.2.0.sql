/* neon_platform 0.1.0 -> 0.2.0: the job engine (steps, progress, organization-wide jobs). */

\echo Use "ALTER EXTENSION neon_platform UPDATE TO '0.2.0'" to load this file. \quit

-- Organization-wide jobs have no tenant; a job saves what it learned with its
-- step, and when its mutation left; the lease (never read) is gone.
ALTER TABLE neon_platform.jobs
    ALTER COLUMN tenant DROP NOT NULL,
    DROP CONSTRAINT jobs_leased_when_running,
    DROP COLUMN lease_until,
    ADD COLUMN progress jsonb,
    ADD COLUMN mutation_sent_at timestamptz,
    DROP CONSTRAINT jobs_kind_known,
    ADD CONSTRAINT jobs_kind_known CHECK (kind IN ('provision', 'apply_tier', 'change_tier', 'deprovision', 'claim',
                                         'snapshot', 'delete_snapshot', 'restore', 'restore_snapshot',
                                         'create_branch', 'reset_branch', 'delete_branch', 'expire_branch',
                                         'usage_sweep', 'read_usage', 'delete_stray', 'run_sql'));

ALTER TABLE neon_platform.tiers ADD COLUMN bootstrap_sql text;

ALTER TABLE neon_platform.tenants
    ADD COLUMN final_snapshot_id text,
    ADD COLUMN claim_url text,
    ADD COLUMN claim_expires_at timestamptz,
    ADD COLUMN suspended_by text,
    DROP CONSTRAINT tenants_state_known,
    ADD CONSTRAINT tenants_state_known CHECK (state IN ('provisioning', 'ready', 'failed', 'changing_tier',
                                                        'deprovisioning', 'deleted', 'claimed', 'restoring',
                                                        'missing'));

-- The worker claims each kind in the order of this index.
DROP INDEX neon_platform.jobs_due_idx;
CREATE INDEX jobs_due_idx ON neon_platform.jobs (kind, run_after, id) WHERE state = 'queued';

-- Unfinished provisionings of 0.1.0 carry only the tier's name; 0.2.0 reads
-- the whole plan from the job. Those left running by the 0.1.0 worker may
-- have sent their create: they look the project up first.
UPDATE neon_platform.jobs AS j
   SET args = jsonb_build_object('tier', t.tier, 'project_name', t.project_name, 'plan', to_jsonb(r)),
       step = CASE WHEN j.state = 'running' THEN 'find_existing' ELSE j.step END
  FROM neon_platform.tenants AS t
  JOIN neon_platform.tiers AS r ON r.name = t.tier
 WHERE j.tenant = t.tenant AND j.kind = 'provision' AND j.state IN ('queued', 'running');

