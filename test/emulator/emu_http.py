"""HTTP/1.1 transport of the Neon API emulator: asyncio.Protocol server, request log, rate limiting,
latency, fault injection and the control API under /_emulator/.

The Neon domain (E2's emu_state / emu_routes) is reached through three callables only:
    state.reset(), state.account_for(headers), state.add_usage(project_id, add), state.operation_ms,
    state.operation_outcomes (list of rules with describe()), state.outcome_rules(specs) (validates, ValueError),
    route_template(method, path) -> str | None,
    dispatch(state, method, path, query, headers, body) -> (status, obj | None, extra_headers)
and, optionally, state.control(method, path, query, body) -> (status, obj) | None for extra
/_emulator/<path> endpoints the domain wants to offer (e.g. bulk helpers).

See README.md for the control API formats and the fault semantics.
"""

import asyncio
import collections
import json
import random
import re
import socket
import struct
import sys
import time
import traceback
from email.utils import formatdate
from urllib.parse import parse_qs

import emu_ratelimit

API_PREFIX = "/api/v2"
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_QUEUED = 64            # pipelined requests buffered per connection before reading pauses
LOG_MAX = 500_000          # request log entries kept (oldest dropped beyond; ~100 MB)

FAULT_KINDS = ("500", "502", "503", "reset", "hang", "slow_body", "malformed_json", "423", "respond", "echo_auth",
               "garbage", "late")
DEFAULT_ERROR_KINDS = FAULT_KINDS[:8]           # what error_rate spreads over unless error_kinds says otherwise
# allowed in error_kinds: the kinds that need no parameters
RANDOM_KINDS = tuple(k for k in FAULT_KINDS if k not in ("respond", "late"))
# kinds for which "when" can be chosen; the others have a fixed moment ("respond" depends on its fields)
WHEN_CHOICE = frozenset(("500", "502", "503", "reset", "hang", "echo_auth", "garbage"))
FIXED_WHEN = {"slow_body": "after", "malformed_json": "after", "423": "before", "late": "after"}
COMMON_FAULT_FIELDS = frozenset(("route", "kind", "probability", "count", "when", "hang_ms", "slow_body_ms"))
KIND_FIELDS = {"respond": ("status", "body", "body_text", "patch", "patch_raw", "headers"),
               "echo_auth": ("status",), "garbage": ("data",), "late": ("late_ms",)}
DEFAULT_GARBAGE = "\\x00\\x01garbage not http\r\n\r\n"     # "data" of a garbage fault (\\xNN escapes)
FRAMING_HEADERS = frozenset(("content-length", "transfer-encoding", "connection"))
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
BYTE_ESCAPE_RE = re.compile(rb"\\x([0-9a-fA-F]{2})")

REASONS = {
    100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 406: "Not Acceptable", 409: "Conflict", 411: "Length Required",
    413: "Payload Too Large", 415: "Unsupported Media Type", 422: "Unprocessable Entity", 423: "Locked",
    429: "Too Many Requests", 431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
}

FAULT_MESSAGES = {
    "500": "internal server error (injected by the emulator)",
    "502": "bad gateway (injected by the emulator)",
    "503": "service unavailable (injected by the emulator)",
    "423": "project already has running conflicting operations, scheduling of new ones is prohibited"
           " (injected by the emulator)",
}

_json_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_getrandbits = random.Random().getrandbits
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)


def _uuid4():
    """A random (version 4) UUID string; about 3x cheaper than str(uuid.uuid4()) (not for secrets)."""
    h = "%032x" % ((_getrandbits(128) & _UUID_CLEAR) | _UUID_SET)
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])
_time = time.time


class _DateCache:
    __slots__ = ("sec", "value")

    def __init__(self):
        self.sec = -1
        self.value = ""

    def get(self):
        now = int(_time())
        if now != self.sec:
            self.sec = now
            self.value = formatdate(now, usegmt=True)
        return self.value


_date = _DateCache()


class ConfigError(ValueError):
    pass


