"""Test helpers for the Neon API emulator (standard library only).

Stable API (used by the transport tests and the domain tests):

    from emu_testlib import EmulatorProcess, FREE_KEY, PAID_KEY, PERSONAL_KEY, USER_KEY

    with EmulatorProcess(operation_ms=50, rate_limit_rpm=0) as emu:
        emu.url        # "http://127.0.0.1:PORT"
        emu.base       # "http://127.0.0.1:PORT/api/v2"
        emu.port       # int
        status, headers, body = emu.request("GET", "/projects", key=FREE_KEY, query={"limit": 10})
        # path: relative to /api/v2 ("/projects"); a path that already starts with
        #       "/api/" or "/_emulator" is sent as is.
        # body: dict/list -> JSON, bytes/str -> sent raw, None -> no body.
        # key:  API key for "Authorization: Bearer <key>"; None (the default) -> no Authorization header.
        # query: dict of name -> value (or list of values); None -> no query string.
        # headers: extra request headers (dict).
        # returns (status:int, headers: dict with lower-cased names, body: parsed JSON, or text if not
        #          JSON, or None if empty). Transport errors (resets, timeouts) are raised.
        emu.control("POST", "/config", {"latency_ms": 5})   # -> (status, json) on /_emulator/...
        emu.config(latency_ms=5, faults=[...])               # POST /_emulator/config, returns new config
        emu.get_config()                                     # GET /_emulator/config
        emu.reset()                                          # POST /_emulator/reset
        emu.requests()                                       # GET /_emulator/requests -> list of dicts
        emu.usage(project_id, {"active_time_seconds": 10})   # POST /_emulator/usage -> (status, json)
        emu.wait_operations(project_id, key=FREE_KEY)        # poll until no operation of the project runs

Constructor keyword arguments map to the command line: port=0, host="127.0.0.1", latency_ms, error_rate,
rate_limit_rpm, burst_rps, operation_ms (None = CLI default), plus extra_args=[...]. The emulator runs in a
subprocess started with the same Python interpreter and is terminated with SIGTERM on exit.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "neon_emulator.py")

FREE_KEY = "emulator-free-org-key"
PAID_KEY = "emulator-paid-org-key"
PERSONAL_KEY = "emulator-personal-key"
USER_KEY = "emulator-user-key"          # personal key of the end user's own account (claims our projects)
FREE_ORG = "org-agent-free"
PAID_ORG = "org-agent-paid"
END_USER_ORG = "org-end-user"


def _encode_query(query):
    if not query:
        return ""
    pairs = []
    for k, v in query.items():
        if isinstance(v, (list, tuple)):
            for item in v:
                pairs.append((k, _qs_value(item)))
        else:
            pairs.append((k, _qs_value(v)))
    return "?" + urllib.parse.urlencode(pairs)


def _qs_value(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    return str(v)


def _decode_body(data, headers):
    if not data:
        return None
    text = data.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class EmulatorProcess:
    """Starts `neon_emulator.py` in a subprocess on a free port; context manager."""

    def __init__(self, port=0, host="127.0.0.1", latency_ms=None, error_rate=None, rate_limit_rpm=None,
                 burst_rps=None, operation_ms=None, extra_args=(), start_timeout=15.0, env=None):
        self.host = host
        self._args = [sys.executable, EMULATOR, "--port", str(port), "--host", host]
        for flag, val in (("--latency-ms", latency_ms), ("--error-rate", error_rate),
                          ("--rate-limit-rpm", rate_limit_rpm), ("--burst-rps", burst_rps),
                          ("--operation-ms", operation_ms)):
            if val is not None:
                self._args += [flag, str(val)]
        self._args += list(extra_args)
        self._start_timeout = start_timeout
        self._env = env
        self.proc = None
        self.port = None
        self.url = None
        self.base = None
        self.stderr_lines = []

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self):
        env = dict(os.environ if self._env is None else self._env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.proc = subprocess.Popen(self._args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env=env)
        line_holder = []

        def read_first_line():
            line_holder.append(self.proc.stdout.readline())

        t = threading.Thread(target=read_first_line, daemon=True)
        t.start()
        t.join(self._start_timeout)
        # drain stderr in the background so the child never blocks on a full pipe
        threading.Thread(target=self._drain, args=(self.proc.stderr, self.stderr_lines), daemon=True).start()
        line = line_holder[0].decode() if line_holder else ""
        prefix = "neon-emulator listening on "
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError("emulator did not start: %r; stderr: %s"
                               % (line, "".join(self.stderr_lines[-20:])))
        self.url = line[len(prefix):].strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        self.base = self.url + "/api/v2"
        threading.Thread(target=self._drain, args=(self.proc.stdout, []), daemon=True).start()
        return self

    @staticmethod
    def _drain(stream, sink):
        try:
            for raw in iter(stream.readline, b""):
                sink.append(raw.decode("utf-8", "replace"))
                if len(sink) > 2000:
                    del sink[:1000]
        except (OSError, ValueError):
            pass

    def stop(self, timeout=10.0):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        rc = self.proc.returncode
        for s in (self.proc.stdout, self.proc.stderr):
            try:
                s.close()
            except OSError:
                pass
        return rc

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- HTTP --------------------------------------------------------------------------------------
    def connection(self, timeout=10.0):
        """A fresh http.client.HTTPConnection to the emulator (caller closes it)."""
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def full_path(self, path, query=None):
        if not (path.startswith("/api/") or path.startswith("/_emulator")):
            path = "/api/v2" + path
        return path + _encode_query(query)

    def request(self, method, path, body=None, key=None, query=None, headers=None, timeout=10.0):
        hdrs = {"Accept": "application/json"}
        data = None
        if body is not None:
            if isinstance(body, (bytes, bytearray)):
                data = bytes(body)
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if key is not None:
            hdrs["Authorization"] = "Bearer " + key
        if headers:
            hdrs.update(headers)
        conn = self.connection(timeout)
        try:
            conn.request(method, self.full_path(path, query), body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            rh = {k.lower(): v for k, v in resp.getheaders()}
            return resp.status, rh, _decode_body(raw, rh)
        finally:
            conn.close()

    def control(self, method, path, body=None, timeout=10.0):
        """Call /_emulator<path>; returns (status, parsed JSON)."""
        if not path.startswith("/_emulator"):
            path = "/_emulator" + path
        status, _, parsed = self.request(method, path, body=body, timeout=timeout)
        return status, parsed

    def config(self, **settings):
        status, parsed = self.control("POST", "/config", settings)
        if status != 200:
            raise RuntimeError("config failed: %s %r" % (status, parsed))
        return parsed

    def get_config(self):
        return self.control("GET", "/config")[1]

    def reset(self):
        status, parsed = self.control("POST", "/reset", {})
        if status != 200:
            raise RuntimeError("reset failed: %s %r" % (status, parsed))
        return parsed

    def requests(self):
        return self.control("GET", "/requests")[1]

    def usage(self, project_id, add):
        body = {"add": add}
        if project_id is not None:
            body["project_id"] = project_id
        return self.control("POST", "/usage", body)

    def wait_operations(self, project_id, key=FREE_KEY, timeout=15.0, query=None):
        """Poll GET /projects/{id}/operations until none is unfinished; returns the last list."""
        deadline = time.monotonic() + timeout
        while True:
            status, _, body = self.request("GET", "/projects/%s/operations" % project_id, key=key, query=query)
            ops = (body or {}).get("operations", []) if isinstance(body, dict) else []
            if status == 200 and all(op.get("status") in ("finished", "failed", "error", "cancelled", "skipped")
                                     for op in ops):
                return ops
            if time.monotonic() > deadline:
                raise TimeoutError("operations of %s still running: %r" % (project_id, ops))
            time.sleep(0.02)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def read_response(f):
    """Read one HTTP/1.1 response from a binary file object (sock.makefile("rb")).

    Returns (status, headers with lower-cased names, body bytes). Handles Content-Length bodies and
    bodiless responses (1xx, 204, 304)."""
    line = f.readline()
    if not line:
        raise ConnectionError("connection closed before a response")
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    status = int(parts[1])
    headers = {}
    while True:
        h = f.readline()
        if not h:
            raise ConnectionError("connection closed inside the header")
        h = h.decode("latin-1").rstrip("\r\n")
        if not h:
            break
        k, _, v = h.partition(":")
        headers[k.strip().lower()] = v.strip()
    if status < 200 or status in (204, 304):
        return status, headers, b""
    n = int(headers.get("content-length", "0"))
    body = f.read(n) if n else b""
    return status, headers, body


def raw_exchange(host, port, data, responses, timeout=10.0):
    """Send raw bytes on one new connection and read `responses` responses; returns a list of
    (status, headers, body) tuples."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(data)
        f = s.makefile("rb")
        return [read_response(f) for _ in range(responses)]
    finally:
        s.close()
