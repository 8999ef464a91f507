#!/usr/bin/env python3
"""A throwaway local PostgreSQL cluster (and optionally pgbouncer) for the emulator's real computes.

    python3 test/emulator/computes_cluster.py start DIR [--pooler]
    python3 test/emulator/computes_cluster.py stop DIR

start: initdb in DIR/data, the server on 127.0.0.1 at a free port (its unix socket in DIR), a self-signed
certificate for the emulator's proxy, and with --pooler Debian's pgbouncer in transaction mode on another free
port.  Prints one JSON line (and keeps it in DIR/cluster.json, mode 600):

    {"superuser_url": "postgresql://postgres:...@127.0.0.1:PORT/postgres", "pooler": "127.0.0.1:PORT" | null,
     "tls_cert": "DIR/tls.crt", "tls_key": "DIR/tls.key", "pg_bindir": "/usr/lib/postgresql/15/bin"}

which is what neon_emulator.py takes as --computes, --pooler, --computes-tls-cert and --computes-tls-key.
stop: stops pgbouncer and the server (nothing running is fine).  Run as root, every server runs as user
postgres (runuser) and DIR is given to it: DIR's parents must let postgres through.  See README.md beside
this file, "Real computes".
"""

import argparse
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SUPERUSER = "postgres"
AUTH_USER = "pgbouncer_auth"        # the role pgbouncer runs auth_query as
SOCKET_PATH_MAX = 90                # a unix socket path must stay below 108 bytes (".s.PGSQL.NNNNN" included)
START_TRIES = 3                     # a free port can be taken between finding it and binding it
READY_TIMEOUT_S = 30

# pgbouncer learns each role's SCRAM secret through this function, so roles created later need no auth_file
AUTH_FUNCTION_SQL = """
CREATE SCHEMA pgbouncer AUTHORIZATION postgres;
CREATE FUNCTION pgbouncer.get_auth(p_usename text, OUT usename name, OUT passwd text) RETURNS SETOF record
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog
    AS $$ SELECT usename, passwd FROM pg_shadow WHERE usename = p_usename AND NOT usesuper $$;
REVOKE ALL ON FUNCTION pgbouncer.get_auth(text) FROM PUBLIC;
GRANT USAGE ON SCHEMA pgbouncer TO pgbouncer_auth;
GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(text) TO pgbouncer_auth;
"""


class ClusterError(Exception):
    """A step of start or stop failed; the message says which."""


