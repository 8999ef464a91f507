"""Route table and request handlers of the Neon management API v2 emulator (standard library only).

    route_template(method, path) -> "GET /projects/{project_id}" | None     (None: no such route -> 404)
    dispatch(state, method, path, query, headers, body) -> (status, body | None, extra_headers)

``path`` is the part after /api/v2, ``query`` is urllib.parse.parse_qs(..., keep_blank_values=True) output,
``headers`` have lower-cased names, ``body`` is the raw request body (bytes).
"""

import bisect
import json
import re
import time
import urllib.parse
import uuid

from emu_state import (
    ApiError, Snapshot, ID_RE, ACCOUNTS, RESERVED_ROLES, RESERVED_DATABASES, REGIONS, REGION_IDS,
    QUOTA_ERROR_CODES, TRANSFER_REQUEST_TTL,
    iso, iso_us, parse_ts, cu_json, month_start, next_month_start, full_name, validate_quota,
)

ORG_ID_REQUIRED = "org_id is required, you can find it on your organization settings page"
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
LSN_RE = re.compile(r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")
CONSUMPTION_METRICS = ("compute_unit_seconds", "root_branch_bytes_month", "child_branch_bytes_month",
                       "instant_restore_bytes_month", "snapshot_storage_bytes_month",
                       "public_network_transfer_bytes", "private_network_transfer_bytes", "extra_branches_month")
CONSUMPTION_EARLIEST = 1709251200  # 2024-03-01T00:00:00Z


class Auth:
    __slots__ = ("kind", "org_id", "account", "token", "info")

    def __init__(self, info, token):
        self.kind = info["kind"]
        self.org_id = info.get("org_id")
        self.account = info["account"]
        self.token = token
        self.info = info


# ================================================================================================ helpers

def err(status, message, code=""):
    return ApiError(status, message, code)


def q1(query, name):
    v = query.get(name) if query else None
    if not v:
        return None
    return v[-1]


def qlist(query, name):
    """Repeated or comma-separated values."""
    out = []
    for v in (query.get(name) or []) if query else []:
        out.extend(x for x in v.split(",") if x != "")
    return out


def qint(query, name, lo, hi, default=None):
    v = q1(query, name)
    if v is None or v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        raise err(400, "invalid request: decode params: query: %s: invalid integer %r" % (name, v))
    if (lo is not None and n < lo) or (hi is not None and n > hi):
        raise err(400, "invalid request: decode params: query: %s: value %d must be in range %s..%s"
                  % (name, n, lo, hi))
    return n


def qbool(query, name, default=False):
    v = q1(query, name)
    if v is None or v == "":
        return default
    lv = v.lower()
    if lv in ("true", "1", "t"):
        return True
    if lv in ("false", "0", "f"):
        return False
    raise err(400, "invalid request: decode params: query: %s: invalid boolean %r" % (name, v))


def decode_body(body):
    if body is None or len(body) == 0 or not body.strip():
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise err(400, "invalid request: decode application/json: %s" % e)


def body_obj(data, key, required=True):
    if data is None or not isinstance(data, dict):
        if required:
            raise err(400, "invalid request: decode application/json: invalid: %s (field required)" % key)
        return {}
    v = data.get(key)
    if v is None:
        if required:
            raise err(400, "invalid request: decode application/json: invalid: %s (field required)" % key)
        return {}
    if not isinstance(v, dict):
        raise err(400, "invalid request: decode application/json: invalid: %s (object expected)" % key)
    return v


def want_type(d, key, types, what):
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, bool) and bool not in types:
        raise err(400, "invalid request: decode application/json: invalid: %s (%s expected)" % (key, what))
    if not isinstance(v, types):
        raise err(400, "invalid request: decode application/json: invalid: %s (%s expected)" % (key, what))
    return v


def want_name(d, key, maxlen=256):
    v = want_type(d, key, (str,), "string")
    if v is not None and not (1 <= len(v) <= maxlen):
        raise err(400, "%s must be between 1 and %d characters" % (key, maxlen))
    return v


def parse_time_field(value, field):
    t = parse_ts(value)
    if t is None:
        raise err(400, "invalid request: %s: invalid date-time %r" % (field, value))
    return t


def visible_org(state, auth, org_id):
    """The organization if the key may act in it (state.sees_org), else None (callers answer 404)."""
    return state.orgs[org_id] if state.sees_org(auth.info, org_id) else None


def key_org(state, auth, org_id, default=None):
    """The organization a request acts in: an org key's own (naming another → 404); for a personal key org_id,
    else default, else 400 "org_id is required…"; an org of another account → 404."""
    if auth.kind == "org":
        org_id = auth.org_id if org_id is None else org_id
    elif org_id is None:
        org_id = default
        if org_id is None:
            raise err(400, ORG_ID_REQUIRED)
    org = visible_org(state, auth, org_id)
    if org is None:
        raise err(404, "organization not found")
    return org


def get_project(state, auth, pid):
    p = state.projects.get(pid)
    if p is None or not state.sees_org(auth.info, p.org_id):
        raise err(404, "project not found")
    return p


def get_branch(p, bid):
    b = p.branches.get(bid)
    if b is None:
        raise err(404, "branch not found")
    return b


def get_endpoint(p, eid):
    ep = p.endpoints.get(eid)
    if ep is None:
        raise err(404, "endpoint not found")
    return ep


def org_limits(state, p):
    return state.orgs[p.org_id].limits


def check_cu(lim, min_cu, max_cu):
    for name, v in (("autoscaling_limit_min_cu", min_cu), ("autoscaling_limit_max_cu", max_cu)):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise err(400, "%s must be a number" % name)
        if v < lim["min_cu"] or v > lim["max_cu"]:
            raise err(400, "%s must be between %s and %s compute units on your plan"
                      % (name, cu_json(lim["min_cu"]), cu_json(lim["max_cu"])))
    if min_cu > max_cu:
        raise err(400, "autoscaling_limit_min_cu must be less than or equal to autoscaling_limit_max_cu")


def check_suspend(lim, s):
    if s is None:
        return
    if isinstance(s, bool) or not isinstance(s, int) or s < -1 or s > 604800:
        raise err(400, "suspend_timeout_seconds must be an integer between -1 and 604800")
    if s == -1 and not lim["never_suspend"]:
        raise err(400, "suspend interval changing is not allowed for your account: "
                       "computes must scale to zero on your plan")
    if 0 < s < lim["min_suspend"]:
        raise err(400, "suspend_timeout_seconds must be at least %d seconds on your plan" % lim["min_suspend"])


def check_role_name(name):
    if not isinstance(name, str) or not name:
        raise err(400, "role name is required")
    if len(name.encode()) > 63:
        raise err(400, "role name must not exceed 63 bytes")
    if name.startswith("pg_") or name in RESERVED_ROLES:
        raise err(400, "role name %r is reserved" % name)


def check_db_name(name):
    if not isinstance(name, str) or not name:
        raise err(400, "database name is required")
    if len(name.encode()) > 63:
        raise err(400, "database name must not exceed 63 bytes")
    if name in RESERVED_DATABASES:
        raise err(400, "database name %r is reserved" % name)


def restore_window(state, p):
    return min(p.history_retention_seconds, org_limits(state, p)["restore_window"])


def check_point_in_time(state, p, t, field):
    now = state.now()
    if t > now + 5:
        raise err(400, "%s %s is in the future" % (field, iso(t)))
    window = restore_window(state, p)
    if t < now - window:
        raise err(400, "%s %s is outside of the restore window: history is retained for %d seconds"
                  % (field, iso(t), window))
    if t < p.created_at - 1:
        raise err(400, "%s %s is before the project was created" % (field, iso(t)))


def root_count(p):
    return sum(1 for b in p.branches.values() if b.parent_id is None)


def check_branch_limits(state, p, new_total=1, new_roots=0):
    lim = org_limits(state, p)
    if len(p.branches) + new_total > lim["branches"]:
        raise err(422, "branches limit exceeded: the project may have at most %d branches" % lim["branches"],
                  "BRANCHES_LIMIT_EXCEEDED")
    if new_roots and root_count(p) + new_roots > lim["root_branches"]:
        raise err(422, "root branches limit exceeded: the project may have at most %d root branches"
                  % lim["root_branches"], "ROOT_BRANCHES_LIMIT_EXCEEDED")


def branch_name_taken(p, name, exclude=None):
    return any(b.name == name and b.id != exclude for b in p.branches.values())


def rw_endpoint(p, b):
    for ep in p.endpoints.values():
        if ep.branch_id == b.id and ep.type == "read_write":
            return ep
    return None


def branch_endpoints(p, b):
    return [ep for ep in p.endpoints.values() if ep.branch_id == b.id]


def ops_json(state, ops):
    now = state.now()
    return [state.op_json(o, now) for o in ops]


def quota_block(state, p):
    state.roll_period(p)
    if p.quota_suspended and state.exceeded_quota(p):
        f = p.quota_suspended
        raise err(422, "project %s exceeded its %s quota; computes stay suspended until the quota is raised "
                  "or the billing period resets" % (p.id, f), QUOTA_ERROR_CODES.get(f, "QUOTA_EXCEEDED"))
    if p.quota_suspended:
        p.quota_suspended = None