class Fault:
    """One per-route fault rule (see README "Faults")."""
    __slots__ = ("route", "method", "pattern", "prefix", "kind", "probability", "count", "when",
                 "hang_ms", "slow_body_ms", "fired", "params", "status", "headers", "body", "patch", "patch_raw",
                 "data", "late_ms")

    def __init__(self, spec, defaults):
        if not isinstance(spec, dict):
            raise ConfigError("each fault must be an object")
        kind = str(spec.get("kind", ""))
        if kind not in FAULT_KINDS:
            raise ConfigError("fault kind must be one of %s" % ", ".join(FAULT_KINDS))
        self.kind = kind
        unknown = set(spec) - COMMON_FAULT_FIELDS - set(KIND_FIELDS.get(kind, ()))
        if unknown:
            raise ConfigError("unknown field(s) for a fault of kind %s: %s" % (kind, ", ".join(sorted(unknown))))
        route = spec.get("route", "*")
        if not isinstance(route, str) or not route.strip():
            raise ConfigError("fault route must be a string such as \"POST /projects\" or \"*\"")
        route = " ".join(route.split())
        parts = route.split(" ", 1)
        if len(parts) == 1:
            method, pattern = ("*", "*") if parts[0] == "*" else ("*", parts[0])
        else:
            method, pattern = parts[0].upper(), parts[1]
        if pattern.startswith(API_PREFIX + "/"):
            pattern = pattern[len(API_PREFIX):]
        if pattern != "*" and not pattern.startswith("/"):
            raise ConfigError("fault route path must start with / (or be *): %r" % route)
        self.route = route
        self.method = method
        self.prefix = pattern.endswith("*") and pattern != "*"
        self.pattern = pattern[:-1] if self.prefix else pattern
        self.probability = _num(spec.get("probability", 1.0), "probability", 0.0, 1.0)
        count = spec.get("count")
        if count is not None:
            count = int(_num(count, "count", 0, None))
        self.count = count
        self.params = {k: spec[k] for k in KIND_FIELDS.get(kind, ()) if k in spec}
        self.status = self.headers = self.body = self.patch = self.data = self.late_ms = None
        self.patch_raw = ()
        fixed = FIXED_WHEN.get(kind)
        if kind == "respond":
            fixed = self._respond_fields(spec)
        elif kind == "echo_auth":
            self.status = self.params.setdefault("status", 401)
            _status(self.status, 400)
        elif kind == "garbage":
            data = self.params.setdefault("data", DEFAULT_GARBAGE)
            if not isinstance(data, str):
                raise ConfigError("garbage data must be a string (\\xNN escapes give raw bytes)")
            self.data = _raw_bytes(data)
        elif kind == "late":
            if "late_ms" not in spec:
                raise ConfigError("a late fault needs late_ms (when the request takes effect, in ms after arrival)")
            self.late_ms = _num(spec["late_ms"], "late_ms", 0, None)
        when = spec.get("when")
        if fixed is not None:
            if when not in (None, fixed):
                raise ConfigError("fault kind %s%s always happens %s the request takes effect"
                                  % (kind, " without body or body_text" if kind == "respond" else "", fixed))
            when = fixed
        elif when is None:
            when = "before"
        elif when not in ("before", "after", "random"):
            raise ConfigError("fault when must be \"before\", \"after\" or \"random\"")
        self.when = when
        self.hang_ms = _num(spec.get("hang_ms", defaults["hang_ms"]), "hang_ms", 0, None)
        self.slow_body_ms = _num(spec.get("slow_body_ms", defaults["slow_body_ms"]), "slow_body_ms", 0, None)
        self.fired = 0

    def _respond_fields(self, spec):
        """Validate the fields of a respond rule; returns its fixed "when" ("after" when the answer is derived
        from the domain's) or None when the rule may fire before or after."""
        if "body" in spec and "body_text" in spec:
            raise ConfigError("a respond fault takes body or body_text, not both")
        if "headers" in spec:
            headers = spec["headers"]
            if not isinstance(headers, dict) or not all(
                    isinstance(k, str) and HEADER_NAME_RE.match(k) and k.lower() not in FRAMING_HEADERS
                    and isinstance(v, str) and "\r" not in v and "\n" not in v and max(v, default="\0") <= "\xff"
                    for k, v in headers.items()):
                raise ConfigError("respond headers must be an object of header name -> latin-1 string without"
                                  " CR/LF, and cannot set Content-Length, Transfer-Encoding or Connection")
            self.headers = headers
        raw = spec.get("patch_raw", [])
        if not isinstance(raw, list) or not all(
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(s, str) for s in pair) and pair[0]
                for pair in raw):
            raise ConfigError("patch_raw must be a list of [find, replace] string pairs (find not empty)")
        self.patch_raw = tuple((_raw_bytes(f), _raw_bytes(r)) for f, r in raw)
        derived = "body" not in spec and "body_text" not in spec
        if "status" in spec or not derived:
            if "status" not in spec:
                raise ConfigError("a respond fault with body or body_text needs a status")
            self.status = spec["status"]
            _status(self.status, 200)
        if "body_text" in spec:
            if not isinstance(spec["body_text"], str):
                raise ConfigError("body_text must be a string")
            self.body = spec["body_text"].encode()
        elif not derived:
            self.body = _json_encode(spec["body"]).encode()
        if "patch" in spec:
            if not derived:
                raise ConfigError("patch applies to the domain's answer: not with body or body_text")
            if not isinstance(spec["patch"], dict):
                raise ConfigError("patch must be a JSON object (merged into the domain's answer)")
            self.patch = spec["patch"]
        return "after" if derived else None

    def answer(self, result):
        """(status, body bytes) of a respond fault; result is the domain's (status, obj, extra) or None."""
        if self.body is not None:
            status, body = self.status, self.body
        else:
            status, obj = result[0], result[1]
            if self.patch is not None:
                obj = _merge(obj, self.patch)
            if self.status is not None:
                status = self.status
            body = b"" if obj is None else _json_encode(obj).encode()
        for find, repl in self.patch_raw:
            body = body.replace(find, repl)
        return status, b"" if status == 204 else body

    def matches(self, method, path, tmpl):
        if self.method != "*" and self.method != method:
            return False
        p = self.pattern
        if p == "*":
            return True
        if self.prefix:
            return path.startswith(p) or tmpl.startswith(p)
        return p == tmpl or p == path

    def describe(self):
        out = {"route": self.route, "kind": self.kind, "probability": self.probability, "count": self.count,
               "when": self.when, "hang_ms": self.hang_ms, "slow_body_ms": self.slow_body_ms, "fired": self.fired}
        out.update(self.params)
        return out


