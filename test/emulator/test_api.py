"""Domain tests of the Neon API emulator: keys, 423, plan limits, quotas, transfers, claim links (transfer
requests) and the end user's account, pagination, snapshots, restores, consumption.  Most tests call
emu_routes.dispatch() in-process with a fake clock (fast); a few at the end go over HTTP through emu_testlib
when the transport half is present."""

import json
import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import emu_routes  # noqa: E402
import emu_state   # noqa: E402
from emu_state import FREE_KEY, PAID_KEY, PERSONAL_KEY, USER_KEY, FREE_ORG, PAID_ORG, END_USER_ORG  # noqa: E402

OP_MS = 1000


class Clock:
    def __init__(self, t=1_760_000_000.0):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, s):
        self.t += s


class Base(unittest.TestCase):
    def setUp(self):
        self.clock = Clock()
        self.s = emu_state.NeonState(operation_ms=OP_MS, clock=self.clock, seed=1)

    def call(self, method, path, key=FREE_KEY, query=None, body=None, headers=None):
        h = {} if key is None else {"authorization": "Bearer " + key}
        h.update(headers or {})
        q = {k: (v if isinstance(v, list) else [str(v)]) for k, v in (query or {}).items()}
        raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        st, out, extra = emu_routes.dispatch(self.s, method, path, q, h, raw)
        json.dumps(out)  # always serialisable
        return st, out

    def ok(self, method, path, key=FREE_KEY, query=None, body=None, status=200):
        st, out = self.call(method, path, key, query, body)
        self.assertEqual(st, status, out)
        return out

    def settle(self):
        self.clock.advance(OP_MS / 1000.0 + 0.01)

    def project(self, key=FREE_KEY, org_id=None, settle=True, **kw):
        pj = dict(kw)
        if org_id:
            pj["org_id"] = org_id
        out = self.ok("POST", "/projects", key, body={"project": pj}, status=201)
        if settle:
            self.settle()
        return out

    def control(self, path, body):
        """A domain control call (/_emulator/<path>) as the transport passes it: raw JSON body."""
        return self.s.control("POST", path, {}, json.dumps(body).encode())

    def assert_error(self, st_out, status, code=None, msg=None):
        st, out = st_out
        self.assertEqual(st, status, out)
        self.assertIn("message", out)
        self.assertIn("code", out)
        if code is not None:
            self.assertEqual(out["code"], code)
        if msg is not None:
            self.assertIn(msg, out["message"])


class TestKeysAndRouting(Base):
    def test_missing_and_unknown_keys_are_401(self):
        self.assert_error(self.call("GET", "/projects", key=None), 401)
        self.assert_error(self.call("GET", "/projects", key="nope"), 401)
        self.assertIsNone(self.s.account_for({}))
        self.assertIsNone(self.s.account_for({"authorization": "Bearer nope"}))
        accts = {self.s.account_for({"authorization": "Bearer " + k}) for k in (FREE_KEY, PAID_KEY, PERSONAL_KEY)}
        self.assertEqual(len(accts), 1)
        self.assertIsNotNone(accts.pop())

    def test_org_key_acts_only_in_its_org(self):
        pid = self.project(PAID_KEY)["project"]["id"]
        self.assert_error(self.call("GET", "/projects/" + pid, FREE_KEY), 404)
        self.assert_error(self.call("DELETE", "/projects/" + pid, FREE_KEY), 404)
        self.assertEqual(self.ok("GET", "/projects", FREE_KEY)["projects"], [])
        self.assertEqual(len(self.ok("GET", "/projects", PAID_KEY)["projects"]), 1)
        self.ok("GET", "/projects/" + pid, PERSONAL_KEY)

    def test_personal_key_needs_org_id(self):
        msg = "org_id is required, you can find it on your organization settings page"
        self.assert_error(self.call("GET", "/projects", PERSONAL_KEY), 400, msg=msg)
        self.assert_error(self.call("POST", "/projects", PERSONAL_KEY, body={"project": {}}), 400, msg=msg)
        out = self.project(PERSONAL_KEY, org_id=PAID_ORG)
        self.assertEqual(out["project"]["org_id"], PAID_ORG)
        lst = self.ok("GET", "/projects", PERSONAL_KEY, query={"org_id": PAID_ORG})
        self.assertEqual([p["id"] for p in lst["projects"]], [out["project"]["id"]])

    def test_auth_users_regions(self):
        self.assertEqual(self.ok("GET", "/auth", FREE_KEY)["auth_method"], "api_key_org")
        self.assertEqual(self.ok("GET", "/auth", PERSONAL_KEY)["auth_method"], "api_key_user")
        self.assertEqual(len(self.ok("GET", "/users/me/organizations", PERSONAL_KEY)["organizations"]), 2)
        orgs = self.ok("GET", "/users/me/organizations", FREE_KEY)["organizations"]
        self.assertEqual([o["id"] for o in orgs], [FREE_ORG])
        self.assertIn("email", self.ok("GET", "/users/me", PERSONAL_KEY))
        regions = self.ok("GET", "/regions")["regions"]
        self.assertTrue(any(r["region_id"] == "aws-us-east-2" and r["default"] for r in regions))

    def test_routes_not_in_spec_and_path_ids(self):
        self.assertIsNone(emu_routes.route_template("PATCH", "/projects/abc/transfer"))
        self.assertIsNone(emu_routes.route_template("GET", "/nope"))
        self.assertEqual(emu_routes.route_template("GET", "/projects/shared"), "GET /projects/shared")
        self.assertEqual(emu_routes.route_template("GET", "/projects/abc"), "GET /projects/{project_id}")
        self.assertEqual(self.call("PATCH", "/projects/abc/transfer", body={"target_org_id": PAID_ORG})[0], 404)
        self.assert_error(self.call("GET", "/projects/Not_Valid"), 400)
        self.assert_error(self.call("GET", "/projects/" + "a" * 61), 400)
        self.assert_error(self.call("POST", "/projects", body=b"{not json"), 400)
        self.assert_error(self.call("POST", "/projects", body={}), 400, msg="project (field required)")

    def test_request_id_echoed_in_errors(self):
        st, out = self.call("GET", "/projects/unknown-1", headers={"x-request-id": "abc"})
        self.assertEqual((st, out["request_id"]), (404, "abc"))

    def test_api_keys_created_keys_work_and_revoke(self):
        out = self.ok("POST", "/api_keys", PERSONAL_KEY, body={"key_name": "k1"})
        self.assertEqual(len(out["key"]), 64)
        self.ok("GET", "/projects", out["key"], query={"org_id": FREE_ORG})
        self.ok("DELETE", "/api_keys/%d" % out["id"], PERSONAL_KEY)
        self.assert_error(self.call("GET", "/projects", out["key"], query={"org_id": FREE_ORG}), 401)
        self.assert_error(self.call("POST", "/api_keys", FREE_KEY, body={"key_name": "x"}), 403)


