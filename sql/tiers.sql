--
-- tiers: the seeded tiers and the constraints that keep nonsense out.
--
\set SHOW_CONTEXT never

-- Seeded exactly as specified.
\x on
SELECT * FROM neon_platform.tiers ORDER BY name;
\x off

-- A minimal free tier takes the defaults: 0.25-2 CU, 300 s suspend, PostgreSQL 17,
-- aws-us-east-2, unlimited quotas.
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('small', 'free', 3600, 1, 0)
RETURNING *;

-- The limits of each organization are allowed exactly.
INSERT INTO neon_platform.tiers
    (name, organization, autoscaling_min_cu, autoscaling_max_cu, suspend_timeout_seconds,
     restore_window_seconds, max_branches, max_snapshots, pg_version, region_id)
VALUES ('free_edge', 'free', 2, 2, 300, 86400, 10, 1, 14, 'aws-eu-central-1'),
       ('paid_edge', 'paid', 0.25, 16, 60, 604800, 1000, 10, 18, 'azure-eastus2'),
       ('a23456789_123456789-123456789_12', 'paid', 1, 8, 3600, 1, 1, 0, 16, 'aws-us-west-2');
SELECT name, organization, autoscaling_min_cu, autoscaling_max_cu, suspend_timeout_seconds,
       restore_window_seconds, max_branches, max_snapshots, pg_version, region_id
  FROM neon_platform.tiers ORDER BY name COLLATE "C";

-- Each check constraint below is named in its error; terse output keeps
-- the failing rows out of the expected file.
\set VERBOSITY terse

-- Compute range: max below min, min below 0.25.
INSERT INTO neon_platform.tiers (name, organization, autoscaling_min_cu, autoscaling_max_cu,
                                 restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 1, 0.5, 86400, 10, 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
INSERT INTO neon_platform.tiers (name, organization, autoscaling_min_cu, autoscaling_max_cu,
                                 restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 0.1, 1, 86400, 10, 1);
INSERT INTO neon_platform.tiers (name, organization, autoscaling_min_cu, autoscaling_max_cu,
                                 restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 0, 0, 86400, 10, 1);

-- A free-organization tier above each of the free organization's limits.
INSERT INTO neon_platform.tiers (name, organization, autoscaling_max_cu, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'free', 2.25, 86400, 10, 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
INSERT INTO neon_platform.tiers (name, organization, suspend_timeout_seconds, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'free', 299, 86400, 10, 1);
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'free', 86401, 10, 1);
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'free', 86400, 11, 1);
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'free', 86400, 10, 2);
-- ... and the seeded free tier cannot be raised above them either.
UPDATE neon_platform.tiers SET max_branches = 20 WHERE name = 'free';
UPDATE neon_platform.tiers SET autoscaling_max_cu = 4 WHERE name = 'free';
-- Moving the pro tier to the free organization breaks the free limits too.
UPDATE neon_platform.tiers SET organization = 'free' WHERE name = 'pro';

-- A paid-organization tier above each of the paid organization's limits.
INSERT INTO neon_platform.tiers (name, organization, autoscaling_max_cu, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 16.25, 86400, 10, 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
INSERT INTO neon_platform.tiers (name, organization, suspend_timeout_seconds, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 59, 86400, 10, 1);
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 604801, 10, 1);
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 86400, 1001, 1);
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 86400, 10, 11);

-- Limits that make no sense anywhere.
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 0, 10, 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 86400, 0, 1);
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 86400, 10, -1);

-- Bad names: upper case, leading digit or dash, spaces, empty, 33 characters.
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('Pro', 'paid', 86400, 10, 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('1tier', 'paid', 86400, 10, 1);
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('-tier', 'paid', 86400, 10, 1);
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('my tier', 'paid', 86400, 10, 1);
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('', 'paid', 86400, 10, 1);
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES (repeat('a', 33), 'paid', 86400, 10, 1);
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES (NULL, 'paid', 86400, 10, 1);
\echo sqlstate :LAST_ERROR_SQLSTATE

-- Unknown organization.
INSERT INTO neon_platform.tiers (name, organization, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'enterprise', 86400, 10, 1);
\echo sqlstate :LAST_ERROR_SQLSTATE

-- Bad regions.
INSERT INTO neon_platform.tiers (name, organization, region_id, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 'gcp-us-east1', 86400, 10, 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
INSERT INTO neon_platform.tiers (name, organization, region_id, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 'aws_us_east_2', 86400, 10, 1);
INSERT INTO neon_platform.tiers (name, organization, region_id, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 'AWS-US-EAST-2', 86400, 10, 1);
INSERT INTO neon_platform.tiers (name, organization, region_id, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 'aws-', 86400, 10, 1);

-- Unsupported PostgreSQL versions.
INSERT INTO neon_platform.tiers (name, organization, pg_version, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 13, 86400, 10, 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
INSERT INTO neon_platform.tiers (name, organization, pg_version, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', 19, 86400, 10, 1);

-- A negative value for each quota.
INSERT INTO neon_platform.tiers (name, organization, active_time_seconds, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', -1, 86400, 10, 1);
\echo sqlstate :LAST_ERROR_SQLSTATE
INSERT INTO neon_platform.tiers (name, organization, compute_time_seconds, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', -1, 86400, 10, 1);
INSERT INTO neon_platform.tiers (name, organization, written_data_bytes, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', -1, 86400, 10, 1);
INSERT INTO neon_platform.tiers (name, organization, data_transfer_bytes, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', -1, 86400, 10, 1);
INSERT INTO neon_platform.tiers (name, organization, logical_size_bytes, restore_window_seconds, max_branches, max_snapshots)
VALUES ('bad', 'paid', -1, 86400, 10, 1);

-- Restore window, branches and snapshots have no default: a tier states them.
INSERT INTO neon_platform.tiers (name, organization) VALUES ('bad', 'paid');
\echo sqlstate :LAST_ERROR_SQLSTATE

-- Nothing of the above got in.
SELECT name FROM neon_platform.tiers ORDER BY name COLLATE "C";

-- A tier a tenant is on can be neither deleted nor renamed.
SELECT neon_provision('tier-user', 'small') IS NOT NULL AS enqueued;
DELETE FROM neon_platform.tiers WHERE name = 'small';
\echo sqlstate :LAST_ERROR_SQLSTATE
UPDATE neon_platform.tiers SET name = 'smaller' WHERE name = 'small';
\echo sqlstate :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT tenant, tier, organization FROM neon_platform.tenants ORDER BY tenant;

-- Once the tenant is gone, the tiers can go.
DELETE FROM neon_platform.jobs WHERE tenant = 'tier-user';
DELETE FROM neon_platform.tenants WHERE tenant = 'tier-user';
DELETE FROM neon_platform.tiers WHERE name NOT IN ('free', 'pro');
SELECT name FROM neon_platform.tiers ORDER BY name;
