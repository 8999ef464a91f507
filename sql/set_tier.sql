--
-- set_tier: neon_set_tier() validates and enqueues a change_tier job in the
-- caller's transaction; changing a tier's definition enqueues apply_tier jobs.
--
\set SHOW_CONTEXT never
-- Job ids in this file start at 4001.
ALTER TABLE neon_platform.jobs ALTER COLUMN id RESTART WITH 4001;

-- Two tenants the superuser made ready, as the worker would.
SELECT count(neon_provision(t, 'free')) FROM unnest(ARRAY['kent', 'lane']) AS t;
UPDATE neon_platform.tenants
   SET state = 'ready', project_id = 'calm-bay-' || CASE tenant WHEN 'kent' THEN '11112222' ELSE '33334444' END,
       branch_id = 'br-a', endpoint_id = 'ep-a', database_name = 'neondb', role_name = 'neondb_owner',
       host = 'ep-a.aws.neon.tech', pooler_host = 'ep-a-pooler.aws.neon.tech', ready_at = now()
 WHERE tenant IN ('kent', 'lane');
UPDATE neon_platform.jobs SET state = 'succeeded', finished_at = now() WHERE tenant IN ('kent', 'lane');
INSERT INTO neon_platform.tiers (name, organization, active_time_seconds, restore_window_seconds, max_branches, max_snapshots)
VALUES ('free-plus', 'free', 720000, 86400, 10, 1);

-- Argument errors, each with its SQLSTATE.
SELECT neon_set_tier('kent', 'pro', NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_set_tier('nobody', 'pro');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_set_tier(repeat('x', 1000000), 'pro');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_set_tier('kent', 'gold');
\echo sqlstate :LAST_ERROR_SQLSTATE
SELECT neon_set_tier('kent', NULL);
\echo sqlstate :LAST_ERROR_SQLSTATE

-- The same tier changes nothing.
SELECT neon_set_tier('kent', 'free') IS NULL AS no_job;

-- A rolled-back change leaves nothing behind.
BEGIN;
SELECT neon_set_tier('kent', 'pro') IS NOT NULL AS enqueued;
ROLLBACK;
SELECT tenant, state, tier FROM neon_platform.tenants WHERE tenant = 'kent';
SELECT count(*) FROM neon_platform.jobs WHERE kind = 'change_tier';

-- Free to paid: a transfer first; within the free organization: no transfer.
SELECT neon_set_tier('kent', 'pro') AS kent_job;
SELECT neon_set_tier('lane', 'free-plus') AS lane_job;
SELECT tenant, kind, step, args->>'tier' AS tier, args->>'from_organization' AS from_org,
       args->>'to_organization' AS to_org, args->'plan'->>'active_time_seconds' AS active_time
  FROM neon_platform.jobs WHERE kind = 'change_tier' ORDER BY id;
SELECT tenant, state, tier, organization FROM neon_platform.tenants WHERE tenant IN ('kent', 'lane') ORDER BY 1;

-- A tenant changing tier is not ready for another change, but still connectable.
SELECT neon_set_tier('kent', 'free-plus');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- Paid to free: judged on the usage last read. With none read yet, the
-- worker's fresh check decides; the job starts with it.
UPDATE neon_platform.tenants SET state = 'ready', tier = 'pro', organization = 'paid' WHERE tenant = 'kent';
BEGIN;
SELECT neon_set_tier('kent', 'free') IS NOT NULL AS enqueued;
SELECT step, args->>'force' AS force, args->'from_plan'->>'name' AS from_tier
  FROM neon_platform.jobs WHERE tenant = 'kent' ORDER BY id DESC LIMIT 1;
ROLLBACK;
-- Usage that does not fit is refused, with each figure over its limit.
INSERT INTO neon_platform.usage (tenant, period_start, period_end, active_time_seconds, compute_time_seconds,
                                 written_data_bytes, data_transfer_bytes, logical_size_bytes, branches, snapshots)
VALUES ('kent', now() - interval '1 day', now() + interval '1 day', 400000, 0, 0, 0, 1073741824, 12, 1);
SELECT neon_set_tier('kent', 'free');
\echo sqlstate :LAST_ERROR_SQLSTATE
-- Counters of a period that has ended do not count; sizes and counts do.
UPDATE neon_platform.usage SET period_end = now() - interval '1 hour' WHERE tenant = 'kent';
SELECT neon_platform.tier_misfits('kent', t) FROM neon_platform.tiers AS t WHERE t.name = 'free';
-- force => true moves it anyway, saying what does not fit.
BEGIN;
SELECT neon_set_tier('kent', 'free', force => true) IS NOT NULL AS enqueued;
SELECT args->>'force' AS force FROM neon_platform.jobs WHERE tenant = 'kent' ORDER BY id DESC LIMIT 1;
ROLLBACK;
-- The latest reading is the one judged: usage that fits passes.
INSERT INTO neon_platform.usage (tenant, period_start, period_end, active_time_seconds, compute_time_seconds,
                                 written_data_bytes, data_transfer_bytes, logical_size_bytes, branches, snapshots)
VALUES ('kent', now() - interval '1 day', now() + interval '1 day', 1000, 0, 0, 0, 1000, 2, 1);
SELECT neon_platform.tier_misfits('kent', t) FROM neon_platform.tiers AS t WHERE t.name = 'free';

-- Changing a tier's definition re-applies it to its tenants, as background jobs.
UPDATE neon_platform.tiers SET suspend_timeout_seconds = 600 WHERE name = 'pro';
SELECT tenant, kind, args->>'tier' AS tier, args->'plan'->>'suspend_timeout_seconds' AS suspend
  FROM neon_platform.jobs WHERE kind = 'apply_tier' ORDER BY id;
-- A change that touches no setting of the projects enqueues nothing.
UPDATE neon_platform.tiers SET max_branches = 999 WHERE name = 'pro';
SELECT count(*) FROM neon_platform.jobs WHERE kind = 'apply_tier';
-- A tier in use keeps its name and organization.
UPDATE neon_platform.tiers SET organization = 'free', autoscaling_max_cu = 2, max_branches = 10,
       max_snapshots = 1, restore_window_seconds = 86400 WHERE name = 'pro';
\echo sqlstate :LAST_ERROR_SQLSTATE

-- EXECUTE is not granted to PUBLIC.
SELECT has_function_privilege('public', 'neon_set_tier(text, text, boolean)', 'EXECUTE') AS public_may_set_tier;
