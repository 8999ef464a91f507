"""Transport tests of the Neon API emulator: HTTP/1.1, request log, control API, rate limiting, faults.

Run from the repository root:  python3 -m unittest discover -s test/emulator -p 'test_*.py'
Each test starts its own emulator on port 0 (see emu_testlib.EmulatorProcess).
"""

import http.client
import json
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

from emu_testlib import (EMULATOR, END_USER_ORG, FREE_KEY, FREE_ORG, PAID_KEY, PAID_ORG, USER_KEY, EmulatorProcess,
                         raw_exchange, read_response)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
NO_LIMIT = 0          # --rate-limit-rpm 0 disables rate limiting


def is_general_error(body):
    return (isinstance(body, dict) and isinstance(body.get("code"), str) and isinstance(body.get("message"), str)
            and body["message"] != "")


class EmuTest(unittest.TestCase):
    emu_args = {"rate_limit_rpm": NO_LIMIT, "operation_ms": 50}

    def setUp(self):
        self.emu = EmulatorProcess(**self.emu_args)
        self.emu.start()
        self.addCleanup(self.emu.stop)

    def create_project(self, name, key=FREE_KEY):
        status, _, body = self.emu.request("POST", "/projects", {"project": {"name": name}}, key=key)
        self.assertEqual(status, 201, body)
        return body["project"]["id"]

    def project_names(self, key=FREE_KEY):
        status, _, body = self.emu.request("GET", "/projects", key=key, query={"limit": 400})
        self.assertEqual(status, 200, body)
        return {p["name"] for p in body["projects"]}