def _status(v, lo):
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= 599:
        raise ConfigError("fault status must be an integer %d..599" % lo)


def _raw_bytes(s):
    """UTF-8 of s with every \\xNN (backslash, x, two hex digits) replaced by the byte NN."""
    return BYTE_ESCAPE_RE.sub(lambda m: bytes((int(m[1], 16),)), s.encode())


def _merge(base, patch):
    """Deep merge of a respond fault's patch: objects merge key by key; an object whose keys are all integers
    ("0", "-1") patches those elements of a list (indices out of range are ignored); anything else replaces."""
    if isinstance(patch, dict):
        if isinstance(base, dict):
            out = dict(base)
            for k, v in patch.items():
                out[k] = _merge(base.get(k), v)
            return out
        if isinstance(base, list) and all(k.lstrip("-").isdigit() for k in patch):
            out = list(base)
            for k, v in patch.items():
                i = int(k)
                if -len(out) <= i < len(out):
                    out[i] = _merge(out[i], v)
            return out
    return patch


def _num(v, name, lo, hi):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError("%s must be a number" % name)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise ConfigError("%s out of range" % name)
    return v


def general_error(message, code=""):
    return {"code": code, "message": message}


class HTTPProtocol(asyncio.Protocol):
    """One client connection. Requests are parsed as bytes arrive and answered strictly in order."""
    __slots__ = ("srv", "transport", "peer", "buf", "queue", "task", "closed", "paused", "eof",
                 "expect_sent", "sock", "hanging", "done_reading")

    def __init__(self, srv):
        self.srv = srv
        self.transport = None
        self.peer = "unknown"
        self.buf = bytearray()
        self.queue = collections.deque()
        self.task = None
        self.closed = False
        self.paused = False
        self.eof = False
        self.expect_sent = False
        self.sock = None
        self.hanging = False
        self.done_reading = False           # after "Connection: close" or a fatal parse error

    # -- asyncio callbacks ---------------------------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if peer:
            self.peer = peer[0]
        self.sock = transport.get_extra_info("socket")
        self.srv.connections += 1
        self.srv.total_connections += 1
        self.srv.protocols.add(self)

    def connection_lost(self, exc):
        if not self.closed:
            self.closed = True
        self.srv.connections -= 1
        self.srv.protocols.discard(self)
        self.queue.clear()
        if self.task is not None:
            self.task.cancel()
            self.task = None

    def eof_received(self):
        self.eof = True
        if self.hanging:
            return False         # the client gave up waiting: drop the connection (cancels the hang)
        if self.task is not None or self.queue:
            return True          # keep the write side open: answer what was already sent
        return False

    def data_received(self, data):
        if self.done_reading:
            return
        buf = self.buf
        buf += data
        if not self._parse():
            return
        if self.task is None and self.queue:
            self._run()
        if len(self.queue) >= MAX_QUEUED and not self.paused and not self.closed:
            self.paused = True
            self.transport.pause_reading()

    # -- parsing ----------------------------------------------------------------------------------------
    def _parse(self):
        """Move every complete request from buf to queue. False if the connection was closed."""
        buf = self.buf
        while buf:
            # tolerate stray CRLFs between requests (RFC 9112 2.2)
            if buf[0] in (13, 10):
                while buf and buf[0] in (13, 10):
                    del buf[0]
                continue
            idx = buf.find(b"\r\n\r\n")
            if idx < 0:
                if len(buf) > MAX_HEADER_BYTES:
                    self._fatal(431, "request header too large")
                    return False
                return True
            if idx > MAX_HEADER_BYTES:
                self._fatal(431, "request header too large")
                return False
            lines = buf[:idx].decode("latin-1").split("\r\n")
            req = lines[0].split(" ")
            if len(req) != 3 or not req[2].startswith("HTTP/1."):
                self._fatal(400, "malformed request line")
                return False
            method, target, version = req
            headers = {}
            for line in lines[1:]:
                k, sep, v = line.partition(":")
                if not sep or not k or k[-1] in " \t":
                    self._fatal(400, "malformed header line")
                    return False
                k = k.lower()
                v = v.strip()
                old = headers.get(k)
                if old is None:
                    headers[k] = v
                elif k == "content-length":
                    if old != v:
                        self._fatal(400, "conflicting Content-Length headers")
                        return False
                else:
                    headers[k] = old + ", " + v
            start = idx + 4
            te = headers.get("transfer-encoding")
            if te is not None:
                if te.strip().lower() != "chunked":
                    self._fatal(501, "unsupported Transfer-Encoding %r (only chunked)" % te)
                    return False
                try:
                    res = _parse_chunked(buf, start)
                except ValueError as e:
                    self._fatal(400, "malformed chunked body: %s" % e)
                    return False
                if res is None:
                    self._maybe_continue(headers, version)
                    return True
                body, end = res
            else:
                cl = headers.get("content-length")
                if cl is None:
                    n = 0
                else:
                    if not cl.isdigit():
                        self._fatal(400, "invalid Content-Length")
                        return False
                    n = int(cl)
                    if n > MAX_BODY_BYTES:
                        self._fatal(413, "request body too large")
                        return False
                end = start + n
                if len(buf) < end:
                    self._maybe_continue(headers, version)
                    return True
                body = bytes(buf[start:end]) if n else b""
            del buf[:end]
            self.expect_sent = False
            conn = headers.get("connection", "").lower()
            if version == "HTTP/1.1":
                keep = "close" not in conn
            else:
                keep = "keep-alive" in conn
            self.queue.append((method, target, headers, body, keep, version))
            if not keep:
                buf.clear()          # nothing after a "Connection: close" request is read
                self.done_reading = True
                break
        return True

    def _maybe_continue(self, headers, version):
        if (not self.expect_sent and version == "HTTP/1.1" and self.task is None and not self.queue
                and headers.get("expect", "").lower() == "100-continue"):
            self.expect_sent = True
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _fatal(self, status, message):
        """Answer a request we cannot parse, after any queued ones, then close."""
        self.buf.clear()
        self.done_reading = True
        self.queue.append(("!", status, message, None, False, "HTTP/1.1"))
        if self.task is None:
            self._run()

    # -- processing -------------------------------------------------------------------------------------
    def _run(self):
        """Handle queued requests synchronously until one needs to wait (then continue in a task)."""
        srv = self.srv
        queue = self.queue
        while queue and self.task is None and not self.closed:
            req = queue.popleft()
            if req[0] == "!":
                self.send(req[1], general_error(req[2]), None, False)
                self.close()
                return
            coro = srv.handle(self, req)
            if coro is not None:
                self.task = asyncio.get_running_loop().create_task(self._run_async(coro))
                return
        if self.paused and len(queue) < MAX_QUEUED // 4 and not self.closed:
            self.paused = False
            self.transport.resume_reading()
        if self.eof and not queue and self.task is None and not self.closed:
            self.close()

    async def _run_async(self, coro):
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self.close()
        self.task = None
        if not self.closed:
            self._run()

    def send(self, status, obj, extra, keep, head=False, raw_body=None):
        """Write one complete response. obj is JSON-serialisable or None (no body)."""
        if raw_body is not None:
            body = raw_body
        elif obj is None or status == 204:
            body = b""
        else:
            body = _json_encode(obj).encode()
        self.transport.write(build_head(status, body, extra, keep) + (b"" if head else body))
        if not keep:
            self.close()

    def close(self):
        if not self.closed:
            self.closed = True
            self.queue.clear()
            self.transport.close()

    def reset(self):
        """Abort the connection with a TCP RST (SO_LINGER 0), dropping anything unsent."""
        if self.closed:
            return
        self.closed = True
        self.queue.clear()
        try:
            if self.sock is not None:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.transport.abort()