class TestProjects(Base):
    def test_create_shape(self):
        out = self.project(settle=False, name="t1")
        p = out["project"]
        self.assertRegex(p["id"], r"^[a-z]+-[a-z]+-\d{8}$")
        self.assertEqual(p["consumption_period_start"], "0001-01-01T00:00:00Z")
        self.assertRegex(out["branch"]["id"], r"^br-[a-z]+-[a-z]+-[a-z0-9]{8}$")
        self.assertRegex(out["endpoints"][0]["id"], r"^ep-[a-z]+-[a-z]+-[a-z0-9]{8}$")
        self.assertEqual([o["action"] for o in out["operations"]], ["create_timeline", "start_compute"])
        self.assertEqual([o["status"] for o in out["operations"]], ["running", "scheduling"])
        role = out["roles"][0]
        self.assertEqual(role["name"], "neondb_owner")
        self.assertRegex(role["password"], r"^[A-Za-z0-9]{12}$")
        self.assertIsInstance(out["databases"][0]["id"], int)
        cp = out["connection_uris"][0]["connection_parameters"]
        ep = out["endpoints"][0]["id"]
        self.assertEqual(cp["pooler_host"], ep + "-pooler.us-east-2.aws.neon.tech")
        self.assertEqual(out["connection_uris"][0]["connection_uri"],
                         "postgresql://neondb_owner:%s@%s.us-east-2.aws.neon.tech/neondb?sslmode=require"
                         % (role["password"], ep))
        self.assertEqual((out["branch"]["current_state"], out["endpoints"][0]["current_state"]), ("init", "init"))
        self.settle()
        ep_now = self.ok("GET", "/projects/%s/endpoints/%s" % (p["id"], ep))["endpoint"]
        self.assertEqual(ep_now["current_state"], "active")
        br = self.ok("GET", "/projects/%s/branches/%s" % (p["id"], out["branch"]["id"]))["branch"]
        self.assertEqual(br["current_state"], "ready")

    def test_custom_branch_role_db_and_reserved_names(self):
        out = self.project(branch={"name": "prod", "database_name": "app", "role_name": "app_rw"})
        self.assertEqual((out["branch"]["name"], out["roles"][0]["name"], out["databases"][0]["name"]),
                         ("prod", "app_rw", "app"))
        self.assertEqual(self.project(branch={"database_name": "shop"})["roles"][0]["name"], "shop_owner")
        for role in ("pg_x", "neon_superuser", "cloud_admin", "zenith_admin", "public", "none"):
            self.assert_error(self.call("POST", "/projects", body={"project": {"branch": {"role_name": role}}}), 400)
        for db in ("postgres", "template0", "template1"):
            self.assert_error(self.call("POST", "/projects", body={"project": {"branch": {"database_name": db}}}),
                              400)
        pid, bid = out["project"]["id"], out["branch"]["id"]
        base = "/projects/%s/branches/%s" % (pid, bid)
        self.assert_error(self.call("POST", base + "/roles", body={"role": {"name": "pg_monitor"}}), 400)
        self.assert_error(self.call("POST", base + "/databases",
                                    body={"database": {"name": "template1", "owner_name": "app_rw"}}), 400)
        r = self.ok("POST", base + "/roles", body={"role": {"name": "reader"}}, status=201)
        self.assertRegex(r["role"]["password"], r"^[A-Za-z0-9]{12}$")
        self.settle()
        self.assert_error(self.call("POST", base + "/roles", body={"role": {"name": "reader"}}), 409)
        self.ok("POST", base + "/databases", body={"database": {"name": "d2", "owner_name": "reader"}}, status=201)
        self.assertEqual(len(self.ok("GET", base + "/databases")["databases"]), 2)
        self.assertEqual(len(self.ok("GET", base + "/roles")["roles"]), 2)

    def test_get_vs_list_usage_fields(self):
        pid = self.project()["project"]["id"]
        self.s.add_usage(pid, {"active_time_seconds": 10, "compute_time_seconds": 3, "written_data_bytes": 100,
                               "data_transfer_bytes": 50, "logical_size_bytes": 4096})
        p = self.ok("GET", "/projects/" + pid)["project"]
        self.assertEqual((p["active_time_seconds"], p["compute_time_seconds"], p["written_data_bytes"],
                          p["data_transfer_bytes"], p["synthetic_storage_size"]), (10, 3, 100, 50, 4096))
        self.assertNotEqual(p["consumption_period_start"], "0001-01-01T00:00:00Z")
        self.assertIn("owner", p)
        item = self.ok("GET", "/projects")["projects"][0]
        self.assertEqual((item["active_time"], item["cpu_used_sec"]), (10, 3))
        for k in ("compute_time_seconds", "written_data_bytes", "data_transfer_bytes", "data_storage_bytes_hour",
                  "consumption_period_start", "consumption_period_end"):
            self.assertNotIn(k, item)
        patched = self.ok("PATCH", "/projects/" + pid, body={"project": {"name": "n2"}})
        self.assertEqual(patched["project"]["consumption_period_end"], "0001-01-01T00:00:00Z")
        self.assertEqual(patched["operations"], [])
        deleted = self.ok("DELETE", "/projects/" + pid)
        self.assertEqual(deleted["project"]["consumption_period_start"], "0001-01-01T00:00:00Z")
        self.assert_error(self.call("GET", "/projects/" + pid), 404)

    def test_connection_uri(self):
        out = self.project()
        pid, ep = out["project"]["id"], out["endpoints"][0]["id"]
        pw = out["roles"][0]["password"]
        q = {"database_name": "neondb", "role_name": "neondb_owner"}
        uri = self.ok("GET", "/projects/%s/connection_uri" % pid, query=q)["uri"]
        self.assertEqual(uri, "postgresql://neondb_owner:%s@%s.us-east-2.aws.neon.tech/neondb?sslmode=require"
                         % (pw, ep))
        q["pooled"] = "true"
        uri = self.ok("GET", "/projects/%s/connection_uri" % pid, query=q)["uri"]
        self.assertIn("@%s-pooler.us-east-2.aws.neon.tech/" % ep, uri)
        self.assert_error(self.call("GET", "/projects/%s/connection_uri" % pid, query={"role_name": "x"}), 400)
        self.assert_error(self.call("GET", "/projects/%s/connection_uri" % pid,
                                    query={"database_name": "neondb", "role_name": "ghost"}), 404)


class TestOperationsAndLocking(Base):
    def test_status_progression_and_423(self):
        out = self.project(settle=False)
        pid = out["project"]["id"]
        op_id = out["operations"][1]["id"]
        st = self.call("POST", "/projects/%s/branches" % pid, body={})
        self.assert_error(st, 423)
        self.assertEqual(self.ok("GET", "/projects/%s/operations/%s" % (pid, op_id))["operation"]["status"],
                         "scheduling")
        self.clock.advance(0.7)
        self.assertEqual(self.ok("GET", "/projects/%s/operations/%s" % (pid, op_id))["operation"]["status"],
                         "running")
        # metadata-only changes schedule no operation and are not locked (as recorded from Neon)
        self.assertEqual(self.ok("PATCH", "/projects/" + pid, body={"project": {"name": "x"}})["operations"], [])
        self.clock.advance(0.31)
        op = self.ok("GET", "/projects/%s/operations/%s" % (pid, op_id))["operation"]
        self.assertEqual(op["status"], "finished")
        self.assertGreater(op["total_duration_ms"], 0)
        self.ok("POST", "/projects/%s/branches" % pid, body={}, status=201)
        # a running operation blocks every scheduling mutation, but not project deletion
        self.assert_error(self.call("PATCH", "/projects/" + pid, body={"project": {"history_retention_seconds": 3600}}),
                          423)
        self.ok("DELETE", "/projects/" + pid)

    def test_operations_list_newest_first_with_cursor(self):
        pid = self.project()["project"]["id"]
        for i in range(4):
            self.ok("POST", "/projects/%s/branches" % pid, body={"branch": {"name": "b%d" % i}}, status=201)
            self.settle()
        ops = self.ok("GET", "/projects/%s/operations" % pid, query={"limit": 1000})["operations"]
        self.assertEqual(len(ops), 6)
        self.assertEqual(ops[-1]["action"], "create_timeline")
        seen, cursor = [], None
        for _ in range(10):
            q = {"limit": 4}
            if cursor:
                q["cursor"] = cursor
            page = self.ok("GET", "/projects/%s/operations" % pid, query=q)
            if not page["operations"]:
                break
            seen += [o["id"] for o in page["operations"]]
            cursor = page["pagination"]["cursor"]
        self.assertEqual(seen, [o["id"] for o in ops])


class TestOperationOutcomes(Base):
    def op(self, pid, op_id):
        return self.ok("GET", "/projects/%s/operations/%s" % (pid, op_id))["operation"]

    def test_failed_operation_reported_and_unlocks(self):
        self.s.operation_outcomes = self.s.outcome_rules([
            {"action": "create_timeline", "status": "failed", "error": "timeline creation failed", "count": 1}])
        out = self.project(settle=False)
        pid = out["project"]["id"]
        tl, sc = (o["id"] for o in out["operations"])
        running = self.op(pid, tl)
        self.assertEqual(running["status"], "running")
        self.assertNotIn("error", running)
        self.assert_error(self.call("POST", "/projects/%s/branches" % pid, body={}), 423)
        self.settle()
        failed = self.op(pid, tl)
        self.assertEqual((failed["status"], failed["error"], failed["failures_count"]),
                         ("failed", "timeline creation failed", 1))
        self.assertGreater(failed["total_duration_ms"], 0)
        self.assertEqual(failed["updated_at"], emu_state.iso(self.clock.t - 0.01 - OP_MS / 2000.0))
        ok = self.op(pid, sc)
        self.assertEqual((ok["status"], ok["failures_count"]), ("finished", 0))
        self.assertNotIn("error", ok)
        listed = {o["id"]: o for o in self.ok("GET", "/projects/%s/operations" % pid)["operations"]}
        self.assertEqual(listed[tl], failed)
        self.ok("POST", "/projects/%s/branches" % pid, body={}, status=201)          # no 423 after the failure
        self.assertEqual(self.s.operation_outcomes[0].describe(),
                         {"action": "create_timeline", "project_id": None, "status": "failed",
                          "error": "timeline creation failed", "count": 0, "fired": 1})
        out = self.project(settle=True)                                           # the rule is used up
        self.assertEqual(self.op(out["project"]["id"], out["operations"][0]["id"])["status"], "finished")

    def test_statuses_actions_and_projects(self):
        p1 = self.project()["project"]["id"]
        p2 = self.project()["project"]["id"]
        self.s.operation_outcomes = self.s.outcome_rules([
            {"project_id": p1, "status": "cancelled", "count": 1},
            {"action": "create_branch", "status": "error"},
            {"action": "start_compute", "status": "skipped", "error": "compute already running"}])
        a = self.ok("POST", "/projects/%s/branches" % p1, body={}, status=201)["operations"]
        b = self.ok("POST", "/projects/%s/branches" % p2, body={"endpoints": [{"type": "read_write"}]},
                    status=201)["operations"]
        self.settle()
        got = [self.op(o["project_id"], o["id"]) for o in a + b]
        self.assertEqual([(o["action"], o["status"], o.get("error"), o["failures_count"]) for o in got], [
            ("create_branch", "cancelled", None, 0),
            ("create_branch", "error", "operation failed (injected by the emulator)", 1),
            ("start_compute", "skipped", "compute already running", 0)])
        self.ok("POST", "/projects/%s/branches" % p1, body={}, status=201)
        self.settle()
        self.assertEqual([r.fired for r in self.s.operation_outcomes], [1, 2, 1])
        # control-plane operations created already finished (quota suspension) are never affected
        self.s.operation_outcomes = self.s.outcome_rules([{"status": "failed"}])
        self.ok("PATCH", "/projects/" + p2, body={"project": {"settings": {"quota": {"active_time_seconds": 1}}}})
        self.assertEqual(self.s.add_usage(p2, {"active_time_seconds": 5})[0], 200)
        ops = self.ok("GET", "/projects/%s/operations" % p2)["operations"]
        self.assertEqual({(o["action"], o["status"]) for o in ops if o["action"] == "suspend_compute"},
                         {("suspend_compute", "finished")})
        # reset() forgets the projects, not the rules
        self.s.reset()
        self.assertEqual(len(self.s.operation_outcomes), 1)

    def test_rule_validation(self):
        for bad in ({}, {"status": "finished"}, {"status": "failed", "count": -1}, {"status": "failed", "count": True},
                    {"status": "failed", "action": ""}, {"status": "failed", "action": "create_timline"},
                    {"status": "failed", "project_id": 5},
                    {"status": "failed", "error": 1}, {"status": "failed", "when": "now"}, "failed"):
            with self.assertRaises(ValueError, msg=bad):
                self.s.outcome_rules([bad])
        with self.assertRaises(ValueError):
            self.s.outcome_rules({"status": "failed"})


