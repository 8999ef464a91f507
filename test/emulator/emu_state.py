"""Domain model of the Neon management API v2 emulator (standard library only).

This module holds the in-memory state (organizations, keys, projects, branches, endpoints, roles, databases,
operations, snapshots, usage) and the serialisation of each object in the shapes Neon returns.  The HTTP
route table and the request handlers live in emu_routes.py.

Interface used by the transport half (emu_http.py / neon_emulator.py):

    state = NeonState(operation_ms)
    state.operation_ms = N                      # may be changed at any time (/_emulator/config)
    state.reset()                               # forget everything (/_emulator/reset)
    state.account_for(headers) -> str | None    # account id for rate limiting (None: no valid key)
    state.add_usage(project_id, add) -> (status, body)   # /_emulator/usage
    state.bulk_create_projects(org_id, n, name_prefix="bench-", quota=None) -> list[str]   # benchmark fixture
    state.set_org_limit(org_id, name, value)    # change a plan limit (e.g. "projects") of one organization
    state.control(method, path, query, body) -> (status, body) | None   # domain calls under /_emulator/
                                                # (/integration, /expire_transfer_request, /seed_projects;
                                                # None: not ours)
    state.operation_outcomes = state.outcome_rules([{"action": "create_timeline", "status": "failed"}])
                                                # operations created from now on that match end badly
                                                # (config "operation_outcomes"; kept by reset())
    emu_computes.Computes(state, settings)      # --computes: sets state.computes (None by default: metadata
                                                # only); the routes report each change through
                                                # state.computes_do(), see emu_computes.py

Time: every status (operation, branch, endpoint) is computed lazily from the clock (``state.clock``,
default ``time.time``); there are no timers or threads.
"""

import base64
import bisect
import calendar
import functools
import json
import math
import random
import re
import string
import time
import uuid

SENTINEL_TIME = "0001-01-01T00:00:00Z"      # consumption period on create / PATCH / DELETE bodies
HELD = 1e15     # ends of held operations (and of what waits for them) are HELD + index: a time no clock reaches
NEVER_ACTIVE = "2000-01-01T00:00:00Z"       # endpoint.last_active of a compute that never ran
ID_RE = re.compile(r"^[a-z0-9-]{1,60}$")

FREE_ORG = "org-agent-free"
PAID_ORG = "org-agent-paid"
FREE_KEY = "emulator-free-org-key"
PAID_KEY = "emulator-paid-org-key"
PERSONAL_KEY = "emulator-personal-key"
ACCOUNT_ID = "emulator-account"
USER_ID = "5d3a6c0e-8f1b-4c2a-9e7d-3b1f2a4c6d8e"
USER_EMAIL = "agent@emulator.invalid"
# an end user's own Neon account (the receiver of claimed projects): one paid org and a personal key
USER_KEY = "emulator-user-key"
END_USER_ORG = "org-end-user"
END_USER_ACCOUNT = "emulator-end-user-account"
END_USER_ID = "9b2e4f61-7c3d-4a85-b1e0-6d5c8a2f4e17"

# The Neon accounts.  Keys see only their own account's orgs, and each account has its own rate limits.
# plan_org: whose plan /users/me reports; home_org: where a claimed project lands when the accepting key names
# no org_id (None: org_id is required, as for every call of a personal key of ours).
ACCOUNTS = {
    ACCOUNT_ID: {"user_id": USER_ID, "email": USER_EMAIL, "login": "agent", "name": "Emulator",
                 "last_name": "Agent", "plan_org": PAID_ORG, "home_org": None},
    END_USER_ACCOUNT: {"user_id": END_USER_ID, "email": "end-user@emulator.invalid", "login": "enduser",
                       "name": "End", "last_name": "User", "plan_org": END_USER_ORG, "home_org": END_USER_ORG},
}
INTEGRATIONS = ("github", "vercel")       # what /_emulator/integration may install (they block org transfers)
TRANSFER_REQUEST_TTL = 86400              # default validity of a transfer request (spec)
SEED_MAX = 100_000                        # most projects one /_emulator/seed_projects call creates

# Plan limits per organization.  "projects" is configurable with set_org_limit().
PLAN_LIMITS = {
    "free": {
        "branches": 10, "snapshots": 1, "root_branches": 5, "min_cu": 0.25, "max_cu": 2.0,
        "restore_window": 86400, "min_suspend": 300, "never_suspend": False, "projects": 30000,
        "consumption_api": False, "subscription_type": "free_v3", "plan": "free_v3",
        "branch_logical_size_limit": 512, "default_max_cu": 0.25,
    },
    "paid": {
        "branches": 1000, "snapshots": 10, "root_branches": 5, "min_cu": 0.25, "max_cu": 16.0,
        "restore_window": 604800, "min_suspend": 60, "never_suspend": True, "projects": 30000,
        "consumption_api": True, "subscription_type": "scale_v3", "plan": "scale_v3",
        "branch_logical_size_limit": 2097152, "default_max_cu": 0.25,
    },
}

RESERVED_ROLES = {"neon_superuser", "cloud_admin", "zenith_admin", "public", "none"}
RESERVED_DATABASES = {"postgres", "template0", "template1"}

REGIONS = [
    # region_id, name, default, lat, long
    ("aws-us-east-2", "AWS US East 2 (Ohio)", True, "39.9612", "-82.9988"),
    ("aws-us-east-1", "AWS US East 1 (N. Virginia)", False, "38.9072", "-77.0369"),
    ("aws-us-west-2", "AWS US West 2 (Oregon)", False, "45.5152", "-122.6784"),
    ("aws-eu-central-1", "AWS Europe Central 1 (Frankfurt)", False, "50.1109", "8.6821"),
    ("aws-eu-west-2", "AWS Europe West 2 (London)", False, "51.5074", "-0.1278"),
    ("aws-ap-southeast-1", "AWS Asia Pacific 1 (Singapore)", False, "1.3521", "103.8198"),
    ("aws-ap-southeast-2", "AWS Asia Pacific 2 (Sydney)", False, "-33.8688", "151.2093"),
    ("aws-sa-east-1", "AWS South America East 1 (São Paulo)", False, "-23.5558", "-46.6396"),
    ("azure-eastus2", "Azure East US 2 (Virginia)", False, "36.6681", "-78.3889"),
    ("azure-westus3", "Azure West US 3 (Arizona)", False, "33.4484", "-112.0740"),
    ("azure-gwc", "Azure Germany West Central (Frankfurt)", False, "50.1109", "8.6821"),
]
REGION_IDS = {r[0] for r in REGIONS}

