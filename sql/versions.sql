--
-- versions: the snapshot, restore and branch functions validate and enqueue
-- in the caller's transaction; neon_platform.versions shows the timeline.
--
\set SHOW_CONTEXT never
-- Job ids in this file start at 8001.
ALTER TABLE neon_platform.jobs ALTER COLUMN id RESTART WITH 8001;

-- Two tenants the superuser made ready, as the worker would: one free, one pro.
SELECT count(neon_provision(t, CASE t WHEN 'vera' THEN 'free' ELSE 'pro' END)) FROM unnest(ARRAY['vera', 'walt']) AS t;
UPDATE neon_platform.tenants
   SET state = 'ready', project_id = 'still-lake-' || CASE tenant WHEN 'vera' THEN '55550000' ELSE '66660000' END,
       branch_id = 'br-prod-' || tenant, endpoint_id = 'ep-v', database_name = 'neondb', role_name = 'neondb_owner',
       host = 'ep-v.aws.neon.tech', pooler_host = 'ep-v-pooler.aws.neon.tech', ready_at = now()
 WHERE tenant IN ('vera', 'walt');
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now() WHERE tenant IN ('vera', 'walt');
INSERT INTO neon_platform.tenant_secrets (tenant, role_password) VALUES ('vera', 'npg_v'), ('walt', 'npg_w');

