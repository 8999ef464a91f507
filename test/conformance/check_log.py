#!/usr/bin/env python3
"""Check the log of `prism proxy --errors` (started by prism.py) for spec violations.

    python3 test/conformance/check_log.py --min-exchanges N PRISM_LOG [--quiet]

Exit status 0 only when the log shows at least N exchanges that Prism forwarded to the
upstream and validated, and no violation of any kind.  Otherwise exit 1 and list each
violation.  Exit 2 on usage errors or an unreadable log.

What Prism 5.16 prints (its CLI has no JSON log output: the pino JSON records are always
rendered through `signale`, one line each, e.g.
`[5:37:22 AM] › [HTTP SERVER] get /projects ✖  error     Request terminated with error: ...`):

* every request:           `[HTTP SERVER] <method> <path> ... Request received`
* forwarded requests:      `[PROXY] ... > Forwarding "<method>" request to <url>...`,
                           `[PROXY] ... The upstream call to <path> has returned <status>`,
                           `[PROXY] ... < Received forward response`   (the answer is then validated)
* with --errors, any violation ends the exchange with
      `[HTTP SERVER] <method> <path> ✖ error Request terminated with error: <problem type>: <title>`
  where the problem type is
      ...#VIOLATIONS             response violated the spec (Prism answered 500 instead);
      ...#UNPROCESSABLE_ENTITY   request violated the spec (Prism answered 422, nothing forwarded);
      ...#UNAUTHORIZED           request lacked a security scheme of the spec (401, not forwarded);
      ...#NO_PATH_MATCHED_ERROR, #NO_METHOD_MATCHED_ERROR, ...  route not in the spec (404/405);
      anything else (e.g. a FetchError when the upstream is unreachable) is reported too.
  The individual violations are only in the response Prism sends (problem+json `validation`
  array and the `sl-violations` header), not in the log; walk.py prints those.
* violations that did not cause an error response (severity warning/info, or any severity
  when --errors is off) are logged as `[VALIDATOR] ... Violation: <location> <message>`.
* an upstream 501 makes Prism fall back to a *mock* answer ("Upstream call to ... has returned
  501", "Remocking the call"): that would validate a fake body, so it is a violation here.

Every line at level error/fatal and every warning not understood above is reported too:
nothing is ignored silently.  Known Prism limitations that are not real violations are listed
in KNOWN_PRISM_LIMITATIONS below, each with its reason; they are matched narrowly.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field

ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# [5:37:22 AM] › [HTTP SERVER] get /projects ✖  error     Request terminated with error: ...
# [5:37:22 AM] ›     [PROXY] ℹ  info      The upstream call to /projects has returned 200
LINE_RE = re.compile(
    r"^\[(?P<ts>[^\]]*)\]\s+\S\s+(?P<indent>\s*)\[(?P<name>[A-Z][A-Z ]*)\]"
    r"(?: (?P<method>get|put|post|delete|options|head|patch|trace) (?P<path>\S+))?"
    r"\s+\S+\s+(?P<level>awaiting|start|info|success|warning|error|fatal|debug|note|pending|complete)\s+(?P<msg>.*)$"
)
TERMINATED_RE = re.compile(r"^Request terminated with error: (?P<err>.*)$")
PROBLEM_RE = re.compile(r"^https://stoplight\.io/prism/errors#(?P<type>[A-Z_]+): (?P<title>.*)$")
UPSTREAM_RE = re.compile(r"^The upstream call to (?P<path>\S+) has returned (?P<status>\d+)$")
VIOLATION_RE = re.compile(r"^Violation: (?P<detail>.*)$")

REQUEST_PROBLEMS = {"UNPROCESSABLE_ENTITY", "UNAUTHORIZED", "NOT_ACCEPTABLE", "UNSUPPORTED_MEDIA_TYPE",
                    "NO_PATH_MATCHED_ERROR", "NO_METHOD_MATCHED_ERROR", "NO_SERVER_MATCHED_ERROR",
                    "NO_RESOURCE_PROVIDED_ERROR", "NO_SERVER_CONFIGURATION_PROVIDED_ERROR",
                    "PROXY_UNSUPPORTED_REQUEST_BODY"}
RESPONSE_PROBLEMS = {"VIOLATIONS", "UPSTREAM_NOT_IMPLEMENTED", "NO_RESPONSE_DEFINED", "NO_COMPLEX_OBJECT_TEXT"}

# Narrow, documented exceptions: (level, component, regex on the message, reason).
# Keep this list short and explain every entry in README.md ("Known Prism limitations").
KNOWN_PRISM_LIMITATIONS: list[tuple[str, str, re.Pattern[str], str]] = [
]

# Warnings that are part of normal operation and say nothing about conformance.
BENIGN_WARNINGS: list[re.Pattern[str]] = [
    # Printed by Prism's own request validator before the matching 'Request terminated'
    # line, which is what gets reported.
    re.compile(r"^Request did not pass the validation rules$"),
]


@dataclass
class Report:
    lines: int = 0
    received: int = 0
    forwarded: int = 0            # upstream answered and Prism validated the answer
    by_status: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    tolerated: list[str] = field(default_factory=list)
    response_violations: int = 0
    rejected: int = 0             # answered by prism itself (request violations, proxy errors)
    unparsed: list[str] = field(default_factory=list)
    started: bool = False

    @property
    def validated_ok(self) -> int:
        return self.forwarded - self.response_violations


def known_limitation(level: str, name: str, msg: str) -> str | None:
    for lv, comp, rx, reason in KNOWN_PRISM_LIMITATIONS:
        if lv == level and comp == name and rx.search(msg):
            return reason
    return None


def parse(text: str) -> Report:
    r = Report()
    last_request = "(no request yet)"
    pending_continuation: str | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        r.lines += 1
        line = ANSI_RE.sub("", raw).rstrip()
        if not line.strip():
            continue
        m = LINE_RE.match(line)
        if not m:
            # Continuation of a multi-line message (stack traces of fatal errors) or stray output
            # of node itself: never ignore it when it follows an error.
            if pending_continuation is not None:
                r.violations.append(f"line {lineno}: {pending_continuation} (continued): {line.strip()}")
            else:
                r.unparsed.append(f"line {lineno}: {line.strip()}")
            continue
        pending_continuation = None
        name, level, msg = m["name"], m["level"], m["msg"]
        where = f"{m['method'].upper()} {m['path']}" if m["method"] else None

        if name == "CLI":
            if level == "start" and msg.startswith("Prism is listening on"):
                r.started = True
            elif level in ("error", "fatal", "warning"):
                r.violations.append(f"line {lineno}: prism CLI {level}: {msg}")
                pending_continuation = "prism CLI"
            continue

        if name == "HTTP SERVER" and msg == "Request received":
            r.received += 1
            last_request = where or "?"
            continue

        t = TERMINATED_RE.match(msg)
        if t:
            err = t["err"]
            p = PROBLEM_RE.match(err)
            kind = p["type"] if p else "ERROR"
            if kind == "VIOLATIONS":
                r.response_violations += 1
            else:
                r.rejected += 1
            if kind == "VIOLATIONS":
                what = "response violates the spec (Prism answered 500; details in its problem+json body)"
            elif kind in REQUEST_PROBLEMS:
                what = "request rejected by Prism, not forwarded"
            elif kind in RESPONSE_PROBLEMS:
                what = "response problem"
            else:
                what = "proxy error"
            reason = known_limitation(level, name, msg)
            entry = f"line {lineno}: {where or last_request}: {kind}: {what}: {err}"
            (r.tolerated if reason else r.violations).append(entry + (f"  [tolerated: {reason}]" if reason else ""))
            continue

        u = UPSTREAM_RE.match(msg)
        if u:
            r.by_status[u["status"]] = r.by_status.get(u["status"], 0) + 1
            continue
        if name == "PROXY" and msg == "< Received forward response":
            r.forwarded += 1
            continue

        v = VIOLATION_RE.match(msg)
        if v and name == "VALIDATOR":
            reason = known_limitation(level, name, msg)
            entry = f"line {lineno}: after {last_request}: {level}: {v['detail']}"
            (r.tolerated if reason else r.violations).append(entry + (f"  [tolerated: {reason}]" if reason else ""))
            continue

        if level in ("error", "fatal"):
            reason = known_limitation(level, name, msg)
            entry = f"line {lineno}: after {last_request}: [{name}] {level}: {msg}"
            (r.tolerated if reason else r.violations).append(entry + (f"  [tolerated: {reason}]" if reason else ""))
            pending_continuation = f"[{name}] {level}"
            continue
        if level == "warning":
            if any(rx.search(msg) for rx in BENIGN_WARNINGS):
                continue
            reason = known_limitation(level, name, msg)
            # e.g. "Upstream call to /x has returned 501" (Prism then answers with a mock).
            entry = f"line {lineno}: after {last_request}: [{name}] warning: {msg}"
            (r.tolerated if reason else r.violations).append(entry + (f"  [tolerated: {reason}]" if reason else ""))
            continue
        if name == "PROXY" and msg == "Remocking the call":
            r.violations.append(f"line {lineno}: after {last_request}: upstream returned 501, Prism answered with a mock")
            continue
        # info/success/debug lines: forwarding notices, negotiator chatter; nothing to check.
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description="Check a `prism proxy --errors` log for OpenAPI violations.")
    ap.add_argument("log", help="prism log written by prism.py")
    ap.add_argument("--min-exchanges", type=int, required=True,
                    help="fail unless at least this many exchanges were forwarded and validated")
    ap.add_argument("--quiet", action="store_true", help="print only the summary and the violations")
    a = ap.parse_args()
    try:
        with open(a.log, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError as e:
        print(f"check_log.py: cannot read {a.log}: {e}", file=sys.stderr)
        return 2
    r = parse(text)
    ok = True
    if not r.started:
        print("check_log.py: the log never shows 'Prism is listening' - not a prism proxy log?")
        ok = False
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r.by_status.items())) or "none"
    print(f"requests received by prism: {r.received}")
    print(f"exchanges forwarded and validated: {r.forwarded} (upstream statuses {statuses})")
    print(f"exchanges that passed validation: {r.validated_ok}")
    print(f"violations: {len(r.violations) + (1 if r.received > r.forwarded + r.rejected else 0)}")
    if r.tolerated:
        print(f"tolerated known prism limitations: {len(r.tolerated)}")
        if not a.quiet:
            for t in r.tolerated:
                print(f"  TOLERATED {t}")
    for v in r.violations:
        print(f"  VIOLATION {v}")
    if r.unparsed and not a.quiet:
        print(f"unrecognised log lines (not counted): {len(r.unparsed)}")
        for u in r.unparsed[:20]:
            print(f"  ? {u}")
    incomplete = r.received - r.forwarded - r.rejected
    if incomplete > 0:
        print(f"  VIOLATION {incomplete} request(s) without an outcome in the log (no upstream answer"
              f" and no prism error: upstream hung, 501 re-mocked, or prism stopped before its log was"
              f" written)")
        ok = False
    if r.violations:
        ok = False
    if r.forwarded < a.min_exchanges:
        print(f"check_log.py: only {r.forwarded} validated exchanges, at least {a.min_exchanges} required")
        ok = False
    print("conformance: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