class TestLimits(Base):
    def test_branches_per_project_free_and_paid(self):
        pid = self.project()["project"]["id"]
        for i in range(9):
            self.ok("POST", "/projects/%s/branches" % pid, body={"branch": {"name": "b%d" % i}}, status=201)
            self.settle()
        self.assertEqual(self.ok("GET", "/projects/%s/branches/count" % pid)["count"], 10)
        self.assert_error(self.call("POST", "/projects/%s/branches" % pid, body={}), 422, "BRANCHES_LIMIT_EXCEEDED")
        ppid = self.project(PAID_KEY)["project"]["id"]
        for i in range(11):
            self.ok("POST", "/projects/%s/branches" % ppid, PAID_KEY, body={}, status=201)
            self.settle()

    def test_duplicate_branch_name_409(self):
        pid = self.project()["project"]["id"]
        self.ok("POST", "/projects/%s/branches" % pid, body={"branch": {"name": "dev"}}, status=201)
        self.settle()
        self.assert_error(self.call("POST", "/projects/%s/branches" % pid, body={"branch": {"name": "dev"}}), 409)
        self.assert_error(self.call("POST", "/projects/%s/branches" % pid, body={"branch": {"name": "main"}}), 409)

    def test_compute_range(self):
        out = self.project()
        pid, ep = out["project"]["id"], out["endpoints"][0]["id"]
        path = "/projects/%s/endpoints/%s" % (pid, ep)
        self.assert_error(self.call("PATCH", path, body={"endpoint": {"autoscaling_limit_max_cu": 4}}), 400)
        self.assert_error(self.call("PATCH", path, body={"endpoint": {"autoscaling_limit_min_cu": 0.125}}), 400)
        self.ok("PATCH", path, body={"endpoint": {"autoscaling_limit_max_cu": 2}})
        self.assert_error(self.call("POST", "/projects", body={"project": {
            "default_endpoint_settings": {"autoscaling_limit_max_cu": 3}}}), 400)
        pout = self.project(PAID_KEY, default_endpoint_settings={"autoscaling_limit_min_cu": 1,
                                                                  "autoscaling_limit_max_cu": 16})
        self.assertEqual(pout["endpoints"][0]["autoscaling_limit_max_cu"], 16)
        ppath = "/projects/%s/endpoints/%s" % (pout["project"]["id"], pout["endpoints"][0]["id"])
        self.assert_error(self.call("PATCH", ppath, PAID_KEY, body={"endpoint": {"autoscaling_limit_max_cu": 17}}),
                          400)
        self.assert_error(self.call("PATCH", ppath, PAID_KEY, body={"endpoint": {"autoscaling_limit_min_cu": 8,
                                                                                  "autoscaling_limit_max_cu": 4}}),
                          400)

    def test_min_autosuspend(self):
        out = self.project()
        path = "/projects/%s/endpoints/%s" % (out["project"]["id"], out["endpoints"][0]["id"])
        self.assert_error(self.call("PATCH", path, body={"endpoint": {"suspend_timeout_seconds": 120}}), 400)
        self.assert_error(self.call("PATCH", path, body={"endpoint": {"suspend_timeout_seconds": -1}}), 400)
        self.ok("PATCH", path, body={"endpoint": {"suspend_timeout_seconds": 300}})
        pout = self.project(PAID_KEY)
        ppath = "/projects/%s/endpoints/%s" % (pout["project"]["id"], pout["endpoints"][0]["id"])
        self.ok("PATCH", ppath, PAID_KEY, body={"endpoint": {"suspend_timeout_seconds": 60}})
        self.settle()
        self.assert_error(self.call("PATCH", ppath, PAID_KEY, body={"endpoint": {"suspend_timeout_seconds": 59}}),
                          400)

    def test_restore_window(self):
        self.assert_error(self.call("POST", "/projects", body={"project": {"history_retention_seconds": 604800}}),
                          400)
        pid = self.project()["project"]["id"]
        ppid = self.project(PAID_KEY, history_retention_seconds=604800)["project"]["id"]
        self.assertEqual(self.ok("GET", "/projects/" + ppid, PAID_KEY)["project"]["history_retention_seconds"],
                         604800)
        self.assert_error(self.call("PATCH", "/projects/" + pid,
                                    body={"project": {"history_retention_seconds": 172800}}), 400)
        self.clock.advance(3 * 86400)
        two_days_ago = emu_state.iso(self.clock() - 2 * 86400)
        self.assert_error(self.call("POST", "/projects/%s/branches" % pid,
                                    body={"branch": {"parent_timestamp": two_days_ago}}), 400,
                          msg="restore window")
        self.ok("POST", "/projects/%s/branches" % ppid, PAID_KEY, body={"branch": {"parent_timestamp": two_days_ago}},
                status=201)
        main = self.ok("GET", "/projects/%s/branches" % pid)["branches"][0]["id"]
        self.assert_error(self.call("POST", "/projects/%s/branches/%s/restore" % (pid, main),
                                    body={"source_branch_id": main, "source_timestamp": two_days_ago,
                                          "preserve_under_name": "old"}), 400)
        one_hour_ago = emu_state.iso(self.clock() - 3600)
        self.ok("POST", "/projects/%s/branches/%s/restore" % (pid, main),
                body={"source_branch_id": main, "source_timestamp": one_hour_ago, "preserve_under_name": "old"})

    def test_projects_per_org(self):
        self.s.set_org_limit(FREE_ORG, "projects", 2)
        self.project()
        self.project()
        self.assert_error(self.call("POST", "/projects", body={"project": {}}), 422, "PROJECTS_LIMIT_EXCEEDED")
        self.project(PAID_KEY)

    def test_manual_snapshots_free_1_paid_10(self):
        out = self.project()
        pid, bid = out["project"]["id"], out["branch"]["id"]
        self.ok("POST", "/projects/%s/branches/%s/snapshot" % (pid, bid), query={"name": "s1"})
        self.settle()
        self.assert_error(self.call("POST", "/projects/%s/branches/%s/snapshot" % (pid, bid)), 422)
        pout = self.project(PAID_KEY)
        ppid, pbid = pout["project"]["id"], pout["branch"]["id"]
        for i in range(10):
            self.ok("POST", "/projects/%s/branches/%s/snapshot" % (ppid, pbid), PAID_KEY)
            self.settle()
        self.assert_error(self.call("POST", "/projects/%s/branches/%s/snapshot" % (ppid, pbid), PAID_KEY), 422)

    def test_root_branches_limit(self):
        out = self.project(PAID_KEY)
        pid, bid = out["project"]["id"], out["branch"]["id"]
        snap = self.ok("POST", "/projects/%s/branches/%s/snapshot" % (pid, bid), PAID_KEY)["snapshot"]["id"]
        self.settle()
        for i in range(4):   # main + 4 restored branches = 5 roots
            br = self.ok("POST", "/projects/%s/snapshots/%s/restore" % (pid, snap), PAID_KEY,
                         body={"name": "r%d" % i})["branch"]
            self.assertNotIn("parent_id", br)
            self.settle()
        self.assert_error(self.call("POST", "/projects/%s/snapshots/%s/restore" % (pid, snap), PAID_KEY, body={}),
                          422, "ROOT_BRANCHES_LIMIT_EXCEEDED")
        # child branches do not count as roots
        self.ok("POST", "/projects/%s/branches" % pid, PAID_KEY, body={}, status=201)