def build_head(status, body, extra, keep, content_length=None):
    """Status line and headers; extra may replace Content-Type, Date and x-neon-ret-request-id."""
    reason = REASONS.get(status, "Status")
    ctype = "application/json; charset=utf-8"
    date = rid = None
    parts = [""]
    if extra:
        for k, v in extra.items():
            lk = k.lower()
            if lk == "content-type":
                ctype = v
            elif lk == "date":
                date = v
            elif lk == "x-neon-ret-request-id":
                rid = v
            elif lk not in ("content-length", "connection"):
                parts.append("%s: %s\r\n" % (k, v))
    parts[0] = "HTTP/1.1 %d %s\r\nDate: %s\r\nx-neon-ret-request-id: %s\r\n" % (
        status, reason, date or _date.get(), rid or _uuid4())
    parts.append("Content-Type: %s\r\n" % ctype)
    if status != 204 and status >= 200:
        parts.append("Content-Length: %d\r\n" % (len(body) if content_length is None else content_length))
    if not keep:
        parts.append("Connection: close\r\n")
    parts.append("\r\n")
    return "".join(parts).encode("latin-1")


def _parse_chunked(buf, pos):
    """Decode a chunked body starting at pos; (body, end) or None if incomplete; ValueError if malformed."""
    body = bytearray()
    while True:
        nl = buf.find(b"\r\n", pos)
        if nl < 0:
            if len(buf) - pos > 1024:
                raise ValueError("chunk size line too long")
            return None
        size_txt = bytes(buf[pos:nl]).split(b";", 1)[0].strip()
        if not size_txt or any(c not in b"0123456789abcdefABCDEF" for c in size_txt):
            raise ValueError("bad chunk size")
        size = int(size_txt, 16)
        pos = nl + 2
        if size == 0:
            while True:                      # trailers, up to the empty line
                nl = buf.find(b"\r\n", pos)
                if nl < 0:
                    return None
                if nl == pos:
                    return bytes(body), nl + 2
                pos = nl + 2
        if len(body) + size > MAX_BODY_BYTES:
            raise ValueError("body too large")
        if len(buf) < pos + size + 2:
            return None
        if buf[pos + size:pos + size + 2] != b"\r\n":
            raise ValueError("missing CRLF after chunk")
        body += buf[pos:pos + size]
        pos += size + 2