-- neon_snapshot: argument errors, each with its SQLSTATE.
SELECT neon_snapshot('vera', NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_snapshot('vera', 's1', replace => NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_snapshot('vera', '-bad/name');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_snapshot('vera', 's1', expires_at => now() - interval '1 hour');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_snapshot('nobody', 's1');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- A snapshot, a repeated call, and the free tier's limit of one.
SELECT neon_snapshot('vera', 'before migration') AS vera_s1;
SELECT neon_snapshot('vera', 'before migration') AS vera_s1_again;
SELECT neon_snapshot('vera', 's2');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- Replacing needs a ready snapshot to replace.
SELECT neon_snapshot('vera', 's2', replace => true);
\echo sqlstate :LAST_ERROR_SQLSTATE
UPDATE neon_platform.snapshots SET state = 'ready', snapshot_id = 'snap-1', ready_at = now() WHERE tenant = 'vera';
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now() WHERE kind = 'snapshot';
SELECT neon_snapshot('vera', 's2', replace => true) AS vera_s2;
SELECT name, state FROM neon_platform.snapshots WHERE tenant = 'vera' ORDER BY name;
SELECT step, args FROM neon_platform.jobs WHERE id = 8004;

-- neon_restore: the window of the tier, and no future.
SELECT neon_restore('walt', NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_restore('walt', now() + interval '1 hour');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_restore('walt', now() - interval '8 days');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- Nothing to undo or redo yet.
SELECT neon_undo_restore('walt');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_redo_restore('walt');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- A restore: the tenant is restoring, its backup is planned, and it can be undone once applied.
BEGIN;
SELECT neon_restore('walt', now() - interval '1 hour') IS NOT NULL AS enqueued;
SELECT state FROM neon_platform.tenants WHERE tenant = 'walt';
SELECT kind, state, backup_branch ~ '^backup-\d+-\d{8}T\d{6}Z$' AS backup_named FROM neon_platform.restores;
SELECT kind, state, expires_at > now() + interval '6 days' AS expires_with_window FROM neon_platform.branches WHERE tenant = 'walt';
SELECT neon_connection_uri('walt');
\echo sqlstate :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT count(*) AS restores FROM neon_platform.restores;
-- Undo and redo walk the restores, as the worker leaves them.
SELECT neon_restore('walt', now() - interval '1 hour') IS NOT NULL AS restore_enqueued;
UPDATE neon_platform.restores SET state = 'applied' WHERE tenant = 'walt';
UPDATE neon_platform.branches SET state = 'ready', branch_id = 'br-backup-1' WHERE tenant = 'walt';
UPDATE neon_platform.tenants SET state = 'ready' WHERE tenant = 'walt';
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now() WHERE tenant = 'walt';
SELECT kind, state, next_undo, next_redo FROM neon_platform.versions WHERE tenant = 'walt';
SELECT neon_redo_restore('walt');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_undo_restore('walt') IS NOT NULL AS undo_enqueued;
SELECT args->>'mode' AS mode, args->>'source_branch_id' AS source, args->>'preserve_under_name' ~ '^redo-' AS keeps_redo
  FROM neon_platform.jobs WHERE tenant = 'walt' ORDER BY id DESC LIMIT 1;
SELECT state, redo_branch ~ '^redo-' AS has_redo FROM neon_platform.restores WHERE tenant = 'walt';
UPDATE neon_platform.restores SET state = 'undone' WHERE tenant = 'walt';
UPDATE neon_platform.branches SET state = 'ready', branch_id = 'br-redo-1' WHERE tenant = 'walt' AND name LIKE 'redo-%';
UPDATE neon_platform.branches SET state = 'deleted' WHERE tenant = 'walt' AND name LIKE 'backup-%';
UPDATE neon_platform.tenants SET state = 'ready' WHERE tenant = 'walt';
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now() WHERE tenant = 'walt';
SELECT kind, state, next_undo, next_redo FROM neon_platform.versions WHERE tenant = 'walt';
SELECT neon_undo_restore('walt');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_redo_restore('walt') IS NOT NULL AS redo_enqueued;
SELECT args->>'mode' AS mode, args->>'source_branch_id' AS source, args->>'preserve_under_name' ~ '^backup-' AS keeps_backup
  FROM neon_platform.jobs WHERE tenant = 'walt' ORDER BY id DESC LIMIT 1;
SELECT name ~ '^backup-' AS backup, state FROM neon_platform.branches WHERE tenant = 'walt' ORDER BY 1;
-- A new restore discards what was undone: its redo branch expires now.
UPDATE neon_platform.restores SET state = 'undone' WHERE tenant = 'walt';
UPDATE neon_platform.tenants SET state = 'ready' WHERE tenant = 'walt';
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now() WHERE tenant = 'walt';
SELECT neon_restore('walt', now() - interval '2 hours') IS NOT NULL AS second_restore;
SELECT state FROM neon_platform.restores WHERE tenant = 'walt' ORDER BY id;
SELECT expires_at <= now() AS redo_expired FROM neon_platform.branches WHERE tenant = 'walt' AND name LIKE 'redo-%';

-- neon_restore_snapshot: the snapshot must be ready.
SELECT neon_restore_snapshot('vera', 'nope');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_restore_snapshot('vera', 's2');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- neon_create_branch: argument errors.
SELECT neon_create_branch('vera', NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_create_branch('vera', 'backup-1');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_create_branch('vera', 'dev', parent => 'nope');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_create_branch('vera', 'dev', at => now() - interval '2 days');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_create_branch('vera', 'dev', expires_at => now());
\echo sqlstate :LAST_ERROR_SQLSTATE
-- A branch, the same call again, and the branch limit of a small tier.
SELECT neon_create_branch('vera', 'dev', expires_at => now() + interval '1 day') AS vera_dev;
SELECT neon_create_branch('vera', 'dev') AS vera_dev_again;
SELECT args - 'parent_branch_id' AS args, args->>'parent_branch_id' = 'br-prod-vera' AS from_production
  FROM neon_platform.jobs WHERE kind = 'create_branch';
-- Not ready yet: no child, no reset, no URI.
SELECT neon_create_branch('vera', 'dev2', parent => 'dev');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_reset_branch('vera', 'dev');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_connection_uri('vera', 'dev');
\echo sqlstate :LAST_ERROR_SQLSTATE
UPDATE neon_platform.branches SET state = 'ready', branch_id = 'br-dev', endpoint_id = 'ep-dev',
       host = 'ep-dev.aws.neon.tech', pooler_host = 'ep-dev-pooler.aws.neon.tech', ready_at = now()
 WHERE tenant = 'vera' AND name = 'dev';
SELECT neon_connection_uri('vera', 'dev') AS dev_uri, neon_connection_uri('vera', 'br-dev', pooled => false) AS dev_direct;
SELECT neon_create_branch('vera', 'dev2', parent => 'dev') AS vera_dev2;
-- A branch with a child can be neither reset nor deleted.
SELECT neon_delete_branch('vera', 'dev');
\echo sqlstate :LAST_ERROR_SQLSTATE
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('tiny', 'free', 3600, 3, 0);
UPDATE neon_platform.tenants SET tier = 'tiny' WHERE tenant = 'vera';
SELECT neon_create_branch('vera', 'dev3');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_snapshot('vera', 's3');
\echo sqlstate :LAST_ERROR_SQLSTATE
UPDATE neon_platform.tenants SET tier = 'free' WHERE tenant = 'vera';
-- Reset and delete of a ready leaf branch.
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now() WHERE kind = 'create_branch';
UPDATE neon_platform.branches SET state = 'ready', branch_id = 'br-dev2' WHERE tenant = 'vera' AND name = 'dev2';
SELECT neon_reset_branch('vera', 'dev2') AS reset_job;
SELECT name, state FROM neon_platform.branches WHERE tenant = 'vera' ORDER BY name;
UPDATE neon_platform.branches SET state = 'ready' WHERE tenant = 'vera' AND name = 'dev2';
SELECT neon_delete_branch('vera', 'dev2') AS delete_job;
SELECT neon_delete_branch('vera', 'dev2') AS delete_job_again;
SELECT kind, args FROM neon_platform.jobs WHERE kind IN ('reset_branch', 'delete_branch') ORDER BY id;

-- Expired snapshots and branches get background deletion jobs.
UPDATE neon_platform.branches SET expires_at = now() - interval '1 second' WHERE tenant = 'vera' AND name = 'dev';
SELECT neon_platform.enqueue_expired() AS expired;
SELECT kind, args->>'branch_id' AS branch_id FROM neon_platform.jobs WHERE kind = 'expire_branch' ORDER BY 2;
SELECT name, state FROM neon_platform.branches WHERE tenant = 'vera' AND name = 'dev';

-- The timeline.
SELECT tenant, kind, name, state, next_undo, next_redo FROM neon_platform.versions ORDER BY tenant, at DESC, name;

-- EXECUTE is not granted to PUBLIC.
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may
  FROM pg_proc AS p
 WHERE p.proname IN ('neon_snapshot', 'neon_restore', 'neon_restore_snapshot', 'neon_undo_restore',
                     'neon_redo_restore', 'neon_create_branch', 'neon_reset_branch', 'neon_delete_branch')
 ORDER BY 1;