def parse_endpoint_options(state, p, opts, now):
    """Validate `endpoints` of a branch create request; returns a list of (type, min, max, suspend)."""
    lim = org_limits(state, p)
    if opts is None:
        return []
    if not isinstance(opts, list):
        raise err(400, "invalid request: decode application/json: invalid: endpoints (array expected)")
    out = []
    rw = 0
    des = p.default_endpoint_settings
    for o in opts:
        if not isinstance(o, dict) or o.get("type") not in ("read_write", "read_only"):
            raise err(400, "invalid request: endpoints: type must be read_write or read_only")
        if o["type"] == "read_write":
            rw += 1
        mn = o.get("autoscaling_limit_min_cu", des.get("autoscaling_limit_min_cu", 0.25))
        mx = o.get("autoscaling_limit_max_cu", des.get("autoscaling_limit_max_cu", max(mn, 0.25)))
        if "autoscaling_limit_min_cu" in o and "autoscaling_limit_max_cu" not in o and mx < mn:
            mx = mn
        check_cu(lim, mn, mx)
        s = o.get("suspend_timeout_seconds", des.get("suspend_timeout_seconds", 0))
        check_suspend(lim, s)
        out.append((o["type"], mn, mx, s))
    if rw > 1:
        raise err(409, "a branch can have only one read_write endpoint")
    return out


# ================================================================================================ auth / users

def h_users_me(state, auth, pr, query, data):
    user = ACCOUNTS[auth.account]
    lim = state.orgs[user["plan_org"]].limits
    return 200, {
        "active_seconds_limit": 0,
        "billing_account": {
            "state": "active", "payment_source": {"type": ""}, "subscription_type": lim["subscription_type"],
            "payment_method": "none", "quota_reset_at_last": iso(month_start(state.now())),
            "name": full_name(user), "email": user["email"], "address_city": "", "address_country": "",
            "address_line1": "", "address_line2": "", "address_postal_code": "", "address_state": "",
        },
        "auth_accounts": [{"email": user["email"], "image": "", "login": user["login"], "name": user["name"],
                           "provider": "keycloak"}],
        "email": user["email"],
        "id": user["user_id"],
        "image": "",
        "login": user["login"],
        "name": user["name"],
        "last_name": user["last_name"],
        "projects_limit": lim["projects"],
        "branches_limit": lim["branches"],
        "max_autoscaling_limit": cu_json(lim["max_cu"]),
        "plan": lim["plan"],
    }


def org_json(state, org):
    return {"id": org.id, "name": org.name, "handle": org.handle, "plan": org.limits["plan"],
            "created_at": iso(org.created_at), "updated_at": iso(org.created_at), "managed_by": "console",
            "allow_hipaa_projects": False, "require_mfa": False}


def h_users_me_orgs(state, auth, pr, query, data):
    orgs = [o for o in state.orgs.values() if state.sees_org(auth.info, o.id)]
    return 200, {"organizations": [org_json(state, o) for o in orgs]}


def h_org_get(state, auth, pr, query, data):
    org = visible_org(state, auth, pr["org_id"])
    if org is None:
        raise err(404, "organization not found")
    return 200, org_json(state, org)


def h_auth(state, auth, pr, query, data):
    if auth.kind == "org":
        return 200, {"account_id": auth.org_id, "auth_method": "api_key_org"}
    return 200, {"account_id": ACCOUNTS[auth.account]["user_id"], "auth_method": "api_key_user"}


def h_regions(state, auth, pr, query, data):
    org_id = q1(query, "org_id")
    if org_id is not None and visible_org(state, auth, org_id) is None:
        raise err(404, "organization not found")
    return 200, {"regions": [{"region_id": r[0], "name": r[1], "default": r[2], "geo_lat": r[3],
                              "geo_long": r[4]} for r in REGIONS]}


# ------------------------------------------------------------------------------------------------ api keys

def _require_personal(auth, what):
    if auth.kind != "personal":
        raise err(403, "%s requires a personal API key" % what)


def _own_personal_key(auth, k):
    """Whether k is a live personal key of the caller's account (the only ones /api_keys lists or revokes)."""
    return k["kind"] == "personal" and k["account"] == auth.account and not k.get("revoked")


def h_api_keys_list(state, auth, pr, query, data):
    _require_personal(auth, "managing personal API keys")
    user = ACCOUNTS[auth.account]
    out = []
    for tok, k in sorted(state.keys.items(), key=lambda kv: -kv[1]["id"]):
        if not _own_personal_key(auth, k):
            continue
        out.append({"id": k["id"], "name": k["name"], "created_at": iso(k["created_at"]),
                    "created_by": {"id": user["user_id"], "name": full_name(user), "image": ""},
                    "last_used_at": iso(k["last_used_at"]) if k.get("last_used_at") else None,
                    "last_used_from_addr": "127.0.0.1" if k.get("last_used_at") else ""})
    return 200, out


def h_api_keys_create(state, auth, pr, query, data):
    _require_personal(auth, "creating personal API keys")
    if not isinstance(data, dict) or not isinstance(data.get("key_name"), str):
        raise err(400, "invalid request: decode application/json: invalid: key_name (field required)")
    name = data["key_name"]
    if not 1 <= len(name) <= 64:
        raise err(400, "key_name must be between 1 and 64 characters")
    state.next_key_id += 1
    tok = "".join(state.rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(64))
    now = state.now()
    state.keys[tok] = {"kind": "personal", "org_id": None, "account": auth.account, "id": state.next_key_id,
                       "name": name, "created_at": now, "last_used_at": None}
    return 200, {"id": state.next_key_id, "key": tok, "name": name, "created_at": iso(now),
                 "created_by": ACCOUNTS[auth.account]["user_id"]}


def h_api_keys_revoke(state, auth, pr, query, data):
    _require_personal(auth, "revoking personal API keys")
    kid = pr["key_id"]
    for tok, k in state.keys.items():
        if k["id"] == kid and _own_personal_key(auth, k):
            k["revoked"] = True
            return 200, {"id": kid, "name": k["name"], "created_at": iso(k["created_at"]),
                         "created_by": ACCOUNTS[auth.account]["user_id"],
                         "last_used_at": iso(k["last_used_at"]) if k.get("last_used_at") else None,
                         "last_used_from_addr": "127.0.0.1" if k.get("last_used_at") else "", "revoked": True}
    raise err(404, "API key not found")


# ================================================================================================ projects

def _list_org(state, auth, query):
    org_id = q1(query, "org_id")
    if org_id is not None and not ID_RE.match(org_id):
        raise err(400, "invalid request: decode params: query: org_id: string does not match the pattern")
    return key_org(state, auth, org_id)


def h_projects_list(state, auth, pr, query, data):
    org = _list_org(state, auth, query)
    limit = qint(query, "limit", 1, 400, 10)
    qint(query, "timeout", 100, 30000)
    cursor = q1(query, "cursor")
    search = q1(query, "search")
    if qbool(query, "recoverable"):
        return 200, {"projects": [], "applications": {}, "integrations": {}}
    seqs, pids = org.ix_seq, org.ix_pid
    # newest first: walk the ascending index backwards
    if cursor:
        cseq = state.seq_of.get(cursor)
        if cseq is None:
            raise err(400, "invalid cursor")
        i = bisect.bisect_left(seqs, cseq) - 1
    else:
        i = len(seqs) - 1
    items = []
    needle = search.lower() if search else None
    while i >= 0 and len(items) < limit:
        p = state.projects[pids[i]]
        i -= 1
        if needle and needle not in p.id and needle not in p.name.lower():
            continue
        items.append(p)
    out = {"projects": [state.project_list_item(p) for p in items]}
    if items:
        out["pagination"] = {"cursor": items[-1].id}
    out["applications"] = {}
    out["integrations"] = {p.id: [p.integration] for p in items if p.integration}
    return 200, out


def h_projects_shared(state, auth, pr, query, data):
    qint(query, "limit", 1, 400, 10)
    return 200, {"projects": []}


def want_history_retention(pj, lim):
    """history_retention_seconds of a project body, within the spec's range and the plan's restore window."""
    hrs = want_type(pj, "history_retention_seconds", (int,), "integer")
    if hrs is not None:
        if not 0 <= hrs <= 2592000:
            raise err(400, "history_retention_seconds must be between 0 and 2592000")
        if hrs > lim["restore_window"]:
            raise err(400, "history_retention_seconds %d exceeds the limit of your plan (%d seconds)"
                      % (hrs, lim["restore_window"]))
    return hrs


def want_settings(pj):
    """The settings object of a project body, or None."""
    settings = pj.get("settings")
    if settings is not None and not isinstance(settings, dict):
        raise err(400, "invalid request: decode application/json: invalid: settings (object expected)")
    return settings