class TestQuotas(Base):
    def test_quota_suspends_until_raised(self):
        out = self.project(settings={"quota": {"active_time_seconds": 100}})
        pid, ep = out["project"]["id"], out["endpoints"][0]["id"]
        self.assertEqual(self.ok("GET", "/projects/%s/endpoints/%s" % (pid, ep))["endpoint"]["current_state"],
                         "active")
        st, body = self.s.add_usage(pid, {"active_time_seconds": 60})
        self.assertEqual((st, body["suspended"]), (200, []))
        st, body = self.s.add_usage(pid, {"active_time_seconds": 60})
        self.assertEqual(body["suspended"], [pid])
        self.assertEqual(self.ok("GET", "/projects/%s/endpoints/%s" % (pid, ep))["endpoint"]["current_state"], "idle")
        st = self.call("POST", "/projects/%s/endpoints/%s/start" % (pid, ep))
        self.assertEqual(st[0], 422, st)
        self.clock.advance(3600)   # stays suspended: not scale-to-zero
        self.assertEqual(self.call("POST", "/projects/%s/endpoints/%s/start" % (pid, ep))[0], 422)
        # raising the quota lifts the block (computes stay idle until started)
        self.ok("PATCH", "/projects/" + pid, body={"project": {"settings": {"quota": {"active_time_seconds": 1000}}}})
        self.assertEqual(self.ok("GET", "/projects/" + pid)["project"]["settings"]["quota"],
                         {"active_time_seconds": 1000})
        self.ok("POST", "/projects/%s/endpoints/%s/start" % (pid, ep))
        self.settle()
        self.assertEqual(self.ok("GET", "/projects/%s/endpoints/%s" % (pid, ep))["endpoint"]["current_state"],
                         "active")

    def test_quota_zero_removes_limit_and_low_quota_suspends_at_once(self):
        out = self.project()
        pid, ep = out["project"]["id"], out["endpoints"][0]["id"]
        self.s.add_usage(pid, {"compute_time_seconds": 500, "data_transfer_bytes": 10})
        self.ok("PATCH", "/projects/" + pid, body={"project": {"settings": {"quota": {"compute_time_seconds": 100}}}})
        self.assertEqual(self.ok("GET", "/projects/%s/endpoints/%s" % (pid, ep))["endpoint"]["current_state"], "idle")
        self.assertEqual(self.call("POST", "/projects/%s/endpoints/%s/start" % (pid, ep))[1]["code"],
                         "COMPUTE_TIME_EXCEEDED")
        self.ok("PATCH", "/projects/" + pid, body={"project": {"settings": {"quota": {"compute_time_seconds": 0}}}})
        self.ok("POST", "/projects/%s/endpoints/%s/start" % (pid, ep))

    def test_usage_all_projects_and_validation(self):
        a = self.project()["project"]["id"]
        b = self.project()["project"]["id"]
        st, body = self.s.add_usage(None, {"data_transfer_bytes": 7})
        self.assertEqual((st, body["updated"]), (200, 2))
        for pid in (a, b):
            self.assertEqual(self.ok("GET", "/projects/" + pid)["project"]["data_transfer_bytes"], 7)
        self.assertEqual(self.s.add_usage("nope-nope-1", {"data_transfer_bytes": 1})[0], 404)
        self.assertEqual(self.s.add_usage(a, {"bogus": 1})[0], 400)
        self.assertEqual(self.s.add_usage(a, {"data_transfer_bytes": -1})[0], 400)
        self.s.add_usage(a, {"logical_size_bytes": 1000})
        br = self.ok("GET", "/projects/%s/branches" % a)["branches"][0]
        self.assertEqual(br["logical_size"], 1000)


class TestTransfers(Base):
    def test_transfer_rules(self):
        out = self.project(settings={"quota": {"active_time_seconds": 360000}})
        pid = out["project"]["id"]
        uri = out["connection_uris"][0]["connection_uri"]
        body = {"destination_org_id": PAID_ORG, "project_ids": [pid]}
        self.assert_error(self.call("POST", "/organizations/%s/projects/transfer" % FREE_ORG, FREE_KEY, body=body),
                          403)
        self.assertEqual(self.ok("POST", "/organizations/%s/projects/transfer" % FREE_ORG, PERSONAL_KEY, body=body),
                         {})
        self.assert_error(self.call("GET", "/projects/" + pid, FREE_KEY), 404)
        p = self.ok("GET", "/projects/" + pid, PAID_KEY)["project"]
        self.assertEqual(p["org_id"], PAID_ORG)
        self.assertEqual(p["settings"]["quota"], {"active_time_seconds": 360000})
        q = {"database_name": "neondb", "role_name": "neondb_owner"}
        self.assertEqual(self.ok("GET", "/projects/%s/connection_uri" % pid, PAID_KEY, query=q)["uri"], uri)
        eps = self.ok("GET", "/projects/%s/endpoints" % pid, PAID_KEY)["endpoints"]
        self.assertEqual(eps[0]["autoscaling_limit_max_cu"], 0.25)
        self.assertEqual([x["id"] for x in self.ok("GET", "/projects", PAID_KEY)["projects"]], [pid])

    def test_transfer_validation_and_406(self):
        pid = self.project(PAID_KEY, default_endpoint_settings={"autoscaling_limit_max_cu": 4})["project"]["id"]
        url = "/organizations/%s/projects/transfer" % PAID_ORG
        self.assert_error(self.call("POST", url, PERSONAL_KEY,
                                    body={"destination_org_id": FREE_ORG, "project_ids": ["a"] * 401}), 400)
        self.assert_error(self.call("POST", url, PERSONAL_KEY,
                                    body={"destination_org_id": FREE_ORG, "project_ids": []}), 400)
        self.assert_error(self.call("POST", url, PERSONAL_KEY,
                                    body={"destination_org_id": FREE_ORG, "project_ids": ["nope-nope-1"]}), 404)
        st, out = self.call("POST", url, PERSONAL_KEY, body={"destination_org_id": FREE_ORG, "project_ids": [pid]})
        self.assertEqual(st, 406)
        self.assertEqual(out["limits"][0], {"name": "max_autoscaling_limit", "expected": "2", "actual": "4"})
        self.s.set_org_limit(FREE_ORG, "projects", 0)
        ep = self.ok("GET", "/projects/%s/endpoints" % pid, PAID_KEY)["endpoints"][0]["id"]
        self.ok("PATCH", "/projects/%s/endpoints/%s" % (pid, ep), PAID_KEY,
                body={"endpoint": {"autoscaling_limit_max_cu": 2}})
        self.settle()                                             # the PATCH's apply_config would answer 423
        st, out = self.call("POST", url, PERSONAL_KEY, body={"destination_org_id": FREE_ORG, "project_ids": [pid]})
        self.assertEqual((st, [x["name"] for x in out["limits"]]), (406, ["projects_count"]))
        self.s.set_org_limit(FREE_ORG, "projects", 10)
        self.ok("POST", url, PERSONAL_KEY, body={"destination_org_id": FREE_ORG, "project_ids": [pid]})
        self.ok("GET", "/projects/" + pid, FREE_KEY)

    def test_running_operations_lock_a_transfer(self):
        ready = self.project()["project"]["id"]
        busy = self.project(settle=False)["project"]["id"]
        url = "/organizations/%s/projects/transfer" % FREE_ORG
        body = {"destination_org_id": PAID_ORG, "project_ids": [ready, busy]}
        self.assert_error(self.call("POST", url, PERSONAL_KEY, body=body), 423,
                          msg="project already has running operations")
        self.assertEqual(self.ok("GET", "/projects/" + ready, FREE_KEY)["project"]["org_id"], FREE_ORG)
        # checks before the lock still win: an unknown id is a 404 even while operations run
        self.assert_error(self.call("POST", url, PERSONAL_KEY, body={"destination_org_id": PAID_ORG,
                                                                      "project_ids": [busy, "nope-nope-1"]}), 404)
        self.settle()
        self.ok("POST", url, PERSONAL_KEY, body=body)
        self.assertEqual(len(self.ok("GET", "/projects", PAID_KEY)["projects"]), 2)

    def test_integrations_block_a_transfer(self):
        a, b, c = (self.project()["project"]["id"] for _ in range(3))
        self.assertEqual(self.control("/integration", {"project_id": a, "integration": "github"}),
                         (200, {"project_id": a, "integration": "github"}))
        self.assertEqual(self.control("/integration", {"project_id": c, "integration": "vercel"})[0], 200)
        self.assertEqual(self.control("/integration", {"project_id": "nope-nope-1", "integration": "github"})[0], 404)
        for bad in ({"project_id": a, "integration": "datadog"}, {"project_id": a}, {"integration": "github"},
                    {"project_id": [a], "integration": "github"}, ["x"]):
            self.assertEqual(self.control("/integration", bad)[0], 400, bad)
        self.assertEqual(self.s.control("GET", "/integration", {}, b"")[0], 405)
        self.assertIsNone(self.s.control("POST", "/no_such_call", {}, b"{}"))
        self.assertEqual(self.ok("GET", "/projects", FREE_KEY)["integrations"], {a: ["github"], c: ["vercel"]})
        url = "/organizations/%s/projects/transfer" % FREE_ORG
        body = {"destination_org_id": PAID_ORG, "project_ids": [a, b, c]}
        st, out = self.call("POST", url, PERSONAL_KEY, body=body)
        self.assertEqual((st, out), (422, {"projects": [{"id": a, "integration": "github"},
                                                        {"id": c, "integration": "vercel"}]}))
        self.assertEqual(len(self.ok("GET", "/projects", FREE_KEY)["projects"]), 3)      # nothing moved
        # 423 comes before 422, and 422 before the destination's limits (406)
        self.ok("POST", "/projects/%s/branches" % a, FREE_KEY, body={}, status=201)
        self.assertEqual(self.call("POST", url, PERSONAL_KEY, body=body)[0], 423)
        self.settle()
        self.s.set_org_limit(PAID_ORG, "projects", 0)
        self.assertEqual(self.call("POST", url, PERSONAL_KEY, body=body)[0], 422)
        self.s.set_org_limit(PAID_ORG, "projects", 10)
        for pid in (a, c):
            self.control("/integration", {"project_id": pid, "integration": None})
        self.ok("POST", url, PERSONAL_KEY, body=body)
        self.assertEqual(self.ok("GET", "/projects", PAID_KEY)["integrations"], {})

    def test_transfers_keep_endpoint_settings_and_quotas(self):
        quota = {"active_time_seconds": 3600, "data_transfer_bytes": 10 ** 9}
        des = {"autoscaling_limit_min_cu": 0.5, "autoscaling_limit_max_cu": 2, "suspend_timeout_seconds": 60}
        pid = self.project(PAID_KEY, settings={"quota": quota}, default_endpoint_settings=des)["project"]["id"]

        def kept(key):
            p = self.ok("GET", "/projects/" + pid, key)["project"]
            ep = self.ok("GET", "/projects/%s/endpoints" % pid, key)["endpoints"][0]
            return (p["settings"]["quota"], p["default_endpoint_settings"],
                    {k: ep[k] for k in ("autoscaling_limit_min_cu", "autoscaling_limit_max_cu",
                                        "suspend_timeout_seconds")})

        before = kept(PAID_KEY)
        self.assertEqual(before, (quota, des, des))
        # to the free org: a 60 s autosuspend is below the free minimum (300 s) and is kept all the same
        self.ok("POST", "/organizations/%s/projects/transfer" % PAID_ORG, PERSONAL_KEY,
                body={"destination_org_id": FREE_ORG, "project_ids": [pid]})
        self.assertEqual(kept(FREE_KEY), before)
        self.ok("POST", "/organizations/%s/projects/transfer" % FREE_ORG, PERSONAL_KEY,
                body={"destination_org_id": PAID_ORG, "project_ids": [pid]})
        self.assertEqual(kept(PAID_KEY), before)
        tr = self.ok("POST", "/projects/%s/transfer_requests" % pid, PAID_KEY, status=201)
        self.ok("PUT", "/projects/%s/transfer_requests/%s" % (pid, tr["id"]), USER_KEY, status=204)
        self.assertEqual(kept(USER_KEY), before)


