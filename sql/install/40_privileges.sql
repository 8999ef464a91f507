---------------------------------------------------------------------------
-- Privileges: everything but secrets is readable; acting needs a grant
---------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA neon_platform FROM PUBLIC;
GRANT USAGE ON SCHEMA neon_platform TO PUBLIC;
GRANT SELECT ON neon_platform.tiers, neon_platform.tenants, neon_platform.jobs, neon_platform.api_calls,
                neon_platform.queue_summary, neon_platform.worker TO PUBLIC;
REVOKE ALL ON FUNCTION neon_platform.wake_worker() FROM PUBLIC;
REVOKE ALL ON FUNCTION neon_platform.reapply_tier() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION neon_platform.written_by_this_transaction(xid) TO PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_provision(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_connection_uri(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_set_tier(text, text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.neon_deprovision(text, boolean) FROM PUBLIC;