def _query_dict(qs):
    """Query string -> {name: value} (a list when a name repeats), as in the recorded exchanges."""
    if not qs:
        return {}
    out = {}
    for k, vs in parse_qs(qs, keep_blank_values=True).items():
        out[k] = vs[0] if len(vs) == 1 else vs
    return out


class EmulatorServer:
    """Wires the HTTP protocol to the domain; holds the runtime configuration."""

    def __init__(self, state, dispatch, route_template, limiter, latency_ms=0, error_rate=0.0,
                 hang_ms=120_000, slow_body_ms=3_000, seed=None):
        self.state = state
        self.dispatch = dispatch
        self._route_template = route_template
        self._routes = {}                   # (method, path) -> template | None, memo of route_template
        self.limiter = limiter
        self.rng = random.Random(seed)
        self.log = collections.deque(maxlen=LOG_MAX)
        self.connections = 0
        self.total_connections = 0
        self.protocols = set()
        self.started = _time()
        self.latency_ms = 0
        self.latency = 0.0
        self.error_rate = 0.0
        self.error_kinds = list(DEFAULT_ERROR_KINDS)
        self.hang_ms = hang_ms
        self.slow_body_ms = slow_body_ms
        self.faults = []
        self.late_tasks = set()             # pending dispatches of late faults (cancelled by /_emulator/reset)
        self.server = None
        self.apply_config({"latency_ms": latency_ms, "error_rate": error_rate})
        self.startup_config = self.config_snapshot()

    def route_template(self, method, path):
        key = (method, path)
        try:
            return self._routes[key]
        except KeyError:
            pass
        tmpl = self._route_template(method, path)
        if len(self._routes) >= 200_000:
            self._routes.clear()
        self._routes[key] = tmpl
        return tmpl

    # -- server lifecycle ---------------------------------------------------------------------------------
    async def start(self, host, port):
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: HTTPProtocol(self), host, port, backlog=4096,
                                               reuse_address=True)
        return self.server.sockets[0].getsockname()[1]

    def close_all(self):
        """Stop listening and drop every open connection (used at shutdown)."""
        if self.server is not None:
            self.server.close()
        for p in list(self.protocols):
            p.close()

    # -- configuration ------------------------------------------------------------------------------------
    def config_snapshot(self):
        snap = {
            "latency_ms": emu_ratelimit._clean(self.latency_ms),
            "error_rate": self.error_rate,
            "error_kinds": list(self.error_kinds),
            "operation_ms": getattr(self.state, "operation_ms", None),
            "hang_ms": self.hang_ms,
            "slow_body_ms": self.slow_body_ms,
            "faults": [f.describe() for f in self.faults],
            "operation_outcomes": [r.describe() for r in self.state.operation_outcomes],
        }
        snap.update(self.limiter.snapshot())
        return snap

    def apply_config(self, cfg):
        """Validate everything first, then apply; raises ConfigError (nothing changed) on bad input."""
        if not isinstance(cfg, dict):
            raise ConfigError("config must be a JSON object")
        known = {"latency_ms", "error_rate", "error_kinds", "rate_limit_rpm", "burst_rps", "operation_ms",
                 "hang_ms", "slow_body_ms", "faults", "add_faults", "route_limits", "operation_outcomes",
                 "add_operation_outcomes"}
        unknown = set(cfg) - known
        if unknown:
            raise ConfigError("unknown config field(s): %s" % ", ".join(sorted(unknown)))
        new = {}
        for name, lo, hi in (("latency_ms", 0, 600_000), ("error_rate", 0.0, 1.0), ("rate_limit_rpm", 0, None),
                             ("burst_rps", 0, None), ("operation_ms", 0, None), ("hang_ms", 0, None),
                             ("slow_body_ms", 0, None)):
            if name in cfg and cfg[name] is not None:
                new[name] = _num(cfg[name], name, lo, hi)
        if "error_kinds" in cfg:
            kinds = cfg["error_kinds"]
            if (not isinstance(kinds, list) or not kinds
                    or any(not isinstance(k, str) or k not in RANDOM_KINDS for k in kinds)):
                raise ConfigError("error_kinds must be a non-empty list of: %s" % ", ".join(RANDOM_KINDS))
            new["error_kinds"] = list(kinds)
        defaults = {"hang_ms": new.get("hang_ms", self.hang_ms),
                    "slow_body_ms": new.get("slow_body_ms", self.slow_body_ms)}
        for key in ("faults", "add_faults"):
            if key in cfg:
                if not isinstance(cfg[key], list):
                    raise ConfigError("%s must be a list" % key)
                new[key] = [Fault(s, defaults) for s in cfg[key]]
        for key in ("operation_outcomes", "add_operation_outcomes"):
            if key in cfg:
                try:
                    new[key] = self.state.outcome_rules(cfg[key])
                except ValueError as e:
                    raise ConfigError("%s: %s" % (key, e))
        route_limits = None
        if "route_limits" in cfg:
            rl = cfg["route_limits"]
            if not isinstance(rl, dict):
                raise ConfigError("route_limits must be an object {\"METHOD /template\": {...} | null}")
            route_limits = {}
            for route, spec in rl.items():
                if spec is None:
                    route_limits[route] = None
                    continue
                if not isinstance(spec, dict) or "per_second" not in spec:
                    raise ConfigError("route_limits values must be {\"per_second\": N, \"capacity\": N} or null")
                ps = _num(spec["per_second"], "per_second", 0, None)
                cap = _num(spec.get("capacity", ps), "capacity", 0, None)
                route_limits[route] = (ps, cap)
        # apply
        if "latency_ms" in new:
            self.latency_ms = new["latency_ms"]
            self.latency = self.latency_ms / 1000.0
        if "error_rate" in new:
            self.error_rate = float(new["error_rate"])
        if "error_kinds" in new:
            self.error_kinds = new["error_kinds"]
        if "hang_ms" in new:
            self.hang_ms = new["hang_ms"]
        if "slow_body_ms" in new:
            self.slow_body_ms = new["slow_body_ms"]
        if "operation_ms" in new:
            self.state.operation_ms = int(new["operation_ms"])
        if "faults" in new:
            self.faults = new["faults"]
        if "add_faults" in new:
            self.faults = self.faults + new["add_faults"]
        if "operation_outcomes" in new:
            self.state.operation_outcomes = new["operation_outcomes"]
        if "add_operation_outcomes" in new:
            self.state.operation_outcomes = self.state.operation_outcomes + new["add_operation_outcomes"]
        self.random_faults = {k: Fault({"kind": k, "when": "random" if k in WHEN_CHOICE else None},
                                       {"hang_ms": self.hang_ms, "slow_body_ms": self.slow_body_ms})
                              for k in RANDOM_KINDS}
        if route_limits is not None:
            for route, v in route_limits.items():
                self.limiter.set_route_limit(route, None if v is None else v[0], None if v is None else v[1])
        if "rate_limit_rpm" in new or "burst_rps" in new or route_limits is not None:
            self.limiter.configure(new.get("rate_limit_rpm"), new.get("burst_rps"))

    # -- request handling ---------------------------------------------------------------------------------
    def handle(self, proto, req):
        """Handle one request; returns None when answered, or a coroutine that will answer it."""
        method, target, headers, body, keep, _version = req
        q = target.find("?")
        if q < 0:
            path, qs = target, ""
        else:
            path, qs = target[:q], target[q + 1:]
        if path.startswith("/api/v2/"):
            entry = [method, path, qs, 0, _time(), None]
            self.log.append(entry)
            if self.latency:
                return self._api_delayed(proto, entry, method, path, qs, headers, body, keep)
            return self._api(proto, entry, method, path, qs, headers, body, keep)
        if path.startswith("/_emulator/"):
            self._control(proto, method, path, qs, headers, body, keep)
            return None
        if path.startswith("http://") or path.startswith("https://"):
            proto.send(400, general_error("absolute-form request targets are not supported"), None, keep)
            return None
        entry = None
        if path == "/api/v2":
            entry = [method, path, qs, 404, _time(), None]
            self.log.append(entry)
        proto.send(404, general_error("not found: %s %s" % (method, path)), None, keep, method == "HEAD")
        return None

    async def _api_delayed(self, proto, entry, method, path, qs, headers, body, keep):
        await asyncio.sleep(self.latency)
        if proto.closed:
            return
        coro = self._api(proto, entry, method, path, qs, headers, body, keep)
        if coro is not None:
            await coro

    def _api(self, proto, entry, method, path, qs, headers, body, keep):
        sub = path[7:]
        head = method == "HEAD"
        tmpl = self.route_template(method, sub)
        account = self.state.account_for(headers)
        if account is None:
            account = "addr:" + proto.peer
        if not self.limiter.allow(account, tmpl if tmpl is not None else "?"):
            entry[3] = 429
            proto.send(429, general_error("rate limit exceeded: too many requests, please retry later"),
                       None, keep, head)
            return None
        if tmpl is None:
            entry[3] = 404
            proto.send(404, general_error("not found: %s %s" % (method, sub)), None, keep, head)
            return None
        fault = None
        if self.faults or self.error_rate:
            fault = self._pick_fault(method, sub, tmpl)
        if fault is None:
            status, obj, extra = self._dispatch(method, sub, qs, headers, body)
            entry[3] = status
            proto.send(status, obj, extra, keep, head)
            return None
        rule, when = fault
        kind = rule.kind
        info = {"kind": kind, "when": when, "dispatch_status": None}
        entry[5] = info
        if kind == "late":
            entry[3] = 0
            task = self._schedule_late(info, entry[4] + rule.late_ms / 1000.0, method, sub, qs, headers, body)
            return self._hold(proto, task)
        result = None
        if when == "after":
            result = self._dispatch(method, sub, qs, headers, body)
            info["dispatch_status"] = result[0]
        if kind in ("500", "502", "503", "423"):
            st = int(kind)
            entry[3] = st
            proto.send(st, general_error(FAULT_MESSAGES[kind]), None, keep, head)
            return None
        if kind == "echo_auth":
            entry[3] = rule.status
            proto.send(rule.status, general_error("invalid credentials: Authorization: %s"
                                                  % headers.get("authorization", "")), None, keep, head)
            return None
        if kind == "respond":
            status, raw = rule.answer(result)
            entry[3] = status
            proto.send(status, None, rule.headers, keep, head, raw_body=raw)
            return None
        if kind == "garbage":
            entry[3] = 0
            proto.transport.write(rule.data)
            proto.close()
            return None
        if kind == "reset":
            entry[3] = 0
            proto.reset()
            return None
        if kind == "malformed_json":
            entry[3] = 200
            good = _json_encode(result[1]).encode() if result[1] is not None else b'{"project":{"id":"x"}}'
            bad = good[: max(1, len(good) // 2)] + b'\x00,"}{'
            proto.send(200, None, result[2], keep, head, raw_body=bad)
            return None
        if kind == "hang":
            entry[3] = 0
            return self._hang(proto, rule.hang_ms)
        # slow_body
        status, obj, extra = result
        entry[3] = status
        return self._slow(proto, status, obj, extra, keep, head, rule.slow_body_ms)

    def _dispatch(self, method, sub, qs, headers, body):
        try:
            query = parse_qs(qs, keep_blank_values=True) if qs else {}
            status, obj, extra = self.dispatch(self.state, method, sub, query, headers, body)
            return status, obj, extra
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            return 500, general_error("emulator internal error: %s: %s" % (type(e).__name__, e)), None

    def _pick_fault(self, method, sub, tmpl):
        rnd = self.rng.random
        sp = tmpl.find(" ")
        if sp >= 0:
            tmpl = tmpl[sp + 1:]            # "GET /projects/{project_id}" -> "/projects/{project_id}"
        for f in self.faults:
            if f.count is not None and f.count <= 0:
                continue
            if not f.matches(method, sub, tmpl):
                continue
            if f.probability < 1.0 and rnd() >= f.probability:
                continue
            if f.count is not None:
                f.count -= 1
            f.fired += 1
            break
        else:
            if not (self.error_rate and rnd() < self.error_rate):
                return None
            f = self.random_faults[self.rng.choice(self.error_kinds)]
        when = f.when
        if when == "random":
            when = "before" if rnd() < 0.5 else "after"
        return f, when

    async def _hang(self, proto, hang_ms):
        # Never answer; the client gives up first (then connection_lost cancels this task).
        proto.hanging = True
        await asyncio.sleep(hang_ms / 1000.0)
        proto.close()

    def _schedule_late(self, info, at, method, sub, qs, headers, body):
        """Start the dispatch of a late fault's request as a task of the server, not of the connection, so that
        it happens even when the client closed long before; returns the task."""
        info["dispatched_at"] = None
        task = asyncio.get_running_loop().create_task(self._dispatch_late(info, at, method, sub, qs, headers, body))
        self.late_tasks.add(task)
        task.add_done_callback(self.late_tasks.discard)
        return task

    async def _hold(self, proto, task):
        """A late fault never answers: hold the connection until the client gives up (connection_lost cancels
        this, not the task) or the request has taken effect (then close it)."""
        proto.hanging = True
        await asyncio.wait((task,))
        proto.close()

    async def _dispatch_late(self, info, at, method, sub, qs, headers, body):
        """Carry out the request of a late fault at the unix time `at` and note it in its request-log entry."""
        delay = at - _time()
        if delay > 0:
            await asyncio.sleep(delay)
        info["dispatch_status"] = self._dispatch(method, sub, qs, headers, body)[0]
        info["dispatched_at"] = _time()

    async def _slow(self, proto, status, obj, extra, keep, head, slow_ms):
        body = b"" if obj is None else _json_encode(obj).encode()
        proto.transport.write(build_head(status, body, extra, keep))
        if head or not body:
            if not keep:
                proto.close()
            return
        steps = min(len(body), 20)
        size = -(-len(body) // steps)
        delay = slow_ms / 1000.0 / steps
        for i in range(0, len(body), size):
            if proto.closed:
                return
            await asyncio.sleep(delay)
            if proto.closed:
                return
            proto.transport.write(body[i:i + size])
        if not keep:
            proto.close()

    # -- control API ----------------------------------------------------------------------------------------
    def _control(self, proto, method, path, qs, headers, body, keep):
        name = path[len("/_emulator"):]
        try:
            status, obj = self._control_inner(method, name, qs, body)
        except ConfigError as e:
            status, obj = 400, general_error(str(e))
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            status, obj = 500, general_error("emulator internal error: %s: %s" % (type(e).__name__, e))
        if isinstance(obj, (bytes, bytearray)):
            proto.send(status, None, None, keep, method == "HEAD", raw_body=bytes(obj))
        else:
            proto.send(status, obj, None, keep, method == "HEAD")

    def _json_body(self, body):
        if not body or not body.strip():
            return {}
        try:
            return json.loads(body)
        except ValueError as e:
            raise ConfigError("invalid JSON body: %s" % e)

    def _control_inner(self, method, name, qs, body):
        if name == "/health":
            if method not in ("GET", "HEAD"):
                return 405, general_error("use GET")
            return 200, {"status": "ok", "uptime_s": round(_time() - self.started, 3),
                         "connections": self.connections, "total_connections": self.total_connections,
                         "logged_requests": len(self.log)}
        if name == "/requests":
            if method == "DELETE":
                self.log.clear()
                return 200, {"cleared": True}
            if method not in ("GET", "HEAD"):
                return 405, general_error("use GET or DELETE")
            return 200, self.requests_json(_query_dict(qs))
        if name == "/config":
            if method in ("GET", "HEAD"):
                return 200, self.config_snapshot()
            if method not in ("POST", "PATCH", "PUT"):
                return 405, general_error("use GET or POST")
            self.apply_config(self._json_body(body))
            return 200, self.config_snapshot()
        if name == "/reset":
            if method != "POST":
                return 405, general_error("use POST")
            opts = self._json_body(body)
            if not isinstance(opts, dict):
                raise ConfigError("reset body must be a JSON object")
            for task in self.late_tasks:
                task.cancel()
            self.state.reset()
            self.log.clear()
            self.limiter.reset()
            if opts.get("config"):
                startup = dict(self.startup_config)
                startup.pop("faults", None)
                for k in ("route_limits",):
                    startup.pop(k, None)
                self.faults = []
                self.apply_config({k: v for k, v in startup.items()
                                   if k in ("latency_ms", "error_rate", "error_kinds", "rate_limit_rpm",
                                            "burst_rps", "operation_ms", "hang_ms", "slow_body_ms",
                                            "operation_outcomes")})
            return 200, {"reset": True, "config": self.config_snapshot()}
        if name == "/usage":
            if method != "POST":
                return 405, general_error("use POST")
            req = self._json_body(body)
            if not isinstance(req, dict) or not isinstance(req.get("add", {}), dict):
                raise ConfigError("usage body must be {\"project_id\": \"...\" (optional), \"add\": {...}}")
            status, obj = self.state.add_usage(req.get("project_id"), req.get("add", {}))
            return status, obj
        if name == "/projects":
            # bulk fixture: {"org_id": "org-agent-free", "count": N, "name_prefix": "bench-"}
            if method != "POST":
                return 405, general_error("use POST")
            bulk = getattr(self.state, "bulk_create_projects", None)
            if bulk is None:
                return 501, general_error("the domain model offers no bulk_create_projects")
            req = self._json_body(body)
            if not isinstance(req, dict):
                raise ConfigError("body must be {\"org_id\": \"...\", \"count\": N, \"name_prefix\": \"...\"}")
            count = int(_num(req.get("count", 1), "count", 0, 1_000_000))
            org_id = req.get("org_id", "org-agent-free")
            try:
                ids = bulk(org_id, count, req.get("name_prefix", "bench-"))
            except KeyError:
                return 404, general_error("no such organization: %s" % org_id)
            return 200, {"org_id": org_id, "project_ids": ids}
        if name == "/org_limit":
            # {"org_id": "org-agent-free", "name": "projects", "value": 5}
            if method != "POST":
                return 405, general_error("use POST")
            setter = getattr(self.state, "set_org_limit", None)
            if setter is None:
                return 501, general_error("the domain model offers no set_org_limit")
            req = self._json_body(body)
            if not isinstance(req, dict) or "org_id" not in req or "name" not in req or "value" not in req:
                raise ConfigError("body must be {\"org_id\": \"...\", \"name\": \"...\", \"value\": ...}")
            try:
                setter(req["org_id"], req["name"], req["value"])
            except KeyError as e:
                return 404, general_error("unknown organization or limit: %s" % e)
            return 200, {"org_id": req["org_id"], "name": req["name"], "value": req["value"]}
        hook = getattr(self.state, "control", None)
        if hook is not None:
            res = hook(method, name, parse_qs(qs, keep_blank_values=True) if qs else {}, body)
            if res is not None:
                return res
        return 404, general_error("no such control endpoint: %s %s" % (method, "/_emulator" + name))

    def requests_json(self, q):
        """The request log as a JSON array (bytes). Optional filters: since (unix seconds), limit (last N)."""
        entries = list(self.log)
        since = q.get("since")
        if isinstance(since, str):
            try:
                s = float(since)
            except ValueError:
                raise ConfigError("since must be a number")
            entries = [e for e in entries if e[4] >= s]
        limit = q.get("limit")
        if isinstance(limit, str):
            if not limit.isdigit():
                raise ConfigError("limit must be a non-negative integer")
            n = int(limit)
            entries = entries[-n:] if n else []
        out = [{"method": m, "path": p, "query": _query_dict(qs), "status": st, "at": at, "fault": f}
               for (m, p, qs, st, at, f) in entries]
        return _json_encode(out).encode()