QUOTA_FIELDS = ("active_time_seconds", "compute_time_seconds", "written_data_bytes", "data_transfer_bytes",
                "logical_size_bytes")
PERIOD_QUOTA_FIELDS = ("active_time_seconds", "compute_time_seconds", "written_data_bytes", "data_transfer_bytes")
USAGE_FIELDS = ("active_time_seconds", "compute_time_seconds", "written_data_bytes", "data_transfer_bytes",
                "logical_size_bytes", "data_storage_bytes_hour")
QUOTA_ERROR_CODES = {
    "active_time_seconds": "COMPUTE_TIME_EXCEEDED",
    "compute_time_seconds": "COMPUTE_TIME_EXCEEDED",
    "written_data_bytes": "WRITTEN_DATA_LIMIT_EXCEEDED",
    "data_transfer_bytes": "DATA_TRANSFER_LIMIT_EXCEEDED",
}

ADJECTIVES = (
    "aged", "ancient", "autumn", "billowing", "bitter", "black", "blue", "bold", "broad", "broken", "calm",
    "cold", "cool", "crimson", "curly", "damp", "dark", "dawn", "delicate", "divine", "dry", "empty", "falling",
    "fancy", "flat", "floral", "fragrant", "frosty", "gentle", "green", "hidden", "holy", "icy", "jolly", "late",
    "lingering", "little", "lively", "long", "lucky", "misty", "morning", "muddy", "mute", "nameless", "noisy",
    "odd", "old", "orange", "patient", "plain", "polished", "proud", "purple", "quiet", "rapid", "raspy", "red",
    "restless", "rough", "round", "royal", "shiny", "shrill", "shy", "silent", "small", "snowy", "soft",
    "solitary", "sparkling", "spring", "square", "steep", "still", "summer", "super", "sweet", "throbbing",
    "tight", "tiny", "twilight", "wandering", "weathered", "white", "wild", "winter", "wispy", "withered",
    "yellow", "young",
)
NOUNS = (
    "art", "band", "bar", "base", "bird", "block", "boat", "bonus", "bread", "breeze", "brook", "bush",
    "butterfly", "cake", "cell", "cherry", "cloud", "credit", "darkness", "dawn", "dew", "disk", "dream", "dust",
    "feather", "field", "fire", "firefly", "flower", "fog", "forest", "frog", "frost", "glade", "glitter",
    "grass", "hall", "hat", "haze", "heart", "hill", "king", "lab", "lake", "leaf", "limit", "math", "meadow",
    "mode", "moon", "morning", "mountain", "mouse", "mud", "night", "paper", "pine", "poetry", "pond", "queen",
    "rain", "recipe", "resonance", "rice", "river", "salad", "scene", "sea", "shadow", "shape", "silence",
    "sky", "smoke", "snow", "snowflake", "sound", "star", "sun", "sunset", "surf", "term", "thunder", "tooth",
    "tree", "truth", "union", "unit", "violet", "voice", "water", "waterfall", "wave", "wildflower", "wind",
    "wood",
)
ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits


