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

COMMENT ON COLUMN neon_platform.tenants.state IS
    'provisioning, ready, failed, changing_tier, restoring (its production branch), deprovisioning, deleted, claimed (the end user took the project) or missing (a complete inventory lacked its project)';
COMMENT ON COLUMN neon_platform.tenants.final_snapshot_id IS 'The snapshot neon_deprovision(final_snapshot => true) took before deleting the project';
COMMENT ON COLUMN neon_platform.tenants.claim_url IS
    'The link neon_claim() made for the end user to take the project into their own Neon account';
COMMENT ON COLUMN neon_platform.tenants.claim_expires_at IS 'When the claim link stops working';
COMMENT ON TABLE neon_platform.usage IS
    'A tenant''s consumption per Neon period, as the worker last read it (sweeps, detail reads, downgrade checks); past periods are the history';
COMMENT ON COLUMN neon_platform.usage.period_start IS 'Start of Neon''s consumption period the counters belong to';
COMMENT ON COLUMN neon_platform.usage.active_time_seconds IS 'Period counters as Neon''s quota fields name them';
COMMENT ON COLUMN neon_platform.usage.logical_size_bytes IS 'The largest logical size of the project''s branches (Neon''s quota is per branch)';
COMMENT ON COLUMN neon_platform.usage.branches IS 'Branches of the project, NULL when not read';
COMMENT ON COLUMN neon_platform.usage.read_at IS 'When any figure of the row was last read (a sweep''s project list gives active time and storage)';
COMMENT ON COLUMN neon_platform.usage.detail_read_at IS 'When GET /projects/{id} last gave every period counter';
COMMENT ON TABLE neon_platform.alerts IS
    'Quota alerts: a tenant''s metric crossed a threshold (neon_platform.alert_thresholds) in a period; each is also sent with NOTIFY neon_platform_alerts';
COMMENT ON COLUMN neon_platform.usage.snapshots IS 'Snapshots of the project, NULL when not read';
COMMENT ON COLUMN neon_platform.tenants.suspended_by IS
    'The period quota the tenant used up as last read (Neon suspends its computes until the period ends or the quota rises); NULL: none';
COMMENT ON TABLE neon_platform.consumption IS
    'Billing figures of the paid organization''s tenants per period, from Neon''s consumption API (see the billing view)';
COMMENT ON COLUMN neon_platform.consumption.compute_unit_seconds IS 'Compute-unit seconds (compute_unit_seconds)';
COMMENT ON COLUMN neon_platform.consumption.storage_byte_hours IS
    'Byte-hours of root and child branch storage (root_branch_bytes_month + child_branch_bytes_month)';
COMMENT ON COLUMN neon_platform.consumption.transfer_bytes IS 'Public network transfer (public_network_transfer_bytes)';
COMMENT ON TABLE neon_platform.inventory IS
    'Every project of both organizations as a usage sweep listed them (kept until a later sweep has reconciled)';
COMMENT ON COLUMN neon_platform.inventory.sweep_id IS 'The usage_sweep job that listed it';
COMMENT ON COLUMN neon_platform.inventory.settings IS
    'Its quotas and default compute settings as listed, named like neon_platform.tiers'' columns';
COMMENT ON TABLE neon_platform.reconciliations IS
    'One row per sweep whose inventory was complete and reconciled: how many projects it listed and what it found';
COMMENT ON TABLE neon_platform.findings IS
    'What reconciliation found on a complete inventory, and what it did: strays (deleted), unowned projects (reported), missing projects, drifted settings (re-applied)';
COMMENT ON COLUMN neon_platform.findings.finding IS
    'stray (named for a tenant, created around its provisioning, not its project), unowned (has the name prefix, no such tenant), missing (a ready tenant''s project is gone), found (a missing tenant''s project is back), drift (settings differ from the tier)';
COMMENT ON COLUMN neon_platform.findings.action IS
    'delete (a delete_stray job, job_id), deleted (it finished), report (nothing done), mark_missing, mark_ready, reapply (an apply_tier job, job_id)';
COMMENT ON TABLE neon_platform.branches IS
    'The development and backup branches of the tenants'' projects (production is on tenants), as the worker made them';
COMMENT ON COLUMN neon_platform.branches.kind IS
    'development (neon_create_branch, with its own compute) or backup (the state a restore replaced, kept for undo and redo)';
COMMENT ON COLUMN neon_platform.branches.state IS 'creating, ready, resetting, deleting, deleted or failed';
COMMENT ON COLUMN neon_platform.branches.parent IS 'The development branch it grew from; NULL: production';
COMMENT ON COLUMN neon_platform.branches.parent_time IS 'The point in time it was taken at, if not the parent''s present';
COMMENT ON COLUMN neon_platform.branches.expires_at IS
    'When the worker deletes it (backups: the tier''s restore window after the restore)';
COMMENT ON TABLE neon_platform.snapshots IS 'Snapshots of the tenants'' production branches, by name';
COMMENT ON COLUMN neon_platform.snapshots.state IS 'creating, ready, deleting, deleted or failed';
COMMENT ON COLUMN neon_platform.snapshots.expires_at IS 'When the snapshot is deleted (by Neon, and by the worker)';
COMMENT ON TABLE neon_platform.restores IS
    'Restores of the tenants'' production branches, in order: what neon_undo_restore() and neon_redo_restore() walk';
COMMENT ON COLUMN neon_platform.restores.state IS
    'restoring, applied, undoing, undone, redoing, discarded (a later restore replaced what was undone) or failed';
COMMENT ON COLUMN neon_platform.restores.backup_branch IS 'The branch that keeps the state this restore replaced';
COMMENT ON COLUMN neon_platform.restores.redo_branch IS 'After an undo: the branch that keeps the state the undo replaced';
COMMENT ON COLUMN neon_platform.tiers.bootstrap_sql IS
    'SQL run in every new tenant database of the tier, as the project''s owner role, before the tenant is ready (NULL: none)';
