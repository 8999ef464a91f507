---------------------------------------------------------------------------
-- Privileges: everything but secrets is readable; acting needs a grant
---------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA neon_platform FROM PUBLIC;
GRANT USAGE ON SCHEMA neon_platform TO PUBLIC;
GRANT SELECT ON neon_platform.tiers, neon_platform.tenants, neon_platform.jobs, neon_platform.api_calls,
                neon_platform.queue_summary, neon_platform.worker, neon_platform.usage,
                neon_platform.claims, neon_platform.branches, neon_platform.snapshots, neon_platform.restores,
                neon_platform.versions, neon_platform.alerts, neon_platform.quota_status,
                neon_platform.consumption, neon_platform.billing, neon_platform.reconciliations,
                neon_platform.findings, neon_platform.strays, neon_platform.sql_runs TO PUBLIC;
REVOKE ALL ON FUNCTION neon_platform.wake_worker() FROM PUBLIC;
REVOKE ALL ON FUNCTION neon_platform.reapply_tier() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION neon_platform.written_by_this_transaction(xid) TO PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_provision(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_connection_uri(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_set_tier(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_deprovision(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_claim(text, interval) FROM PUBLIC;
-- The trigger of managed tables runs as the role that changes the table, whose
-- EXECUTE on neon_provision, neon_set_tier and neon_deprovision is checked then:
-- attaching it gives nothing, and neon_manage_tenants() needs it.
GRANT EXECUTE ON FUNCTION neon_platform.managed_row_changed() TO PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_manage_tenants(regclass, name, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_unmanage_tenants(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_snapshot(text, text, timestamptz, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_restore(text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_restore_snapshot(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_undo_restore(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_redo_restore(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_create_branch(text, text, text, timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_reset_branch(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_delete_branch(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION neon_platform.enqueue_expired() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_sync_usage() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_reconcile() FROM PUBLIC;
REVOKE ALL ON FUNCTION neon_platform.raise_alerts() FROM PUBLIC;
REVOKE ALL ON FUNCTION neon_platform.tier_lifts_suspension() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_run_sql(text, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION neon_platform.sql_connection_uri(text, text) FROM PUBLIC;