def h_project_create(state, auth, pr, query, data):
    if not isinstance(data, dict) or "project" not in data:
        raise err(400, "invalid request: decode application/json: invalid: project (field required)")
    pj = body_obj(data, "project")
    org = key_org(state, auth, want_type(pj, "org_id", (str,), "string"))
    lim = org.limits
    name = want_name(pj, "name")
    region_id = want_type(pj, "region_id", (str,), "string") or "aws-us-east-2"
    if region_id not in REGION_IDS:
        raise err(400, "region %r is not available" % region_id)
    pg_version = want_type(pj, "pg_version", (int,), "integer") or 17
    if not 14 <= pg_version <= 18:
        raise err(400, "pg_version must be one of 14, 15, 16, 17, 18")
    hrs = want_history_retention(pj, lim)
    settings = want_settings(pj)
    quota = validate_quota((settings or {}).get("quota"))
    des_in = pj.get("default_endpoint_settings") or {}
    if not isinstance(des_in, dict):
        raise err(400, "invalid request: decode application/json: invalid: default_endpoint_settings")
    mn = des_in.get("autoscaling_limit_min_cu", pj.get("autoscaling_limit_min_cu", 0.25))
    mx = des_in.get("autoscaling_limit_max_cu", pj.get("autoscaling_limit_max_cu", max(0.25, mn)
                    if isinstance(mn, (int, float)) else 0.25))
    check_cu(lim, mn, mx)
    suspend = des_in.get("suspend_timeout_seconds", 0)
    check_suspend(lim, suspend)
    br = pj.get("branch") or {}
    if not isinstance(br, dict):
        raise err(400, "invalid request: decode application/json: invalid: branch (object expected)")
    branch_name = want_name(br, "name") or "main"
    db_name = want_type(br, "database_name", (str,), "string") or "neondb"
    check_db_name(db_name)
    role_name = want_type(br, "role_name", (str,), "string") or (db_name + "_owner")
    check_role_name(role_name)
    provisioner = pj.get("provisioner") or "k8s-neonvm"
    if provisioner not in ("k8s-pod", "k8s-neonvm", "serverless-platform"):
        raise err(400, "invalid provisioner %r" % provisioner)
    if org.count() >= lim["projects"]:
        raise err(422, "organization projects limit of %d exceeded, got %d" % (lim["projects"], org.count()),
                  "PROJECTS_LIMIT_EXCEEDED")

    now = state.now()
    p = state.new_project(org.id, name, region_id, pg_version, now)
    p.provisioner = provisioner
    if hrs is not None:
        p.history_retention_seconds = hrs
    if settings:
        for k, v in settings.items():
            if k != "quota":
                p.settings[k] = v
        if quota:
            p.settings["quota"] = quota
    p.default_endpoint_settings = {"autoscaling_limit_min_cu": mn, "autoscaling_limit_max_cu": mx,
                                   "suspend_timeout_seconds": suspend}
    for k in ("pg_settings", "pgbouncer_settings"):
        if k in des_in:
            p.default_endpoint_settings[k] = des_in[k]
    if "store_passwords" in pj and isinstance(pj["store_passwords"], bool):
        p.store_passwords = pj["store_passwords"]
    b = state.make_branch(p, branch_name, now)
    p.default_branch_id = b.id
    if isinstance(br.get("annotations"), dict):
        b.annotation = dict(br["annotations"])
    ep = state.make_endpoint(p, b, "read_write", mn, mx, suspend, now)
    ep.provisioner = provisioner
    role = state.make_role(b, role_name, now)
    db = state.make_database(b, db_name, role_name, now)
    ops = state.add_operations(p, [("create_timeline", b.id, None), ("start_compute", b.id, ep.id)])
    state.computes_do("project_create", p, ops, branch=b, endpoint=ep)
    b.ready_at = ops[0].end
    state.ep_schedule(ep, "active", ops[1].end)
    return 201, {
        "project": state.project_json(p, "create"),
        "connection_uris": [state.connection_details(p, ep, role, db_name)],
        "roles": [state.role_json(role, True)],
        "databases": [state.database_json(db)],
        "operations": ops_json(state, ops),
        "branch": state.branch_json(p, b),
        "endpoints": [state.endpoint_json(ep, with_last_active=False)],
    }


