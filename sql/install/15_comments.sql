-- The comments of what changed since 0.1.0 (the upgrade from it applies them too).
COMMENT ON TABLE neon_platform.jobs IS
    'The durable queue: work enqueued by the SQL API, carried out by the neon_platform worker';
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
COMMENT ON COLUMN neon_platform.jobs.last_http_status IS 'HTTP status of the last API call, NULL if it got no response';
COMMENT ON COLUMN neon_platform.jobs.progress IS 'What the job has learned so far (e.g. a project id found), saved with its step';
COMMENT ON COLUMN neon_platform.jobs.mutation_sent_at IS
    'When the mutation of the current step was sent, recorded before it left; a restarted worker looks up its effect only once it can no longer land';
COMMENT ON COLUMN neon_platform.jobs.result IS 'What the job produced, e.g. the project id';

COMMENT ON COLUMN neon_platform.tenants.state IS 'provisioning, ready, failed, changing_tier, deprovisioning, deleted or claimed (the end user took the project)';
COMMENT ON COLUMN neon_platform.tenants.final_snapshot_id IS 'The snapshot neon_deprovision(final_snapshot => true) took before deleting the project';
COMMENT ON COLUMN neon_platform.tenants.claim_url IS
    'The link neon_claim() made for the end user to take the project into their own Neon account';
COMMENT ON COLUMN neon_platform.tenants.claim_expires_at IS 'When the claim link stops working';
COMMENT ON TABLE neon_platform.usage IS
    'What the worker read of a tenant''s consumption, one row per reading; the latest is the tenant''s current usage';
COMMENT ON COLUMN neon_platform.usage.period_start IS 'Start of Neon''s consumption period the counters belong to';
COMMENT ON COLUMN neon_platform.usage.active_time_seconds IS 'Period counters as Neon''s quota fields name them';
COMMENT ON COLUMN neon_platform.usage.logical_size_bytes IS 'The largest logical size of the project''s branches (Neon''s quota is per branch)';
COMMENT ON COLUMN neon_platform.usage.branches IS 'Branches of the project, NULL when not read';
COMMENT ON COLUMN neon_platform.usage.snapshots IS 'Snapshots of the project, NULL when not read';