class TestEndUserAccount(Base):
    def test_user_key_is_another_account(self):
        ours = self.project()["project"]["id"]
        headers = {k: {"authorization": "Bearer " + k} for k in (FREE_KEY, PERSONAL_KEY, USER_KEY)}
        self.assertEqual(self.s.account_for(headers[FREE_KEY]), self.s.account_for(headers[PERSONAL_KEY]))
        self.assertNotEqual(self.s.account_for(headers[USER_KEY]), self.s.account_for(headers[PERSONAL_KEY]))
        self.assertIsNotNone(self.s.account_for(headers[USER_KEY]))
        orgs = self.ok("GET", "/users/me/organizations", USER_KEY)["organizations"]
        self.assertEqual([(o["id"], o["name"], o["plan"]) for o in orgs], [(END_USER_ORG, "End User", "scale_v3")])
        self.assertEqual([o["id"] for o in self.ok("GET", "/users/me/organizations", PERSONAL_KEY)["organizations"]],
                         [FREE_ORG, PAID_ORG])
        me, them = self.ok("GET", "/users/me", PERSONAL_KEY), self.ok("GET", "/users/me", USER_KEY)
        self.assertNotEqual(me["id"], them["id"])
        self.assertEqual(self.ok("GET", "/auth", USER_KEY), {"account_id": them["id"], "auth_method": "api_key_user"})
        # nothing of ours is visible to the user key, and nothing of theirs to our keys
        self.assert_error(self.call("GET", "/projects/" + ours, USER_KEY), 404)
        self.assert_error(self.call("DELETE", "/projects/" + ours, USER_KEY), 404)
        self.assert_error(self.call("GET", "/projects", USER_KEY), 400, msg="org_id is required")
        self.assert_error(self.call("GET", "/projects", USER_KEY, query={"org_id": FREE_ORG}), 404)
        self.assert_error(self.call("GET", "/organizations/" + FREE_ORG, USER_KEY), 404)
        theirs = self.project(USER_KEY, org_id=END_USER_ORG)["project"]
        self.assertEqual(theirs["owner_id"], them["id"])
        self.assertEqual([p["id"] for p in self.ok("GET", "/projects", USER_KEY, query={"org_id": END_USER_ORG})
                          ["projects"]], [theirs["id"]])
        self.assert_error(self.call("GET", "/projects/" + theirs["id"], PERSONAL_KEY), 404)
        self.assert_error(self.call("GET", "/projects", PERSONAL_KEY, query={"org_id": END_USER_ORG}), 404)
        self.assert_error(self.call("POST", "/projects", PERSONAL_KEY, body={"project": {"org_id": END_USER_ORG}}),
                          404)
        # org-to-org transfers stay within one account
        self.assert_error(self.call("POST", "/organizations/%s/projects/transfer" % FREE_ORG, PERSONAL_KEY,
                                    body={"destination_org_id": END_USER_ORG, "project_ids": [ours]}), 404)
        self.assert_error(self.call("POST", "/organizations/%s/projects/transfer" % FREE_ORG, USER_KEY,
                                    body={"destination_org_id": END_USER_ORG, "project_ids": [ours]}), 404)
        # personal API keys are per account too
        new = self.ok("POST", "/api_keys", USER_KEY, body={"key_name": "theirs"})
        self.assertEqual({k["name"] for k in self.ok("GET", "/api_keys", USER_KEY)}, {"emulator-user-key", "theirs"})
        self.assertNotIn("theirs", {k["name"] for k in self.ok("GET", "/api_keys", PERSONAL_KEY)})
        self.assert_error(self.call("DELETE", "/api_keys/%d" % new["id"], PERSONAL_KEY), 404)
        self.ok("GET", "/projects/" + theirs["id"], new["key"])


