"""Real computes (--computes).  HeldOperationsTest: the domain's side (held operations, proxy hosts) with a fake
clock and a stand-in for emu_computes, in-process.  ComputesTest: the emulator in front of a local PostgreSQL
cluster started by computes_cluster.py, reached with psql through the emulator's proxy (TLS, the pooled port
through pgbouncer); skipped only when PostgreSQL's server binaries (pg_config, initdb) are not installed."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import computes_cluster  # noqa: E402
import emu_routes  # noqa: E402
import emu_state  # noqa: E402
from emu_computes import NAME_MAX, real_name  # noqa: E402
from emu_testlib import EmulatorProcess, FREE_KEY  # noqa: E402

CLUSTER = os.path.join(HERE, "computes_cluster.py")
EMULATOR = os.path.join(HERE, "neon_emulator.py")
COLD_START_MS = 600


def server_bindir():
    """(PostgreSQL's bindir, None), or (None, why a cluster cannot be made here)."""
    try:
        return computes_cluster.pg_bindir(), None
    except (computes_cluster.ClusterError, subprocess.CalledProcessError) as e:
        return None, str(e)


BINDIR, MISSING = server_bindir()
PSQL = os.path.join(BINDIR, "psql") if BINDIR else "psql"


def psql(uri, sql):
    """Run SQL with psql on a connection URI (its password through PGPASSWORD): (exit code, stdout, stderr)."""
    u = urllib.parse.urlsplit(uri)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGPASSWORD=urllib.parse.unquote(u.password or ""), PGCONNECT_TIMEOUT="10")
    bare = u._replace(netloc=u.netloc.replace(":%s@" % u.password, "@", 1)).geturl() if u.password else uri
    res = subprocess.run([PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", bare, "-c", sql],
                         capture_output=True, text=True, env=env, timeout=30)
    return res.returncode, res.stdout.strip(), res.stderr.strip()


def with_query(uri, **params):
    """The URI with query parameters replaced (e.g. sslmode=disable)."""
    u = urllib.parse.urlsplit(uri)
    q = dict(urllib.parse.parse_qsl(u.query))
    q.update(params)
    return u._replace(query=urllib.parse.urlencode(q)).geturl()


def with_password(uri, password):
    """The URI with another password."""
    u = urllib.parse.urlsplit(uri)
    return u._replace(netloc=u.netloc.replace(":%s@" % u.password, ":%s@" % password, 1)).geturl()


class StandIn:
    """What the domain sees of emu_computes: every request's operations are held until release()."""

    def __init__(self, state):
        self.state = state
        self.held = []
        state.computes = self

    def on(self, event, p, ops, **objects):
        """Hold the operations of every request that has some."""
        if ops:
            self.state.hold_operations(p, ops)
            self.held.append((p, ops))

    def address(self, ep, pooled):
        """Every endpoint is on 127.0.0.1:5000 (5001 pooled)."""
        return "127.0.0.1:%d" % (5000 + pooled)

    def release(self, error=None):
        """The oldest held request's work is done (error: it failed)."""
        p, ops = self.held.pop(0)
        self.state.release_operations(p, ops, error)


class HeldOperationsTest(unittest.TestCase):
    def setUp(self):
        self.now = 1_760_000_000.0
        self.state = emu_state.NeonState(operation_ms=1000, clock=lambda: self.now, seed=1)
        self.computes = StandIn(self.state)

    def call(self, method, path, body=None, query=None):
        """One in-process request with the free org key: (status, body)."""
        q = {k: [v] for k, v in (query or {}).items()}
        st, out, _ = emu_routes.dispatch(self.state, method, path, q, {"authorization": "Bearer " + FREE_KEY},
                                         json.dumps(body).encode() if body is not None else b"")
        return st, out

    def states(self, pid):
        """(operation statuses, branch state, endpoint state) of a one-branch project."""
        ops = self.call("GET", "/projects/%s/operations" % pid)[1]["operations"]
        branch = self.call("GET", "/projects/%s/branches" % pid)[1]["branches"][0]
        endpoint = self.call("GET", "/projects/%s/endpoints" % pid)[1]["endpoints"][0]
        return sorted(o["status"] for o in ops), branch["current_state"], endpoint["current_state"]

    def test_operations_wait_for_slow_work(self):
        st, out = self.call("POST", "/projects", {"project": {}})
        pid = out["project"]["id"]
        self.now += 5
        self.assertEqual(self.states(pid), (["running", "running"], "init", "init"))
        self.assertEqual(self.call("POST", "/projects/%s/branches" % pid, {})[0], 423)
        self.computes.release()
        self.assertEqual(self.states(pid), (["finished", "finished"], "ready", "active"))
        ops = self.call("GET", "/projects/%s/operations" % pid)[1]["operations"]
        self.assertEqual({o["updated_at"] for o in ops}, {emu_state.iso(self.now)})
        self.assertEqual(self.call("POST", "/projects/%s/branches" % pid, {})[0], 201)

    def test_fast_work_keeps_the_planned_times(self):
        st, out = self.call("POST", "/projects", {"project": {}})
        self.computes.release()
        p = self.state.projects[out["project"]["id"]]
        first, second = p.operations
        self.assertEqual((first.end, second.end), (first.planned_end, second.planned_end))
        self.assertEqual((p.branches[p.default_branch_id].ready_at, p.endpoints[out["endpoints"][0]["id"]].pending_at,
                          p.busy_until), (first.end, second.end, second.end))

    def test_failed_work_fails_the_operations(self):
        st, out = self.call("POST", "/projects", {"project": {}})
        self.computes.release("project create failed: psql: no")
        self.now += 5
        ops = self.call("GET", "/projects/%s/operations" % out["project"]["id"])[1]["operations"]
        self.assertEqual({(o["status"], o.get("error")) for o in ops}, {("failed", "project create failed: psql: no")})

    def test_hosts_are_the_proxy_ports(self):
        st, out = self.call("POST", "/projects", {"project": {}})
        self.assertEqual(out["endpoints"][0]["host"], "127.0.0.1:5000")
        self.assertEqual(out["connection_uris"][0]["connection_parameters"]["pooler_host"], "127.0.0.1:5001")
        st, pooled = self.call("GET", "/projects/%s/connection_uri" % out["project"]["id"], query={
            "database_name": "neondb", "role_name": "neondb_owner", "pooled": "true"})
        self.assertIn("@127.0.0.1:5001/neondb?sslmode=require", pooled["uri"])

    def test_real_names_are_unique_and_short(self):
        long_name = "x" * 63
        names = {real_name("p", "proj-1", long_name), real_name("p", "proj-1", long_name[:-1] + "y"),
                 real_name("p", "proj-2", long_name), real_name("p", "proj-1", "neondb_owner")}
        self.assertEqual(len(names), 4)
        self.assertTrue(all(len(n.encode()) <= NAME_MAX for n in names))


@unittest.skipIf(MISSING, "real computes need PostgreSQL's server binaries: %s" % MISSING)
class ComputesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="neon-computes-")
        res = subprocess.run([sys.executable, CLUSTER, "start", cls.dir, "--pooler"], capture_output=True,
                             text=True, timeout=120)
        if res.returncode != 0:
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise RuntimeError("computes_cluster.py start failed: %s" % res.stderr)
        cls.info = json.loads(res.stdout)
        cls.emu = cls.emulator()

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()
        subprocess.run([sys.executable, CLUSTER, "stop", cls.dir], capture_output=True, timeout=120)
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def emulator(cls, *extra):
        """An emulator on the test's cluster (started; the caller stops it)."""
        args = ["--computes", cls.info["superuser_url"], "--pooler", cls.info["pooler"],
                "--computes-tls-cert", cls.info["tls_cert"], "--computes-tls-key", cls.info["tls_key"]]
        return EmulatorProcess(operation_ms=100, rate_limit_rpm=0, extra_args=args + list(extra)).start()

    def tearDown(self):
        problems = [line for line in self.emu.stderr_lines if "Traceback" in line or "computes:" in line]
        self.assertEqual(problems, [], "the emulator reported failed scripts or errors")

    # -- helpers -------------------------------------------------------------------------------------------
    def api(self, method, path, body=None, status=200, emu=None, query=None):
        """One request to the emulator with the free org key; the status must be status."""
        st, _, out = (emu or self.emu).request(method, path, body, key=FREE_KEY, query=query)
        self.assertEqual(st, status, out)
        return out

    def settle(self, pid, emu=None):
        """Wait until no operation of the project runs."""
        (emu or self.emu).wait_operations(pid, key=FREE_KEY, query={"limit": 100})

    def project(self, emu=None, **fields):
        """A new project, its operations done: (project id, answer of the create)."""
        out = self.api("POST", "/projects", {"project": dict(fields, name=self.id()[-40:])}, 201, emu)
        self.settle(out["project"]["id"], emu)
        return out["project"]["id"], out

    def sql(self, uri, sql):
        """psql on a URI, which must succeed; its output."""
        rc, out, err = psql(uri, sql)
        self.assertEqual(rc, 0, err)
        return out

    def superuser(self, sql):
        """sql() as the cluster's superuser."""
        return self.sql(self.info["superuser_url"], sql)

    def branch(self, pid, **fields):
        """A branch with a read_write endpoint: (branch id, its connection URI)."""
        out = self.api("POST", "/projects/%s/branches" % pid, {"branch": fields, "endpoints": [{"type": "read_write"}]},
                       201)
        self.settle(pid)
        return out["branch"]["id"], out["connection_uris"][0]["connection_uri"]

    def uri_of(self, pid, branch_id):
        """Connection URI of a branch, through a new read_write endpoint of it."""
        self.api("POST", "/projects/%s/endpoints" % pid, {"endpoint": {"branch_id": branch_id, "type": "read_write"}},
                 201)
        self.settle(pid)
        return self.api("GET", "/projects/%s/connection_uri" % pid, query={
            "branch_id": branch_id, "database_name": "neondb", "role_name": "neondb_owner"})["uri"]

    def restore(self, pid, branch_id, **body):
        """POST .../restore, then wait for its operations."""
        out = self.api("POST", "/projects/%s/branches/%s/restore" % (pid, branch_id), body)
        self.settle(pid)
        return out

    def branch_named(self, pid, name):
        """A branch of the project by name."""
        return next(b for b in self.api("GET", "/projects/%s/branches" % pid)["branches"] if b["name"] == name)

    def poll(self, what, check, timeout=15):
        """Wait (at most timeout seconds) until check() is true."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                self.fail("timed out waiting for %s" % what)
            time.sleep(0.1)

    # -- tests ---------------------------------------------------------------------------------------------
    def test_project_connects_over_tls_direct_and_pooled(self):
        pid, out = self.project()
        host = out["endpoints"][0]["host"]
        self.assertRegex(host, r"^127\.0\.0\.1:\d+$")
        port = int(host.split(":")[1])
        params = out["connection_uris"][0]["connection_parameters"]
        self.assertEqual((params["host"], params["pooler_host"]), (host, "127.0.0.1:%d" % (port + 1)))
        uri = out["connection_uris"][0]["connection_uri"]
        self.assertIn("@%s/neondb?sslmode=require" % host, uri)
        self.assertEqual(self.sql(uri, "CREATE TABLE t (a int); INSERT INTO t SELECT generate_series(1, 5);"
                                       "SELECT count(*) FROM t"), "5")
        self.assertEqual(self.sql(uri, "SHOW ssl"), "off", "TLS ends at the proxy")
        pooled = self.api("GET", "/projects/%s/connection_uri" % pid, query={
            "database_name": "neondb", "role_name": "neondb_owner", "pooled": "true"})["uri"]
        self.assertIn("@127.0.0.1:%d/" % (port + 1), pooled)
        self.assertEqual(self.sql(pooled, "INSERT INTO t VALUES (6); SELECT count(*) FROM t"), "6")
        with open(os.path.join(self.dir, "pgbouncer.log")) as f:
            self.assertIn("db=%s user=%s" % (real_name("b", out["branch"]["id"], "neondb"),
                                               real_name("r", out["branch"]["id"], "neondb_owner")), f.read())

    def test_refusals(self):
        pid, out = self.project()
        uri = out["connection_uris"][0]["connection_uri"]
        rc, _, err = psql(with_query(uri, sslmode="disable"), "SELECT 1")
        self.assertNotEqual(rc, 0)
        self.assertIn("connection is insecure (try using `sslmode=require`)", err)
        rc, _, err = psql(with_password(uri, "wrong"), "SELECT 1")
        self.assertNotEqual(rc, 0)
        self.assertIn('password authentication failed for user "neondb_owner"', err)
        pooled = uri.replace(out["endpoints"][0]["host"], out["connection_uris"][0]["connection_parameters"]
                             ["pooler_host"])
        rc, _, err = psql(with_password(pooled, "wrong"), "SELECT 1")
        self.assertNotEqual(rc, 0)
        self.assertIn("authentication failed", err)
        rc, _, err = psql(urllib.parse.urlsplit(uri)._replace(path="/nope").geturl(), "SELECT 1")
        self.assertIn('database "nope" does not exist', err)
        rc, _, err = psql(with_query(uri, channel_binding="require"), "SELECT 1")
        self.assertIn("channel binding", err, "the server offers SCRAM-SHA-256 only, so the default prefer works")

    def test_branch_copies_the_parent_and_reset_brings_it_back(self):
        pid, out = self.project()
        main = out["connection_uris"][0]["connection_uri"]
        self.sql(main, "CREATE TABLE t (a int); INSERT INTO t VALUES (1), (2), (3)")
        bid, dev = self.branch(pid, name="dev")
        self.assertEqual(self.sql(dev, "SELECT count(*) FROM t"), "3")
        self.sql(dev, "INSERT INTO t VALUES (40)")
        self.sql(main, "INSERT INTO t VALUES (4)")
        self.assertEqual(self.sql(dev, "SELECT string_agg(a::text, ',' ORDER BY a) FROM t"), "1,2,3,40")
        self.assertEqual(self.sql(main, "SELECT string_agg(a::text, ',' ORDER BY a) FROM t"), "1,2,3,4")
        self.restore(pid, bid, source_branch_id=out["branch"]["id"])
        self.assertEqual(self.sql(dev, "SELECT string_agg(a::text, ',' ORDER BY a) FROM t"), "1,2,3,4")

    def test_roles_databases_and_passwords(self):
        pid, out = self.project()
        bid, owner = out["branch"]["id"], out["connection_uris"][0]["connection_uri"]
        self.sql(owner, "CREATE TABLE t (a int); INSERT INTO t VALUES (1)")
        _, schema_only = self.branch(pid, name="schema", init_source="schema-only")
        self.assertEqual(self.sql(schema_only, "SELECT count(*) FROM t"), "0", "its own new password works")
        alice = self.api("POST", "/projects/%s/branches/%s/roles" % (pid, bid), {"role": {"name": "alice"}}, 201)
        self.settle(pid)
        alice_uri = with_password(owner.replace("neondb_owner:", "alice:"), alice["role"]["password"])
        self.assertEqual(self.sql(alice_uri, "SELECT session_user = current_user"), "f",
                         "a branch's login role acts as the project's role")
        new = self.api("POST", "/projects/%s/branches/%s/roles/neondb_owner/reset_password" % (pid, bid))
        self.settle(pid)
        self.assertNotEqual(psql(owner, "SELECT 1")[0], 0, "the old password is refused")
        owner = with_password(owner, new["role"]["password"])
        self.assertEqual(self.sql(owner, "SELECT count(*) FROM t"), "1")
        self.api("POST", "/projects/%s/branches/%s/databases" % (pid, bid),
                 {"database": {"name": "app", "owner_name": "neondb_owner"}}, 201)
        self.settle(pid)
        app = urllib.parse.urlsplit(owner)._replace(path="/app").geturl()
        self.assertEqual(self.sql(app, "CREATE TABLE u (b int); SELECT current_database() LIKE 'b%_app'"), "t")
        self.api("DELETE", "/projects/%s/branches/%s/databases/app" % (pid, bid))
        self.settle(pid)
        self.assertIn('database "app" does not exist', psql(app, "SELECT 1")[2])

    def test_snapshot_restore_and_undo(self):
        pid, out = self.project()
        main = out["connection_uris"][0]["connection_uri"]
        self.sql(main, "CREATE TABLE t (a int); INSERT INTO t VALUES (1), (2), (3)")
        snap = self.api("POST", "/projects/%s/branches/%s/snapshot" % (pid, out["branch"]["id"]),
                        query={"name": "before"})["snapshot"]
        self.settle(pid)
        self.sql(main, "DELETE FROM t WHERE a > 1")
        self.api("POST", "/projects/%s/snapshots/%s/restore" % (pid, snap["id"]),
                 {"target_branch_id": out["branch"]["id"], "finalize_restore": True})
        self.settle(pid)
        self.assertEqual(self.sql(main, "SELECT count(*) FROM t"), "3", "the same host serves the restored data")
        production = self.branch_named(pid, "main")["id"]
        old = self.branch_named(pid, "main (old)")["id"]
        self.restore(pid, production, source_branch_id=old, preserve_under_name="redo")
        self.assertEqual(self.sql(main, "SELECT count(*) FROM t"), "1", "the undo brings the later state back")
        redo = self.uri_of(pid, self.branch_named(pid, "redo")["id"])
        self.assertEqual(self.sql(redo, "SELECT count(*) FROM t"), "3")

    def test_point_in_time_restore_keeps_the_data_and_makes_a_real_backup(self):
        pid, out = self.project()
        main = out["connection_uris"][0]["connection_uri"]
        self.sql(main, "CREATE TABLE t (a int); INSERT INTO t VALUES (1), (2)")
        created = self.api("GET", "/projects/%s" % pid)["project"]["created_at"]
        bid = out["branch"]["id"]
        self.restore(pid, bid, source_branch_id=bid, source_timestamp=created, preserve_under_name="backup")
        self.assertEqual(self.sql(main, "SELECT count(*) FROM t"), "2", "point in time: metadata only")
        backup = self.uri_of(pid, self.branch_named(pid, "backup")["id"])
        self.assertEqual(self.sql(backup, "SELECT count(*) FROM t"), "2")

    def test_quota_suspension_refuses_connections_until_raised(self):
        pid, out = self.project(settings={"quota": {"compute_time_seconds": 100}})
        uri = out["connection_uris"][0]["connection_uri"]
        self.assertEqual(self.sql(uri, "SELECT 1"), "1")
        st, body = self.emu.usage(pid, {"compute_time_seconds": 100})
        self.assertEqual(body["suspended"], [pid])
        rc, _, err = psql(uri, "SELECT 1")
        self.assertNotEqual(rc, 0)
        self.assertIn("Your account or project has exceeded the compute time quota. "
                      "Upgrade your plan to increase limits.", err)
        self.api("PATCH", "/projects/%s" % pid, {"project": {"settings": {"quota": {"compute_time_seconds": 1000}}}})
        self.assertEqual(self.sql(uri, "SELECT 1"), "1")

    def test_logical_size_is_the_real_size(self):
        pid, out = self.project()
        path = "/projects/%s/branches/%s" % (pid, out["branch"]["id"])

        def size():
            """The branch's logical_size (0 until measured)."""
            return self.api("GET", path)["branch"].get("logical_size", 0)

        self.poll("a measured size", lambda: size() > 1_000_000)
        before = size()
        self.sql(out["connection_uris"][0]["connection_uri"],
                 "CREATE TABLE t AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g")
        self.poll("a bigger size", lambda: size() > before + 2_000_000)
        self.assertGreater(self.api("GET", "/projects/%s" % pid)["project"]["synthetic_storage_size"],
                           before + 2_000_000)

    def test_project_delete_drops_the_databases_and_closes_the_ports(self):
        pid, out = self.project()
        bid = out["branch"]["id"]
        self.branch(pid, name="dev")
        count = ("SELECT (SELECT count(*) FROM pg_database WHERE datname LIKE 'b%%') + "
                 "(SELECT count(*) FROM pg_roles WHERE rolname IN ('%s', '%s'))"
                 % (real_name("p", pid, "neondb_owner"), real_name("r", bid, "neondb_owner")))
        before = int(self.superuser(count))
        self.assertEqual(self.superuser("SELECT count(*) FROM pg_database WHERE datname = '%s'"
                                        % real_name("b", bid, "neondb")), "1")
        port = int(out["endpoints"][0]["host"].split(":")[1])
        self.api("DELETE", "/projects/%s" % pid)
        self.poll("the roles and databases to go", lambda: int(self.superuser(count)) == before - 4)
        for p in (port, port + 1):
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", p), timeout=5).close()

    def test_cold_start_of_an_idle_compute(self):
        emu = self.emulator("--cold-start-ms", str(COLD_START_MS))
        try:
            pid, out = self.project(emu)
            ep = out["endpoints"][0]["id"]
            self.api("POST", "/projects/%s/endpoints/%s/suspend" % (pid, ep), emu=emu)
            self.settle(pid, emu)
            uri = out["connection_uris"][0]["connection_uri"]
            started = time.monotonic()
            self.assertEqual(self.sql(uri, "SELECT 1"), "1")
            self.assertGreaterEqual(time.monotonic() - started, COLD_START_MS / 1000.0)
            self.assertEqual(self.api("GET", "/projects/%s/endpoints/%s" % (pid, ep), emu=emu)["endpoint"]
                             ["current_state"], "active")
            started = time.monotonic()
            self.sql(uri, "SELECT 1")
            self.assertLess(time.monotonic() - started, COLD_START_MS / 1000.0)
        finally:
            emu.stop()

    def test_command_line_is_validated(self):
        for args, message in ((["--pooler", "127.0.0.1:1"], "need --computes"),
                              (["--computes", "postgresql://u:s3cret@127.0.0.1:1/postgres",
                                "--computes-tls-cert", self.info["tls_cert"],
                                "--computes-tls-key", self.info["tls_key"]], "cannot reach the cluster"),
                              (["--computes", self.info["superuser_url"]], "--computes-tls-cert"),
                              (["--computes", "http://x"], "postgresql://USER:PASSWORD@HOST:PORT/DB")):
            res = subprocess.run([sys.executable, EMULATOR, "--port", "0"] + args, capture_output=True, text=True,
                                 timeout=30)
            self.assertEqual(res.returncode, 2, res.stderr)
            self.assertIn(message, res.stderr)
            self.assertNotIn("s3cret", res.stderr)


if __name__ == "__main__":
    unittest.main()
