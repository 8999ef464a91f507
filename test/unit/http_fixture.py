#!/usr/bin/env python3
"""A deterministic HTTP/1.1 server on loopback for test/unit/test_http.

    python3 test/unit/http_fixture.py      prints "listening on http://127.0.0.1:PORT"

Routes (any method):
    /echo            200, JSON {method, path, headers (lower-cased names), body}
    /slow?ms=N       200 after N ms
    /hang            answers nothing for 60 s
    /status?code=N[&retry_after=V][&retry_after_in=S]
                     status N with a GeneralError body; Retry-After V verbatim, or an HTTP date S s ahead
    /big?bytes=N     200 with N bytes
    /reset           closes the connection without answering
    /redirect        302 to /echo
    /_stats          JSON {connections, max_open_connections, max_concurrent_requests, resets}
    /_reset          zeroes the counters; connections already open are no longer counted
Every answer carries x-neon-ret-request-id: req-<n>.
"""

import email.utils
import http.server
import json
import socket
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()
STATS = {"generation": 0, "connections": 0, "open": 0, "max_open_connections": 0, "requests": 0,
         "max_concurrent_requests": 0, "served": 0, "resets": 0}


def bump(key, peak, delta):
    with LOCK:
        STATS[key] += delta
        if STATS[key] > STATS[peak]:
            STATS[peak] = STATS[key]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with LOCK:
            self.generation = STATS["generation"]
            STATS["connections"] += 1
        bump("open", "max_open_connections", 1)

    def finish(self):
        with LOCK:
            if self.generation == STATS["generation"]:
                STATS["open"] -= 1
        super().finish()

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        with LOCK:
            STATS["served"] += 1
            n = STATS["served"]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-neon-ret-request-id", "req-%d" % n)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path == "/echo":
            self.reply(200, {"method": self.command, "path": self.path, "body": body.decode(),
                             "headers": {k.lower(): v for k, v in self.headers.items()}})
        elif url.path == "/slow":
            time.sleep(int(query.get("ms", "100")) / 1000.0)
            self.reply(200, {"ok": True})
        elif url.path == "/hang":
            time.sleep(60)
            self.close_connection = True
        elif url.path == "/status":
            headers = []
            if "retry_after" in query:
                headers.append(("Retry-After", query["retry_after"]))
            if "retry_after_in" in query:
                when = time.time() + int(query["retry_after_in"])
                headers.append(("Retry-After", email.utils.formatdate(when, usegmt=True)))
            self.reply(int(query["code"]), {"code": "", "message": "status %s" % query["code"]}, headers)
        elif url.path == "/big":
            self.reply(200, b"x" * int(query["bytes"]))
        elif url.path == "/reset":
            with LOCK:
                STATS["resets"] += 1
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.close_connection = True
        elif url.path == "/redirect":
            self.reply(302, {}, [("Location", "/echo")])
        elif url.path == "/_stats":
            with LOCK:
                stats = dict(STATS)
            self.reply(200, stats)
        elif url.path == "/_reset":
            with LOCK:
                STATS["generation"] += 1
                for key in ("connections", "open", "max_open_connections", "max_concurrent_requests", "resets"):
                    STATS[key] = 0
                STATS["max_concurrent_requests"] = STATS["requests"]
            self.reply(200, {})
        else:
            self.reply(404, {"code": "", "message": "no route"})

    def handle_one_request(self):
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.parse_request():
            return
        bump("requests", "max_concurrent_requests", 1)
        try:
            self.route()
            self.wfile.flush()
        finally:
            bump("requests", "max_concurrent_requests", -1)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


def main():
    server = Server(("127.0.0.1", 0), Handler)
    sys.stdout.write("listening on http://127.0.0.1:%d\n" % server.server_address[1])
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
