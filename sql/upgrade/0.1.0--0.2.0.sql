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
    ADD CONSTRAINT jobs_kind_known CHECK (kind IN ('provision', 'apply_tier'));

COMMENT ON COLUMN neon_platform.jobs.tenant IS 'The tenant the job works for; NULL for organization-wide work';
COMMENT ON COLUMN neon_platform.jobs.args IS
    'What the caller asked for at enqueue time (e.g. the tier''s plan); the job reads its input only from here';
COMMENT ON COLUMN neon_platform.jobs.state IS
    'queued (waiting for run_after), running (taken by the worker), or the terminal succeeded, failed, cancelled';
COMMENT ON COLUMN neon_platform.jobs.step IS
    'Where a job of several API calls stands, saved with every answer; a restarted worker resumes here';
COMMENT ON COLUMN neon_platform.jobs.attempts IS 'How many times the worker has taken up this job (429 answers and waits for Neon operations do not count)';
COMMENT ON COLUMN neon_platform.jobs.run_after IS
    'Not taken up before this time (retry backoff); infinity while the job waits for the configuration (see last_error), until the next reload';
COMMENT ON COLUMN neon_platform.jobs.progress IS 'What the job has learned so far (e.g. a project id found), saved with its step';
COMMENT ON COLUMN neon_platform.jobs.mutation_sent_at IS
    'When the mutation of the current step was sent, recorded before it left; a restarted worker looks up its effect only once it can no longer land';

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

