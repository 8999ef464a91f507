"""Real computes for the Neon API emulator (--computes, standard library only).

Every branch of a project made in this mode is a real database of one local PostgreSQL cluster (reached as
its superuser), every role of a branch a real login role with the branch's password (acting as the project's
role of that name, which owns the databases and objects), and every endpoint a pair of ports on 127.0.0.1
where the emulator itself plays Neon's proxy: P (direct) and P + 1 (pooled, through pgbouncer when one is
given).  The proxy speaks TLS to the client, refuses what Neon's proxy refuses, maps the Neon names of the
startup message (neondb_owner / neondb) to the real, unique names of the branch, and then pipes the bytes
both ways, so that SCRAM runs end to end between the client and the real server (or pgbouncer).

The domain reports each change through NeonState.computes_do(event, project, operations, **objects), which
lands in Computes.on(); the database work runs in psql, one script at a time, in a worker thread, and the
request's operations are held (NeonState.hold_operations) until its script is done.  See README.md beside
this file, "Real computes (--computes)".
"""

import asyncio
import base64
import concurrent.futures
import hashlib
import hmac
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import time
import urllib.parse

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
PROTOCOL_3 = 196608
MAX_STARTUP_BYTES = 10000           # PostgreSQL's own limit for a startup packet
HANDSHAKE_TIMEOUT_S = 30            # a client that says nothing is dropped after this
JOB_TIMEOUT_S = 120                 # one psql script
SIZE_REFRESH_S = 1.0                # logical sizes are measured at most this often
NAME_MAX = 63                       # bytes of a PostgreSQL identifier
SCRAM_ITERATIONS = 4096
COLD_START_MAX_MS = 600000
ERR_INSECURE = "connection is insecure (try using `sslmode=require`)"
ERR_ENDPOINT = ("The requested endpoint could not be found, or you don't have access to it. "
                "Please check the provided ID and try again.")
ERR_DISABLED = "The endpoint has been disabled. Enable it using the Neon API and retry."
ERR_UPSTREAM = "Couldn't connect to compute node"
QUOTA_MESSAGES = {      # Neon's texts, by the quota that suspended the project
    "active_time_seconds": "Your project has exceeded the active time quota. Upgrade your plan to increase limits.",
    "compute_time_seconds": "Your account or project has exceeded the compute time quota. "
                            "Upgrade your plan to increase limits.",
    "written_data_bytes": "Your project has exceeded the written data quota. Upgrade your plan to increase limits.",
    "data_transfer_bytes": "Your project has exceeded the data transfer quota. "
                           "Upgrade your plan to increase limits.",
}
SIZES_SQL = "SELECT json_object_agg(datname, pg_database_size(oid)) FROM pg_database;"
TRUNCATE_SQL = r"""DO $$DECLARE t record; BEGIN
  FOR t IN SELECT c.oid::regclass AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
             AND n.nspname NOT LIKE 'pg\_toast%' LOOP
    EXECUTE format('TRUNCATE %s RESTART IDENTITY CASCADE', t.rel);
  END LOOP;
END$$;"""


# ------------------------------------------------------------------------------------------------ names, SQL

def ident(name):
    """A quoted SQL identifier."""
    return '"%s"' % name.replace('"', '""')


def literal(text):
    """A quoted SQL string (standard_conforming_strings is on since PostgreSQL 9.1)."""
    return "'%s'" % text.replace("'", "''")


def short_hash(text, n=10):
    """A stable tag for an id or a name inside a real name."""
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def real_name(kind, owner_id, name):
    """The cluster-wide unique name of a Neon name: kind ("p" role of a project, "r" login role of a branch,
    "b" database of a branch, "s" copy kept by a snapshot) + a hash of the owner's id + the name, or a hash of
    the name when that would pass 63 bytes."""
    tag = "%s%s_" % (kind, short_hash(owner_id))
    full = tag + name
    return full if len(full.encode()) <= NAME_MAX else tag + short_hash(name, 16)


def owner_role(p, name):
    """The project's role of a Neon role name: owner of its databases and objects, never logs in."""
    return real_name("p", p.id, name)


def login_role(b, name):
    """The login role of a Neon role on one branch: the branch's password, acts as owner_role()."""
    return real_name("r", b.id, name)