class TestTransferRequests(Base):
    def claim_url(self, pid, request_id):
        return "/projects/%s/transfer_requests/%s" % (pid, request_id)

    def test_claim_moves_the_project_to_the_end_user(self):
        out = self.project()
        pid, ep = out["project"]["id"], out["endpoints"][0]["id"]
        ops_before = self.ok("GET", "/projects/%s/operations" % pid)["operations"]
        tr = self.ok("POST", "/projects/%s/transfer_requests" % pid, FREE_KEY, status=201)
        self.assertEqual(set(tr), {"id", "project_id", "created_at", "expires_at"})
        self.assertRegex(tr["id"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        self.assertEqual(tr["project_id"], pid)
        self.assertEqual(emu_state.parse_ts(tr["expires_at"]) - emu_state.parse_ts(tr["created_at"]), 86400)
        self.assertEqual(self.ok("GET", "/projects/%s/operations" % pid)["operations"], ops_before)
        self.assertEqual(self.call("PUT", self.claim_url(pid, tr["id"]), USER_KEY, body={}), (204, None))
        # it left our account: every route of ours answers 404, the end user has it
        for key in (FREE_KEY, PAID_KEY, PERSONAL_KEY):
            self.assert_error(self.call("GET", "/projects/" + pid, key), 404, msg="project not found")
            self.assert_error(self.call("GET", "/projects/%s/endpoints/%s" % (pid, ep), key), 404)
            self.assert_error(self.call("POST", "/projects/%s/transfer_requests" % pid, key), 404)
        self.assertEqual(self.ok("GET", "/projects", FREE_KEY)["projects"], [])
        p = self.ok("GET", "/projects/" + pid, USER_KEY)["project"]
        self.assertEqual((p["org_id"], p["owner_id"]), (END_USER_ORG, self.ok("GET", "/users/me", USER_KEY)["id"]))
        self.assertEqual([x["id"] for x in self.ok("GET", "/projects", USER_KEY, query={"org_id": END_USER_ORG})
                          ["projects"]], [pid])
        self.assert_error(self.call("PUT", self.claim_url(pid, tr["id"]), USER_KEY), 409,
                          code="TRANSFER_REQUEST_ALREADY_USED", msg="already accepted")

    def test_create_access_and_ttl(self):
        pid = self.project()["project"]["id"]
        url = "/projects/%s/transfer_requests" % pid
        tr = self.ok("POST", url, PERSONAL_KEY, body={"ttl_seconds": 60}, status=201)
        self.assertEqual(tr["expires_at"], emu_state.iso(self.clock.t + 60))
        self.ok("POST", url, FREE_KEY, body={"ttl_seconds": 2592000}, status=201)
        self.assert_error(self.call("POST", url, PAID_KEY), 404)
        self.assert_error(self.call("POST", url, USER_KEY), 404)
        for bad in ({"ttl_seconds": 59}, {"ttl_seconds": 2592001}, {"ttl_seconds": "60"}, {"ttl_seconds": True},
                    {"ttl_seconds": 60.5}, ["ttl_seconds"]):
            self.assert_error(self.call("POST", url, FREE_KEY, body=bad), 400)

    def test_accept_refusals(self):
        pid = self.project()["project"]["id"]
        other = self.project()["project"]["id"]
        tr = self.ok("POST", "/projects/%s/transfer_requests" % pid, FREE_KEY, body={"ttl_seconds": 600},
                     status=201)
        url = self.claim_url(pid, tr["id"])
        self.assert_error(self.call("PUT", self.claim_url(pid, "00000000-0000-4000-8000-000000000000"), USER_KEY),
                          404)
        self.assert_error(self.call("PUT", self.claim_url(other, tr["id"]), USER_KEY), 404)
        self.assert_error(self.call("PUT", self.claim_url(pid, "Not_A_Request"), USER_KEY), 400)
        self.assert_error(self.call("PUT", url, USER_KEY, body={"org_id": 5}), 400)
        for key in (FREE_KEY, PERSONAL_KEY):                         # the project's own account cannot claim it
            self.assert_error(self.call("PUT", url, key), 403)
        self.assert_error(self.call("PUT", url, USER_KEY, body={"org_id": FREE_ORG}), 404)
        self.s.set_org_limit(END_USER_ORG, "projects", 0)
        st, out = self.call("PUT", url, USER_KEY)
        self.assertEqual((st, [r["code"] for r in out["reasons"]]), (406, ["PROJECTS_LIMIT_EXCEEDED"]))
        self.s.set_org_limit(END_USER_ORG, "projects", 10)
        self.clock.advance(600)
        st, out = self.call("PUT", url, USER_KEY)
        self.assertEqual((st, out), (406, {"reasons": [{"code": "TRANSFER_REQUEST_EXPIRED",
                                                        "message": "transfer request expired at %s"
                                                                   % tr["expires_at"]}]}))
        self.assertEqual(self.ok("GET", "/projects/" + pid)["project"]["org_id"], FREE_ORG)   # nothing moved
        # a deleted project's request is gone with it
        tr2 = self.ok("POST", "/projects/%s/transfer_requests" % other, FREE_KEY, status=201)
        self.ok("DELETE", "/projects/" + other)
        self.assert_error(self.call("PUT", self.claim_url(other, tr2["id"]), USER_KEY), 404)

    def test_expire_control_call_and_explicit_org(self):
        pid = self.project()["project"]["id"]
        expired = self.ok("POST", "/projects/%s/transfer_requests" % pid, FREE_KEY, status=201)
        st, out = self.control("/expire_transfer_request", {"request_id": expired["id"]})
        self.assertEqual((st, out["expires_at"]), (200, emu_state.iso(self.clock.t)))
        self.assertEqual(self.control("/expire_transfer_request", {"request_id": "nope"})[0], 404)
        self.assertEqual(self.control("/expire_transfer_request", {"request_id": 5})[0], 400)
        self.assertEqual(self.call("PUT", self.claim_url(pid, expired["id"]), USER_KEY)[0], 406)
        tr = self.ok("POST", "/projects/%s/transfer_requests" % pid, FREE_KEY, status=201)
        self.ok("PUT", self.claim_url(pid, tr["id"]), USER_KEY, body={"org_id": END_USER_ORG}, status=204)
        self.assertEqual(self.ok("GET", "/projects/" + pid, USER_KEY)["project"]["org_id"], END_USER_ORG)
        # the other way round: our personal key claims a project of the end user's into an org it names
        back = self.ok("POST", "/projects/%s/transfer_requests" % pid, USER_KEY, status=201)
        self.assert_error(self.call("PUT", self.claim_url(pid, back["id"]), PERSONAL_KEY), 400,
                          msg="org_id is required")
        self.ok("PUT", self.claim_url(pid, back["id"]), PERSONAL_KEY, body={"org_id": PAID_ORG}, status=204)
        self.assertEqual(self.ok("GET", "/projects/" + pid, PAID_KEY)["project"]["org_id"], PAID_ORG)


class TestPagination(Base):
    def test_project_list_cursor(self):
        ids = self.s.bulk_create_projects(FREE_ORG, 25)
        self.assertEqual(len(set(ids)), 25)
        seen, cursor, pages = [], None, 0
        while pages < 10:
            q = {"limit": 10}
            if cursor:
                q["cursor"] = cursor
            page = self.ok("GET", "/projects", query=q)
            pages += 1
            if not page["projects"]:
                self.assertNotIn("pagination", page)
                break
            got = [p["id"] for p in page["projects"]]
            self.assertEqual(page["pagination"]["cursor"], got[-1])
            seen += got
            cursor = got[-1]
            if len(got) < 10:
                break
        self.assertEqual(pages, 3)
        self.assertEqual(seen, list(reversed(ids)))   # newest first
        self.assertEqual(len(self.ok("GET", "/projects")["projects"]), 10)     # default limit
        self.assertEqual(len(self.ok("GET", "/projects", query={"limit": 400})["projects"]), 25)
        self.assert_error(self.call("GET", "/projects", query={"limit": 401}), 400)
        self.assert_error(self.call("GET", "/projects", query={"limit": 0}), 400)
        self.assertEqual([p["id"] for p in self.ok("GET", "/projects", query={"search": ids[3][-8:]})["projects"]],
                         [ids[3]])
        self.assertEqual(len(self.ok("GET", "/projects", query={"search": "bench-1", "limit": 400})["projects"]),
                         11)   # bench-1, bench-10..19

    def test_branch_list_pagination_next(self):
        pid = self.project(PAID_KEY)["project"]["id"]
        for i in range(6):
            self.ok("POST", "/projects/%s/branches" % pid, PAID_KEY, body={"branch": {"name": "b%d" % i}},
                    status=201)
            self.settle()
        allb = self.ok("GET", "/projects/%s/branches" % pid, PAID_KEY, query={"sort_by": "name", "sort_order": "asc"})
        names = [b["name"] for b in allb["branches"]]
        self.assertEqual(names, sorted(names))
        seen, cursor = [], None
        for _ in range(10):
            q = {"limit": 3, "sort_by": "name", "sort_order": "asc"}
            if cursor:
                q["cursor"] = cursor
            page = self.ok("GET", "/projects/%s/branches" % pid, PAID_KEY, query=q)
            if not page["branches"]:
                break
            seen += [b["name"] for b in page["branches"]]
            cursor = page["pagination"]["next"]
        self.assertEqual(seen, names)
        self.assertEqual(self.ok("GET", "/projects/%s/branches/count" % pid, PAID_KEY)["count"], 7)
        self.assertEqual(self.ok("GET", "/projects/%s/branches/count" % pid, PAID_KEY,
                                 query={"search": "main"})["count"], 1)


class TestBranchesEndpoints(Base):
    def test_branch_with_endpoint_delete_and_default(self):
        pid = self.project()["project"]["id"]
        out = self.ok("POST", "/projects/%s/branches" % pid, status=201,
                      body={"branch": {"name": "dev"}, "endpoints": [{"type": "read_write"}]})
        self.assertEqual([o["action"] for o in out["operations"]], ["create_branch", "start_compute"])
        self.assertIn("connection_uris", out)
        bid = out["branch"]["id"]
        self.settle()
        nocompute = self.ok("POST", "/projects/%s/branches" % pid, body={}, status=201)
        self.assertNotIn("connection_uris", nocompute)
        self.assertEqual(nocompute["endpoints"], [])
        self.settle()
        self.ok("PATCH", "/projects/%s/branches/%s" % (pid, bid), body={"branch": {"name": "dev2"}})
        self.ok("POST", "/projects/%s/branches/%s/set_as_default" % (pid, bid))
        self.assertTrue(self.ok("GET", "/projects/%s/branches/%s" % (pid, bid))["branch"]["default"])
        self.assert_error(self.call("DELETE", "/projects/%s/branches/%s" % (pid, bid)), 400)
        nb = nocompute["branch"]["id"]
        self.ok("DELETE", "/projects/%s/branches/%s" % (pid, nb))
        self.assertEqual(self.call("DELETE", "/projects/%s/branches/%s" % (pid, nb))[0], 204)
        self.assert_error(self.call("GET", "/projects/%s/branches/%s" % (pid, nb)), 404)

    def test_endpoint_start_suspend(self):
        out = self.project()
        pid, ep = out["project"]["id"], out["endpoints"][0]["id"]
        r = self.ok("POST", "/projects/%s/endpoints/%s/suspend" % (pid, ep))
        self.assertEqual(r["operations"][0]["action"], "suspend_compute")
        self.settle()
        e = self.ok("GET", "/projects/%s/endpoints/%s" % (pid, ep))["endpoint"]
        self.assertEqual(e["current_state"], "idle")
        self.assertIn("suspended_at", e)
        self.ok("POST", "/projects/%s/endpoints/%s/start" % (pid, ep))
        self.settle()
        self.assertEqual(self.ok("GET", "/projects/%s/endpoints/%s" % (pid, ep))["endpoint"]["current_state"],
                         "active")


class TestSnapshotsAndRestores(Base):
    def test_snapshot_lifecycle_and_finalize(self):
        out = self.project(PAID_KEY)
        pid, main, ep = out["project"]["id"], out["branch"]["id"], out["endpoints"][0]["id"]
        uri = out["connection_uris"][0]["connection_uri"]
        snap = self.ok("POST", "/projects/%s/branches/%s/snapshot" % (pid, main), PAID_KEY,
                       query={"name": "before-migration",
                              "expires_at": emu_state.iso(self.clock() + 86400)})
        self.assertEqual(snap["snapshot"]["name"], "before-migration")
        self.assertEqual(snap["snapshot"]["source_branch_id"], main)
        sid = snap["snapshot"]["id"]
        self.settle()
        self.assertEqual([s["id"] for s in self.ok("GET", "/projects/%s/snapshots" % pid, PAID_KEY)["snapshots"]],
                         [sid])
        # restore as a preview, then finalize
        r = self.ok("POST", "/projects/%s/snapshots/%s/restore" % (pid, sid), PAID_KEY,
                    body={"name": "preview", "target_branch_id": main})
        nb = r["branch"]["id"]
        self.assertEqual(r["branch"]["restore_status"], "restored")
        self.assertEqual(r["branch"]["restored_from"], sid)
        self.settle()
        fin = self.ok("POST", "/projects/%s/branches/%s/finalize_restore" % (pid, nb), PAID_KEY, body={})
        self.assertTrue(fin["operations"])
        self.settle()
        b = self.ok("GET", "/projects/%s/branches/%s" % (pid, nb), PAID_KEY)["branch"]
        self.assertEqual((b["name"], b["default"], b["restore_status"]), ("main", True, "finalized"))
        old = self.ok("GET", "/projects/%s/branches/%s" % (pid, main), PAID_KEY)["branch"]
        self.assertEqual(old["name"], "main (old)")
        self.assertEqual(self.ok("GET", "/projects/%s/endpoints/%s" % (pid, ep), PAID_KEY)["endpoint"]["branch_id"], nb)
        q = {"database_name": "neondb", "role_name": "neondb_owner"}
        self.assertEqual(self.ok("GET", "/projects/%s/connection_uri" % pid, PAID_KEY, query=q)["uri"], uri)
        # delete: 202 with operations
        st, body = self.call("DELETE", "/projects/%s/snapshots/%s" % (pid, sid), PAID_KEY)
        self.assertEqual(st, 202)
        self.assertEqual(list(body), ["operations"])
        self.settle()
        self.assertEqual(self.ok("GET", "/projects/%s/snapshots" % pid, PAID_KEY)["snapshots"], [])

    def test_snapshot_restore_finalize_inline_and_root_only(self):
        out = self.project(PAID_KEY)
        pid, main = out["project"]["id"], out["branch"]["id"]
        sid = self.ok("POST", "/projects/%s/branches/%s/snapshot" % (pid, main), PAID_KEY)["snapshot"]["id"]
        self.settle()
        r = self.ok("POST", "/projects/%s/snapshots/%s/restore" % (pid, sid), PAID_KEY,
                    body={"target_branch_id": main, "finalize_restore": True})
        self.assertEqual(r["branch"]["name"], "main")
        self.assertEqual(len(r["endpoints"]), 1)
        self.settle()
        child = self.ok("POST", "/projects/%s/branches" % pid, PAID_KEY, body={}, status=201)["branch"]["id"]
        self.settle()
        self.assert_error(self.call("POST", "/projects/%s/branches/%s/snapshot" % (pid, child), PAID_KEY), 400)

    def test_branch_restore_variants(self):
        out = self.project(PAID_KEY)
        pid, main = out["project"]["id"], out["branch"]["id"]
        dev = self.ok("POST", "/projects/%s/branches" % pid, PAID_KEY, body={"branch": {"name": "dev"},
                      "endpoints": [{"type": "read_write"}]}, status=201)["branch"]["id"]
        self.settle()
        self.clock.advance(120)
        # reset from parent: no preserve name needed
        r = self.ok("POST", "/projects/%s/branches/%s/restore" % (pid, dev), PAID_KEY, body={"source_branch_id": main})
        self.assertEqual(r["branch"]["id"], dev)
        self.assertTrue(r["operations"])
        self.assert_error(self.call("POST", "/projects/%s/branches/%s/restore" % (pid, dev), PAID_KEY,
                                    body={"source_branch_id": main}), 423)
        self.settle()
        ts = emu_state.iso(self.clock() - 60)
        self.assert_error(self.call("POST", "/projects/%s/branches/%s/restore" % (pid, main), PAID_KEY,
                                    body={"source_branch_id": main, "source_timestamp": ts}), 400)
        self.assert_error(self.call("POST", "/projects/%s/branches/%s/restore" % (pid, main), PAID_KEY,
                                    body={}), 400)
        r = self.ok("POST", "/projects/%s/branches/%s/restore" % (pid, main), PAID_KEY,
                    body={"source_branch_id": main, "source_timestamp": ts, "preserve_under_name": "main_before"})
        self.settle()
        names = {b["name"]: b for b in self.ok("GET", "/projects/%s/branches" % pid, PAID_KEY)["branches"]}
        self.assertIn("main_before", names)
        self.assertEqual(names["dev"]["parent_id"], names["main_before"]["id"])   # children move to the backup


class TestConsumption(Base):
    def q(self, **kw):
        q = {"org_id": PAID_ORG, "from": emu_state.iso(self.clock() - 3 * 3600), "to": emu_state.iso(self.clock()),
             "granularity": "hourly", "metrics": "compute_unit_seconds,public_network_transfer_bytes"}
        q.update(kw)
        return q

    def test_consumption(self):
        self.clock.advance(-5 * 3600)
        pid = self.project(PAID_KEY)["project"]["id"]
        self.clock.advance(5 * 3600)
        self.s.add_usage(pid, {"compute_time_seconds": 120, "data_transfer_bytes": 999})
        self.clock.advance(1)
        self.assert_error(self.call("GET", "/consumption_history/v2/projects", FREE_KEY, query=self.q(org_id=FREE_ORG)),
                          403)
        self.assert_error(self.call("GET", "/consumption_history/v2/projects", FREE_KEY, query=self.q()), 404)
        out = self.ok("GET", "/consumption_history/v2/projects", PAID_KEY, query=self.q())
        self.assertEqual(out["projects"][0]["project_id"], pid)
        self.assertEqual(out["pagination"]["cursor"], pid)
        cons = [c for per in out["projects"][0]["periods"] for c in per["consumption"]]
        totals = {}
        for c in cons:
            for m in c["metrics"]:
                totals[m["metric_name"]] = totals.get(m["metric_name"], 0) + m["value"]
        self.assertEqual(totals, {"compute_unit_seconds": 120, "public_network_transfer_bytes": 999})
        self.assertEqual([c["timeframe_start"] for c in cons], sorted(c["timeframe_start"] for c in cons))
        self.ok("GET", "/consumption_history/v2/projects", PERSONAL_KEY, query=self.q())
        self.assert_error(self.call("GET", "/consumption_history/v2/projects", PAID_KEY,
                                    query=self.q(**{"from": emu_state.iso(self.clock() - 200 * 3600)})), 406)
        self.assert_error(self.call("GET", "/consumption_history/v2/projects", PAID_KEY,
                                    query=self.q(to=emu_state.iso(self.clock() - 4 * 3600))), 406)
        q = self.q()
        del q["metrics"]
        self.assert_error(self.call("GET", "/consumption_history/v2/projects", PAID_KEY, query=q), 400)
        self.assert_error(self.call("GET", "/consumption_history/v2/projects", PAID_KEY, query=self.q(limit=101)), 400)
        self.assert_error(self.call("GET", "/consumption_history/v2/projects", PAID_KEY,
                                    query=self.q(granularity="weekly")), 400)

    def test_consumption_pagination(self):
        ids = self.s.bulk_create_projects(PAID_ORG, 15)
        first = self.ok("GET", "/consumption_history/v2/projects", PAID_KEY, query=self.q())
        self.assertEqual(len(first["projects"]), 10)
        second = self.ok("GET", "/consumption_history/v2/projects", PAID_KEY,
                         query=self.q(cursor=first["pagination"]["cursor"]))
        got = [p["project_id"] for p in first["projects"] + second["projects"]]
        self.assertEqual(got, list(reversed(ids)))
        sel = self.ok("GET", "/consumption_history/v2/projects", PAID_KEY,
                      query=self.q(project_ids=",".join(ids[:3])))
        self.assertEqual(len(sel["projects"]), 3)


class TestScale(Base):
    def test_50k_projects_get_and_list_stay_fast(self):
        t0 = time.perf_counter()
        ids = self.s.bulk_create_projects(FREE_ORG, 50000)
        build = time.perf_counter() - t0
        self.assertLess(build, 30)
        h = {"authorization": "Bearer " + FREE_KEY}
        t0 = time.perf_counter()
        for pid in ids[:2000]:
            st, _, _ = emu_routes.dispatch(self.s, "GET", "/projects/" + pid, {}, h, b"")
            assert st == 200
        per_get = (time.perf_counter() - t0) / 2000
        self.assertLess(per_get, 0.001)       # < 1 ms per in-process GET /projects/{id}
        t0 = time.perf_counter()
        cursor = ids[25000]
        for _ in range(20):
            st, out, _ = emu_routes.dispatch(self.s, "GET", "/projects", {"limit": ["400"], "cursor": [cursor]},
                                             h, b"")
            cursor = out["pagination"]["cursor"]
        self.assertLess((time.perf_counter() - t0) / 20, 0.2)


@unittest.skipUnless(os.path.exists(os.path.join(HERE, "neon_emulator.py")), "transport half not present yet")
class TestOverHttp(unittest.TestCase):
    def test_end_to_end(self):
        from emu_testlib import EmulatorProcess
        with EmulatorProcess(operation_ms=50, rate_limit_rpm=0) as emu:
            st, headers, body = emu.request("POST", "/projects", key=FREE_KEY, body={"project": {"name": "http"}})
            self.assertEqual(st, 201, body)
            self.assertIn("x-neon-ret-request-id", headers)
            pid = body["project"]["id"]
            st, _, body = emu.request("POST", "/projects/%s/branches" % pid, key=FREE_KEY, body={})
            self.assertEqual(st, 423, body)
            emu.wait_operations(pid, key=FREE_KEY)
            st, _, body = emu.request("POST", "/projects/%s/branches" % pid, key=FREE_KEY, body={})
            self.assertEqual(st, 201, body)
            st, _, body = emu.request("GET", "/projects", key=PERSONAL_KEY)
            self.assertEqual(st, 400)
            st, _, body = emu.request("PATCH", "/projects/%s/transfer" % pid, key=FREE_KEY, body={})
            self.assertEqual(st, 404)
            st, body = emu.usage(pid, {"active_time_seconds": 5})
            self.assertEqual(st, 200, body)
            st, _, body = emu.request("GET", "/projects/" + pid, key=FREE_KEY)
            self.assertEqual(body["project"]["active_time_seconds"], 5)
            st, _, body = emu.request("GET", "/projects", key=None)
            self.assertEqual(st, 401)

    def test_claims_integrations_and_user_account_over_http(self):
        from emu_testlib import EmulatorProcess
        with EmulatorProcess(operation_ms=50, rate_limit_rpm=0) as emu:
            st, _, body = emu.request("POST", "/projects", key=FREE_KEY, body={"project": {}})
            pid = body["project"]["id"]
            emu.wait_operations(pid, key=FREE_KEY)
            self.assertEqual(emu.control("POST", "/_emulator/integration",
                                         {"project_id": pid, "integration": "vercel"}),
                             (200, {"project_id": pid, "integration": "vercel"}))
            st, _, body = emu.request("POST", "/organizations/%s/projects/transfer" % FREE_ORG, key=PERSONAL_KEY,
                                      body={"destination_org_id": PAID_ORG, "project_ids": [pid]})
            self.assertEqual((st, body), (422, {"projects": [{"id": pid, "integration": "vercel"}]}))
            st, _, tr = emu.request("POST", "/projects/%s/transfer_requests" % pid, key=FREE_KEY, body={})
            self.assertEqual(st, 201, tr)
            st, body = emu.control("POST", "/_emulator/expire_transfer_request", {"request_id": tr["id"]})
            self.assertEqual(st, 200, body)
            claim = "/projects/%s/transfer_requests/%s" % (pid, tr["id"])
            st, _, body = emu.request("PUT", claim, key=USER_KEY)
            self.assertEqual((st, body["reasons"][0]["code"]), (406, "TRANSFER_REQUEST_EXPIRED"))
            st, _, tr = emu.request("POST", "/projects/%s/transfer_requests" % pid, key=PERSONAL_KEY)
            claim = "/projects/%s/transfer_requests/%s" % (pid, tr["id"])
            st, headers, body = emu.request("PUT", claim, key=USER_KEY, body={})
            self.assertEqual((st, body, "content-length" in headers), (204, None, False))
            self.assertEqual(emu.request("GET", "/projects/" + pid, key=FREE_KEY)[0], 404)
            self.assertEqual(emu.request("GET", "/projects/" + pid, key=USER_KEY)[0], 200)
            log = [(e["method"], e["path"], e["status"]) for e in emu.requests()]
            self.assertIn(("PUT", "/api/v2" + claim, 204), log)
            # the end user's account has its own rate limits
            emu.config(rate_limit_rpm=1, burst_rps=2)
            statuses = [emu.request("GET", "/regions", key=FREE_KEY)[0] for _ in range(3)]
            self.assertEqual(statuses, [200, 200, 429])
            self.assertEqual(emu.request("GET", "/regions", key=USER_KEY)[0], 200)

    def test_operation_outcomes_over_http(self):
        from emu_testlib import EmulatorProcess
        with EmulatorProcess(operation_ms=50, rate_limit_rpm=0) as emu:
            rule = {"action": "create_timeline", "status": "failed", "error": "disk full", "count": 1}
            cfg = emu.config(operation_outcomes=[rule])
            self.assertEqual(cfg["operation_outcomes"], [dict(rule, project_id=None, fired=0)])
            st, _, body = emu.request("POST", "/projects", key=FREE_KEY, body={"project": {"name": "doomed"}})
            self.assertEqual(st, 201, body)
            pid, op_id = body["project"]["id"], body["operations"][0]["id"]
            ops = emu.wait_operations(pid, key=FREE_KEY)
            self.assertEqual([(o["action"], o["status"], o.get("error")) for o in ops],
                             [("start_compute", "finished", None), ("create_timeline", "failed", "disk full")])
            st, _, body = emu.request("GET", "/projects/%s/operations/%s" % (pid, op_id), key=FREE_KEY)
            self.assertEqual((body["operation"]["status"], body["operation"]["error"]), ("failed", "disk full"))
            st, _, body = emu.request("POST", "/projects/%s/branches" % pid, key=FREE_KEY, body={})
            self.assertEqual(st, 201, body)                                   # not locked by the failed one
            cfg = emu.config(add_operation_outcomes=[{"status": "skipped"}])
            self.assertEqual([(r["status"], r["count"], r["fired"]) for r in cfg["operation_outcomes"]],
                             [("failed", 0, 1), ("skipped", None, 0)])
            st, body = emu.control("POST", "/config", {"operation_outcomes": [{"status": "done"}]})
            self.assertEqual(st, 400, body)
            self.assertIn("operation_outcomes", body["message"])
            self.assertEqual(len(emu.get_config()["operation_outcomes"]), 2)
            emu.reset()                                                       # a plain reset keeps the rules
            self.assertEqual(len(emu.get_config()["operation_outcomes"]), 2)
            st, body = emu.control("POST", "/reset", {"config": True})
            self.assertEqual(body["config"]["operation_outcomes"], [])


if __name__ == "__main__":
    unittest.main()