def h_project_get(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    return 200, {"project": state.project_json(p, "get")}


def h_project_patch(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    pj = body_obj(data, "project")
    lim = org_limits(state, p)
    name = want_name(pj, "name")
    hrs = want_history_retention(pj, lim)
    settings = want_settings(pj)
    quota = validate_quota((settings or {}).get("quota")) if settings and "quota" in settings else None
    des_in = pj.get("default_endpoint_settings")
    new_des = None
    if des_in is not None:
        if not isinstance(des_in, dict):
            raise err(400, "invalid request: decode application/json: invalid: default_endpoint_settings")
        new_des = dict(p.default_endpoint_settings)
        new_des.update(des_in)
        check_cu(lim, new_des.get("autoscaling_limit_min_cu", 0.25), new_des.get("autoscaling_limit_max_cu", 0.25))
        check_suspend(lim, new_des.get("suspend_timeout_seconds", 0))
    specs = []
    if hrs is not None and hrs != p.history_retention_seconds:
        specs.append(("apply_storage_config", p.default_branch_id, None))
    if specs:
        state.check_lock(p)
    now = state.now()
    if name is not None:
        p.name = name
    if hrs is not None:
        p.history_retention_seconds = hrs
    if settings:
        for k, v in settings.items():
            if k == "quota":
                if quota:
                    p.settings["quota"] = quota      # the quota object is replaced as a whole
                else:
                    p.settings.pop("quota", None)
            else:
                p.settings[k] = v
    if new_des is not None:
        p.default_endpoint_settings = new_des
    p.updated_at = now
    if settings and "quota" in settings:
        state.roll_period(p)
        state.enforce_quota(p)
    ops = state.add_operations(p, specs)
    return 200, {"project": state.project_json(p, "mutate"), "operations": ops_json(state, ops)}


def h_project_delete(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    body = {"project": state.project_json(p, "mutate")}
    state.drop_project(p)
    state.computes_do("project_delete", p)
    return 200, body


def h_connection_uri(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    db_name = q1(query, "database_name")
    role_name = q1(query, "role_name")
    if not db_name:
        raise err(400, "invalid request: decode params: query: database_name: field required")
    if not role_name:
        raise err(400, "invalid request: decode params: query: role_name: field required")
    pooled = qbool(query, "pooled")
    bid = q1(query, "branch_id") or p.default_branch_id
    b = get_branch(p, bid)
    eid = q1(query, "endpoint_id")
    if eid:
        ep = get_endpoint(p, eid)
        if ep.branch_id != b.id and q1(query, "branch_id"):
            raise err(400, "endpoint %s does not belong to branch %s" % (eid, b.id))
        b = p.branches.get(ep.branch_id, b)
    else:
        ep = rw_endpoint(p, b)
        if ep is None:
            raise err(404, "branch %s has no read_write endpoint" % b.id)
    role = b.roles.get(role_name)
    if role is None:
        raise err(404, "role %s not found" % role_name)
    if db_name not in b.databases:
        raise err(404, "database %s not found" % db_name)
    return 200, {"uri": state.connection_uri(p, ep, role, db_name, pooled)}


# ------------------------------------------------------------------------------------------------ operations

def h_operations_list(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    limit = qint(query, "limit", 1, 1000, 10)
    cursor = q1(query, "cursor")
    ops = p.operations
    i = len(ops) - 1
    if cursor:
        t = parse_ts(cursor)
        if t is None:
            raise err(400, "invalid cursor")
        while i >= 0 and ops[i].created >= t - 5e-7:
            i -= 1
    page = []
    while i >= 0 and len(page) < limit:
        page.append(ops[i])
        i -= 1
    out = {"operations": ops_json(state, page)}
    if page:
        out["pagination"] = {"cursor": iso_us(page[-1].created)}
    return 200, out


def h_operation_get(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    oid = pr["operation_id"].lower()
    for op in reversed(p.operations):
        if op.id == oid:
            return 200, {"operation": state.op_json(op)}
    raise err(404, "operation not found")


# ================================================================================================ branches

def h_branch_create(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    if data is not None and not isinstance(data, dict):
        raise err(400, "invalid request: decode application/json: object expected")
    data = data or {}
    bj = data.get("branch") or {}
    if not isinstance(bj, dict):
        raise err(400, "invalid request: decode application/json: invalid: branch (object expected)")
    parent_id = bj.get("parent_id") or p.default_branch_id
    parent = p.branches.get(parent_id)
    if parent is None:
        raise err(404, "parent branch %s not found" % parent_id)
    name = want_name(bj, "name")
    if name is not None and branch_name_taken(p, name):
        raise err(409, "branch with name %r already exists" % name)
    init_source = bj.get("init_source") or "parent-data"
    if init_source not in ("parent-data", "schema-only"):
        raise err(400, "init_source must be parent-data or schema-only")
    ts = None
    lsn = bj.get("parent_lsn")
    if bj.get("parent_timestamp") is not None and lsn is not None:
        raise err(400, "parent_lsn and parent_timestamp cannot be used together")
    if bj.get("parent_timestamp") is not None:
        ts = parse_time_field(bj["parent_timestamp"], "parent_timestamp")
        check_point_in_time(state, p, ts, "parent_timestamp")
    if lsn is not None and (not isinstance(lsn, str) or not LSN_RE.match(lsn)):
        raise err(400, "invalid parent_lsn %r" % (lsn,))
    protected = bj.get("protected", False)
    if not isinstance(protected, bool):
        raise err(400, "invalid request: decode application/json: invalid: protected (boolean expected)")
    expires_at = None
    if bj.get("expires_at") is not None:
        expires_at = parse_time_field(bj["expires_at"], "expires_at")
        if expires_at <= state.now():
            raise err(400, "expires_at must be in the future")
    now = state.now()
    eps = parse_endpoint_options(state, p, data.get("endpoints"), now)
    schema_only = init_source == "schema-only"
    if schema_only and not any(e[0] == "read_write" for e in eps):
        raise err(400, "a schema-only branch requires a read_write endpoint")
    check_branch_limits(state, p, 1, 1 if schema_only else 0)
    state.check_lock(p)

    b = state.make_branch(p, name, now, parent=None if schema_only else parent)
    b.protected = protected
    b.expires_at = expires_at
    if schema_only:
        b.init_source = "schema-only"
    else:
        b.parent_timestamp = ts if ts is not None else now
        b.parent_lsn = lsn or "0/%X" % (parent.head_lsn + int((b.parent_timestamp - p.created_at) * 16))
    annotation = data.get("annotation_value")
    if isinstance(annotation, dict):
        b.annotation = {str(k): str(v) for k, v in annotation.items()}
    for r in parent.roles.values():
        pw = state.new_password() if (parent.protected or schema_only) else r.password
        state.make_role(b, r.name, now, password=pw)
    for db in parent.databases.values():
        state.make_database(b, db.name, db.owner_name, now)
    if not schema_only:
        b.logical_size = parent.logical_size
    specs = [("create_branch", b.id, None)]
    new_eps = []
    for (typ, mn, mx, s) in eps:
        ep = state.make_endpoint(p, b, typ, mn, mx, s, now)
        new_eps.append(ep)
    blocked = p.quota_suspended is not None and state.exceeded_quota(p)
    for ep in new_eps:
        if blocked:
            ep.cur, ep.pending = "idle", None
        else:
            specs.append(("start_compute", b.id, ep.id))
    ops = state.add_operations(p, specs)
    state.computes_do("branch_create", p, ops, branch=b, parent=parent, endpoints=new_eps)
    b.ready_at = ops[0].end
    k = 1
    for ep in new_eps:
        if not blocked:
            state.ep_schedule(ep, "active", ops[k].end)
            k += 1
    out = {
        "branch": state.branch_json(p, b),
        "endpoints": [state.endpoint_json(ep, with_last_active=False) for ep in new_eps],
        "operations": ops_json(state, ops),
        "roles": [state.role_json(r, p.store_passwords) for r in b.roles.values()],
        "databases": [state.database_json(d) for d in b.databases.values()],
    }
    rw = next((ep for ep in new_eps if ep.type == "read_write"), None) or (new_eps[0] if new_eps else None)
    if rw is not None and len(b.roles) == 1 and len(b.databases) == 1:
        role = next(iter(b.roles.values()))
        db = next(iter(b.databases.values()))
        out["connection_uris"] = [state.connection_details(p, rw, role, db.name)]
    return 201, out


def _branch_sort_value(b, sort_by):
    if sort_by == "name":
        return b.name
    return iso(b.created_at if sort_by == "created_at" else b.updated_at)


def h_branches_list(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    sort_by = q1(query, "sort_by") or "updated_at"
    if sort_by not in ("name", "created_at", "updated_at"):
        raise err(400, "invalid request: decode params: query: sort_by: invalid value %r" % sort_by)
    order = (q1(query, "sort_order") or "desc").lower()
    if order not in ("asc", "desc"):
        raise err(400, "invalid request: decode params: query: sort_order: invalid value %r" % order)
    limit = qint(query, "limit", 1, 10000, None)
    search = q1(query, "search")
    cursor = q1(query, "cursor")
    qbool(query, "include_deleted")
    branches = list(p.branches.values())
    if search:
        s = search.lower()
        branches = [b for b in branches if s in b.name.lower() or s in b.id]
    keyed = sorted(((_branch_sort_value(b, sort_by), b.id, b) for b in branches), key=lambda x: (x[0], x[1]),
                   reverse=(order == "desc"))
    if cursor:
        c = state.parse_branch_cursor(cursor)
        if c is None:
            raise err(400, "invalid cursor")
        cid, cval = c
        ck = (cval, cid)
        if order == "desc":
            keyed = [x for x in keyed if (x[0], x[1]) < ck]
        else:
            keyed = [x for x in keyed if (x[0], x[1]) > ck]
    page = keyed[:limit] if limit else keyed
    now = state.now()
    out = {"branches": [state.branch_json(p, x[2], with_created_by=True, now=now) for x in page],
           "annotations": {x[1]: annotation_json(x[2]) for x in page if x[2].annotation}}
    pag = {"sort_by": sort_by, "sort_order": order.upper()}
    if page:
        last = page[-1]
        pag = {"next": state.branch_cursor(last[1], sort_by, last[0], order), "sort_by": sort_by,
               "sort_order": order.upper()}
    out["pagination"] = pag
    return 200, out


def annotation_json(b):
    return {"object": {"type": "console/branch", "id": b.id}, "value": dict(b.annotation),
            "created_at": iso(b.created_at), "updated_at": iso(b.updated_at)}


def h_branches_count(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    search = q1(query, "search")
    if search:
        s = search.lower()
        return 200, {"count": sum(1 for b in p.branches.values() if s in b.name.lower() or s in b.id)}
    return 200, {"count": len(p.branches)}


def h_branch_get(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    return 200, {"branch": state.branch_json(p, b, with_created_by=True), "annotation": annotation_json(b)}


def h_branch_patch(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    bj = body_obj(data, "branch")
    name = want_name(bj, "name")
    if name is not None and branch_name_taken(p, name, exclude=b.id):
        raise err(409, "branch with name %r already exists" % name)
    protected = bj.get("protected")
    if protected is not None and not isinstance(protected, bool):
        raise err(400, "invalid request: decode application/json: invalid: protected (boolean expected)")
    now = state.now()
    if "expires_at" in bj:
        if bj["expires_at"] is None:
            b.expires_at = None
        else:
            t = parse_time_field(bj["expires_at"], "expires_at")
            if t <= now:
                raise err(400, "expires_at must be in the future")
            b.expires_at = t
    if name is not None:
        b.name = name
    if protected is not None:
        b.protected = protected
    b.updated_at = now
    return 200, {"branch": state.branch_json(p, b), "operations": []}


def h_branch_delete(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    bid = pr["branch_id"]
    b = p.branches.get(bid)
    if b is None:
        if bid in p.deleted_branches:
            return 204, None
        raise err(404, "branch not found")
    qbool(query, "hard_delete")
    if bid == p.default_branch_id:
        raise err(400, "cannot delete the default branch of the project")
    if any(c.parent_id == bid for c in p.branches.values()):
        raise err(400, "cannot delete a branch that has child branches")
    state.check_lock(p)
    now = state.now()
    specs = []
    for ep in branch_endpoints(p, b):
        if state.ep_running(ep):
            specs.append(("suspend_compute", b.id, ep.id))
    specs.append(("delete_timeline", b.id, None))
    ops = state.add_operations(p, specs)
    state.computes_do("branch_delete", p, ops, branch=b, endpoints=branch_endpoints(p, b))
    body = {"branch": state.branch_json(p, b), "operations": ops_json(state, ops)}
    for ep in branch_endpoints(p, b):
        del p.endpoints[ep.id]
        p.deleted_endpoints.add(ep.id)
    del p.branches[bid]
    p.deleted_branches.add(bid)
    b.updated_at = now
    return 200, body


def h_branch_restore(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    if not isinstance(data, dict) or not isinstance(data.get("source_branch_id"), str):
        raise err(400, "invalid request: decode application/json: invalid: source_branch_id (field required)")
    src = p.branches.get(data["source_branch_id"])
    if src is None:
        raise err(404, "source branch %s not found" % data["source_branch_id"])
    ts = None
    if data.get("source_timestamp") is not None and data.get("source_lsn") is not None:
        raise err(400, "source_lsn and source_timestamp cannot be used together")
    if data.get("source_timestamp") is not None:
        ts = parse_time_field(data["source_timestamp"], "source_timestamp")
        check_point_in_time(state, p, ts, "source_timestamp")
    lsn = data.get("source_lsn")
    if lsn is not None and (not isinstance(lsn, str) or not LSN_RE.match(lsn)):
        raise err(400, "invalid source_lsn %r" % (lsn,))
    preserve = data.get("preserve_under_name")
    if preserve is not None and (not isinstance(preserve, str) or not preserve):
        preserve = None
    has_children = any(c.parent_id == b.id for c in p.branches.values())
    if src.id == b.id:
        if ts is None and lsn is None:
            raise err(400, "restoring a branch to its own history requires source_timestamp or source_lsn")
        if not preserve:
            raise err(400, "preserve_under_name is required when restoring a branch to its own history")
    if has_children and not preserve:
        raise err(400, "preserve_under_name is required when the branch has children")
    if b.restore_status == "restored":
        raise err(400, "restore from snapshot on target branch is still ongoing")
    if preserve:
        if branch_name_taken(p, preserve):
            raise err(409, "branch with name %r already exists" % preserve)
        check_branch_limits(state, p, 1, 1 if b.parent_id is None else 0)
    state.check_lock(p)
    now = state.now()
    specs = []
    eps = branch_endpoints(p, b)
    running = [ep for ep in eps if state.ep_running(ep)]
    for ep in running:
        specs.append(("suspend_compute", b.id, ep.id))
    backup = None
    if preserve:
        backup = state.make_branch(p, preserve, now)
        backup.parent_id = b.parent_id
        backup.parent_lsn = b.parent_lsn
        backup.parent_timestamp = b.parent_timestamp
        backup.logical_size = b.logical_size
        backup.protected = False
        for r in b.roles.values():
            state.make_role(backup, r.name, now, password=r.password)
        for d in b.databases.values():
            state.make_database(backup, d.name, d.owner_name, now)
        for c in p.branches.values():
            if c.parent_id == b.id and c.id != backup.id:
                c.parent_id = backup.id
        specs.append(("create_branch", backup.id, None))
    specs.append(("create_timeline", b.id, None))
    for ep in running:
        specs.append(("start_compute", b.id, ep.id))
    ops = state.add_operations(p, specs)
    state.computes_do("branch_restore", p, ops, branch=b, source=src, backup=backup)
    b.last_reset_at = now
    b.state_changed_at = now
    b.updated_at = now
    b.ready_at = ops[-1].end
    b.logical_size = src.logical_size
    if src.id != b.id:
        b.parent_id = src.id if b.parent_id is not None else b.parent_id
        b.parent_timestamp = ts if ts is not None else now
        b.parent_lsn = lsn or b.parent_lsn
    if backup is not None:
        backup.ready_at = ops[-1].end
    # running computes restart on the restored state
    for i, ep in enumerate(running):
        state.ep_schedule(ep, "active", ops[len(ops) - len(running) + i].end)
    return 200, {"branch": state.branch_json(p, b), "operations": ops_json(state, ops)}


def h_branch_set_default(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    now = state.now()
    old = p.branches.get(p.default_branch_id)
    if old is not None and old.id != b.id:
        old.updated_at = now
    p.default_branch_id = b.id
    b.updated_at = now
    return 200, {"branch": state.branch_json(p, b), "operations": []}


def h_branch_endpoints(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    now = state.now()
    return 200, {"endpoints": [state.endpoint_json(ep, now=now) for ep in branch_endpoints(p, b)]}


# ------------------------------------------------------------------------------------------------ roles / dbs

def h_roles_list(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    return 200, {"roles": [state.role_json(r) for r in b.roles.values()]}


def _apply_config_ops(state, p, b):
    specs = [("apply_config", b.id, ep.id) for ep in branch_endpoints(p, b) if ep.type == "read_write"]
    if not specs:
        specs = [("apply_config", b.id, None)]
    return specs


def h_role_create(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    rj = body_obj(data, "role")
    name = rj.get("name")
    if name is None:
        raise err(400, "invalid request: decode application/json: invalid: role.name (field required)")
    check_role_name(name)
    if name in b.roles:
        raise err(409, "role %r already exists" % name)
    if len(b.roles) >= 500:
        raise err(422, "roles limit exceeded", "ROLES_LIMIT_EXCEEDED")
    state.check_lock(p)
    now = state.now()
    r = state.make_role(b, name, now)
    if rj.get("no_login"):
        r.password = ""
    ops = state.add_operations(p, _apply_config_ops(state, p, b))
    state.computes_do("role_create", p, ops, branch=b, role=r)
    d = state.role_json(r, with_password=not rj.get("no_login"))
    return 201, {"role": d, "operations": ops_json(state, ops)}


def _role(b, name):
    r = b.roles.get(name)
    if r is None:
        raise err(404, "role %s not found" % name)
    return r


def h_role_get(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    return 200, {"role": state.role_json(_role(b, pr["role_name"]))}


def h_role_delete(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    r = b.roles.get(pr["role_name"])
    if r is None:
        return 204, None
    if any(d.owner_name == r.name for d in b.databases.values()):
        raise err(400, "role %s owns a database and cannot be deleted" % r.name)
    state.check_lock(p)
    del b.roles[r.name]
    ops = state.add_operations(p, _apply_config_ops(state, p, b))
    state.computes_do("role_delete", p, ops, branch=b, role=r)
    return 200, {"role": state.role_json(r), "operations": ops_json(state, ops)}


def h_role_reveal(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    r = _role(b, pr["role_name"])
    if not p.store_passwords:
        raise err(412, "project does not store passwords")
    return 200, {"password": r.password}


def h_role_reset(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    r = _role(b, pr["role_name"])
    state.check_lock(p)
    now = state.now()
    r.password = state.new_password()
    r.updated_at = now
    ops = state.add_operations(p, _apply_config_ops(state, p, b))
    state.computes_do("role_password", p, ops, branch=b, role=r)
    return 200, {"role": state.role_json(r, True), "operations": ops_json(state, ops)}


def h_databases_list(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    return 200, {"databases": [state.database_json(d) for d in b.databases.values()]}


def h_database_create(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    dj = body_obj(data, "database")
    name, owner = dj.get("name"), dj.get("owner_name")
    if name is None:
        raise err(400, "invalid request: decode application/json: invalid: database.name (field required)")
    if owner is None:
        raise err(400, "invalid request: decode application/json: invalid: database.owner_name (field required)")
    check_db_name(name)
    if name in b.databases:
        raise err(409, "database %r already exists" % name)
    if owner not in b.roles:
        raise err(404, "role %s not found" % owner)
    if len(b.databases) >= 500:
        raise err(422, "databases limit exceeded", "DATABASES_LIMIT_EXCEEDED")
    state.check_lock(p)
    d = state.make_database(b, name, owner, state.now())
    ops = state.add_operations(p, _apply_config_ops(state, p, b))
    state.computes_do("database_create", p, ops, branch=b, database=d)
    return 201, {"database": state.database_json(d), "operations": ops_json(state, ops)}


def h_database_get(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    d = b.databases.get(pr["database_name"])
    if d is None:
        raise err(404, "database %s not found" % pr["database_name"])
    return 200, {"database": state.database_json(d)}


def h_database_delete(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    d = b.databases.get(pr["database_name"])
    if d is None:
        return 204, None
    state.check_lock(p)
    del b.databases[d.name]
    ops = state.add_operations(p, _apply_config_ops(state, p, b))
    state.computes_do("database_delete", p, ops, branch=b, database=d)
    return 200, {"database": state.database_json(d), "operations": ops_json(state, ops)}


# ================================================================================================ endpoints

def h_endpoints_list(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    now = state.now()
    return 200, {"endpoints": [state.endpoint_json(ep, now=now) for ep in p.endpoints.values()]}


def h_endpoint_get(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    return 200, {"endpoint": state.endpoint_json(get_endpoint(p, pr["endpoint_id"]))}


def h_endpoint_create(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    ej = body_obj(data, "endpoint")
    if not isinstance(ej.get("branch_id"), str):
        raise err(400, "invalid request: decode application/json: invalid: endpoint.branch_id (field required)")
    if ej.get("type") not in ("read_write", "read_only"):
        raise err(400, "invalid request: decode application/json: invalid: endpoint.type (field required)")
    b = get_branch(p, ej["branch_id"])
    if ej.get("region_id") not in (None, p.region_id):
        raise err(400, "only the project's region_id is permitted")
    if ej["type"] == "read_write" and rw_endpoint(p, b) is not None:
        raise err(409, "read_write endpoint already exists on branch %s" % b.id)
    (typ, mn, mx, s), = parse_endpoint_options(state, p, [ej], state.now())
    name = ej.get("name")
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 64):
        raise err(400, "endpoint name must be between 1 and 64 characters")
    state.check_lock(p)
    now = state.now()
    ep = state.make_endpoint(p, b, typ, mn, mx, s, now)
    ep.name = name
    ep.disabled = bool(ej.get("disabled", False))
    if isinstance(ej.get("settings"), dict):
        ep.settings = dict(ej["settings"])
    specs = [("start_compute", b.id, ep.id)]
    if ep.disabled or (p.quota_suspended and state.exceeded_quota(p)):
        ep.cur, ep.pending = "idle", None
        specs = [("apply_config", b.id, ep.id)]
    ops = state.add_operations(p, specs)
    if specs[0][0] == "start_compute":
        state.ep_schedule(ep, "active", ops[0].end)
    state.computes_do("endpoint_create", p, endpoint=ep)
    return 201, {"endpoint": state.endpoint_json(ep), "operations": ops_json(state, ops)}


def h_endpoint_patch(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    ep = get_endpoint(p, pr["endpoint_id"])
    ej = body_obj(data, "endpoint")
    lim = org_limits(state, p)
    mn = ej.get("autoscaling_limit_min_cu", ep.min_cu)
    mx = ej.get("autoscaling_limit_max_cu", ep.max_cu)
    check_cu(lim, mn, mx)
    s = ej.get("suspend_timeout_seconds", None)
    check_suspend(lim, s)
    disabled = ej.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise err(400, "invalid request: decode application/json: invalid: disabled (boolean expected)")
    name = ej.get("name")
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 64):
        raise err(400, "endpoint name must be between 1 and 64 characters")
    if "branch_id" in ej and ej["branch_id"] != ep.branch_id:
        nb = get_branch(p, ej["branch_id"])
        if ep.type == "read_write" and rw_endpoint(p, nb) is not None:
            raise err(409, "read_write endpoint already exists on branch %s" % nb.id)
    state.check_lock(p)
    now = state.now()
    ep.min_cu, ep.max_cu = mn, mx
    if s is not None:
        ep.suspend_timeout_seconds = s
    if name is not None:
        ep.name = name
    if isinstance(ej.get("settings"), dict):
        ep.settings = dict(ej["settings"])
    if "branch_id" in ej:
        ep.branch_id = ej["branch_id"]
    specs = [("apply_config", ep.branch_id, ep.id)]
    if disabled is not None and disabled != ep.disabled:
        ep.disabled = disabled
        if disabled and state.ep_running(ep):
            specs.append(("suspend_compute", ep.branch_id, ep.id))
    ep.updated_at = now
    ops = state.add_operations(p, specs)
    if specs[-1][0] == "suspend_compute":
        state.ep_schedule(ep, "idle", ops[-1].end)
    return 200, {"endpoint": state.endpoint_json(ep), "operations": ops_json(state, ops)}


def h_endpoint_delete(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    eid = pr["endpoint_id"]
    ep = p.endpoints.get(eid)
    if ep is None:
        if eid in p.deleted_endpoints:
            return 204, None
        raise err(404, "endpoint not found")
    state.check_lock(p)
    specs = []
    if state.ep_running(ep):
        specs.append(("suspend_compute", ep.branch_id, ep.id))
    ops = state.add_operations(p, specs)
    body = {"endpoint": state.endpoint_json(ep), "operations": ops_json(state, ops)}
    state.computes_do("endpoint_delete", p, endpoint=ep)
    del p.endpoints[eid]
    p.deleted_endpoints.add(eid)
    return 200, body


def h_endpoint_start(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    ep = get_endpoint(p, pr["endpoint_id"])
    quota_block(state, p)
    if ep.disabled:
        raise err(400, "endpoint %s is disabled" % ep.id)
    state.check_lock(p)
    ops = state.add_operations(p, [("start_compute", ep.branch_id, ep.id)])
    state.ep_schedule(ep, "active", ops[0].end)
    ep.updated_at = state.now()
    return 200, {"endpoint": state.endpoint_json(ep), "operations": ops_json(state, ops)}


def h_endpoint_suspend(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    ep = get_endpoint(p, pr["endpoint_id"])
    state.check_lock(p)
    ops = state.add_operations(p, [("suspend_compute", ep.branch_id, ep.id)])
    state.ep_schedule(ep, "idle", ops[0].end)
    ep.updated_at = state.now()
    state.computes_do("computes_restart", p, endpoints=[ep])
    return 200, {"endpoint": state.endpoint_json(ep), "operations": ops_json(state, ops)}


def h_endpoint_restart(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    ep = get_endpoint(p, pr["endpoint_id"])
    quota_block(state, p)
    state.check_lock(p)
    ops = state.add_operations(p, [("suspend_compute", ep.branch_id, ep.id),
                                   ("start_compute", ep.branch_id, ep.id)])
    state.ep_schedule(ep, "active", ops[1].end)
    ep.updated_at = state.now()
    state.computes_do("computes_restart", p, endpoints=[ep])
    return 200, {"endpoint": state.endpoint_json(ep), "operations": ops_json(state, ops)}


# ================================================================================================ snapshots

def h_snapshot_create(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    if b.parent_id is not None:
        raise err(400, "snapshots can only be created from root branches")
    ts_s, lsn, name, exp_s = q1(query, "timestamp"), q1(query, "lsn"), q1(query, "name"), q1(query, "expires_at")
    if ts_s and lsn:
        raise err(400, "timestamp and lsn cannot be used together")
    now = state.now()
    ts = now
    if ts_s:
        ts = parse_time_field(ts_s, "timestamp")
        check_point_in_time(state, p, ts, "timestamp")
    if lsn is not None and not LSN_RE.match(lsn):
        raise err(400, "invalid lsn %r" % lsn)
    expires_at = None
    if exp_s:
        expires_at = parse_time_field(exp_s, "expires_at")
        if expires_at <= now:
            raise err(400, "expires_at must be in the future")
    lim = org_limits(state, p)
    manual = sum(1 for s in p.snapshots.values() if s.manual)
    if manual >= lim["snapshots"]:
        raise err(422, "manual snapshots limit exceeded: the project may have at most %d manual snapshots"
                  % lim["snapshots"], "SNAPSHOTS_LIMIT_EXCEEDED")
    state.check_lock(p)
    s = _new_snapshot(state, p, b, name, ts, lsn, expires_at, now)
    ops = state.add_operations(p, [("create_branch", b.id, None)])
    state.computes_do("snapshot_create", p, ops, branch=b, snapshot=s)
    return 200, {"snapshot": state.snapshot_json(s), "operations": ops_json(state, ops)}


def _new_snapshot(state, p, b, name, ts, lsn, expires_at, now):
    s = Snapshot()
    s.id = state.new_object_id("snap")
    s.name = name or "%s %s" % (b.name, iso(ts))
    s.source_branch_id = b.id
    s.created_at = now
    s.timestamp = ts
    s.lsn = lsn or "0/%X" % (b.head_lsn + int(max(0, ts - p.created_at) * 16))
    s.expires_at = expires_at
    s.manual = True
    s.full_size = b.logical_size
    p.snapshots[s.id] = s
    return s


def _expire_snapshots(state, p):
    now = state.now()
    for sid in [sid for sid, s in p.snapshots.items() if s.expires_at is not None and s.expires_at <= now]:
        state.computes_do("snapshot_delete", p, snapshot=p.snapshots.pop(sid))


def h_snapshots_list(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    _expire_snapshots(state, p)
    return 200, {"snapshots": [state.snapshot_json(s) for s in p.snapshots.values()]}


def _snapshot(state, p, sid):
    _expire_snapshots(state, p)
    s = p.snapshots.get(sid)
    if s is None:
        raise err(404, "snapshot not found")
    return s


def h_snapshot_patch(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    s = _snapshot(state, p, pr["snapshot_id"])
    sj = body_obj(data, "snapshot")
    if sj.get("name") is not None:
        if not isinstance(sj["name"], str) or not sj["name"]:
            raise err(400, "snapshot name must be a non-empty string")
        s.name = sj["name"]
    return 200, {"snapshot": state.snapshot_json(s)}


def h_snapshot_delete(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    s = _snapshot(state, p, pr["snapshot_id"])
    state.check_lock(p)
    del p.snapshots[s.id]
    ops = state.add_operations(p, [("delete_timeline", s.source_branch_id if s.source_branch_id in p.branches
                                    else p.default_branch_id, None)])
    state.computes_do("snapshot_delete", p, ops, snapshot=s)
    return 202, {"operations": ops_json(state, ops)}


def _finalize(state, p, new_b, target, old_name, specs):
    """Move the computes of `target` to `new_b`; new_b takes target's name, default flag and protection;
    target is renamed.  Appends operation specs; returns the moved endpoints."""
    moved = branch_endpoints(p, target)
    name = target.name
    target.name = old_name or "%s (old)" % name
    while branch_name_taken(p, target.name, exclude=target.id):
        target.name += " (old)"
    new_b.name = name
    new_b.protected, target.protected = target.protected, False
    if p.default_branch_id == target.id:
        p.default_branch_id = new_b.id
    new_b.restore_status = "finalized"
    target.restored_as = new_b.id
    for ep in moved:
        was = state.ep_running(ep)
        ep.branch_id = new_b.id
        specs.append(("suspend_compute", new_b.id, ep.id))
        if was:
            specs.append(("start_compute", new_b.id, ep.id))
    return moved


def h_snapshot_restore(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    s = _snapshot(state, p, pr["snapshot_id"])
    if data is not None and not isinstance(data, dict):
        raise err(400, "invalid request: decode application/json: object expected")
    data = data or {}
    name = data.get("name") or q1(query, "name")
    if name is not None and (not isinstance(name, str) or not 1 <= len(name) <= 256):
        raise err(400, "name must be between 1 and 256 characters")
    finalize = data.get("finalize_restore", False)
    if not isinstance(finalize, bool):
        raise err(400, "invalid request: decode application/json: invalid: finalize_restore (boolean expected)")
    target_id = data.get("target_branch_id") or s.source_branch_id
    target = p.branches.get(target_id)
    if target is None:
        raise err(404, "target branch %s not found" % target_id)
    if name is not None and branch_name_taken(p, name):
        raise err(409, "branch with name %r already exists" % name)
    check_branch_limits(state, p, 1, 1)
    state.check_lock(p)
    now = state.now()
    nb = state.make_branch(p, name or "%s (restored %s)" % (target.name, iso(now)), now)
    nb.restore_status = "restored"
    nb.restored_from = s.id
    nb.restore_target = target.id
    nb.logical_size = s.full_size or 0
    src = p.branches.get(s.source_branch_id) or target
    for r in src.roles.values():
        state.make_role(nb, r.name, now, password=r.password)
    for d in src.databases.values():
        state.make_database(nb, d.name, d.owner_name, now)
    specs = [("timeline_unarchive", nb.id, None), ("create_branch", nb.id, None)]
    moved = []
    if finalize:
        moved = _finalize(state, p, nb, target, None, specs)
    ops = state.add_operations(p, specs)
    state.computes_do("snapshot_restore", p, ops, branch=nb, snapshot=s, endpoints=moved)
    nb.ready_at = ops[1].end
    _schedule_moved(state, moved, ops)
    out = {"branch": state.branch_json(p, nb), "operations": ops_json(state, ops)}
    if moved:
        out["endpoints"] = [state.endpoint_json(ep) for ep in moved]
    return 200, out


def _schedule_moved(state, moved, ops):
    for ep in moved:
        mine = [o for o in ops if o.endpoint_id == ep.id]
        if mine:
            state.ep_schedule(ep, "active" if mine[-1].action == "start_compute" else "idle", mine[-1].end)


def h_finalize_restore(state, auth, pr, query, data):
    p = get_project(state, auth, pr["project_id"])
    b = get_branch(p, pr["branch_id"])
    if b.restore_status != "restored":
        raise err(400, "branch %s is not a restored branch awaiting finalization" % b.id)
    if data is not None and not isinstance(data, dict):
        raise err(400, "invalid request: decode application/json: object expected")
    name = (data or {}).get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise err(400, "name must be a non-empty string")
    target = p.branches.get(b.restore_target)
    if target is None:
        raise err(404, "target branch %s not found" % b.restore_target)
    if name is not None and branch_name_taken(p, name, exclude=target.id):
        raise err(409, "branch with name %r already exists" % name)
    state.check_lock(p)
    specs = []
    moved = _finalize(state, p, b, target, name, specs)
    if not specs:
        specs = [("apply_config", b.id, None)]
    ops = state.add_operations(p, specs)
    _schedule_moved(state, moved, ops)
    state.computes_do("computes_restart", p, endpoints=moved)
    b.updated_at = target.updated_at = state.now()
    return 200, {"operations": ops_json(state, ops)}


# ================================================================================================ transfers

def h_transfer(state, auth, pr, query, data):
    """Org-to-org move within our account.  Checks in order: 403 key kind, 404 / 400 orgs, ids and body,
    423 running operations, 422 integrations, 406 destination limits; any refusal moves nothing."""
    if auth.kind != "personal":
        raise err(403, "transferring projects between organizations requires a personal API key")
    src = visible_org(state, auth, pr["source_org_id"])
    if src is None:
        raise err(404, "organization %s not found" % pr["source_org_id"])
    if not isinstance(data, dict):
        raise err(400, "invalid request: decode application/json: invalid: destination_org_id (field required)")
    dest_id = data.get("destination_org_id")
    ids = data.get("project_ids")
    if not isinstance(dest_id, str) or not ID_RE.match(dest_id):
        raise err(400, "invalid request: decode application/json: invalid: destination_org_id (field required)")
    if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
        raise err(400, "invalid request: decode application/json: invalid: project_ids (field required)")
    if not 1 <= len(ids) <= 400:
        raise err(400, "invalid request: decode application/json: invalid: project_ids "
                       "(must contain between 1 and 400 items, got %d)" % len(ids))
    dest = visible_org(state, auth, dest_id)
    if dest is None:
        raise err(404, "organization %s not found" % dest_id)
    if dest.id == src.id:
        raise err(400, "source and destination organizations are the same")
    uniq = list(dict.fromkeys(ids))
    projects = []
    for pid in uniq:
        p = state.projects.get(pid)
        if p is None or p.org_id != src.id:
            raise err(404, "project %s not found in organization %s" % (pid, src.id))
        projects.append(p)
    for p in projects:
        state.check_lock(p)
    integrated = [{"id": p.id, "integration": p.integration} for p in projects if p.integration]
    if integrated:
        raise ApiError(422, "projects with GitHub or Vercel integrations cannot be transferred",
                       body={"projects": integrated})
    lim = dest.limits
    failed = []
    if dest.count() + len(projects) > lim["projects"]:
        failed.append({"name": "projects_count", "expected": str(lim["projects"]),
                       "actual": str(dest.count() + len(projects))})
    max_cu = max((ep.max_cu for p in projects for ep in p.endpoints.values()), default=0)
    if max_cu > lim["max_cu"]:
        failed.append({"name": "max_autoscaling_limit", "expected": str(cu_json(lim["max_cu"])),
                       "actual": str(cu_json(max_cu))})
    max_br = max((len(p.branches) for p in projects), default=0)
    if max_br > lim["branches"]:
        failed.append({"name": "branches_count", "expected": str(lim["branches"]), "actual": str(max_br)})
    max_snap = max((sum(1 for s in p.snapshots.values() if s.manual) for p in projects), default=0)
    if max_snap > lim["snapshots"]:
        failed.append({"name": "snapshots_count", "expected": str(lim["snapshots"]), "actual": str(max_snap)})
    if failed:
        return 406, {"limits": failed}
    for p in projects:
        state.move_project(p, dest.id)
    return 200, {}


# ------------------------------------------------------------------------------------------------ claim links

def optional_body(data):
    """A request body that may be absent (then {}) but, when sent, must be a JSON object."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise err(400, "invalid request: decode application/json: object expected")
    return data


def plan_error(code, message):
    """406 AcceptProjectTransferRequestSatisfiesPlanError: {"reasons": [{code, message}]}."""
    return ApiError(406, message, code, body={"reasons": [{"code": code, "message": message}]})


def h_transfer_request_create(state, auth, pr, query, data):
    """A claim link for a project of ours; its id lets another account accept it."""
    p = get_project(state, auth, pr["project_id"])
    ttl = want_type(optional_body(data), "ttl_seconds", (int,), "integer")
    if ttl is not None and not 60 <= ttl <= 2592000:
        raise err(400, "ttl_seconds must be between 60 and 2592000")
    tr = state.new_transfer_request(p, TRANSFER_REQUEST_TTL if ttl is None else ttl)
    return 201, tr.json()


def h_transfer_request_accept(state, auth, pr, query, data):
    """Another account claims the project.  The request id is the capability: the project need not be visible
    to the key.  Checks in order: 404 request, 409 already accepted, 403 own account, 406 expired,
    404 / 400 destination org, 406 destination full; then the project moves (204)."""
    org_id = want_type(optional_body(data), "org_id", (str,), "string")
    tr = state.transfer_requests.get(pr["request_id"])
    p = state.projects.get(pr["project_id"])
    if tr is None or tr.project_id != pr["project_id"] or p is None:
        raise err(404, "transfer request %s not found for project %s" % (pr["request_id"], pr["project_id"]))
    if tr.accepted:
        raise err(409, "transfer request %s was already accepted" % tr.id, "TRANSFER_REQUEST_ALREADY_USED")
    if state.orgs[p.org_id].account == auth.account:
        raise err(403, "project %s already belongs to this account; the receiving account accepts a transfer "
                       "request" % p.id)
    if state.now() >= tr.expires_at:
        raise plan_error("TRANSFER_REQUEST_EXPIRED", "transfer request expired at %s" % iso(tr.expires_at))
    dest = key_org(state, auth, org_id, ACCOUNTS[auth.account]["home_org"])
    if dest.count() >= dest.limits["projects"]:
        raise plan_error("PROJECTS_LIMIT_EXCEEDED", "organization projects limit of %d exceeded"
                         % dest.limits["projects"])
    tr.accepted = True
    state.move_project(p, dest.id)
    return 204, None


# ================================================================================================ consumption

def _floor(t, gran):
    g = time.gmtime(t)
    if gran == "hourly":
        return t - (t % 3600)
    if gran == "daily":
        return t - (t % 86400)
    return month_start(t)


def _step(t, gran):
    if gran == "hourly":
        return t + 3600
    if gran == "daily":
        return t + 86400
    return next_month_start(t)


def h_consumption_v2(state, auth, pr, query, data):
    for name in ("from", "to", "granularity", "org_id", "metrics"):
        if not q1(query, name):
            raise err(400, "invalid request: decode params: query: %s: field required" % name)
    org_id = q1(query, "org_id")
    org = visible_org(state, auth, org_id)
    if org is None:
        raise err(404, "organization %s not found" % org_id)
    gran = q1(query, "granularity")
    if gran not in ("hourly", "daily", "monthly"):
        raise err(400, "invalid request: decode params: query: granularity: invalid value %r" % gran)
    metrics = qlist(query, "metrics")
    for m in metrics:
        if m not in CONSUMPTION_METRICS:
            raise err(400, "invalid request: decode params: query: metrics: unknown metric %r" % m)
    metrics = list(dict.fromkeys(metrics))
    pids = qlist(query, "project_ids")
    if len(pids) > 100:
        raise err(400, "invalid request: decode params: query: project_ids: at most 100 ids")
    for x in pids:
        if not ID_RE.match(x):
            raise err(400, "invalid request: decode params: query: project_ids: invalid id %r" % x)
    limit = qint(query, "limit", 1, 100, 10)
    cursor = q1(query, "cursor")
    t_from = parse_ts(q1(query, "from"))
    t_to = parse_ts(q1(query, "to"))
    if t_from is None:
        raise err(400, "invalid request: decode params: query: from: invalid date-time")
    if t_to is None:
        raise err(400, "invalid request: decode params: query: to: invalid date-time")
    if not org.limits["consumption_api"]:
        raise err(403, "consumption history is not available for the organization's plan")
    now = state.now()
    earliest = {"hourly": now - 168 * 3600, "daily": now - 60 * 86400, "monthly": now - 366 * 86400}[gran]
    earliest = max(_floor(earliest, gran), CONSUMPTION_EARLIEST)
    f = _floor(t_from, gran)
    if t_to <= t_from:
        raise err(406, "'to' must be after 'from'")
    if f < earliest:
        raise err(406, "'from' %s is too far in the past for %s granularity (earliest %s)"
                  % (iso(t_from), gran, iso(earliest)))
    end = min(t_to, now)
    # project selection, newest first (creation order), cursor = last project id of the previous page
    seqs, ids = org.ix_seq, org.ix_pid
    wanted = set(pids) if pids else None
    i = len(seqs) - 1
    if cursor:
        cseq = state.seq_of.get(cursor)
        if cseq is None:
            raise err(400, "invalid cursor")
        i = bisect.bisect_left(seqs, cseq) - 1
    page = []
    while i >= 0 and len(page) < limit:
        pid = ids[i]
        i -= 1
        if wanted is not None and pid not in wanted:
            continue
        page.append(state.projects[pid])
    out_projects = []
    for p in page:
        out_projects.append({"project_id": p.id, "periods": _periods(state, org, p, f, end, gran, metrics)})
    out = {"projects": out_projects}
    if page:
        out["pagination"] = {"cursor": page[-1].id}
    return 200, out


def _periods(state, org, p, start, end, gran, metrics):
    buckets = []
    t = max(start, _floor(p.created_at, gran))
    while t < end and len(buckets) < 400:
        buckets.append((t, _step(t, gran)))
        t = _step(t, gran)
    if not buckets:
        return []
    now = state.now()
    roots = sum(b.logical_size for b in p.branches.values() if b.parent_id is None)
    childs = sum(b.logical_size for b in p.branches.values() if b.parent_id is not None)
    nchild = sum(1 for b in p.branches.values() if b.parent_id is not None)
    snaps = sum(s.full_size or 0 for s in p.snapshots.values())
    periods = {}
    for (bs, be) in buckets:
        hours = max(0.0, (min(be, now) - max(bs, p.created_at)) / 3600.0)
        ev = {"compute_time_seconds": 0, "data_transfer_bytes": 0, "written_data_bytes": 0}
        for (et, add) in p.usage_events:
            if bs <= et < be:
                for k in ev:
                    ev[k] += add.get(k, 0)
        values = {
            "compute_unit_seconds": ev["compute_time_seconds"],
            "root_branch_bytes_month": int(roots * hours),
            "child_branch_bytes_month": int(childs * hours),
            "instant_restore_bytes_month": int(ev["written_data_bytes"] * hours),
            "snapshot_storage_bytes_month": int(snaps * hours),
            "public_network_transfer_bytes": ev["data_transfer_bytes"],
            "private_network_transfer_bytes": 0,
            "extra_branches_month": int(round(nchild * hours)),
        }
        ms = month_start(bs)
        per = periods.get(ms)
        if per is None:
            per = {"period_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "neon-emulator:%s:%s:%d" % (org.id, p.id, ms))),
                   "period_plan": org.limits["plan"], "period_start": iso(ms)}
            if next_month_start(ms) <= now:
                per["period_end"] = iso(next_month_start(ms))
            per["consumption"] = []
            periods[ms] = per
        per["consumption"].append({"timeframe_start": iso(bs), "timeframe_end": iso(be),
                                   "metrics": [{"metric_name": m, "value": values[m]} for m in metrics]})
    return list(periods.values())


# ================================================================================================ route table

ROUTES = [
    ("GET", "/users/me", h_users_me),
    ("GET", "/users/me/organizations", h_users_me_orgs),
    ("GET", "/auth", h_auth),
    ("GET", "/regions", h_regions),
    ("GET", "/organizations/{org_id}", h_org_get),
    ("POST", "/organizations/{source_org_id}/projects/transfer", h_transfer),
    ("GET", "/api_keys", h_api_keys_list),
    ("POST", "/api_keys", h_api_keys_create),
    ("DELETE", "/api_keys/{key_id}", h_api_keys_revoke),
    ("GET", "/projects", h_projects_list),
    ("POST", "/projects", h_project_create),
    ("GET", "/projects/shared", h_projects_shared),
    ("GET", "/projects/{project_id}", h_project_get),
    ("PATCH", "/projects/{project_id}", h_project_patch),
    ("DELETE", "/projects/{project_id}", h_project_delete),
    ("GET", "/projects/{project_id}/connection_uri", h_connection_uri),
    ("POST", "/projects/{project_id}/transfer_requests", h_transfer_request_create),
    ("PUT", "/projects/{project_id}/transfer_requests/{request_id}", h_transfer_request_accept),
    ("GET", "/projects/{project_id}/operations", h_operations_list),
    ("GET", "/projects/{project_id}/operations/{operation_id}", h_operation_get),
    ("POST", "/projects/{project_id}/branches", h_branch_create),
    ("GET", "/projects/{project_id}/branches", h_branches_list),
    ("GET", "/projects/{project_id}/branches/count", h_branches_count),
    ("GET", "/projects/{project_id}/branches/{branch_id}", h_branch_get),
    ("PATCH", "/projects/{project_id}/branches/{branch_id}", h_branch_patch),
    ("DELETE", "/projects/{project_id}/branches/{branch_id}", h_branch_delete),
    ("POST", "/projects/{project_id}/branches/{branch_id}/restore", h_branch_restore),
    ("POST", "/projects/{project_id}/branches/{branch_id}/set_as_default", h_branch_set_default),
    ("POST", "/projects/{project_id}/branches/{branch_id}/finalize_restore", h_finalize_restore),
    ("POST", "/projects/{project_id}/branches/{branch_id}/snapshot", h_snapshot_create),
    ("GET", "/projects/{project_id}/branches/{branch_id}/endpoints", h_branch_endpoints),
    ("GET", "/projects/{project_id}/branches/{branch_id}/roles", h_roles_list),
    ("POST", "/projects/{project_id}/branches/{branch_id}/roles", h_role_create),
    ("GET", "/projects/{project_id}/branches/{branch_id}/roles/{role_name}", h_role_get),
    ("DELETE", "/projects/{project_id}/branches/{branch_id}/roles/{role_name}", h_role_delete),
    ("GET", "/projects/{project_id}/branches/{branch_id}/roles/{role_name}/reveal_password", h_role_reveal),
    ("POST", "/projects/{project_id}/branches/{branch_id}/roles/{role_name}/reset_password", h_role_reset),
    ("GET", "/projects/{project_id}/branches/{branch_id}/databases", h_databases_list),
    ("POST", "/projects/{project_id}/branches/{branch_id}/databases", h_database_create),
    ("GET", "/projects/{project_id}/branches/{branch_id}/databases/{database_name}", h_database_get),
    ("DELETE", "/projects/{project_id}/branches/{branch_id}/databases/{database_name}", h_database_delete),
    ("GET", "/projects/{project_id}/endpoints", h_endpoints_list),
    ("POST", "/projects/{project_id}/endpoints", h_endpoint_create),
    ("GET", "/projects/{project_id}/endpoints/{endpoint_id}", h_endpoint_get),
    ("PATCH", "/projects/{project_id}/endpoints/{endpoint_id}", h_endpoint_patch),
    ("DELETE", "/projects/{project_id}/endpoints/{endpoint_id}", h_endpoint_delete),
    ("POST", "/projects/{project_id}/endpoints/{endpoint_id}/start", h_endpoint_start),
    ("POST", "/projects/{project_id}/endpoints/{endpoint_id}/suspend", h_endpoint_suspend),
    ("POST", "/projects/{project_id}/endpoints/{endpoint_id}/restart", h_endpoint_restart),
    ("GET", "/projects/{project_id}/snapshots", h_snapshots_list),
    ("PATCH", "/projects/{project_id}/snapshots/{snapshot_id}", h_snapshot_patch),
    ("DELETE", "/projects/{project_id}/snapshots/{snapshot_id}", h_snapshot_delete),
    ("POST", "/projects/{project_id}/snapshots/{snapshot_id}/restore", h_snapshot_restore),
    ("GET", "/consumption_history/v2/projects", h_consumption_v2),
]

# (method, number of segments) -> [(segments, template, handler)], literal-rich templates first
_INDEX = {}
for _m, _tpl, _h in ROUTES:
    _segs = tuple(_tpl.strip("/").split("/"))
    _INDEX.setdefault((_m, len(_segs)), []).append((_segs, "%s %s" % (_m, _tpl), _h))
for _v in _INDEX.values():
    _v.sort(key=lambda e: -sum(1 for s in e[0] if not s.startswith("{")))

ID_PARAMS = {"project_id", "branch_id", "endpoint_id", "snapshot_id", "org_id", "source_org_id", "request_id"}


def _match(method, path):
    if not path or path[0] != "/":
        return None
    segs = path[1:].split("/")
    cands = _INDEX.get((method.upper(), len(segs)))
    if not cands:
        return None
    for tsegs, tpl, h in cands:
        params = None
        for t, s in zip(tsegs, segs):
            if t[0] == "{":
                if s == "":
                    break
                if params is None:
                    params = {}
                params[t[1:-1]] = s
            elif t != s:
                break
        else:
            return tpl, h, params or {}
    return None


def route_template(method: str, path: str):
    """'GET /projects/{project_id}' for a known route, None otherwise (the transport answers 404)."""
    m = _match(method, path)
    return m[0] if m else None


def _check_params(params):
    out = {}
    for k, v in params.items():
        v = urllib.parse.unquote(v)
        if k in ID_PARAMS:
            if not ID_RE.match(v):
                raise err(400, "invalid request: decode params: path: %s: string %r does not match the pattern "
                               "^[a-z0-9-]{1,60}$" % (k, v))
        elif k == "operation_id":
            if not UUID_RE.match(v):
                raise err(400, "invalid request: decode params: path: operation_id: invalid uuid %r" % v)
        elif k == "key_id":
            try:
                v = int(v)
            except ValueError:
                raise err(400, "invalid request: decode params: path: key_id: invalid integer %r" % v)
        out[k] = v
    return out


def dispatch(state, method, path, query, headers, body):
    """Answer one /api/v2 request: (status, JSON-serialisable body or None, extra headers)."""
    try:
        m = _match(method, path)
        if m is None:
            return 404, {"code": "", "message": "not found"}, {}
        tpl, handler, raw_params = m
        info = state.key_info(headers)
        if info is None:
            return 401, {"code": "", "message": "authorization failed"}, {}
        info["last_used_at"] = state.now()
        state.computes_do("api_request")
        auth = Auth(info, None)
        params = _check_params(raw_params)
        data = decode_body(body) if method.upper() in ("POST", "PATCH", "PUT", "DELETE") else None
        status, out = handler(state, auth, params, query or {}, data)
        return status, out, {}
    except ApiError as e:
        b = e.to_body()
        rid = headers.get("x-request-id") if headers else None
        if rid and isinstance(b, dict) and "message" in b and "code" in b:
            b = dict(b)
            b["request_id"] = rid
        return e.status, b, {}