def db_name(b, name):
    """The real database of a Neon database on one branch."""
    return real_name("b", b.id, name)


def scram_verifier(password, salt=None):
    """The SCRAM-SHA-256 secret PostgreSQL stores for a password: the cluster (and its logs) never see the
    password itself."""
    salt = os.urandom(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = lambda raw: base64.b64encode(raw).decode()   # noqa: E731 - three uses on one line
    return "SCRAM-SHA-256$%d:%s$%s:%s" % (SCRAM_ITERATIONS, b64(salt), b64(hashlib.sha256(client_key).digest()),
                                          b64(server_key))


def create_role_sql(real):
    """CREATE ROLE (NOLOGIN) unless the role exists."""
    return ("SELECT format('CREATE ROLE %%I NOLOGIN', %s) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %s)"
            " \\gexec" % (literal(real), literal(real)))


def role_sql(owner, login, password):
    """The project's role (NOLOGIN, the owner of databases and objects) unless another branch made it, and the
    branch's login role with the branch's password ("": NOLOGIN), whose sessions act as the project's role: so
    the copies of a branch's databases work for the roles of every branch."""
    can_login = "LOGIN PASSWORD %s" % literal(scram_verifier(password)) if password else "NOLOGIN"
    return [create_role_sql(owner), create_role_sql(login), "ALTER ROLE %s %s;" % (ident(login), can_login),
            "GRANT %s TO %s;" % (ident(owner), ident(login)),
            "ALTER ROLE %s SET role = %s;" % (ident(login), literal(owner))]


def terminate_sql(databases):
    """Disconnect every session of these databases (CREATE DATABASE ... TEMPLATE, RENAME and DROP need that)."""
    if not databases:
        return []
    return ["SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname IN (%s) AND "
            "pid <> pg_backend_pid();" % ", ".join(literal(d) for d in sorted(databases))]


def create_db_sql(real, owner, template=None):
    """CREATE DATABASE, a copy of template when given (owner None: the superuser)."""
    template = "" if template is None else " TEMPLATE %s" % ident(template)
    owner = "" if owner is None else " OWNER %s" % ident(owner)
    return ["CREATE DATABASE %s%s%s;" % (ident(real), template, owner)]


def drop_db_sql(real):
    """DROP DATABASE, its sessions ended first (FORCE); nothing when it is gone already."""
    return ["DROP DATABASE IF EXISTS %s WITH (FORCE);" % ident(real)]


def drop_role_sql(real):
    """DROP ROLE; nothing when it is gone already."""
    return "DROP ROLE IF EXISTS %s;" % ident(real)


def rename_db_sql(real, new):
    """The data of one database passes to another name (whatever had that name goes)."""
    return drop_db_sql(new) + ["ALTER DATABASE %s RENAME TO %s;" % (ident(real), ident(new))]


# ------------------------------------------------------------------------------------------------ wire protocol

def error_response(message, code="XX000", severity="ERROR"):
    """A PostgreSQL ErrorResponse message (what Neon's proxy sends before it hangs up)."""
    fields = b"".join(tag + value.encode() + b"\0" for tag, value in (
        (b"S", severity), (b"V", severity), (b"C", code), (b"M", message)))
    return b"E" + struct.pack("!I", len(fields) + 5) + fields + b"\0"


async def refuse(writer, error):
    """Send the ErrorResponse that ends a session; None (nothing left to do for it)."""
    writer.write(error)
    await writer.drain()
    return None


async def read_startup_packet(reader):
    """One length-prefixed startup packet (SSLRequest, GSSENCRequest, CancelRequest or StartupMessage)."""
    head = await reader.readexactly(8)
    length, code = struct.unpack("!II", head)
    if not 8 <= length <= MAX_STARTUP_BYTES:
        raise ConnectionError("invalid startup packet length %d" % length)
    return code, head + await reader.readexactly(length - 8)


def startup_params(packet):
    """The name/value pairs of a StartupMessage."""
    parts = packet[8:].split(b"\0")
    return {parts[i]: parts[i + 1] for i in range(0, len(parts) - 1, 2) if parts[i]}


def startup_packet(params):
    """A StartupMessage (protocol 3.0) from name/value pairs."""
    body = b"".join(k + b"\0" + v + b"\0" for k, v in params.items()) + b"\0"
    return struct.pack("!II", len(body) + 8, PROTOCOL_3) + body


# ------------------------------------------------------------------------------------------------ settings

class Settings:
    """What --computes, --pooler, --computes-tls-cert/-key and --cold-start-ms say, validated."""

    def __init__(self, url, pooler, tls_cert, tls_key, cold_start_ms):
        self.server = parse_superuser_url(url)
        self.upstream = (self.server["host"], self.server["port"])
        self.pooler = parse_address(pooler) if pooler else None
        if not tls_cert or not tls_key:
            raise ValueError("--computes needs --computes-tls-cert and --computes-tls-key")
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            self.tls.load_cert_chain(tls_cert, tls_key)
        except (OSError, ssl.SSLError) as e:
            raise ValueError("cannot load the TLS certificate / key: %s" % e)
        if isinstance(cold_start_ms, bool) or not 0 <= cold_start_ms <= COLD_START_MAX_MS:
            raise ValueError("--cold-start-ms must be between 0 and %d" % COLD_START_MAX_MS)
        self.cold_start_s = cold_start_ms / 1000.0
        self.psql = find_psql()


def parse_superuser_url(url):
    """postgresql://USER[:PASSWORD]@HOST[:PORT][/DB] -> its parts; ValueError (without the password) else."""
    u = urllib.parse.urlsplit(url)
    shown = redact(url)
    if u.scheme not in ("postgresql", "postgres") or not u.hostname or not u.username or u.query or u.fragment:
        raise ValueError("--computes must be postgresql://USER:PASSWORD@HOST:PORT/DB, not %s" % shown)
    try:
        port = u.port or 5432
    except ValueError:
        raise ValueError("--computes: invalid port in %s" % shown)
    return {"host": u.hostname, "port": port, "user": urllib.parse.unquote(u.username),
            "password": urllib.parse.unquote(u.password or ""),
            "dbname": urllib.parse.unquote(u.path.lstrip("/")) or "postgres"}


def redact(url):
    """A connection URL as it may be shown: without its password."""
    u = urllib.parse.urlsplit(url)
    if u.password is None:
        return url
    return u._replace(netloc=u.netloc.replace(":%s@" % u.password, ":***@", 1)).geturl()


def parse_address(text):
    """HOST:PORT -> (host, port); ValueError else."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError("--pooler must be HOST:PORT, not %r" % text)
    return host, int(port)


def find_psql():
    """psql of pg_config --bindir, else the one on PATH."""
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        res = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidate = os.path.join(res.stdout.strip(), "psql")
        if res.returncode == 0 and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("psql")
    if found is None:
        raise ValueError("--computes needs psql (PostgreSQL's client), found neither by pg_config nor on PATH")
    return found


# ------------------------------------------------------------------------------------------------ the cluster

class Cluster:
    """Runs SQL scripts on the cluster as its superuser, with psql (blocking: call it from a worker thread)."""

    def __init__(self, settings):
        s = settings.server
        self.cmd = [settings.psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", s["host"],
                    "-p", str(s["port"]), "-U", s["user"], "-d", s["dbname"], "-f", "-"]
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self.env.update(PGPASSWORD=s["password"], PGCONNECT_TIMEOUT="10", PGAPPNAME="neon-emulator",
                        PGSSLMODE="prefer", PGOPTIONS="-c client_min_messages=warning")

    def run(self, script):
        """(True, stdout) or (False, psql's error without its "psql:<stdin>:N:" prefixes)."""
        try:
            res = subprocess.run(self.cmd, input=script, capture_output=True, text=True, env=self.env,
                                 timeout=JOB_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as e:
            return False, "psql: %s" % e
        if res.returncode == 0:
            return True, res.stdout
        lines = [line.split(": ", 1)[1] if line.startswith("psql:<stdin>") else line
                 for line in res.stderr.strip().splitlines()]
        return False, " ".join(lines)[:500] or "psql exited %d" % res.returncode

    def check(self):
        """At start-up: the URL must reach the cluster as a superuser (ValueError else)."""
        ok, out = self.run("SELECT rolsuper FROM pg_roles WHERE rolname = current_user;")
        if not ok:
            raise ValueError("--computes: cannot reach the cluster: %s" % out)
        if out.strip() != "t":
            raise ValueError("--computes: the user of the URL is not a superuser")


# ------------------------------------------------------------------------------------------------ the proxy

class Listener:
    """The two ports of one endpoint, P (direct) and P + 1 (pooled), and the client sessions open on them."""

    def __init__(self, project_id, endpoint_id, port, tasks, socks):
        self.project_id = project_id
        self.endpoint_id = endpoint_id
        self.port = port
        self.tasks = tasks          # asyncio.start_server tasks, one per port
        self.socks = socks
        self.sessions = set()       # client StreamWriters

    def end_sessions(self):
        """Close every client session (the compute went away); new ones may come."""
        for writer in list(self.sessions):
            writer.close()

    def close(self):
        """Stop listening and end the sessions: the endpoint is gone."""
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception() is None:
                task.result().close()
            else:
                task.cancel()
        for sock in self.socks:
            sock.close()
        self.end_sessions()


def bind_pair(tries=50):
    """Two listening sockets on consecutive free ports of 127.0.0.1: (P, socket P, socket P + 1)."""
    for _ in range(tries):
        first = socket.socket()
        first.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        first.bind(("127.0.0.1", 0))
        port = first.getsockname()[1]
        second = socket.socket()
        second.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            second.bind(("127.0.0.1", port + 1))
        except (OSError, OverflowError):
            first.close()
            second.close()
            continue
        for sock in (first, second):
            sock.listen(128)
            sock.setblocking(False)
        return port, first, second
    raise OSError("no two consecutive free ports on 127.0.0.1")


async def relay_login(reader, writer, names):
    """The server's messages up to ReadyForQuery (True) or an ErrorResponse (False), with the real names in error
    texts turned back into the client's: names is [(real, neon)] as bytes."""
    while True:
        head = await reader.readexactly(5)
        body = await reader.readexactly(struct.unpack("!I", head[1:])[0] - 4)
        if head[:1] == b"E":
            for real, neon in names:
                body = body.replace(real, neon)
            head = b"E" + struct.pack("!I", len(body) + 4)
        writer.write(head + body)
        await writer.drain()
        if head[:1] in (b"Z", b"E"):
            return head[:1] == b"Z"


async def pump(reader, writer, login_names=None):
    """Copy one direction of a session until its end (the server's side: after relay_login() when login_names
    are given), then close the other side."""
    try:
        if login_names is not None and not await relay_login(reader, writer, login_names):
            return
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, ssl.SSLError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


class RealProject:
    """What exists in the cluster for one project: its real roles and databases, the copies its snapshots keep,
    and the last script queued for it (new sessions wait for it)."""

    def __init__(self):
        self.roles = set()
        self.databases = set()
        self.snapshots = {}         # snapshot id -> {database name: real name of the copy}
        self.tail = None            # asyncio future of the last script

    def drop_sql(self):
        """The project leaves the cluster: its databases and snapshot copies, then its roles."""
        copies = {c for v in self.snapshots.values() for c in v.values()}
        return ([stmt for real in sorted(self.databases | copies) for stmt in drop_db_sql(real)]
                + [drop_role_sql(real) for real in sorted(self.roles)])


class Computes:
    """The real side of the emulated computes: scripts for the cluster, one listener per endpoint, the proxy."""

    def __init__(self, state, settings):
        self.state = state
        self.settings = settings
        self.cluster = Cluster(settings)
        self.worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="computes")
        self.projects = {}          # project id -> RealProject (projects made in computes mode)
        self.listeners = {}         # endpoint id -> Listener
        self.sizes_at = 0.0         # when logical sizes were last asked for
        self.cold_starts = {}       # endpoint id -> the task of its cold start
        state.computes = self

    # -- the domain's hook ---------------------------------------------------------------------------------
    def on(self, event, p, ops, **objects):
        """NeonState.computes_do(): one handler per event; projects made without --computes (the bulk
        fixtures) and events of no interest are ignored."""
        handler = getattr(self, "_on_" + event)
        if p is None:
            handler(**objects)
        elif p.id in self.projects or event == "project_create":
            handler(p, list(ops), **objects)

    def address(self, ep, pooled):
        """127.0.0.1:P (P + 1 pooled) of an endpoint with a listener, else None."""
        lst = self.listeners.get(ep.id)
        return None if lst is None else "127.0.0.1:%d" % (lst.port + (1 if pooled else 0))

    def close(self):
        """Shutdown: stop every listener; scripts still queued are dropped."""
        self._close_listeners()
        self.worker.shutdown(wait=False, cancel_futures=True)

    # -- events --------------------------------------------------------------------------------------------
    def _on_project_create(self, p, ops, branch, endpoint):
        """The branch's roles and databases, and the endpoint's ports."""
        self.projects[p.id] = RealProject()
        self._listen(p, endpoint)
        self._run(p, ops, "project create", self._roles_sql(p, branch, branch.roles.values())
                  + self._new_databases_sql(p, branch, {}))

    def _on_project_delete(self, p, ops):
        """Every database, snapshot copy and role of the project goes, and its ports close."""
        rp = self.projects.pop(p.id)
        for ep in p.endpoints.values():
            self._unlisten(ep)
        self._run(p, ops, "project delete", rp.drop_sql())

    def _on_branch_create(self, p, ops, branch, parent, endpoints):
        """Copies of the parent's databases at its head (schema-only: emptied), login roles, ports."""
        for ep in endpoints:
            self._listen(p, ep)
        sources = {name: db_name(parent, name) for name in branch.databases}
        sql = self._exclusive(p, [parent], sources.values()) + self._roles_sql(p, branch, branch.roles.values())
        sql += self._new_databases_sql(p, branch, sources)
        if branch.init_source == "schema-only":
            for name in branch.databases:
                sql += ["\\connect %s" % ident(db_name(branch, name)), TRUNCATE_SQL]
        self._run(p, ops, "branch create", sql)

    def _on_branch_delete(self, p, ops, branch, endpoints):
        """The branch's databases and login roles go, and its endpoints' ports close."""
        for ep in endpoints:
            self._unlisten(ep)
        sql = []
        for name in branch.databases:
            sql += self._drop(p, db_name(branch, name))
        for name in branch.roles:
            sql.append(self._drop_role(p, login_role(branch, name)))
        self._run(p, ops, "branch delete", sql)

    def _on_branch_restore(self, p, ops, branch, source, backup):
        """The branch gets the source's data (a point in time of its own history: its data as it is); with
        preserve_under_name the backup branch takes the data the branch had (renamed, not copied)."""
        rp = self.projects[p.id]
        own = source is branch
        sql = self._exclusive(p, [branch, source], [db_name(b, n) for b in (branch, source) for n in b.databases])
        if backup is not None:
            sql += self._roles_sql(p, backup, backup.roles.values())
        for name, d in branch.databases.items():
            cur = db_name(branch, name)
            from_source = not own and name in source.databases
            if backup is not None:
                keep = db_name(backup, name)
                sql += rename_db_sql(cur, keep)
                rp.databases.add(keep)
                origin = db_name(source, name) if from_source else keep
            elif from_source:
                sql += drop_db_sql(cur)
                origin = db_name(source, name)
            else:
                continue
            sql += create_db_sql(cur, owner_role(p, d.owner_name), origin)
        self._run(p, ops, "branch restore", sql)

    def _on_snapshot_create(self, p, ops, branch, snapshot):
        """A kept copy of each database of the branch, owned by the superuser."""
        copies = {name: real_name("s", snapshot.id, name) for name in branch.databases}
        self.projects[p.id].snapshots[snapshot.id] = copies
        sql = self._exclusive(p, [branch], [db_name(branch, n) for n in copies])
        for name, copy in copies.items():
            sql += create_db_sql(copy, None, db_name(branch, name))
        self._run(p, ops, "snapshot create", sql)

    def _on_snapshot_delete(self, p, ops, snapshot):
        """The snapshot's copies go (deleted or expired)."""
        copies = self.projects[p.id].snapshots.pop(snapshot.id, {})
        self._run(p, ops, "snapshot delete", [stmt for copy in copies.values() for stmt in drop_db_sql(copy)])

    def _on_snapshot_restore(self, p, ops, branch, snapshot, endpoints):
        """The new branch's databases are copies of the snapshot's; moved computes restart."""
        self._end_sessions(endpoints)
        copies = self.projects[p.id].snapshots.get(snapshot.id, {})
        self._run(p, ops, "snapshot restore", self._roles_sql(p, branch, branch.roles.values())
                  + self._new_databases_sql(p, branch, copies))

    def _on_role_create(self, p, ops, branch, role):
        """The project's role (if new) and the branch's login role."""
        self._run(p, ops, "role create", self._roles_sql(p, branch, [role]))

    def _on_role_delete(self, p, ops, branch, role):
        """The branch's login role goes; the project's role with the last branch that has the name."""
        sql = [self._drop_role(p, login_role(branch, role.name))]
        if not any(role.name in b.roles for b in p.branches.values()):
            sql.append(self._drop_role(p, owner_role(p, role.name)))
        self._run(p, ops, "role delete", sql)

    def _on_role_password(self, p, ops, branch, role):
        """The branch's login role gets the new password."""
        self._run(p, ops, "password reset", self._roles_sql(p, branch, [role]))

    def _on_database_create(self, p, ops, branch, database):
        """A new empty database of the branch."""
        self._run(p, ops, "database create", self._new_databases_sql(p, branch, {}, [database]))

    def _on_database_delete(self, p, ops, branch, database):
        """The branch's database goes."""
        self._run(p, ops, "database delete", self._drop(p, db_name(branch, database.name)))

    def _on_endpoint_create(self, p, ops, endpoint):
        """The new endpoint's ports."""
        self._listen(p, endpoint)

    def _on_endpoint_delete(self, p, ops, endpoint):
        """The endpoint's ports close."""
        self._unlisten(endpoint)

    def _on_computes_restart(self, p, ops, endpoints):
        """Suspend, restart and finalize_restore: the sessions of those computes end."""
        self._end_sessions(endpoints)

    def _on_quota_suspend(self, p, ops):
        """A quota suspended the project's computes: their sessions end."""
        self._end_sessions(p.endpoints.values())

    def _on_reset(self):
        """/_emulator/reset: the emulator forgets everything, so the cluster loses what it made."""
        self._close_listeners()
        projects, self.projects = self.projects, {}
        for pid, rp in projects.items():
            self._submit("reset of project %s" % pid, rp.drop_sql(), None, ())

    def _on_api_request(self):
        """Logical sizes follow the real databases, measured in the background when the API is in use."""
        now = time.monotonic()
        if self.projects and now - self.sizes_at >= SIZE_REFRESH_S:
            self.sizes_at = now
            fut = asyncio.get_running_loop().run_in_executor(self.worker, self.cluster.run, SIZES_SQL)
            fut.add_done_callback(self._sizes_measured)

    # -- scripts -------------------------------------------------------------------------------------------
    def _roles_sql(self, p, branch, roles):
        """role_sql() for roles of a branch, remembered for the project's deletion."""
        rp = self.projects[p.id]
        sql = []
        for r in roles:
            owner, login = owner_role(p, r.name), login_role(branch, r.name)
            rp.roles.update((owner, login))
            sql += role_sql(owner, login, r.password)
        return sql

    def _new_databases_sql(self, p, branch, templates, databases=None):
        """CREATE DATABASE for databases of the branch (default: all), copies of templates[name] where given."""
        rp = self.projects[p.id]
        sql = []
        for d in branch.databases.values() if databases is None else databases:
            real = db_name(branch, d.name)
            rp.databases.add(real)
            sql += create_db_sql(real, owner_role(p, d.owner_name), templates.get(d.name))
        return sql

    def _drop(self, p, real):
        """drop_db_sql(), forgotten for the project's deletion."""
        self.projects[p.id].databases.discard(real)
        return drop_db_sql(real)

    def _drop_role(self, p, real):
        """drop_role_sql(), forgotten for the project's deletion."""
        self.projects[p.id].roles.discard(real)
        return drop_role_sql(real)

    def _exclusive(self, p, branches, databases):
        """Sessions of these branches end now (their endpoints' clients, then, in the script, every backend of
        the databases), so that the script may copy or rename them; new sessions wait for the script."""
        ids = {b.id for b in branches}
        self._end_sessions(ep for ep in p.endpoints.values() if ep.branch_id in ids)
        return terminate_sql(set(databases))

    def _run(self, p, ops, what, sql):
        """Queue a project's script; its operations are held until it is done, and so are new sessions."""
        if not sql:
            return
        if ops:
            self.state.hold_operations(p, ops)
        rp = self.projects.get(p.id)
        fut = self._submit("%s of project %s" % (what, p.id), sql, p, ops)
        if rp is not None:
            rp.tail = fut

    def _submit(self, what, sql, p, ops):
        """Queue a script for the worker thread; _script_done() runs in the loop when it ends."""
        fut = asyncio.get_running_loop().run_in_executor(self.worker, self.cluster.run, "\n".join(sql) + "\n")
        fut.add_done_callback(lambda f: self._script_done(what, p, ops, f))
        return fut

    def _script_done(self, what, p, ops, fut):
        """Release the held operations, failed with psql's error when the script failed."""
        ok, out = (False, "cancelled") if fut.cancelled() else fut.result()
        error = None if ok else "%s failed: %s" % (what, out)
        if error is not None:
            sys.stderr.write("neon-emulator computes: %s\n" % error)
        if ops:
            self.state.release_operations(p, ops, error)

    def _sizes_measured(self, fut):
        """Each branch of a real project: logical_size = the sum of pg_database_size of its databases."""
        if fut.cancelled():
            return
        ok, out = fut.result()
        if not ok:
            sys.stderr.write("neon-emulator computes: measuring sizes failed: %s\n" % out)
            return
        sizes = json.loads(out.strip() or "{}") or {}
        for pid in self.projects:
            p = self.state.projects.get(pid)
            for b in p.branches.values() if p is not None else ():
                parts = [sizes.get(db_name(b, name)) for name in b.databases]
                if parts and None not in parts:
                    b.logical_size = sum(parts)

    # -- listeners -----------------------------------------------------------------------------------------
    def _listen(self, p, ep):
        """Two consecutive ports for the endpoint, served by the proxy from now on."""
        port, direct, pooled = bind_pair()
        lst = Listener(p.id, ep.id, port, [], [direct, pooled])
        for sock, is_pooled in ((direct, False), (pooled, True)):
            cb = lambda r, w, pooled_=is_pooled: self._session(lst, pooled_, r, w)   # noqa: E731
            lst.tasks.append(asyncio.get_running_loop().create_task(asyncio.start_server(cb, sock=sock)))
        self.listeners[ep.id] = lst

    def _close_listeners(self):
        """Every endpoint's ports close (shutdown, /_emulator/reset)."""
        for lst in self.listeners.values():
            lst.close()
        self.listeners.clear()

    def _unlisten(self, ep):
        """The endpoint's ports close and its sessions end."""
        lst = self.listeners.pop(ep.id, None)
        if lst is not None:
            lst.close()

    def _end_sessions(self, endpoints):
        """The client sessions of these endpoints end; their ports stay open."""
        for ep in endpoints:
            lst = self.listeners.get(ep.id)
            if lst is not None:
                lst.end_sessions()

    # -- the proxy -----------------------------------------------------------------------------------------
    async def _session(self, lst, pooled, reader, writer):
        """One client connection: TLS, the startup message, Neon's refusals, then the pipe to the cluster (or
        the pooler)."""
        lst.sessions.add(writer)
        upstream = None
        try:
            first = await asyncio.wait_for(self._handshake(reader, writer), HANDSHAKE_TIMEOUT_S)
            if first is None:
                return
            code, packet = first
            if code == CANCEL_REQUEST:
                await self._forward_cancel(pooled, packet)
                return
            params = startup_params(packet)
            upstream = await self._connect(lst, pooled, params, writer)
            if upstream is not None:
                up_reader, up_writer, names = upstream
                await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer, names))
        except (ConnectionError, OSError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            pass
        finally:
            lst.sessions.discard(writer)
            writer.close()
            if upstream is not None:
                upstream[1].close()

    async def _handshake(self, reader, writer):
        """SSLRequest -> 'S' and TLS; GSSENCRequest -> 'N'; a StartupMessage without TLS is refused, as Neon
        does.  Returns (code, packet) of the StartupMessage or CancelRequest, or None when refused."""
        tls = gss = False
        while True:
            code, packet = await read_startup_packet(reader)
            if code == SSL_REQUEST and not tls:
                writer.write(b"S")
                await writer.drain()
                await writer.start_tls(self.settings.tls)
                tls = True
            elif code == GSSENC_REQUEST and not tls and not gss:
                writer.write(b"N")
                gss = True
            elif code == CANCEL_REQUEST:
                return code, packet
            elif code == PROTOCOL_3 and tls:
                return code, packet
            else:
                return await refuse(writer, error_response(ERR_INSECURE if code == PROTOCOL_3 else
                                                           "protocol violation"))

    async def _forward_cancel(self, pooled, packet):
        """A CancelRequest goes where the session's BackendKeyData came from."""
        _, up_writer = await asyncio.open_connection(*self._upstream(pooled))
        up_writer.write(packet)
        await up_writer.drain()
        up_writer.close()

    def _upstream(self, pooled):
        """Where a session goes: the pooler for the pooled port when there is one, else the cluster."""
        return self.settings.pooler if pooled and self.settings.pooler else self.settings.upstream

    async def _connect(self, lst, pooled, params, writer):
        """Wait for the project's scripts (and a cold start), refuse or route the session, open the upstream
        connection and send the rewritten StartupMessage.  Returns (reader, writer) upstream and the name
        mapping for relay_login(), or None after a refusal."""
        await self._settle(lst)
        target = self._target(lst, params)
        if not isinstance(target, bytes) and self.state.ep_idle(target[0]):
            await self._cold_start(target[0])
            await self._settle(lst)
            target = self._target(lst, params)
        if isinstance(target, bytes):
            return await refuse(writer, target)
        names = [(target[1].encode(), params.get(b"user", b"")),
                 (target[2].encode(), params.get(b"database") or params.get(b"user", b""))]
        real = dict(params)
        real[b"user"], real[b"database"] = names[0][0], names[1][0]
        try:
            up_reader, up_writer = await asyncio.open_connection(*self._upstream(pooled))
        except OSError:
            return await refuse(writer, error_response(ERR_UPSTREAM))
        up_writer.write(startup_packet(real))
        return up_reader, up_writer, names

    async def _settle(self, lst):
        """New sessions wait until the last script queued for the project is done."""
        rp = self.projects.get(lst.project_id)
        if rp is not None and rp.tail is not None and not rp.tail.done():
            await asyncio.shield(rp.tail)

    async def _cold_start(self, ep):
        """Sessions of an idle compute wait --cold-start-ms for it to start (the first one starts it)."""
        start = self.cold_starts.get(ep.id)
        if start is None:
            start = asyncio.get_running_loop().create_task(asyncio.sleep(self.settings.cold_start_s))
            start.add_done_callback(lambda _: self._started(ep))
            self.cold_starts[ep.id] = start
        await asyncio.shield(start)

    def _started(self, ep):
        """The cold start is over: the compute is active."""
        self.cold_starts.pop(ep.id, None)
        self.state.wake_endpoint(ep)

    def _target(self, lst, params):
        """(endpoint, real role, real database) of a session, or the ErrorResponse that refuses it."""
        p = self.state.projects.get(lst.project_id)
        ep = p.endpoints.get(lst.endpoint_id) if p is not None else None
        if ep is None:
            return error_response(ERR_ENDPOINT)
        self.state.roll_period(p)
        quota = p.quota_suspended and self.state.exceeded_quota(p)
        if quota:
            return error_response(QUOTA_MESSAGES[quota])
        if ep.disabled:
            return error_response(ERR_DISABLED)
        b = p.branches.get(ep.branch_id)
        user = params.get(b"user", b"").decode("utf-8", "replace")
        database = params.get(b"database", b"").decode("utf-8", "replace") or user
        if b is None or user not in b.roles:
            return error_response('password authentication failed for user "%s"' % user, "28P01", "FATAL")
        if database not in b.databases:
            return error_response('database "%s" does not exist' % database, "3D000", "FATAL")
        return ep, login_role(b, user), db_name(b, database)
