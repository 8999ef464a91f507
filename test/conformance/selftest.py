#!/usr/bin/env python3
"""Negative control for the conformance tooling: prove that prism.py + check_log.py catch violations.

    python3 test/conformance/selftest.py

Starts the emulator, a small corrupting HTTP relay in front of it (this file), and `prism proxy --errors`
in front of the relay.  The relay breaks chosen answers the way an emulator bug would (a required field
dropped, an enum value or a type wrong, a date-time malformed, an undocumented body on an error status);
the client also sends requests that break the spec.  check_log.py must report every one of them, and
must pass the untouched exchanges.  Exit 0 when the tooling detects exactly what it should.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "emulator"))

import prism as prismmod  # noqa: E402

FREE_KEY = "emulator-free-org-key"


def corrupt(method: str, path: str, status: int, body):
    """Return (status, body, what) with a deliberate violation, or None to relay unchanged."""
    if method == "GET" and path.count("/") == 4 and path.startswith("/api/v2/projects/") and "/" not in path[17:]:
        body = json.loads(json.dumps(body))
        del body["project"]["id"]
        return status, body, "GET /projects/{id} without required project.id"
    if method == "GET" and "/operations/" in path:
        body["operation"]["status"] = "bogus"
        return status, body, "operation.status outside the OperationStatus enum"
    if method == "GET" and path == "/api/v2/projects":
        if body.get("projects"):
            body["projects"][0]["active_time"] = "12"
            return status, body, "projects[0].active_time as a string"
        body["pagination"] = "none"
        return status, body, "pagination as a string"
    if method == "GET" and path == "/api/v2/users/me":
        body["email"] = 42
        return status, body, "users/me email as a number"
    if method == "GET" and path == "/api/v2/regions":
        return 503, {"error": "overloaded"}, "503 whose body is not a GeneralError"
    if method == "GET" and path.endswith("/endpoints") and body.get("endpoints"):
        body["endpoints"][0]["created_at"] = "yesterday"
        return status, body, "endpoints[0].created_at not a date-time"
    if method == "GET" and path.endswith("/branches/count"):
        body["count"] = -1.5
        return status, body, "branches count as a non-integer"
    return None


class Relay(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.corrupted: list[str] = []
        super().__init__(("127.0.0.1", 0), RelayHandler)


class RelayHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):  # quiet
        pass

    def _relay(self):
        n = int(self.headers.get("content-length") or 0)
        data = self.rfile.read(n) if n else None
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "content-length")}
        c = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=10)
        c.request(self.command, self.path, body=data, headers=hdrs)
        r = c.getresponse()
        raw = r.read()
        status = r.status
        rh = [(k, v) for k, v in r.getheaders() if k.lower() not in ("content-length", "connection",
                                                                      "transfer-encoding")]
        c.close()
        path = urllib.parse.urlsplit(self.path).path
        if raw and status < 300:
            try:
                res = corrupt(self.command, path, status, json.loads(raw))
            except (ValueError, KeyError, TypeError):
                res = None
            if res:
                status, body, what = res
                raw = json.dumps(body).encode()
                self.server.corrupted.append(f"{self.command} {path}: {what}")
        self.send_response(status)
        for k, v in rh:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _relay


def main() -> int:
    prismmod.ensure_installed()
    from emu_testlib import EmulatorProcess
    tmp = tempfile.mkdtemp(prefix="neon-conformance-selftest-")
    log = os.path.join(tmp, "prism.log")
    emu = EmulatorProcess(operation_ms=50, rate_limit_rpm=1000000, burst_rps=10000).start()
    relay = Relay(emu.port)
    threading.Thread(target=relay.serve_forever, daemon=True).start()
    px = prismmod.Prism(f"http://127.0.0.1:{relay.server_address[1]}/api/v2", log)
    sent_bad_requests = []
    good = 0
    try:
        url = urllib.parse.urlsplit(px.start())
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=15)

        def call(method, path, body=None, key=FREE_KEY):
            h = {"Accept": "application/json"}
            if key:
                h["Authorization"] = "Bearer " + key
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                h["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)

        st, p = call("POST", "/projects", {"project": {"name": "selftest"}})
        assert st == 201, (st, p)
        pid = p["project"]["id"]
        op = p["operations"][0]["id"]
        good += 1
        call("GET", f"/projects/{pid}")                       # corrupted
        call("GET", f"/projects/{pid}/operations/{op}")       # corrupted
        call("GET", "/projects")                              # corrupted
        call("GET", "/users/me", key="emulator-personal-key")  # corrupted
        call("GET", "/regions")                               # corrupted
        call("GET", f"/projects/{pid}/branches/count")        # corrupted
        call("GET", f"/projects/{pid}/endpoints")             # corrupted
        for path in (f"/projects/{pid}/branches", "/auth", f"/projects/{pid}/operations"):
            st, _ = call("GET", path)
            good += st == 200
        # requests that violate the spec: Prism must reject them itself
        call("POST", "/projects", {"project": {"pg_version": 99}})
        sent_bad_requests.append("POST /projects with pg_version 99")
        call("GET", "/projects?limit=401")
        sent_bad_requests.append("GET /projects?limit=401")
        call("GET", "/projects", key=None)
        sent_bad_requests.append("GET /projects without Authorization")
        call("PATCH", f"/projects/{pid}/transfer", {"target_org_id": "org-agent-paid"})
        sent_bad_requests.append("PATCH /projects/{id}/transfer (not in the spec)")
        conn.close()
    finally:
        px.stop()
        relay.shutdown()
        emu.stop()

    out = subprocess.run([sys.executable, os.path.join(HERE, "check_log.py"), "--min-exchanges", "1", log],
                         capture_output=True, text=True, timeout=60)
    print(out.stdout)
    reported = [ln for ln in out.stdout.splitlines() if ln.strip().startswith("VIOLATION")]
    expected = len(relay.corrupted) + len(sent_bad_requests)
    print(f"selftest: corrupted answers {len(relay.corrupted)}, invalid requests {len(sent_bad_requests)}, "
          f"violations reported {len(reported)}, untouched exchanges {good}")
    for c in relay.corrupted:
        print(f"  corrupted: {c}")
    ok = out.returncode == 1 and len(reported) == expected and len(relay.corrupted) == 7
    m = [ln for ln in out.stdout.splitlines() if ln.startswith("exchanges that passed validation:")]
    if not m or int(m[0].split(":")[1]) != good:
        ok = False
        print(f"selftest: expected {good} exchanges to pass validation")
    print("selftest: " + ("OK (every violation was caught)" if ok else "FAILED"))
    if ok:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        print(f"logs in {tmp}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