class ApiError(Exception):
    """An error answer: status plus a GeneralError body (or a custom body)."""

    def __init__(self, status, message, code="", body=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.body = body

    def to_body(self):
        if self.body is not None:
            return self.body
        return {"code": self.code, "message": self.message}


# ------------------------------------------------------------------------------------------------ time helpers

def iso(t):
    """RFC 3339 to the second, UTC."""
    return _iso_second(math.floor(t))


@functools.lru_cache(maxsize=1 << 16)
def _iso_second(sec):
    """iso() of a whole second, memoised: a list page formats hundreds of timestamps, often the same ones."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sec))


def iso_us(t):
    """RFC 3339 with microseconds (operation list cursors)."""
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
    return "%s.%06dZ" % (base, int(round((t - int(t)) * 1e6)) % 1000000)


_TS_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})$")


def parse_ts(s):
    """Parse an RFC 3339 / ISO 8601 timestamp; returns unix seconds or None when malformed."""
    if not isinstance(s, str):
        return None
    m = _TS_RE.match(s.strip())
    if not m:
        return None
    y, mo, d, h, mi, se, frac, tz = m.groups()
    try:
        t = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(se), 0, 0, 0))
    except (ValueError, OverflowError):
        return None
    if not (1 <= int(mo) <= 12 and 1 <= int(d) <= 31 and int(h) < 24 and int(mi) < 60 and int(se) < 61):
        return None
    if frac:
        t += float(frac)
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        tz = tz[1:].replace(":", "")
        t -= sign * (int(tz[:2]) * 3600 + int(tz[2:]) * 60)
    return t


def month_start(t):
    g = time.gmtime(t)
    return calendar.timegm((g.tm_year, g.tm_mon, 1, 0, 0, 0, 0, 0, 0))


def next_month_start(t):
    g = time.gmtime(t)
    y, m = (g.tm_year + 1, 1) if g.tm_mon == 12 else (g.tm_year, g.tm_mon + 1)
    return calendar.timegm((y, m, 1, 0, 0, 0, 0, 0, 0))


def validate_quota(quota):
    """A settings.quota object as sent on project create / PATCH (or seeded): a copy, None when absent;
    ApiError 400 when malformed."""
    if quota is None:
        return None
    if not isinstance(quota, dict):
        raise ApiError(400, "invalid request: decode application/json: invalid: settings.quota (object expected)")
    out = {}
    for k, v in quota.items():
        if k not in QUOTA_FIELDS:
            raise ApiError(400, "invalid request: decode application/json: settings.quota: unknown field %r" % k)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ApiError(400, "settings.quota.%s must be an integer >= 0" % k)
        out[k] = v
    return out


def full_name(user):
    """An account's user (ACCOUNTS entry) as Neon names it in owner and created_by fields."""
    return "%s %s" % (user["name"], user["last_name"])


def cu_json(v):
    """Compute units: integers print as integers (Neon prints 2, 0.25)."""
    return int(v) if float(v) == int(v) else float(v)


@functools.lru_cache(maxsize=None)
def proxy_host_for(region_id):
    platform, _, rest = region_id.partition("-")
    return "%s.%s.neon.tech" % (rest, platform)


# ------------------------------------------------------------------------------------------------ objects

class Org:
    __slots__ = ("id", "name", "handle", "kind", "account", "limits", "created_at", "ix_seq", "ix_pid", "members")

    def __init__(self, oid, name, kind, created_at, account=ACCOUNT_ID):
        self.id = oid
        self.name = name
        self.handle = oid
        self.kind = kind
        self.account = account
        self.limits = dict(PLAN_LIMITS[kind])
        self.created_at = created_at
        self.ix_seq = []      # creation sequence numbers of the org's live projects, ascending
        self.ix_pid = []      # project ids, parallel to ix_seq

    def add_project(self, seq, pid):
        i = bisect.bisect_left(self.ix_seq, seq)
        self.ix_seq.insert(i, seq)
        self.ix_pid.insert(i, pid)

    def remove_project(self, seq):
        i = bisect.bisect_left(self.ix_seq, seq)
        if i < len(self.ix_seq) and self.ix_seq[i] == seq:
            del self.ix_seq[i]
            del self.ix_pid[i]

    def count(self):
        return len(self.ix_seq)


class Project:
    __slots__ = ("id", "name", "org_id", "region_id", "pg_version", "seq", "created_at", "updated_at",
                 "settings", "default_endpoint_settings", "history_retention_seconds", "store_passwords",
                 "provisioner", "branches", "endpoints", "snapshots", "operations", "busy_until",
                 "active_time_seconds", "compute_time_seconds", "written_data_bytes", "data_transfer_bytes",
                 "data_storage_bytes_hour", "compute_last_active_at", "quota_suspended", "usage_events",
                 "default_branch_id", "period_start", "deleted_branches", "deleted_endpoints", "integration")

    def __init__(self):
        self.integration = None   # "github" | "vercel" (set through /_emulator/integration)
        self.branches = {}
        self.endpoints = {}
        self.snapshots = {}
        self.operations = []
        self.busy_until = 0.0
        self.active_time_seconds = 0
        self.compute_time_seconds = 0
        self.written_data_bytes = 0
        self.data_transfer_bytes = 0
        self.data_storage_bytes_hour = 0
        self.compute_last_active_at = None
        self.quota_suspended = None
        self.usage_events = []
        self.deleted_branches = set()
        self.deleted_endpoints = set()


class Branch:
    __slots__ = ("id", "project_id", "name", "parent_id", "parent_lsn", "parent_timestamp", "created_at",
                 "updated_at", "state_changed_at", "ready_at", "protected", "logical_size",
                 "compute_time_seconds", "active_time_seconds", "written_data_bytes", "data_transfer_bytes",
                 "roles", "databases", "init_source", "restore_status", "restored_from", "restored_as",
                 "restore_target", "expires_at", "annotation", "last_reset_at", "head_lsn")

    def __init__(self):
        self.parent_id = None
        self.parent_lsn = None
        self.parent_timestamp = None
        self.protected = False
        self.logical_size = 0
        self.compute_time_seconds = 0
        self.active_time_seconds = 0
        self.written_data_bytes = 0
        self.data_transfer_bytes = 0
        self.roles = {}
        self.databases = {}
        self.init_source = None
        self.restore_status = None
        self.restored_from = None
        self.restored_as = None
        self.restore_target = None
        self.expires_at = None
        self.annotation = {}
        self.last_reset_at = None
        self.head_lsn = 0x1A00000


class Endpoint:
    __slots__ = ("id", "project_id", "branch_id", "type", "min_cu", "max_cu", "suspend_timeout_seconds",
                 "region_id", "created_at", "updated_at", "cur", "pending", "pending_at", "started_at",
                 "suspended_at", "last_active", "disabled", "settings", "provisioner", "name")

    def __init__(self):
        self.pending = None
        self.pending_at = 0.0
        self.started_at = None
        self.suspended_at = None
        self.last_active = None
        self.disabled = False
        self.settings = {}
        self.provisioner = "k8s-neonvm"
        self.name = None


class Role:
    __slots__ = ("branch_id", "name", "password", "protected", "created_at", "updated_at")


class Database:
    __slots__ = ("id", "branch_id", "name", "owner_name", "created_at", "updated_at")


class Operation:
    __slots__ = ("id", "project_id", "branch_id", "endpoint_id", "action", "created", "start", "end", "outcome",
                 "error", "planned_end")

    def status(self, now):
        if now >= self.end:
            return self.outcome
        if now >= self.start:
            return "running"
        return "scheduling"


OUTCOME_STATUSES = ("failed", "error", "cancelled", "skipped")
OUTCOME_ERROR = "operation failed (injected by the emulator)"
# every action the emulator schedules (an outcome rule naming another one would never fire)
OPERATION_ACTIONS = ("create_timeline", "create_branch", "start_compute", "suspend_compute", "apply_config",
                     "apply_storage_config", "delete_timeline", "timeline_unarchive")


class OutcomeRule:
    """How matching operations end (see README "Operation outcomes"): {"action": "create_timeline" | "*",
    "project_id": optional, "status": "failed" | "error" | "cancelled" | "skipped", "error": optional text,
    "count": optional N (default unlimited)}."""
    __slots__ = ("action", "project_id", "status", "error", "count", "fired")

    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise ValueError("each rule must be an object")
        unknown = set(spec) - {"action", "project_id", "status", "error", "count"}
        if unknown:
            raise ValueError("unknown field(s): %s" % ", ".join(sorted(unknown)))
        self.action = spec.get("action", "*")
        self.project_id = spec.get("project_id")
        self.status = spec.get("status")
        self.count = spec.get("count")
        if self.action != "*" and self.action not in OPERATION_ACTIONS:
            raise ValueError("action must be \"*\" or one of %s" % ", ".join(OPERATION_ACTIONS))
        if self.project_id is not None and not isinstance(self.project_id, str):
            raise ValueError("project_id must be a string")
        if self.status not in OUTCOME_STATUSES:
            raise ValueError("status must be one of %s" % ", ".join(OUTCOME_STATUSES))
        if self.count is not None and (isinstance(self.count, bool) or not isinstance(self.count, int)
                                       or self.count < 0):
            raise ValueError("count must be a non-negative integer")
        self.error = spec.get("error", OUTCOME_ERROR if self.status in ("failed", "error") else None)
        if self.error is not None and not isinstance(self.error, str):
            raise ValueError("error must be a string")
        self.fired = 0

    def take(self, op):
        """Whether this rule decides how op ends (and counts it)."""
        if ((self.count is not None and self.count <= 0) or self.action not in ("*", op.action)
                or self.project_id not in (None, op.project_id)):
            return False
        if self.count is not None:
            self.count -= 1
        self.fired += 1
        return True

    def describe(self):
        return {"action": self.action, "project_id": self.project_id, "status": self.status, "error": self.error,
                "count": self.count, "fired": self.fired}


class Snapshot:
    __slots__ = ("id", "name", "source_branch_id", "created_at", "timestamp", "lsn", "expires_at", "manual",
                 "full_size")


class TransferRequest:
    """A claim link for a project (POST /projects/{id}/transfer_requests); accepted at most once."""
    __slots__ = ("id", "project_id", "created_at", "expires_at", "accepted")

    def json(self):
        return {"id": self.id, "project_id": self.project_id, "created_at": iso(self.created_at),
                "expires_at": iso(self.expires_at)}


# ------------------------------------------------------------------------------------------------ state

class NeonState:
    """The emulated Neon: our account (two organizations of an agent plan and one user admin of both) and an
    end user's account (one paid organization) that can claim our projects."""

    def __init__(self, operation_ms: int = 1000, clock=None, seed=None):
        self.operation_ms = int(operation_ms)
        self.operation_outcomes = []
        self.clock = clock or time.time
        self._seed = seed
        self._month = (0, 0, "")        # cache of _current_month()
        self.computes = None
        self.reset()

    # -- lifecycle -----------------------------------------------------------------------------------------
    def reset(self) -> None:
        now = self.clock()
        self.rng = random.Random(self._seed)
        self.orgs = {
            FREE_ORG: Org(FREE_ORG, "Agent Free", "free", now),
            PAID_ORG: Org(PAID_ORG, "Agent Paid", "paid", now),
            END_USER_ORG: Org(END_USER_ORG, "End User", "paid", now, END_USER_ACCOUNT),
        }
        # token -> dict(kind "org"|"personal", org_id, account, key_id, name, created_at, revoked)
        self.keys = {
            FREE_KEY: {"kind": "org", "org_id": FREE_ORG, "id": 1000001, "name": "emulator-free-org-key"},
            PAID_KEY: {"kind": "org", "org_id": PAID_ORG, "id": 1000002, "name": "emulator-paid-org-key"},
            PERSONAL_KEY: {"kind": "personal", "org_id": None, "id": 1000003, "name": "emulator-personal-key"},
            USER_KEY: {"kind": "personal", "org_id": None, "id": 1000004, "name": "emulator-user-key",
                       "account": END_USER_ACCOUNT},
        }
        for k in self.keys.values():
            k.setdefault("account", ACCOUNT_ID)
            k["created_at"] = now
            k["last_used_at"] = None
        self.next_key_id = 1954900
        self.projects = {}        # id -> Project (live only)
        self.seq_of = {}          # every project id ever created -> creation sequence number (cursors)
        self.next_seq = 1
        self.used_ids = set()     # branch / endpoint / snapshot ids
        self.next_db_id = 39724300
        self.transfer_requests = {}   # id -> TransferRequest
        self.computes_do("reset")

    def set_org_limit(self, org_id, name, value):
        """Change one plan limit of an organization (e.g. set_org_limit("org-agent-free", "projects", 5))."""
        org = self.orgs[org_id]
        if name not in org.limits:
            raise KeyError(name)
        org.limits[name] = value

    def now(self):
        return self.clock()

    # -- keys ----------------------------------------------------------------------------------------------
    @staticmethod
    def bearer(headers):
        auth = headers.get("authorization") if headers else None
        if not auth:
            return None
        parts = auth.strip().split(None, 1)
        if len(parts) == 2 and parts[0].lower() == "bearer":
            return parts[1].strip()
        return None

    def key_info(self, headers):
        tok = self.bearer(headers)
        if tok is None:
            return None
        info = self.keys.get(tok)
        if info is None or info.get("revoked"):
            return None
        return info

    def account_for(self, headers: dict) -> str | None:
        """The Neon account of the request's key (rate limits are per account): ours for every key but the end
        user's."""
        info = self.key_info(headers)
        return info["account"] if info is not None else None

    def sees_org(self, info, org_id):
        """Whether a key (key_info) may act in an organization: an org key in its own org only, a personal key
        in every org of its account."""
        if info["kind"] == "org":
            return org_id == info["org_id"]
        org = self.orgs.get(org_id)
        return org is not None and org.account == info["account"]

    # -- ids -----------------------------------------------------------------------------------------------
    def _words(self):
        return self.rng.choice(ADJECTIVES), self.rng.choice(NOUNS)

    def new_project_id(self):
        while True:
            a, n = self._words()
            pid = "%s-%s-%08d" % (a, n, self.rng.randrange(100000000))
            if pid not in self.seq_of:
                return pid

    def new_object_id(self, prefix):
        while True:
            a, n = self._words()
            oid = "%s-%s-%s-a5%s" % (prefix, a, n, "".join(self.rng.choice(LOWER_ALNUM) for _ in range(6)))
            if oid not in self.used_ids:
                self.used_ids.add(oid)
                return oid

    def new_password(self):
        return "".join(self.rng.choice(ALNUM) for _ in range(12))

    def new_db_id(self):
        self.next_db_id += 1
        return self.next_db_id

    def new_uuid(self):
        """A lowercase UUID v4 from the seeded generator (operation and transfer request ids)."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # -- operations ----------------------------------------------------------------------------------------
    @staticmethod
    def outcome_rules(specs):
        """Validated OutcomeRule list from a JSON list (ValueError on bad input)."""
        if not isinstance(specs, list):
            raise ValueError("must be a list of rules")
        return [OutcomeRule(s) for s in specs]

    def add_operations(self, p, specs, finished=False):
        """specs: list of (action, branch_id, endpoint_id).  The operations of one request run one after the
        other within operation_ms; the first create_timeline is 'running' at once (as Neon shows it),
        everything else starts with 'scheduling' (the first 10% of its slot).  Returns the Operation list."""
        now = self.now()
        n = len(specs)
        if n == 0:
            return []
        total = 0.0 if finished else self.operation_ms / 1000.0
        slot = total / n
        ops = []
        for i, (action, bid, eid) in enumerate(specs):
            op = Operation()
            op.id = self.new_uuid()
            op.project_id = p.id
            op.branch_id = bid
            op.endpoint_id = eid
            op.action = action
            op.outcome = "finished"
            op.error = None
            op.created = now + i * 1e-6
            if finished:
                op.created = op.start = op.end = now - 1e-3 + i * 1e-6
            else:
                begin = now + i * slot
                op.start = begin if (i == 0 and action == "create_timeline") else begin + 0.1 * slot
                op.end = now + (i + 1) * slot
                for rule in self.operation_outcomes:
                    if rule.take(op):
                        op.outcome, op.error = rule.status, rule.error
                        break
            p.operations.append(op)
            ops.append(op)
        if not finished:
            p.busy_until = max(p.busy_until, ops[-1].end)
        return ops

    def hold_operations(self, p, ops):
        """Computes mode: the operations of one request wait for real database work; until
        release_operations() they, and the branch states, compute starts and project lock set from their ends,
        never end (the project is locked, so one request at a time holds operations)."""
        for i, op in enumerate(ops):
            op.planned_end, op.end = op.end, HELD + i
        p.busy_until = max(p.busy_until, HELD + len(ops) - 1)

    def release_operations(self, p, ops, error=None):
        """The work held operations waited for is done (error: it failed, and so do they): each ends as planned,
        or now when that is later, and every time that was set from a held end follows it."""
        now = self.now()
        for op in ops:
            op.end = max(op.planned_end, now)
            if error is not None:
                op.outcome, op.error = "failed", error

        def follow(t):
            return ops[int(t - HELD)].end if HELD <= t < HELD + len(ops) else t

        for b in p.branches.values():
            b.ready_at = follow(b.ready_at)
        for ep in p.endpoints.values():
            ep.pending_at = follow(ep.pending_at)
        p.busy_until = follow(p.busy_until)

    def computes_do(self, event, p=None, ops=(), **objects):
        """Computes mode: report a change to emu_computes (real databases, roles, the proxy's ports), which may
        hold the request's operations until its database work is done.  Nothing happens without --computes."""
        if self.computes is not None:
            self.computes.on(event, p, ops, **objects)

    def is_busy(self, p):
        return self.now() < p.busy_until

    def check_lock(self, p):
        if self.now() < p.busy_until:
            raise ApiError(423, "project already has running operations, scheduling of new ones is prohibited")

    def op_json(self, op, now=None):
        now = self.now() if now is None else now
        st = op.status(now)
        d = {"id": op.id, "project_id": op.project_id}
        if op.branch_id:
            d["branch_id"] = op.branch_id
        if op.endpoint_id:
            d["endpoint_id"] = op.endpoint_id
        d["action"] = op.action
        d["status"] = st
        if op.error is not None and st == op.outcome:
            d["error"] = op.error
        d["failures_count"] = 1 if st in ("failed", "error") else 0
        d["created_at"] = iso(op.created)
        if st == "running":
            d["updated_at"] = iso(op.start)
            d["total_duration_ms"] = int((now - op.start) * 1000)
        elif st == "scheduling":
            d["updated_at"] = iso(op.created)
            d["total_duration_ms"] = 0
        else:
            d["updated_at"] = iso(op.end)
            d["total_duration_ms"] = int(round((op.end - op.start) * 1000))
        return d

    # -- endpoints state -----------------------------------------------------------------------------------
    def ep_resolve(self, ep, now=None):
        now = self.now() if now is None else now
        if ep.pending is not None and now >= ep.pending_at:
            ep.cur = ep.pending
            ep.pending = None
            ep.updated_at = ep.pending_at
            if ep.cur == "active":
                ep.started_at = ep.pending_at
                ep.last_active = ep.pending_at
            elif ep.cur == "idle":
                if ep.started_at is not None:
                    ep.last_active = max(ep.last_active or 0, ep.pending_at)
                ep.suspended_at = ep.pending_at

    def ep_schedule(self, ep, state, at):
        self.ep_resolve(ep)
        ep.pending = state
        ep.pending_at = at

    def ep_suspend_now(self, ep, now):
        self.ep_resolve(ep, now)
        was_running = ep.cur == "active" or ep.pending == "active"
        ep.pending = None
        if ep.cur != "idle":
            ep.cur = "idle"
            ep.suspended_at = now
            if ep.started_at is not None:
                ep.last_active = now
        ep.updated_at = now
        return was_running

    def ep_running(self, ep):
        self.ep_resolve(ep)
        return ep.cur == "active" or ep.pending == "active"

    def ep_idle(self, ep):
        """Suspended, and nothing scheduled to start it."""
        self.ep_resolve(ep)
        return ep.cur == "idle" and ep.pending is None

    def wake_endpoint(self, ep):
        """Computes mode: a client connection wakes an idle compute, as Neon's proxy does (active from now on,
        without an operation)."""
        if self.ep_idle(ep):
            ep.cur = "active"
            ep.started_at = ep.last_active = ep.updated_at = self.now()

    # -- factories -----------------------------------------------------------------------------------------
    def make_branch(self, p, name, now, parent=None, ready_at=None, bid=None):
        b = Branch()
        b.id = bid or self.new_object_id("br")
        b.project_id = p.id
        b.name = name if name else b.id
        b.created_at = now
        b.updated_at = now
        b.state_changed_at = now
        b.ready_at = now if ready_at is None else ready_at
        if parent is not None:
            b.parent_id = parent.id
            b.head_lsn = parent.head_lsn
        p.branches[b.id] = b
        return b

    def make_endpoint(self, p, b, ep_type, min_cu, max_cu, suspend, now, state="init", pending="active",
                      pending_at=None):
        ep = Endpoint()
        ep.id = self.new_object_id("ep")
        ep.project_id = p.id
        ep.branch_id = b.id
        ep.type = ep_type
        ep.min_cu = min_cu
        ep.max_cu = max_cu
        ep.suspend_timeout_seconds = suspend
        ep.region_id = p.region_id
        ep.created_at = now
        ep.updated_at = now
        ep.cur = state
        ep.pending = pending
        ep.pending_at = float("inf") if pending_at is None else pending_at   # set by ep_schedule()
        p.endpoints[ep.id] = ep
        return ep

    def make_role(self, b, name, now, password=None):
        r = Role()
        r.branch_id = b.id
        r.name = name
        r.password = password or self.new_password()
        r.protected = False
        r.created_at = now
        r.updated_at = now
        b.roles[name] = r
        return r

    def make_database(self, b, name, owner, now, db_id=None):
        d = Database()
        d.id = db_id or self.new_db_id()
        d.branch_id = b.id
        d.name = name
        d.owner_name = owner
        d.created_at = now
        d.updated_at = now
        b.databases[name] = d
        return d

    def new_project(self, org_id, name, region_id, pg_version, now, pid=None):
        p = Project()
        p.id = pid or self.new_project_id()
        p.name = name if name else p.id
        p.org_id = org_id
        p.region_id = region_id
        p.pg_version = pg_version
        p.seq = self.next_seq
        self.next_seq += 1
        p.created_at = now
        p.updated_at = now
        p.settings = {"allowed_ips": {"ips": [], "protected_branches_only": False},
                      "enable_logical_replication": False, "block_public_connections": False,
                      "block_vpc_connections": False}
        p.default_endpoint_settings = {"autoscaling_limit_min_cu": 0.25, "autoscaling_limit_max_cu": 0.25,
                                       "suspend_timeout_seconds": 0}
        p.history_retention_seconds = 86400
        p.store_passwords = True
        p.provisioner = "k8s-neonvm"
        p.period_start = month_start(now)
        p.default_branch_id = None
        self.projects[p.id] = p
        self.seq_of[p.id] = p.seq
        self.orgs[org_id].add_project(p.seq, p.id)
        return p

    def drop_project(self, p):
        self.projects.pop(p.id, None)
        self.orgs[p.org_id].remove_project(p.seq)

    def move_project(self, p, dest_org_id):
        """A transfer only changes the owning organization: quotas, endpoint settings, credentials stay."""
        self.orgs[p.org_id].remove_project(p.seq)
        p.org_id = dest_org_id
        self.orgs[dest_org_id].add_project(p.seq, p.id)

    def new_transfer_request(self, p, ttl):
        tr = TransferRequest()
        tr.id = self.new_uuid()
        tr.project_id = p.id
        tr.created_at = self.now()
        tr.expires_at = tr.created_at + ttl
        tr.accepted = False
        self.transfer_requests[tr.id] = tr
        return tr

    # -- control calls (/_emulator/..., reached through the transport's state.control hook) ----------------
    def control(self, method, path, query, body):
        """POST /_emulator/integration, /_emulator/expire_transfer_request and /_emulator/seed_projects (README
        "Control API"); None for any other path (the transport answers 404)."""
        handler = {"/integration": self._ctl_integration,
                   "/expire_transfer_request": self._ctl_expire_transfer_request,
                   "/seed_projects": self._ctl_seed_projects}.get(path)
        if handler is None:
            return None
        if method != "POST":
            return 405, {"code": "", "message": "use POST"}
        try:
            req = json.loads(body) if body and body.strip() else {}
        except ValueError as e:
            return 400, {"code": "", "message": "invalid JSON body: %s" % e}
        if not isinstance(req, dict):
            return 400, {"code": "", "message": "body must be a JSON object"}
        return handler(req)

    def _ctl_integration(self, req):
        """{"project_id": ..., "integration": "github" | "vercel" | null}: install (or remove) an integration,
        which makes org-to-org transfers of the project answer 422."""
        if "integration" not in req or req["integration"] not in INTEGRATIONS + (None,):
            return 400, {"code": "", "message": "integration must be one of %s or null" % ", ".join(INTEGRATIONS)}
        if not isinstance(req.get("project_id"), str):
            return 400, {"code": "", "message": "project_id (a string) is required"}
        p = self.projects.get(req["project_id"])
        if p is None:
            return 404, {"code": "", "message": "project %s not found" % req["project_id"]}
        p.integration = req["integration"]
        return 200, {"project_id": p.id, "integration": p.integration}

    def _ctl_expire_transfer_request(self, req):
        """{"request_id": ...}: the transfer request expires now (tests cannot wait out its ttl)."""
        if not isinstance(req.get("request_id"), str):
            return 400, {"code": "", "message": "request_id (a string) is required"}
        tr = self.transfer_requests.get(req["request_id"])
        if tr is None:
            return 404, {"code": "", "message": "transfer request %s not found" % req["request_id"]}
        tr.expires_at = min(tr.expires_at, self.now())
        return 200, tr.json()

    def _ctl_seed_projects(self, req):
        """{"org_id", "count" 1..SEED_MAX, "name_prefix", "quota"}: bulk_create_projects for benchmarks through
        HTTP, with a settings.quota for every project; answers each new project's id and name."""
        org_id = req.get("org_id", FREE_ORG)
        count = req.get("count")
        prefix = req.get("name_prefix", "tenant-")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= SEED_MAX:
            return 400, {"code": "", "message": "count must be an integer 1..%d" % SEED_MAX}
        if not isinstance(prefix, str) or not 1 <= len(prefix) <= 250:
            return 400, {"code": "", "message": "name_prefix must be a string of 1..250 characters"}
        try:
            quota = validate_quota(req.get("quota"))
        except ApiError as e:
            return e.status, e.to_body()
        if not isinstance(org_id, str) or org_id not in self.orgs:
            return 404, {"code": "", "message": "no such organization: %s" % org_id}
        ids = self.bulk_create_projects(org_id, count, prefix, quota)
        projects = self.projects
        return 200, {"projects": [{"id": pid, "name": projects[pid].name} for pid in ids]}

    # -- bulk fixture (benchmarks) -------------------------------------------------------------------------
    def bulk_create_projects(self, org_id, n, name_prefix="bench-", quota=None):
        """Create n fully provisioned projects in org_id at once (no operations, branch ready, compute idle),
        named name_prefix + 0, 1, ... (the id when name_prefix is empty), each with its own copy of quota as
        settings.quota when it is not empty.  Bypasses the project limit and rate limits.  Returns the list of
        new project ids."""
        if org_id not in self.orgs:
            raise KeyError(org_id)
        now = self.now()
        ids = []
        for i in range(int(n)):
            p = self.new_project(org_id, None, "aws-us-east-2", 17, now)
            p.name = "%s%d" % (name_prefix, i) if name_prefix else p.id
            if quota:
                p.settings["quota"] = dict(quota)
            b = self.make_branch(p, "main", now)
            p.default_branch_id = b.id
            self.make_endpoint(p, b, "read_write", 0.25, 0.25, 0, now, state="idle", pending=None)
            self.make_role(b, "neondb_owner", now)
            self.make_database(b, "neondb", "neondb_owner", now)
            ids.append(p.id)
        return ids

    # -- periods / usage / quotas --------------------------------------------------------------------------
    def roll_period(self, p, now=None):
        """Counters and quota suspensions reset at the start of each calendar month (billing period)."""
        now = self.now() if now is None else now
        ms = month_start(now)
        if ms > p.period_start:
            p.period_start = ms
            p.active_time_seconds = p.compute_time_seconds = 0
            p.written_data_bytes = p.data_transfer_bytes = p.data_storage_bytes_hour = 0
            for b in p.branches.values():
                b.compute_time_seconds = b.active_time_seconds = 0
                b.written_data_bytes = b.data_transfer_bytes = 0
            p.quota_suspended = None

    def exceeded_quota(self, p):
        quota = p.settings.get("quota") or {}
        for f in PERIOD_QUOTA_FIELDS:
            q = quota.get(f) or 0
            if q > 0 and getattr(p, f) >= q:
                return f
        return None

    def enforce_quota(self, p):
        """Suspend every compute of the project when a period quota is reached; lift the block (computes stay
        idle) when no quota is exceeded any more.  Returns True when this call suspended the project."""
        f = self.exceeded_quota(p)
        if f is None:
            p.quota_suspended = None
            return False
        newly = p.quota_suspended is None
        p.quota_suspended = f
        now = self.now()
        specs = []
        for ep in p.endpoints.values():
            if self.ep_suspend_now(ep, now):
                specs.append(("suspend_compute", ep.branch_id, ep.id))
        if specs:
            # control-plane operations: visible in the operation list, already finished (they never lock)
            self.add_operations(p, specs, finished=True)
        if newly:
            self.computes_do("quota_suspend", p)
        return newly

    def add_usage(self, project_id, add) -> tuple:
        """/_emulator/usage: add simulated usage to one project (or to every project when project_id is None)."""
        if not isinstance(add, dict):
            return 400, {"code": "", "message": "add must be an object"}
        clean = {}
        for k, v in add.items():
            if k not in USAGE_FIELDS:
                return 400, {"code": "", "message": "unknown usage field %r; expected one of %s"
                             % (k, ", ".join(USAGE_FIELDS))}
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                return 400, {"code": "", "message": "usage field %s must be a number >= 0" % k}
            clean[k] = int(v)
        if project_id is None:
            targets = list(self.projects.values())
        else:
            p = self.projects.get(project_id)
            if p is None:
                return 404, {"code": "", "message": "project %s not found" % project_id}
            targets = [p]
        now = self.now()
        suspended = []
        for p in targets:
            self.roll_period(p, now)
            b = p.branches.get(p.default_branch_id)
            for k, v in clean.items():
                if k == "logical_size_bytes":
                    if b is not None:
                        b.logical_size += v
                    continue
                setattr(p, k, getattr(p, k) + v)
                if b is not None and k in ("active_time_seconds", "compute_time_seconds", "written_data_bytes",
                                           "data_transfer_bytes"):
                    setattr(b, k, getattr(b, k) + v)
            if clean.get("active_time_seconds") or clean.get("compute_time_seconds"):
                p.compute_last_active_at = now
                for ep in p.endpoints.values():
                    self.ep_resolve(ep, now)
                    if ep.cur == "active":
                        ep.last_active = now
            if any(clean.values()):
                p.usage_events.append((now, clean))
            if self.enforce_quota(p):
                suspended.append(p.id)
        return 200, {"updated": len(targets), "suspended": suspended}

    # -- serialisation -------------------------------------------------------------------------------------
    def _settings_json(self, p):
        s = dict(p.settings)
        if "quota" in s and not s["quota"]:
            del s["quota"]
        return s

    def _des_json(self, p):
        d = dict(p.default_endpoint_settings)
        for k in ("autoscaling_limit_min_cu", "autoscaling_limit_max_cu"):
            if k in d:
                d[k] = cu_json(d[k])
        return d

    def synthetic_storage_size(self, p):
        return sum(b.logical_size for b in p.branches.values())

    def project_json(self, p, variant="get"):
        """variant: 'create' (POST body), 'get' (GET /projects/{id}), 'mutate' (PATCH / DELETE bodies)."""
        org = self.orgs[p.org_id]
        lim = org.limits["branch_logical_size_limit"]
        if variant == "get":
            self.roll_period(p)
        d = {
            "data_storage_bytes_hour": p.data_storage_bytes_hour,
            "data_transfer_bytes": p.data_transfer_bytes,
            "written_data_bytes": p.written_data_bytes,
            "compute_time_seconds": p.compute_time_seconds,
            "active_time_seconds": p.active_time_seconds,
            "cpu_used_sec": p.compute_time_seconds,
            "id": p.id,
            "platform_id": p.region_id.split("-", 1)[0],
            "region_id": p.region_id,
            "name": p.name,
            "provisioner": p.provisioner,
            "default_endpoint_settings": self._des_json(p),
            "settings": self._settings_json(p),
            "pg_version": p.pg_version,
            "proxy_host": proxy_host_for(p.region_id),
            "branch_logical_size_limit": lim,
            "branch_logical_size_limit_bytes": lim * 1024 * 1024,
            "store_passwords": p.store_passwords,
            "creation_source": "console",
            "history_retention_seconds": p.history_retention_seconds,
            "created_at": iso(p.created_at),
            "updated_at": iso(p.updated_at),
        }
        if variant != "create":
            d["synthetic_storage_size"] = self.synthetic_storage_size(p)
        if variant == "get":
            d["consumption_period_start"] = iso(p.period_start)
            d["consumption_period_end"] = iso(next_month_start(p.period_start))
        else:
            d["consumption_period_start"] = SENTINEL_TIME
            d["consumption_period_end"] = SENTINEL_TIME
        owner = ACCOUNTS[org.account]
        d["owner_id"] = owner["user_id"]
        if variant == "get":
            d["owner"] = {"email": owner["email"], "name": full_name(owner), "branches_limit": org.limits["branches"],
                          "subscription_type": org.limits["subscription_type"]}
        if p.compute_last_active_at is not None:
            d["compute_last_active_at"] = iso(p.compute_last_active_at)
        d["org_id"] = p.org_id
        return d

    def _current_month(self):
        """(start, end, iso(end)) of the calendar month of the state's clock, recomputed only when the clock
        leaves the cached month (a list page asks for it once per project)."""
        now = self.now()
        m = self._month
        if not m[0] <= now < m[1]:
            end = next_month_start(now)
            m = self._month = (month_start(now), end, iso(end))
        return m

    def project_list_item(self, p):
        org = self.orgs[p.org_id]
        lim = org.limits["branch_logical_size_limit"]
        period_start, _, quota_reset_at = self._current_month()
        current = period_start <= p.period_start
        d = {
            "id": p.id,
            "platform_id": p.region_id.split("-", 1)[0],
            "region_id": p.region_id,
            "name": p.name,
            "provisioner": p.provisioner,
            "default_endpoint_settings": self._des_json(p),
            "settings": self._settings_json(p),
            "pg_version": p.pg_version,
            "proxy_host": proxy_host_for(p.region_id),
            "branch_logical_size_limit": lim,
            "branch_logical_size_limit_bytes": lim * 1024 * 1024,
            "store_passwords": p.store_passwords,
            "active_time": p.active_time_seconds if current else 0,
            "cpu_used_sec": p.compute_time_seconds if current else 0,
            "creation_source": "console",
            "created_at": iso(p.created_at),
            "updated_at": iso(p.updated_at),
            "synthetic_storage_size": self.synthetic_storage_size(p),
            "quota_reset_at": quota_reset_at,
            "owner_id": ACCOUNTS[org.account]["user_id"],
        }
        if p.compute_last_active_at is not None:
            d["compute_last_active_at"] = iso(p.compute_last_active_at)
        d["org_id"] = p.org_id
        return d

    def branch_json(self, p, b, with_created_by=False, now=None):
        now = self.now() if now is None else now
        d = {"id": b.id, "project_id": b.project_id}
        if b.parent_id:
            d["parent_id"] = b.parent_id
            d["parent_lsn"] = b.parent_lsn or "0/1A00000"
            d["parent_timestamp"] = iso(b.parent_timestamp if b.parent_timestamp is not None else b.created_at)
        d["name"] = b.name
        ready = now >= b.ready_at
        if ready:
            d["current_state"] = "ready"
            d["state_changed_at"] = iso(max(b.ready_at, b.state_changed_at))
        else:
            d["current_state"] = "init" if b.last_reset_at is None else "resetting"
            d["pending_state"] = "ready"
            d["state_changed_at"] = iso(b.state_changed_at)
        if ready:
            d["logical_size"] = b.logical_size
        d["creation_source"] = "console"
        is_default = p.default_branch_id == b.id
        d["primary"] = is_default
        d["default"] = is_default
        d["protected"] = b.protected
        d["cpu_used_sec"] = b.compute_time_seconds
        d["compute_time_seconds"] = b.compute_time_seconds
        d["active_time_seconds"] = b.active_time_seconds
        d["written_data_bytes"] = b.written_data_bytes
        d["data_transfer_bytes"] = b.data_transfer_bytes
        d["created_at"] = iso(b.created_at)
        d["updated_at"] = iso(b.updated_at)
        if b.last_reset_at is not None:
            d["last_reset_at"] = iso(b.last_reset_at)
        if b.expires_at is not None:
            d["expires_at"] = iso(b.expires_at)
            d["ttl_interval_seconds"] = max(0, int(b.expires_at - b.created_at))
        if b.init_source:
            d["init_source"] = b.init_source
        if b.restore_status:
            d["restore_status"] = b.restore_status
        if b.restored_from:
            d["restored_from"] = b.restored_from
        if b.restored_as:
            d["restored_as"] = b.restored_as
        if with_created_by:
            d["created_by"] = {"name": "Emulator", "image": ""}
        return d

    def endpoint_host(self, ep, pooled=False):
        """Where clients connect: Neon's host of the endpoint (or of its pooler), or in computes mode the
        emulator's proxy, 127.0.0.1:P (P + 1 pooled)."""
        if self.computes is not None:
            address = self.computes.address(ep, pooled)
            if address is not None:
                return address
        return "%s%s.%s" % (ep.id, "-pooler" if pooled else "", proxy_host_for(ep.region_id))

    def endpoint_json(self, ep, with_last_active=True, now=None):
        now = self.now() if now is None else now
        self.ep_resolve(ep, now)
        d = {
            "host": self.endpoint_host(ep),
            "id": ep.id,
            "project_id": ep.project_id,
            "branch_id": ep.branch_id,
            "autoscaling_limit_min_cu": cu_json(ep.min_cu),
            "autoscaling_limit_max_cu": cu_json(ep.max_cu),
            "region_id": ep.region_id,
            "type": ep.type,
            "current_state": ep.cur,
        }
        if ep.pending is not None:
            d["pending_state"] = ep.pending
        d["settings"] = dict(ep.settings)
        d["pooler_enabled"] = False
        d["pooler_mode"] = "transaction"
        d["disabled"] = ep.disabled
        d["passwordless_access"] = True
        if with_last_active:
            d["last_active"] = iso(ep.last_active) if ep.last_active is not None else NEVER_ACTIVE
        d["creation_source"] = "console"
        d["created_at"] = iso(ep.created_at)
        d["updated_at"] = iso(ep.updated_at)
        if ep.started_at is not None:
            d["started_at"] = iso(ep.started_at)
        if ep.suspended_at is not None:
            d["suspended_at"] = iso(ep.suspended_at)
        d["proxy_host"] = proxy_host_for(ep.region_id)
        d["suspend_timeout_seconds"] = ep.suspend_timeout_seconds
        d["provisioner"] = ep.provisioner
        if ep.name:
            d["name"] = ep.name
        return d

    @staticmethod
    def role_json(r, with_password=False):
        d = {"branch_id": r.branch_id, "name": r.name}
        if with_password:
            d["password"] = r.password
        d["protected"] = r.protected
        d["created_at"] = iso(r.created_at)
        d["updated_at"] = iso(r.updated_at)
        return d

    @staticmethod
    def database_json(db):
        return {"id": db.id, "branch_id": db.branch_id, "name": db.name, "owner_name": db.owner_name,
                "created_at": iso(db.created_at), "updated_at": iso(db.updated_at)}

    @staticmethod
    def snapshot_json(s):
        d = {"id": s.id, "name": s.name, "lsn": s.lsn, "timestamp": iso(s.timestamp),
             "source_branch_id": s.source_branch_id, "created_at": iso(s.created_at)}
        if s.expires_at is not None:
            d["expires_at"] = iso(s.expires_at)
        d["manual"] = s.manual
        d["full_size"] = s.full_size
        return d

    def connection_uri(self, p, ep, role, db_name, pooled=False):
        host = self.endpoint_host(ep, pooled)
        return "postgresql://%s:%s@%s/%s?sslmode=require" % (role.name, role.password, host, db_name)

    def connection_details(self, p, ep, role, db_name):
        return {
            "connection_uri": self.connection_uri(p, ep, role, db_name),
            "connection_parameters": {
                "database": db_name, "password": role.password, "role": role.name, "host": self.endpoint_host(ep),
                "pooler_host": self.endpoint_host(ep, pooled=True),
            },
        }

    @staticmethod
    def branch_cursor(b_id, sort_by, value, order):
        raw = json.dumps({"branch_id": b_id, "sort_by": sort_by, "sort_by_value": value,
                          "sort_order": order.upper()}, separators=(",", ":"))
        return base64.b64encode(raw.encode()).decode()

    @staticmethod
    def parse_branch_cursor(cur):
        try:
            d = json.loads(base64.b64decode(cur.encode(), validate=False).decode())
            return d["branch_id"], d["sort_by_value"]
        except Exception:  # noqa: BLE001 - any malformed cursor is a 400
            return None
