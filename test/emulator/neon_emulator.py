#!/usr/bin/env python3
"""Neon management API v2 emulator.

    python3 test/emulator/neon_emulator.py --port PORT [--host 127.0.0.1] [--latency-ms N] [--error-rate F]
        [--rate-limit-rpm N] [--burst-rps N] [--operation-ms N]
        [--computes postgresql://USER:PASSWORD@HOST:PORT/DB --computes-tls-cert FILE --computes-tls-key FILE
         [--pooler HOST:PORT] [--cold-start-ms N]]

Prints exactly one line `neon-emulator listening on http://HOST:PORT` when ready; exits 0 on SIGTERM/SIGINT.
See README.md beside this file.
"""

import argparse
import asyncio
import os
import resource
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import emu_computes  # noqa: E402
import emu_http  # noqa: E402
import emu_ratelimit  # noqa: E402


def raise_fd_limit():
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = hard if hard != resource.RLIM_INFINITY else 1 << 20
        want = min(want, 1 << 20)
        if soft == resource.RLIM_INFINITY or soft >= want:
            return
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        pass


def parse_args(argv):
    p = argparse.ArgumentParser(prog="neon_emulator.py", description="Neon management API v2 emulator")
    p.add_argument("--port", type=int, required=True, help="TCP port (0 = pick a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--latency-ms", type=float, default=0, help="added latency per /api/v2 request (ms)")
    p.add_argument("--error-rate", type=float, default=0.0,
                   help="probability (0..1) of an injected fault per /api/v2 request, spread over all kinds")
    p.add_argument("--rate-limit-rpm", type=float, default=700,
                   help="requests per minute per account (default 700; 0 = no rate limiting)")
    p.add_argument("--burst-rps", type=float, default=40,
                   help="burst capacity and per-route requests/s (default 40; 0 = no rate limiting)")
    p.add_argument("--operation-ms", type=int, default=800, help="duration of an operation (default 800 ms)")
    p.add_argument("--seed", type=int, default=None, help="seed for fault injection randomness")
    p.add_argument("--computes", metavar="URL", default=None,
                   help="superuser URL of a local PostgreSQL cluster: every branch becomes a real database")
    p.add_argument("--computes-tls-cert", metavar="FILE", help="certificate of the proxy (with --computes)")
    p.add_argument("--computes-tls-key", metavar="FILE", help="its private key (with --computes)")
    p.add_argument("--pooler", metavar="HOST:PORT", help="pgbouncer for the pooled ports (with --computes)")
    p.add_argument("--cold-start-ms", type=int, default=0,
                   help="delay of the first connection to an idle compute (with --computes; default 0)")
    a = p.parse_args(argv)
    if not 0.0 <= a.error_rate <= 1.0:
        p.error("--error-rate must be between 0 and 1")
    if a.latency_ms < 0 or a.rate_limit_rpm < 0 or a.burst_rps < 0 or a.operation_ms < 0:
        p.error("values must not be negative")
    a.computes_settings = None
    if a.computes is None:
        if a.computes_tls_cert or a.computes_tls_key or a.pooler or a.cold_start_ms:
            p.error("--computes-tls-cert, --computes-tls-key, --pooler and --cold-start-ms need --computes")
        return a
    try:
        a.computes_settings = emu_computes.Settings(a.computes, a.pooler, a.computes_tls_cert,
                                                    a.computes_tls_key, a.cold_start_ms)
        emu_computes.Cluster(a.computes_settings).check()
    except ValueError as e:
        p.error(str(e))
    return a


def build_server(args):
    import emu_routes
    import emu_state
    state = emu_state.NeonState(operation_ms=args.operation_ms)
    if args.computes_settings is not None:
        emu_computes.Computes(state, args.computes_settings)
    limiter = emu_ratelimit.RateLimiter(rpm=args.rate_limit_rpm, burst=args.burst_rps)
    return emu_http.EmulatorServer(state, emu_routes.dispatch, emu_routes.route_template, limiter,
                                   latency_ms=args.latency_ms, error_rate=args.error_rate, seed=args.seed)


async def amain(args):
    srv = build_server(args)
    port = await srv.start(args.host, args.port)
    shown = args.host if ":" not in args.host else "[%s]" % args.host
    sys.stdout.write("neon-emulator listening on http://%s:%d\n" % (shown, port))
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    srv.close_all()
    if srv.state.computes is not None:
        srv.state.computes.close()
    await asyncio.sleep(0)          # let the transports close


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    raise_fd_limit()
    try:
        asyncio.run(amain(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