class TestHTTP(EmuTest):
    def test_keep_alive_one_connection(self):
        pid = self.create_project("ka")
        conn = self.emu.connection()
        self.addCleanup(conn.close)
        socks = set()
        hdrs = {"Authorization": "Bearer " + FREE_KEY}
        for _ in range(20):
            conn.request("GET", "/api/v2/projects/" + pid, headers=hdrs)
            resp = conn.getresponse()
            body = json.loads(resp.read())
            self.assertEqual(resp.status, 200)
            self.assertEqual(body["project"]["id"], pid)
            self.assertIsNone(resp.getheader("Connection"))
            socks.add(id(conn.sock))
        self.assertEqual(len(socks), 1)
        health = self.emu.control("GET", "/health")[1]
        # the POST above, this connection, and the health request itself
        self.assertLessEqual(health["total_connections"], 3)

    def test_pipelined_requests_answered_in_order(self):
        pid = self.create_project("pipe")
        auth = "Authorization: Bearer %s\r\n" % FREE_KEY
        body = json.dumps({"project": {"name": "pipe2"}}).encode()
        data = (("GET /api/v2/projects/%s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (pid, auth)).encode()
                + ("PATCH /api/v2/projects/%s/transfer HTTP/1.1\r\nHost: x\r\n%s\r\n" % (pid, auth)).encode()
                + ("POST /api/v2/projects HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
                   "Content-Length: %d\r\n\r\n" % (auth, len(body))).encode() + body
                + ("GET /_emulator/health HTTP/1.1\r\nHost: x\r\n\r\n").encode()
                + ("GET /api/v2/projects?limit=400 HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n"
                   % auth).encode())
        res = raw_exchange("127.0.0.1", self.emu.port, data, 5)
        self.assertEqual([r[0] for r in res], [200, 404, 201, 200, 200])
        self.assertEqual(json.loads(res[0][2])["project"]["id"], pid)
        self.assertEqual(json.loads(res[2][2])["project"]["name"], "pipe2")
        self.assertEqual(json.loads(res[3][2])["status"], "ok")
        names = {p["name"] for p in json.loads(res[4][2])["projects"]}
        self.assertIn("pipe2", names)
        self.assertEqual(res[4][1].get("connection"), "close")

    def test_pipelined_bytes_split_one_by_one(self):
        pid = self.create_project("split")
        data = ("GET /api/v2/projects/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                % (pid, FREE_KEY)).encode() * 3
        s = socket.create_connection(("127.0.0.1", self.emu.port), timeout=5)
        self.addCleanup(s.close)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(data)):
            s.send(data[i:i + 1])
        f = s.makefile("rb")
        for _ in range(3):
            status, _, body = read_response(f)
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)["project"]["id"], pid)

    def test_chunked_request_body(self):
        payload = json.dumps({"project": {"name": "chunked"}}).encode()
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(payload[i:i + 7]), payload[i:i + 7])
                          for i in range(0, len(payload), 7)) + b"0\r\n\r\n"
        data = (b"POST /api/v2/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + FREE_KEY.encode()
                + b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks)
        (status, _, body), = raw_exchange("127.0.0.1", self.emu.port, data, 1)
        self.assertEqual(status, 201, body)
        self.assertIn("chunked", self.project_names())

    def test_bad_requests(self):
        # unsupported transfer coding, malformed chunk, malformed request line, bad Content-Length
        for data, want in ((b"POST /api/v2/projects HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
                           (b"POST /api/v2/projects HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
                           (b"GARBAGE\r\n\r\n", 400),
                           (b"POST /api/v2/projects HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400)):
            (status, headers, body), = raw_exchange("127.0.0.1", self.emu.port, data, 1)
            self.assertEqual(status, want, data)
            self.assertTrue(is_general_error(json.loads(body)))
            self.assertRegex(headers["x-neon-ret-request-id"], UUID_RE)
            self.assertEqual(headers.get("connection"), "close")

    def test_expect_100_continue(self):
        payload = json.dumps({"project": {"name": "expect"}}).encode()
        s = socket.create_connection(("127.0.0.1", self.emu.port), timeout=5)
        self.addCleanup(s.close)
        s.sendall(b"POST /api/v2/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + FREE_KEY.encode()
                  + b"\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(payload))
        f = s.makefile("rb")
        status, _, _ = read_response(f)
        self.assertEqual(status, 100)
        s.sendall(payload)
        status, _, body = read_response(f)
        self.assertEqual(status, 201, body)

    def test_http10_and_head(self):
        (status, headers, body), = raw_exchange("127.0.0.1", self.emu.port,
                                                b"GET /_emulator/health HTTP/1.0\r\n\r\n", 1)
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("connection"), "close")
        s = socket.create_connection(("127.0.0.1", self.emu.port), timeout=5)
        self.addCleanup(s.close)
        s.sendall(b"HEAD /_emulator/health HTTP/1.1\r\nHost: x\r\n\r\nGET /_emulator/health HTTP/1.1\r\n\r\n")
        f = s.makefile("rb")
        line = f.readline()
        self.assertIn(b" 200 ", line)
        while f.readline() not in (b"\r\n", b""):
            pass
        # the next bytes are the second response: HEAD sent no body
        self.assertTrue(f.readline().startswith(b"HTTP/1.1 200"))

    def test_headers_on_every_response(self):
        ids = set()
        calls = [("GET", "/projects", FREE_KEY), ("GET", "/projects", None),            # 200, 401
                 ("PATCH", "/projects/x/transfer", FREE_KEY),                           # 404 not in spec
                 ("GET", "/api/v2", FREE_KEY), ("GET", "/nothing-here", None),           # 404 outside routes
                 ("GET", "/_emulator/health", None), ("GET", "/_emulator/nope", None),
                 ("GET", "/_emulator/config", None)]
        for method, path, key in calls:
            status, headers, body = self.emu.request(method, path, key=key)
            self.assertRegex(headers.get("x-neon-ret-request-id", ""), UUID_RE, (method, path))
            self.assertEqual(headers.get("content-type"), "application/json; charset=utf-8")
            self.assertIn("date", headers)
            self.assertTrue(headers["date"].endswith(" GMT"))
            ids.add(headers["x-neon-ret-request-id"])
        self.assertEqual(len(ids), len(calls))

    def test_unknown_route_is_404_general_error(self):
        for method, path in (("PATCH", "/projects/x/transfer"), ("GET", "/nope"), ("DELETE", "/users/me"),
                             ("PUT", "/projects")):
            status, headers, body = self.emu.request(method, path, key=FREE_KEY)
            self.assertEqual(status, 404, (method, path, body))
            self.assertEqual(body["code"], "")
            self.assertTrue(body["message"])
            self.assertIn("x-neon-ret-request-id", headers)

    def test_thousand_concurrent_connections(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < 2100:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
        pid = self.create_project("many")
        req = ("GET /api/v2/projects/%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
               % (pid, FREE_KEY)).encode()
        socks = []
        try:
            for _ in range(1000):
                s = socket.create_connection(("127.0.0.1", self.emu.port), timeout=20)
                socks.append(s)
            files = [s.makefile("rb") for s in socks]
            for round_ in range(2):          # the same 1,000 connections stay usable (keep-alive)
                for s in socks:
                    s.sendall(req)
                for f in files:
                    status, _, body = read_response(f)
                    self.assertEqual(status, 200)
                if round_ == 0:
                    health = self.emu.control("GET", "/health")[1]
                    self.assertGreaterEqual(health["connections"], 1000)
        finally:
            for s in socks:
                s.close()


class TestControl(EmuTest):
    def test_request_log(self):
        t0 = time.time()
        pid = self.create_project("logged")
        self.emu.request("GET", "/projects/" + pid, key=FREE_KEY, query={"a": "1", "b": ["x", "y"], "c": ""})
        self.emu.request("PATCH", "/projects/x/transfer", key=FREE_KEY)
        self.emu.control("GET", "/config")          # control calls are not logged
        t1 = time.time()
        log = self.emu.requests()
        self.assertEqual(len(log), 3)
        self.assertEqual([(e["method"], e["path"], e["status"]) for e in log],
                         [("POST", "/api/v2/projects", 201), ("GET", "/api/v2/projects/" + pid, 200),
                          ("PATCH", "/api/v2/projects/x/transfer", 404)])
        self.assertEqual(log[0]["query"], {})
        self.assertEqual(log[1]["query"], {"a": "1", "b": ["x", "y"], "c": ""})
        for e in log:
            self.assertIsInstance(e["at"], float)
            self.assertTrue(t0 - 0.01 <= e["at"] <= t1 + 0.01)
            self.assertIsNone(e["fault"])
        self.assertLessEqual(log[0]["at"], log[1]["at"])
        # filters: limit and since
        status, last = self.emu.control("GET", "/requests?limit=1")
        self.assertEqual([e["method"] for e in last], ["PATCH"])
        status, since = self.emu.control("GET", "/requests?since=%r" % log[1]["at"])
        self.assertEqual(len(since), 2)
        # DELETE clears the log only
        self.assertEqual(self.emu.control("DELETE", "/requests")[0], 200)
        self.assertEqual(self.emu.requests(), [])
        self.assertIn("logged", self.project_names())

    def test_reset(self):
        self.create_project("before-reset")
        self.emu.config(burst_rps=2, rate_limit_rpm=6000)
        self.emu.request("GET", "/users/me", key=PAID_KEY)
        self.emu.request("GET", "/users/me", key=PAID_KEY)
        self.assertEqual(self.emu.request("GET", "/users/me", key=PAID_KEY)[0], 429)
        out = self.emu.reset()
        self.assertTrue(out["reset"])
        self.assertEqual(self.emu.requests(), [])
        self.assertNotEqual(self.emu.request("GET", "/users/me", key=PAID_KEY)[0], 429)   # buckets refilled
        self.assertEqual(self.emu.get_config()["burst_rps"], 2)                           # config kept
        self.emu.config(burst_rps=1000)
        self.assertNotIn("before-reset", self.project_names())
        # reset with {"config": true} also restores the start-up configuration and drops faults
        self.emu.config(latency_ms=7, faults=[{"route": "*", "kind": "503"}])
        status, out = self.emu.control("POST", "/reset", {"config": True})
        self.assertEqual(status, 200)
        cfg = self.emu.get_config()
        self.assertEqual((cfg["latency_ms"], cfg["faults"], cfg["rate_limit_rpm"], cfg["burst_rps"]),
                         (0, [], 0, 40))

    def test_config_applies_at_once(self):
        cfg = self.emu.config(latency_ms=300, operation_ms=1234)
        self.assertEqual(cfg["latency_ms"], 300)
        self.assertEqual(cfg["operation_ms"], 1234)
        self.assertEqual(self.emu.get_config()["operation_ms"], 1234)
        t = time.monotonic()
        status, _, _ = self.emu.request("GET", "/projects", key=FREE_KEY)
        self.assertGreaterEqual(time.monotonic() - t, 0.28)
        self.assertEqual(status, 200)
        t = time.monotonic()
        self.emu.control("GET", "/health")            # latency applies to /api/v2 only
        self.assertLess(time.monotonic() - t, 0.25)
        self.emu.config(latency_ms=0)
        t = time.monotonic()
        self.emu.request("GET", "/projects", key=FREE_KEY)
        self.assertLess(time.monotonic() - t, 0.25)

    def test_latency_does_not_block_other_connections(self):
        import threading
        self.emu.config(latency_ms=400)
        results = []

        def one():
            results.append(self.emu.request("GET", "/projects", key=FREE_KEY)[0])

        threads = [threading.Thread(target=one) for _ in range(10)]
        t = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join(10)
        elapsed = time.monotonic() - t
        self.assertEqual(results, [200] * 10)
        self.assertGreaterEqual(elapsed, 0.38)
        self.assertLess(elapsed, 1.5)           # ten 400 ms answers in parallel, not one after the other

    def test_config_validation_is_atomic(self):
        before = self.emu.get_config()
        for bad in ({"latency_ms": -1}, {"error_rate": 2}, {"nope": 1}, {"faults": [{"kind": "teapot"}]},
                    {"faults": [{"kind": "423", "when": "after"}]}, {"faults": "x"},
                    {"latency_ms": 5, "faults": [{"route": "GET projects", "kind": "500"}]},
                    {"error_kinds": []}, {"burst_rps": "fast"}):
            status, body = self.emu.control("POST", "/config", bad)
            self.assertEqual(status, 400, bad)
            self.assertTrue(is_general_error(body))
        status, _, body = self.emu.request("POST", "/_emulator/config", b"{not json")
        self.assertEqual(status, 400)
        self.assertEqual(self.emu.get_config(), before)

    def test_control_methods_and_usage(self):
        self.assertEqual(self.emu.control("GET", "/reset")[0], 405)
        self.assertEqual(self.emu.control("GET", "/usage")[0], 405)
        self.assertEqual(self.emu.control("POST", "/usage", {"add": "x"})[0], 400)
        status, body = self.emu.usage(None, {"active_time_seconds": 1})
        self.assertLess(status, 300, body)
        status, body = self.emu.control("GET", "/no-such-thing")
        self.assertEqual(status, 404)
        self.assertTrue(is_general_error(body))
        self.assertEqual(self.emu.requests(), [])


    def test_bulk_projects_and_org_limit(self):
        status, out = self.emu.control("POST", "/projects", {"org_id": "org-agent-free", "count": 25,
                                                              "name_prefix": "bulk-"})
        self.assertEqual(status, 200, out)
        self.assertEqual(len(out["project_ids"]), 25)
        status, _, body = self.emu.request("GET", "/projects/" + out["project_ids"][-1], key=FREE_KEY)
        self.assertEqual((status, body["project"]["name"]), (200, "bulk-24"))
        self.assertEqual(self.emu.control("POST", "/projects", {"org_id": "org-nope", "count": 1})[0], 404)
        status, out = self.emu.control("POST", "/org_limit", {"org_id": "org-agent-free", "name": "projects",
                                                               "value": 26})
        self.assertEqual(status, 200, out)
        self.create_project("the-26th")
        status, _, body = self.emu.request("POST", "/projects", {"project": {"name": "the-27th"}}, key=FREE_KEY)
        self.assertEqual(status, 422, body)
        self.assertEqual(self.emu.control("POST", "/org_limit", {"org_id": "org-agent-free", "name": "nope",
                                                                  "value": 1})[0], 404)
        self.assertEqual(self.emu.control("POST", "/org_limit", {"name": "x"})[0], 400)


    def list_all(self, key=FREE_KEY):
        """Every project the key sees, in the order of GET /projects pages of 400 followed with the cursor up to
        the first empty page, and how many pages that took."""
        items, cursor, pages = [], None, 0
        while True:
            query = {"limit": 400}
            if cursor is not None:
                query["cursor"] = cursor
            status, _, body = self.emu.request("GET", "/projects", key=key, query=query)
            self.assertEqual(status, 200, body)
            pages += 1
            if not body["projects"]:
                self.assertNotIn("pagination", body)
                return items, pages
            items += body["projects"]
            cursor = body["pagination"]["cursor"]

    def test_seed_projects(self):
        self.assertEqual(self.emu.control("POST", "/org_limit", {"org_id": FREE_ORG, "name": "projects",
                                                                 "value": 5})[0], 200)
        quota = {"compute_time_seconds": 3600, "data_transfer_bytes": 10 ** 9}
        status, out = self.emu.control("POST", "/seed_projects", {"org_id": FREE_ORG, "count": 2000,
                                                                  "name_prefix": "tenant-", "quota": quota})
        self.assertEqual(status, 200, out)
        names = ["tenant-%d" % i for i in range(2000)]
        self.assertEqual([p["name"] for p in out["projects"]], names)
        seeded = {p["id"]: p["name"] for p in out["projects"]}
        self.assertEqual(len(seeded), 2000)
        # every page of 400 with the cursor, newest first: each project exactly once
        items, pages = self.list_all()
        self.assertEqual(pages, 6)                              # 5 full pages, then the empty one
        self.assertEqual([p["name"] for p in items], names[::-1])
        self.assertEqual({p["id"]: p["name"] for p in items}, seeded)
        self.assertEqual({p["settings"]["quota"]["compute_time_seconds"] for p in items}, {3600})
        # GET, DELETE; the org's limit of 5 projects was bypassed (and still holds for POST /projects)
        pid = out["projects"][7]["id"]
        status, _, body = self.emu.request("GET", "/projects/" + pid, key=FREE_KEY)
        self.assertEqual((status, body["project"]["name"], body["project"]["settings"]["quota"]),
                         (200, "tenant-7", quota))
        self.assertEqual(self.emu.request("DELETE", "/projects/" + pid, key=FREE_KEY)[0], 200)
        self.assertEqual(self.emu.request("GET", "/projects/" + pid, key=FREE_KEY)[0], 404)
        self.assertEqual(len(self.list_all()[0]), 1999)
        status, _, body = self.emu.request("POST", "/projects", {"project": {"name": "over"}}, key=FREE_KEY)
        self.assertEqual(status, 422, body)
        # without a quota, into the paid org
        status, out = self.emu.control("POST", "/seed_projects", {"org_id": PAID_ORG, "count": 3, "name_prefix": "p"})
        self.assertEqual([p["name"] for p in out["projects"]], ["p0", "p1", "p2"])
        status, _, body = self.emu.request("GET", "/projects/" + out["projects"][0]["id"], key=PAID_KEY)
        self.assertEqual(status, 200, body)
        self.assertNotIn("quota", body["project"]["settings"])
        self.assertEqual(self.emu.requests()[-1]["path"], "/api/v2/projects/" + out["projects"][0]["id"])
        for bad, want in (({"count": 0}, 400), ({"count": 100001}, 400), ({"count": "5"}, 400), ({}, 400),
                          ({"count": 1, "name_prefix": ""}, 400), ({"count": 1, "quota": {"cpu": 1}}, 400),
                          ({"count": 1, "quota": {"compute_time_seconds": -1}}, 400),
                          ({"count": 1, "quota": 5}, 400), ({"count": 1, "org_id": "org-nope"}, 404),
                          ({"count": 1, "org_id": ["x"]}, 404)):
            status, body = self.emu.control("POST", "/seed_projects", bad)
            self.assertEqual(status, want, bad)
            self.assertTrue(is_general_error(body))
        self.assertEqual(self.emu.control("GET", "/seed_projects")[0], 405)
        self.assertEqual(len(self.list_all(PAID_KEY)[0]), 3)

    def test_seed_and_list_30000_projects_quickly(self):
        t = time.monotonic()
        status, out = self.emu.control("POST", "/seed_projects", {"count": 30000}, timeout=60)
        seeding = time.monotonic() - t
        self.assertEqual(status, 200)
        self.assertEqual(out["projects"][-1]["name"], "tenant-29999")      # defaults: the free org, "tenant-"
        self.assertLess(seeding, 10.0)
        t = time.monotonic()
        items, pages = self.list_all()
        listing = time.monotonic() - t
        self.assertEqual((pages, len({p["id"] for p in items})), (76, 30000))
        self.assertLess(listing / pages, 0.1, "%.3f s per page" % (listing / pages))


class TestRateLimit(EmuTest):
    emu_args = {"rate_limit_rpm": 60, "burst_rps": 5, "operation_ms": 50}

    def statuses(self, n, path="/users/me", key=FREE_KEY):
        return [self.emu.request("GET", path, key=key)[0] for _ in range(n)]

    def test_burst_then_429_without_retry_after(self):
        got = self.statuses(5)
        self.assertNotIn(429, got)
        status, headers, body = self.emu.request("GET", "/users/me", key=FREE_KEY)
        self.assertEqual(status, 429)
        self.assertEqual(body["code"], "")
        self.assertTrue(body["message"])
        self.assertNotIn("retry-after", headers)
        self.assertFalse([h for h in headers if h.startswith("x-ratelimit")])
        self.assertRegex(headers["x-neon-ret-request-id"], UUID_RE)
        log = self.emu.requests()
        self.assertEqual([e["status"] for e in log][-1], 429)        # refused requests are logged
        self.assertEqual(len(log), 6)

    def test_refill(self):
        self.statuses(5)
        self.assertEqual(self.statuses(1), [429])
        time.sleep(1.1)                                  # 60 rpm = 1 token per second
        self.assertNotEqual(self.statuses(1)[0], 429)
        self.assertEqual(self.statuses(1), [429])

    def test_per_account_bucket_spans_routes(self):
        got = self.statuses(3, "/users/me") + self.statuses(2, "/regions")
        self.assertNotIn(429, got)
        self.assertEqual(self.statuses(1, "/projects"), [429])           # account bucket is empty
        # another account (here: the client address, used when there is no valid key) is not affected
        self.assertNotEqual(self.statuses(1, "/projects", key=None)[0], 429)

    def test_per_route_bucket(self):
        # account bucket: capacity 5 refilling at 100,000/s (never the limit here); route buckets: 5/s, capacity 5
        self.emu.config(rate_limit_rpm=6000000, burst_rps=5)
        self.emu.reset()
        self.assertNotIn(429, self.statuses(5, "/users/me"))
        self.assertEqual(self.statuses(1, "/users/me"), [429])
        self.assertNotEqual(self.statuses(1, "/regions")[0], 429)       # another route of the same account
        self.assertNotEqual(self.statuses(1, "/users/me", key=None)[0], 429)   # same route, other account

    def test_client_address_bucket_without_key(self):
        got = self.statuses(5, key=None)
        self.assertNotIn(429, got)
        self.assertEqual(self.statuses(1, key=None), [429])
        self.assertEqual(self.statuses(1, key="not-a-valid-key"), [429])  # same address, no valid key
        self.assertNotEqual(self.statuses(1, key=FREE_KEY)[0], 429)

    def test_disabled_with_zero(self):
        self.emu.config(rate_limit_rpm=0)
        self.assertNotIn(429, self.statuses(30))

    def test_consumption_route_limit(self):
        # Neon's limits: the consumption route holds 30 tokens, refilling at 0.5/s (30 a minute)
        self.emu.config(rate_limit_rpm=700, burst_rps=40)
        self.emu.reset()
        self.assertEqual(self.emu.get_config()["route_limits"]["GET /consumption_history/v2/projects"],
                         {"per_second": 0.5, "capacity": 30})
        now = time.time()

        def consumption(key=PAID_KEY, org_id=PAID_ORG):
            query = {"org_id": org_id, "from": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 3 * 3600)),
                     "to": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), "granularity": "hourly",
                     "metrics": "compute_unit_seconds"}
            return self.emu.request("GET", "/consumption_history/v2/projects", key=key, query=query)[0]

        self.assertEqual([consumption() for _ in range(31)], [200] * 30 + [429])
        self.assertEqual(self.statuses(3, "/users/me", key=PAID_KEY), [200] * 3)     # other routes: unaffected
        self.assertEqual(consumption(USER_KEY, END_USER_ORG), 200)                  # another account
        time.sleep(2.1)
        self.assertEqual([consumption(), consumption()], [200, 429])

    def test_route_limit_override(self):
        self.emu.config(rate_limit_rpm=6000000, burst_rps=100,
                        route_limits={"GET /regions": {"per_second": 2, "capacity": 2}})
        self.assertEqual(self.statuses(3, "/regions")[2], 429)
        self.assertNotIn(429, self.statuses(10, "/users/me"))
        cfg = self.emu.get_config()
        self.assertEqual(cfg["route_limits"]["GET /regions"], {"per_second": 2, "capacity": 2})
        self.emu.config(route_limits={"GET /regions": None})
        self.assertNotIn("GET /regions", self.emu.get_config()["route_limits"])


class TestFaults(EmuTest):
    def fault(self, **spec):
        spec.setdefault("route", "POST /projects")
        return self.emu.config(faults=[spec])

    def test_5xx_before_and_after(self):
        for kind in ("500", "502", "503"):
            for when in ("before", "after"):
                name = "f%s-%s" % (kind, when)
                self.fault(kind=kind, when=when, count=1)
                status, headers, body = self.emu.request("POST", "/projects", {"project": {"name": name}},
                                                         key=FREE_KEY)
                self.assertEqual(status, int(kind))
                self.assertTrue(is_general_error(body))
                self.assertRegex(headers["x-neon-ret-request-id"], UUID_RE)
                created = name in self.project_names()
                self.assertEqual(created, when == "after", name)
                entry = [e for e in self.emu.requests() if e["method"] == "POST"][-1]
                self.assertEqual(entry["status"], int(kind))
                self.assertEqual(entry["fault"]["kind"], kind)
                self.assertEqual(entry["fault"]["when"], when)
                self.assertEqual(entry["fault"]["dispatch_status"], 201 if when == "after" else None)

    def test_count_and_probability(self):
        self.fault(kind="503", count=2)
        got = [self.emu.request("POST", "/projects", {"project": {"name": "c%d" % i}}, key=FREE_KEY)[0]
               for i in range(3)]
        self.assertEqual(got, [503, 503, 201])
        cfg = self.emu.get_config()
        self.assertEqual((cfg["faults"][0]["count"], cfg["faults"][0]["fired"]), (0, 2))
        self.fault(kind="503", probability=0.0)
        self.assertEqual(self.emu.request("POST", "/projects", {"project": {"name": "p0"}}, key=FREE_KEY)[0], 201)
        # route matching: other routes are not affected; "*" and "METHOD *" match everything
        self.fault(kind="502", route="GET /projects/{project_id}")
        self.assertEqual(self.emu.request("GET", "/projects", key=FREE_KEY)[0], 200)
        self.assertEqual(self.emu.request("GET", "/projects/nope-1", key=FREE_KEY)[0], 502)
        self.fault(kind="500", route="GET *")
        self.assertEqual(self.emu.request("GET", "/users/me", key=FREE_KEY)[0], 500)
        self.assertEqual(self.emu.control("GET", "/health")[0], 200)       # never on /_emulator
        self.emu.config(faults=[])
        self.assertEqual(self.emu.request("GET", "/projects", key=FREE_KEY)[0], 200)

    def test_connection_reset(self):
        for when in ("before", "after"):
            name = "reset-" + when
            self.fault(kind="reset", when=when, count=1)
            with self.assertRaises((ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError)):
                self.emu.request("POST", "/projects", {"project": {"name": name}}, key=FREE_KEY)
            self.assertEqual(name in self.project_names(), when == "after")
            entry = [e for e in self.emu.requests() if e["method"] == "POST"][-1]
            self.assertEqual((entry["status"], entry["fault"]["kind"]), (0, "reset"))

    def test_hang_past_client_timeout(self):
        self.fault(kind="hang", hang_ms=3000, count=1, when="after")
        t = time.monotonic()
        with self.assertRaises((socket.timeout, TimeoutError)):
            self.emu.request("POST", "/projects", {"project": {"name": "hung"}}, key=FREE_KEY, timeout=0.5)
        self.assertLess(time.monotonic() - t, 2.0)
        self.assertIn("hung", self.project_names())                       # it took effect
        for _ in range(100):                      # the given-up connection is dropped by the emulator too
            health = self.emu.control("GET", "/health")[1]
            if health["connections"] == 1:          # only the health request's own connection
                break
            time.sleep(0.01)
        self.assertEqual(health["connections"], 1)
        # a hanging connection does not hold up the others
        self.fault(kind="hang", hang_ms=3000, count=1)
        conn = self.emu.connection(timeout=5)
        self.addCleanup(conn.close)
        conn.request("POST", "/api/v2/projects", body=b"{}", headers={"Authorization": "Bearer " + FREE_KEY})
        time.sleep(0.05)
        t = time.monotonic()
        self.assertEqual(self.emu.request("GET", "/projects", key=FREE_KEY)[0], 200)
        self.assertLess(time.monotonic() - t, 0.5)
        conn.close()
        # bounded: after hang_ms the emulator closes the connection without an answer
        self.fault(kind="hang", hang_ms=200, count=1)
        t = time.monotonic()
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionResetError)):
            self.emu.request("POST", "/projects", {"project": {"name": "hung2"}}, key=FREE_KEY, timeout=5)
        self.assertLess(time.monotonic() - t, 2.0)
        self.assertNotIn("hung2", self.project_names())

    def count_named(self, name):
        status, _, body = self.emu.request("GET", "/projects", key=FREE_KEY, query={"limit": 400})
        self.assertEqual(status, 200, body)
        return sum(1 for p in body["projects"] if p["name"] == name)

    def test_late_lands_after_the_client_gave_up(self):
        cfg = self.fault(kind="late", late_ms=2500, count=1)
        self.assertEqual({k: cfg["faults"][0][k] for k in ("kind", "when", "late_ms", "count")},
                         {"kind": "late", "when": "after", "late_ms": 2500, "count": 1})
        t = time.monotonic()
        with self.assertRaises((socket.timeout, TimeoutError)):
            self.emu.request("POST", "/projects", {"project": {"name": "late"}}, key=FREE_KEY, timeout=1)
        self.assertEqual(self.count_named("late"), 0)          # not yet (and GET /projects is not faulted)
        entry = [e for e in self.emu.requests() if e["method"] == "POST"][-1]
        self.assertEqual((entry["status"], entry["fault"]),
                         (0, {"kind": "late", "when": "after", "dispatch_status": None, "dispatched_at": None}))
        while self.count_named("late") == 0 and time.monotonic() - t < 6:
            time.sleep(0.05)
        landed = time.monotonic() - t
        self.assertTrue(2.3 <= landed <= 3.5, landed)
        time.sleep(0.3)
        self.assertEqual(self.count_named("late"), 1)           # exactly once
        entry = [e for e in self.emu.requests() if e["method"] == "POST"][-1]
        self.assertEqual((entry["status"], entry["fault"]["dispatch_status"]), (0, 201))
        self.assertTrue(2.45 <= entry["fault"]["dispatched_at"] - entry["at"] <= 3.0, entry)
        cfg = self.emu.get_config()
        self.assertEqual((cfg["faults"][0]["count"], cfg["faults"][0]["fired"]), (0, 1))
        self.assertEqual(self.emu.request("POST", "/projects", {"project": {"name": "late"}}, key=FREE_KEY)[0], 201)
        self.assertEqual(self.count_named("late"), 2)

    def test_late_holds_a_waiting_client_without_answer(self):
        self.fault(kind="late", late_ms=300, count=1)
        payload = json.dumps({"project": {"name": "held"}}).encode()
        s = socket.create_connection(("127.0.0.1", self.emu.port), timeout=5)
        self.addCleanup(s.close)
        t = time.monotonic()
        s.sendall(b"POST /api/v2/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + FREE_KEY.encode()
                  + b"\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)
        self.assertEqual(read_until_eof(s), b"")                # closed without an answer once it took effect
        self.assertTrue(0.25 <= time.monotonic() - t <= 2.0)
        self.assertEqual(self.count_named("held"), 1)
        # a reset forgets a dispatch still to come
        self.fault(kind="late", late_ms=400, count=1)
        with self.assertRaises((socket.timeout, TimeoutError)):
            self.emu.request("POST", "/projects", {"project": {"name": "forgotten"}}, key=FREE_KEY, timeout=0.2)
        self.emu.reset()
        time.sleep(0.6)
        self.assertEqual(self.count_named("forgotten"), 0)

    def test_slow_body(self):
        self.fault(kind="slow_body", slow_body_ms=600, count=1)
        s = socket.create_connection(("127.0.0.1", self.emu.port), timeout=5)
        self.addCleanup(s.close)
        payload = json.dumps({"project": {"name": "slow"}}).encode()
        t = time.monotonic()
        s.sendall(b"POST /api/v2/projects HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + FREE_KEY.encode()
                  + b"\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)
        f = s.makefile("rb")
        line = f.readline()
        t_head = time.monotonic() - t
        status, headers, body = None, None, None
        self.assertIn(b"201", line)
        hdrs = {}
        while True:
            h = f.readline().rstrip(b"\r\n")
            if not h:
                break
            k, _, v = h.decode().partition(":")
            hdrs[k.lower()] = v.strip()
        body = f.read(int(hdrs["content-length"]))
        total = time.monotonic() - t
        self.assertLess(t_head, 0.3)
        self.assertGreaterEqual(total, 0.5)
        self.assertEqual(json.loads(body)["project"]["name"], "slow")

    def test_malformed_json(self):
        self.fault(kind="malformed_json", route="GET /projects", count=1)
        status, headers, body = self.emu.request("GET", "/projects", key=FREE_KEY)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json; charset=utf-8")
        self.assertIsInstance(body, str)                  # emu_testlib returns text when JSON does not parse
        with self.assertRaises(ValueError):
            json.loads(body)
        self.assertEqual(self.emu.request("GET", "/projects", key=FREE_KEY)[0], 200)

    def test_spurious_423(self):
        self.fault(kind="423", count=1)
        status, _, body = self.emu.request("POST", "/projects", {"project": {"name": "locked"}}, key=FREE_KEY)
        self.assertEqual(status, 423)
        self.assertTrue(is_general_error(body))
        self.assertNotIn("locked", self.project_names())   # 423 never takes effect

    def test_error_rate_spreads_over_kinds(self):
        self.emu.config(error_rate=1.0, hang_ms=50, slow_body_ms=20)
        seen = set()
        for i in range(80):
            try:
                status, _, body = self.emu.request("GET", "/users/me", key=FREE_KEY, timeout=2)
            except (ConnectionError, http.client.HTTPException, socket.timeout):
                pass
        log = self.emu.requests()
        self.assertEqual(len(log), 80)
        kinds = {e["fault"]["kind"] for e in log}
        whens = {(e["fault"]["kind"], e["fault"]["when"]) for e in log}
        self.assertGreaterEqual(len(kinds), 6, kinds)
        self.assertTrue({("500", "before"), ("500", "after"), ("503", "before"), ("503", "after")} & whens)
        # error_kinds restricts the spread
        self.emu.config(error_kinds=["503"])
        self.emu.control("DELETE", "/requests")
        got = {self.emu.request("GET", "/users/me", key=FREE_KEY)[0] for _ in range(10)}
        self.assertEqual(got, {503})

    def test_error_rate_from_command_line(self):
        with EmulatorProcess(error_rate=0.5, rate_limit_rpm=0, extra_args=["--seed", "1"]) as emu:
            self.assertEqual(emu.get_config()["error_rate"], 0.5)
            emu.config(error_kinds=["500", "502", "503", "423"])
            got = [emu.request("GET", "/users/me", key=FREE_KEY)[0] for _ in range(60)]
            faults = sum(1 for s in got if s in (500, 502, 503, 423))
            self.assertTrue(10 <= faults <= 50, got)


def read_until_eof(sock):
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def split_response(raw):
    """(status, headers with lower-cased names, body bytes) of one complete response read until EOF."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split(" ")[1]), headers, body


class TestHostileFaults(EmuTest):
    """Faults that answer with hostile content: respond, echo_auth, garbage."""

    def fault(self, **spec):
        spec.setdefault("route", "POST /projects")
        return self.emu.config(faults=[spec])

    def wire(self, method, path, body=None, close=True):
        """Send one request on a new connection; every byte the emulator sends until it closes the connection
        (with close=False the request asks for keep-alive, so only the emulator can end it)."""
        payload = b"" if body is None else json.dumps(body).encode()
        with socket.create_connection(("127.0.0.1", self.emu.port), timeout=5) as s:
            s.sendall(("%s /api/v2%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n%s\r\n"
                       % (method, path, FREE_KEY, len(payload), "Connection: close\r\n" if close else "")).encode()
                      + payload)
            return read_until_eof(s)

    def last_post(self):
        return [e for e in self.emu.requests() if e["method"] == "POST"][-1]

    def project_by_name(self, name):
        status, _, body = self.emu.request("GET", "/projects", key=FREE_KEY, query={"search": name})
        found = [p for p in body["projects"] if p["name"] == name]
        self.assertEqual(len(found), 1, body)
        return found[0]

    def test_respond_replaces_the_answer_before_or_after(self):
        cfg = self.fault(kind="respond", status=200, body={"project": {"id": "../../steal?x=1#"}}, count=1,
                         headers={"X-Hostile": "yes", "x-neon-ret-request-id": "<script>"})
        self.assertEqual(cfg["faults"][0], {
            "route": "POST /projects", "kind": "respond", "probability": 1.0, "count": 1, "when": "before",
            "hang_ms": 120000, "slow_body_ms": 3000, "fired": 0, "status": 200,
            "body": {"project": {"id": "../../steal?x=1#"}},
            "headers": {"X-Hostile": "yes", "x-neon-ret-request-id": "<script>"}})
        status, headers, body = split_response(self.wire("POST", "/projects", {"project": {"name": "resp-before"}}))
        self.assertEqual((status, body), (200, b'{"project":{"id":"../../steal?x=1#"}}'))
        self.assertEqual(headers["content-length"], str(len(body)))
        self.assertEqual(headers["content-type"], "application/json; charset=utf-8")
        self.assertEqual((headers["x-hostile"], headers["x-neon-ret-request-id"]), ("yes", "<script>"))
        self.assertNotIn("resp-before", self.project_names())
        entry = self.last_post()
        self.assertEqual((entry["status"], entry["fault"]), (200, {"kind": "respond", "when": "before",
                                                                    "dispatch_status": None}))
        # after: the project is created, the client gets a body that is not JSON
        self.fault(kind="respond", when="after", status=502, body_text='{"project": {"id": "half',
                   headers={"Content-Type": "text/html"}, count=1)
        status, headers, body = split_response(self.wire("POST", "/projects", {"project": {"name": "resp-after"}}))
        self.assertEqual((status, body), (502, b'{"project": {"id": "half'))
        self.assertEqual((headers["content-type"], headers["content-length"]), ("text/html", str(len(body))))
        self.assertRegex(headers["x-neon-ret-request-id"], UUID_RE)
        self.assertIn("resp-after", self.project_names())
        entry = self.last_post()
        self.assertEqual((entry["status"], entry["fault"]), (502, {"kind": "respond", "when": "after",
                                                                    "dispatch_status": 201}))
        self.assertEqual(self.emu.get_config()["faults"][0]["fired"], 1)
        self.assertEqual(self.emu.request("POST", "/projects", {"project": {"name": "n"}}, key=FREE_KEY)[0], 201)

    def test_respond_patch_merges_into_the_real_answer(self):
        self.fault(kind="respond", count=1, patch={"project": {"id": "../../steal?x=1#"},
                                                   "endpoints": {"0": {"host": "javascript:alert(1)//"}}})
        status, _, body = self.emu.request("POST", "/projects", {"project": {"name": "patched"}}, key=FREE_KEY)
        self.assertEqual(status, 201)                              # the domain's status
        self.assertEqual(body["project"]["id"], "../../steal?x=1#")
        self.assertEqual(body["project"]["name"], "patched")       # the rest of the real answer is kept
        self.assertEqual(body["endpoints"][0]["host"], "javascript:alert(1)//")
        self.assertTrue(body["endpoints"][0]["id"].startswith("ep-"))
        self.assertEqual([op["action"] for op in body["operations"]], ["create_timeline", "start_compute"])
        # the domain created the project with its real id and host
        real = self.project_by_name("patched")
        self.assertRegex(real["id"], r"^[a-z0-9-]+$")
        status, _, eps = self.emu.request("GET", "/projects/%s/endpoints" % real["id"], key=FREE_KEY)
        self.assertEqual(eps["endpoints"][0]["id"], body["endpoints"][0]["id"])
        self.assertNotEqual(eps["endpoints"][0]["host"], "javascript:alert(1)//")
        # a status replaces the domain's; a patch on the answer to a GET
        self.fault(kind="respond", route="GET /projects/{project_id}", status=200, count=1,
                   patch={"project": {"name": None, "settings": {"quota": "lots"}}})
        status, _, got = self.emu.request("GET", "/projects/" + real["id"], key=FREE_KEY)
        self.assertEqual((status, got["project"]["name"], got["project"]["settings"]["quota"]), (200, None, "lots"))
        self.assertIn("allowed_ips", got["project"]["settings"])

    def test_respond_patch_raw_puts_invalid_utf8_in_the_password(self):
        mark = "PASSWORD-MARK"
        self.fault(kind="respond", count=1, patch_raw=[[mark, "\\xff\\xfe"]],
                   patch={"roles": {"0": {"password": mark}},
                          "connection_uris": {"0": {"connection_parameters": {"password": mark}}}})
        status, headers, body = split_response(self.wire("POST", "/projects", {"project": {"name": "bad-utf8"}}))
        self.assertEqual(status, 201)
        self.assertEqual(headers["content-length"], str(len(body)))
        self.assertEqual(body.count(b'"password":"\xff\xfe"'), 2)
        with self.assertRaises(UnicodeDecodeError):
            body.decode("utf-8")
        # the role really has a normal password
        pid = self.project_by_name("bad-utf8")["id"]
        _, _, branches = self.emu.request("GET", "/projects/%s/branches" % pid, key=FREE_KEY)
        status, _, pw = self.emu.request("GET", "/projects/%s/branches/%s/roles/neondb_owner/reveal_password"
                                         % (pid, branches["branches"][0]["id"]), key=FREE_KEY)
        self.assertEqual(status, 200)
        self.assertRegex(pw["password"], r"^[A-Za-z0-9]{12}$")

    def test_echo_auth(self):
        self.fault(kind="echo_auth", route="GET /projects", count=1)
        status, _, body = self.emu.request("GET", "/projects", key=FREE_KEY)
        self.assertEqual((status, body), (401, {"code": "", "message": "invalid credentials: Authorization: Bearer "
                                                                       "emulator-free-org-key"}))
        self.assertEqual(self.emu.requests()[-1]["fault"], {"kind": "echo_auth", "when": "before",
                                                            "dispatch_status": None})
        self.fault(kind="echo_auth", status=403, when="after", count=1)
        status, _, body = self.emu.request("POST", "/projects", {"project": {"name": "echoed"}}, key=FREE_KEY)
        self.assertEqual(status, 403)
        self.assertTrue(is_general_error(body))
        self.assertTrue(body["message"].endswith("Authorization: Bearer " + FREE_KEY), body)
        self.assertIn("echoed", self.project_names())
        entry = self.last_post()
        self.assertEqual((entry["status"], entry["fault"]), (403, {"kind": "echo_auth", "when": "after",
                                                                    "dispatch_status": 201}))
        self.fault(kind="echo_auth", route="GET /regions")
        status, _, body = self.emu.request("GET", "/regions")
        self.assertEqual((status, body["message"]), (401, "invalid credentials: Authorization: "))

    def test_garbage_instead_of_http(self):
        for when in ("before", "after"):
            name = "garbage-" + when
            self.fault(kind="garbage", when=when, count=1)
            raw = self.wire("POST", "/projects", {"project": {"name": name}}, close=False)
            self.assertEqual(raw, b"\x00\x01garbage not http\r\n\r\n")       # then the emulator closed it
            self.assertEqual(name in self.project_names(), when == "after")
            entry = self.last_post()
            self.assertEqual((entry["status"], entry["fault"]), (0, {"kind": "garbage", "when": when,
                                                                      "dispatch_status": 201 if when == "after"
                                                                      else None}))
        self.fault(kind="garbage", route="GET /users/me", data="HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n\\xffcut")
        self.assertEqual(self.wire("GET", "/users/me", close=False),
                         b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n\xffcut")
        self.assertEqual(self.emu.get_config()["faults"][0]["data"],
                         "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n\\xffcut")

    @unittest.skipUnless(shutil.which("curl"), "curl not installed")
    def test_garbage_is_a_broken_reply_for_curl(self):
        def curl():
            return subprocess.run(["curl", "-sS", "-m", "5", "-H", "Authorization: Bearer " + FREE_KEY,
                                   self.emu.base + "/users/me"], capture_output=True, text=True)
        self.fault(kind="garbage", route="GET /users/me", count=1)
        res = curl()
        self.assertNotEqual(res.returncode, 0, res)                 # 1 with curl 7.88: "Received HTTP/0.9 ..."
        self.assertEqual(res.stdout, "")
        self.fault(kind="garbage", route="GET /users/me", count=1,
                   data="HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{")
        self.assertEqual(curl().returncode, 18)                     # CURLE_PARTIAL_FILE
        self.assertEqual(curl().returncode, 0)                      # the rule is used up

    def test_error_rate_over_new_kinds(self):
        self.emu.config(error_rate=1.0, error_kinds=["echo_auth", "garbage"])
        for _ in range(30):
            try:
                status, _, body = self.emu.request("GET", "/users/me", key=FREE_KEY)
                self.assertEqual(status, 401)
                self.assertIn(FREE_KEY, body["message"])
            except http.client.BadStatusLine:
                pass
        kinds = {(e["fault"]["kind"], e["status"]) for e in self.emu.requests()}
        self.assertEqual(kinds, {("echo_auth", 401), ("garbage", 0)})

    def test_new_kinds_validation(self):
        before = self.emu.get_config()
        for bad in ({"kind": "respond", "body": {}},                                  # no status
                    {"kind": "respond", "status": "200", "body": {}},
                    {"kind": "respond", "status": 100, "body": {}},
                    {"kind": "respond", "status": 200, "body": {}, "body_text": ""},
                    {"kind": "respond", "status": 200, "body": {}, "patch": {}},
                    {"kind": "respond", "patch": [1]},
                    {"kind": "respond", "when": "before"},                             # needs the real answer
                    {"kind": "respond", "patch": {}, "when": "random"},
                    {"kind": "respond", "status": 200, "body_text": 5},
                    {"kind": "respond", "patch_raw": [["a"]]},
                    {"kind": "respond", "patch_raw": [["", "b"]]},
                    {"kind": "respond", "patch_raw": "ab"},
                    {"kind": "respond", "status": 200, "body": 1, "headers": {"Content-Length": "5"}},
                    {"kind": "respond", "status": 200, "body": 1, "headers": {"X-A": "1\r\nX-B: 2"}},
                    {"kind": "respond", "status": 200, "body": 1, "headers": {"bad name": "1"}},
                    {"kind": "respond", "status": 200, "body": 1, "headers": ["X-A"]},
                    {"kind": "respond", "status": 200, "body": 1, "data": "x"},
                    {"kind": "echo_auth", "status": 200},
                    {"kind": "echo_auth", "body": {}},
                    {"kind": "echo_auth", "when": "sometimes"},
                    {"kind": "garbage", "data": 7},
                    {"kind": "garbage", "status": 500},
                    {"kind": "503", "status": 500},
                    {"kind": "late"},                                                  # no late_ms
                    {"kind": "late", "late_ms": -1},
                    {"kind": "late", "late_ms": "5"},
                    {"kind": "late", "late_ms": 5, "when": "before"},
                    {"kind": "503", "late_ms": 5}):
            status, body = self.emu.control("POST", "/config", {"faults": [bad]})
            self.assertEqual(status, 400, bad)
            self.assertTrue(is_general_error(body))
        self.assertEqual(self.emu.control("POST", "/config", {"error_kinds": ["respond"]})[0], 400)
        self.assertEqual(self.emu.control("POST", "/config", {"error_kinds": ["late"]})[0], 400)
        self.assertEqual(self.emu.get_config(), before)


class TestCLI(unittest.TestCase):
    def test_banner_and_sigterm_sigint(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            p = subprocess.Popen([sys.executable, EMULATOR, "--port", "0", "--latency-ms", "1", "--burst-rps", "7",
                                  "--rate-limit-rpm", "100", "--operation-ms", "99", "--error-rate", "0"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                line = p.stdout.readline().decode()
                m = re.fullmatch(r"neon-emulator listening on http://127\.0\.0\.1:(\d+)\n", line)
                self.assertTrue(m, line)
                conn = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=5)
                conn.request("GET", "/_emulator/config")
                cfg = json.loads(conn.getresponse().read())
                self.assertEqual((cfg["latency_ms"], cfg["burst_rps"], cfg["rate_limit_rpm"], cfg["operation_ms"]),
                                 (1, 7, 100, 99))
                # an idle keep-alive connection must not delay the exit
                p.send_signal(sig)
                self.assertEqual(p.wait(10), 0)
                self.assertEqual(p.stdout.read(), b"")            # exactly one line on stdout
                conn.close()
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
                p.stdout.close()
                p.stderr.close()

    def test_bad_arguments(self):
        for args in (["--error-rate", "2", "--port", "0"], [], ["--port", "0", "--latency-ms", "-5"]):
            r = subprocess.run([sys.executable, EMULATOR] + args, capture_output=True, timeout=20)
            self.assertEqual(r.returncode, 2, args)
            self.assertEqual(r.stdout, b"")


if __name__ == "__main__":
    unittest.main()