def pg_bindir():
    """Where initdb, pg_ctl and psql are: pg_config --bindir."""
    exe = shutil.which("pg_config")
    if exe is None:
        raise ClusterError("pg_config not found on PATH (install postgresql-server-dev or PostgreSQL)")
    bindir = subprocess.run([exe, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
    if not os.access(os.path.join(bindir, "initdb"), os.X_OK):
        raise ClusterError("no initdb in %s" % bindir)
    return bindir


def as_server_user():
    """Command prefix that runs servers as postgres when we are root (initdb and pgbouncer refuse root)."""
    return ["runuser", "-u", SUPERUSER, "--"] if os.geteuid() == 0 else []


def run(cmd, what, **kw):
    """Run a command; ClusterError with its output when it fails."""
    kw.setdefault("input", "")
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise ClusterError("%s failed (exit %d): %s" % (what, res.returncode, (res.stderr or res.stdout).strip()))
    return res.stdout


def give_to_server_user(path):
    """Files the servers read must belong to postgres when we are root."""
    if os.geteuid() == 0:
        pw = pwd.getpwnam(SUPERUSER)
        os.chown(path, pw.pw_uid, pw.pw_gid)


def write_private(path, text):
    """A file only its owner (the server user) may read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    give_to_server_user(path)


def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, timeout=READY_TIMEOUT_S):
    """True once something accepts TCP connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def socket_dir(d):
    """DIR itself, or a short directory under /tmp when DIR is too long for a unix socket path."""
    if len(d) <= SOCKET_PATH_MAX:
        return d
    short = tempfile.mkdtemp(prefix="neon-pg-")
    give_to_server_user(short)
    return short


def init_cluster(bindir, d, password):
    """initdb with a superuser password, then the configuration: loopback only, SCRAM for everybody on TCP,
    trust for the superuser on the unix socket, fast and unsafe durability (a test cluster)."""
    pwfile = os.path.join(d, "superuser.pw")
    write_private(pwfile, password + "\n")
    data = os.path.join(d, "data")
    try:
        run(as_server_user() + [os.path.join(bindir, "initdb"), "-D", data, "-U", SUPERUSER, "--pwfile", pwfile,
                                "-E", "UTF8", "--no-locale", "--no-sync", "--auth-local=trust",
                                "--auth-host=scram-sha-256"], "initdb")
    finally:
        os.unlink(pwfile)
    with open(os.path.join(data, "postgresql.conf"), "a") as f:
        f.write("\ninclude 'computes.conf'\n")
    write_private(os.path.join(data, "pg_hba.conf"),
                  "local all %s trust\nhost all all 127.0.0.1/32 scram-sha-256\n" % SUPERUSER)
    return data


def server_conf(port, sockets):
    """computes.conf: rewritten for each start attempt (the port may change)."""
    return ("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"
            "password_encryption = 'scram-sha-256'\nmax_connections = 200\nfsync = off\n"
            "synchronous_commit = off\nfull_page_writes = off\n" % (port, sockets))


def start_server(bindir, d, data, sockets):
    """pg_ctl start on a free port (retried when another process took it first); returns the port."""
    for _ in range(START_TRIES):
        port = free_port()
        write_private(os.path.join(data, "computes.conf"), server_conf(port, sockets))
        res = subprocess.run(as_server_user() + [os.path.join(bindir, "pg_ctl"), "-D", data, "-l",
                                                 os.path.join(d, "postgres.log"), "-w", "-t", str(READY_TIMEOUT_S),
                                                 "start"], capture_output=True, text=True, input="")
        if res.returncode == 0:
            return port
    raise ClusterError("pg_ctl start failed %d times; see %s" % (START_TRIES, os.path.join(d, "postgres.log")))


def superuser_psql(bindir, sockets, port, sql, dbname="postgres"):
    """Run SQL as the superuser over the unix socket (trust)."""
    run([os.path.join(bindir, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", sockets, "-p", str(port),
         "-U", SUPERUSER, "-d", dbname, "-f", "-"], "psql in %s" % dbname, input=sql)


def make_certificate(d):
    """A self-signed certificate and key for the emulator's proxy (TLS to the tenants' clients)."""
    cert, key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=localhost",
         "-keyout", key, "-out", cert], "openssl req")
    os.chmod(key, 0o600)
    return cert, key


def pooler_ini(d, sockets, server_port, port):
    """pgbouncer.ini: every database of the cluster, transaction pooling, SCRAM with secrets from auth_query."""
    return """[databases]
* = host=127.0.0.1 port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir = %s
auth_type = scram-sha-256
auth_file = %s
auth_user = %s
auth_query = SELECT usename, passwd FROM pgbouncer.get_auth($1)
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 5
server_idle_timeout = 30
ignore_startup_parameters = extra_float_digits,options
logfile = %s
pidfile = %s
""" % (server_port, port, sockets, os.path.join(d, "pgbouncer.users"), AUTH_USER,
       os.path.join(d, "pgbouncer.log"), os.path.join(d, "pgbouncer.pid"))


def start_pooler(bindir, d, sockets, server_port):
    """The auth_query role and function (in template1 too, so every later database has it), then pgbouncer as
    a daemon on a free port; returns the port."""
    exe = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not os.access(exe, os.X_OK):
        raise ClusterError("pgbouncer not found (Debian package pgbouncer)")
    password = secrets.token_hex(16)
    superuser_psql(bindir, sockets, server_port, "CREATE ROLE %s LOGIN PASSWORD '%s';\n" % (AUTH_USER, password))
    for db in ("template1", "postgres"):
        superuser_psql(bindir, sockets, server_port, AUTH_FUNCTION_SQL, db)
    write_private(os.path.join(d, "pgbouncer.users"), '"%s" "%s"\n' % (AUTH_USER, password))
    ini = os.path.join(d, "pgbouncer.ini")
    for _ in range(START_TRIES):
        port = free_port()
        write_private(ini, pooler_ini(d, sockets, server_port, port))
        run(as_server_user() + [exe, "-d", ini], "pgbouncer")
        if wait_listening(port, 5):
            return port
        stop_pooler(d)
    raise ClusterError("pgbouncer did not listen; see %s" % os.path.join(d, "pgbouncer.log"))


def stop_pooler(d):
    """SIGTERM to the pgbouncer of DIR (if its pid file says one runs), then wait for it to go."""
    try:
        with open(os.path.join(d, "pgbouncer.pid")) as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return
        time.sleep(0.05)


def start(d, pooler):
    """The start command: cluster, certificate, optional pooler; returns the JSON description."""
    d = os.path.abspath(d)
    if os.path.exists(os.path.join(d, "data")):
        raise ClusterError("%s already holds a cluster (stop it and use a fresh directory)" % d)
    os.makedirs(d, mode=0o700, exist_ok=True)
    give_to_server_user(d)
    bindir = pg_bindir()
    password = secrets.token_hex(16)
    sockets = socket_dir(d)
    data = init_cluster(bindir, d, password)
    port = start_server(bindir, d, data, sockets)
    cert, key = make_certificate(d)
    pooler_port = start_pooler(bindir, d, sockets, port) if pooler else None
    info = {"superuser_url": "postgresql://%s:%s@127.0.0.1:%d/postgres" % (SUPERUSER, password, port),
            "pooler": "127.0.0.1:%d" % pooler_port if pooler_port else None,
            "tls_cert": cert, "tls_key": key, "pg_bindir": bindir}
    write_private(os.path.join(d, "cluster.json"), json.dumps(dict(info, socket_dir=sockets)) + "\n")
    return info


def stop(d):
    """The stop command: pgbouncer, then the server (fast shutdown), then the short socket directory if any."""
    d = os.path.abspath(d)
    stop_pooler(d)
    data = os.path.join(d, "data")
    if os.path.exists(os.path.join(data, "postmaster.pid")):
        run(as_server_user() + [os.path.join(pg_bindir(), "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"],
            "pg_ctl stop")
    try:
        with open(os.path.join(d, "cluster.json")) as f:
            sockets = json.load(f)["socket_dir"]
    except (OSError, ValueError, KeyError):
        return
    if sockets != d:
        shutil.rmtree(sockets, ignore_errors=True)


def cleanup_failed_start(d):
    """After a failed start, stop whatever did start (stop errors are reported, not raised)."""
    try:
        stop(d)
    except (ClusterError, subprocess.CalledProcessError, OSError) as e:
        sys.stderr.write("computes_cluster.py start: cleaning up: %s\n" % e)


def main(argv=None):
    """Command line: start or stop; errors on stderr, exit 1."""
    ap = argparse.ArgumentParser(prog="computes_cluster.py", description="local PostgreSQL for real computes")
    ap.add_argument("command", choices=("start", "stop"))
    ap.add_argument("dir", help="directory of the cluster (created by start)")
    ap.add_argument("--pooler", action="store_true", help="also start pgbouncer in transaction mode (start only)")
    a = ap.parse_args(argv)
    try:
        if a.command == "start":
            sys.stdout.write(json.dumps(start(a.dir, a.pooler)) + "\n")
            sys.stdout.flush()
        else:
            stop(a.dir)
    except (ClusterError, subprocess.CalledProcessError, OSError) as e:
        sys.stderr.write("computes_cluster.py %s: %s\n" % (a.command, e))
        if a.command == "start":
            cleanup_failed_start(a.dir)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
