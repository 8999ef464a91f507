/*
 * test_sql.c
 *		The SQL engine against real PostgreSQL servers on loopback
 *		(test/unit/sql_fixture.sh, which runs this program: started without
 *		SQL_TEST_URI, it runs itself through the fixture), driven the way
 *		the worker drives it: poll() on sql_engine_fd() with
 *		sql_engine_timeout_ms().
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "transport/http.h"
#include "transport/sql.h"
#include "tap.h"

#define MAX_DONE	64

static const char *tls_uri;		/* the TLS server, sslmode=require */
static const char *plain_uri;	/* the server without TLS */
static const char *password;	/* the fixture's password, decoded */

/* What one drive of the engine brought back, and how often it woke up. */
typedef struct Drive
{
	SqlRequest *done[MAX_DONE];
	int			n;
	int			wakeups;
	void		(*each_wakeup) (void *arg);	/* optional, e.g. a sample of the server's state */
	void	   *arg;
} Drive;

/*
 * Runs the engine as the worker's loop does until `expected` requests are
 * back or `seconds` pass: wait for the fd or the engine's timeout, perform,
 * collect. The wakeups show an event loop from a spin.
 */
static void
drive(SqlEngine *engine, Drive *d, int expected, double seconds)
{
	double		end = http_now() + seconds;
	SqlRequest *req;

	while (d->n < expected && http_now() < end)
	{
		struct pollfd pfd = {.fd = sql_engine_fd(engine),.events = POLLIN};
		long		left_ms = (long) ((end - http_now()) * 1000) + 1;
		long		timeout = sql_engine_timeout_ms(engine);

		poll(&pfd, 1, (int) (timeout < 0 || timeout > left_ms ? left_ms : timeout));
		d->wakeups++;
		sql_engine_perform(engine);
		while ((req = sql_engine_next_done(engine)) != NULL && d->n < MAX_DONE)
			d->done[d->n++] = req;
		if (d->each_wakeup)
			d->each_wakeup(d->arg);
	}
}

/* Whether a request is among those a drive brought back. */
static bool
is_back(const Drive *d, const SqlRequest *req)
{
	for (int i = 0; i < d->n; i++)
		if (d->done[i] == req)
			return true;
	return false;
}

/* Drives until a given request is back (others that come back are kept in d too) or time is up. */
static void
drive_until_back(SqlEngine *engine, Drive *d, const SqlRequest *req, double end)
{
	while (!is_back(d, req) && http_now() < end && d->n < MAX_DONE)
		drive(engine, d, d->n + 1, end - http_now());
}

/* Submits one request and runs the engine until it is back; the request itself if submit refused it, NULL if it never came back. */
static SqlRequest *
run_one(SqlEngine *engine, SqlRequest *req, double seconds, int *wakeups)
{
	Drive		d = {.n = 0};

	if (!sql_engine_submit(engine, req))
		return req;
	drive(engine, &d, 1, seconds);
	if (wakeups)
		*wakeups = d.wakeups;
	return d.n == 1 ? d.done[0] : NULL;
}

/* run_one() of new SQL on a conninfo. */
static SqlRequest *
run_sql(SqlEngine *engine, const char *conninfo, const char *sql)
{
	return run_one(engine, sql_request_new(conninfo, sql), 30, NULL);
}

/* A URI with one more query parameter. */
static char *
uri_with(const char *uri, const char *parameter)
{
	char	   *result;

	if (asprintf(&result, "%s%c%s", uri, strchr(uri, '?') ? '&' : '?', parameter) < 0)
		return NULL;
	return result;
}

/* The TLS server's URI with other credentials (user:password). */
static char *
uri_as(const char *userinfo)
{
	char	   *result;

	if (asprintf(&result, "postgresql://%s%s", userinfo, strchr(tls_uri, '@')) < 0)
		return NULL;
	return result;
}

/* The TLS server's URI with another host list ("127.0.0.1:5432,127.0.0.1:5433"). */
static char *
uri_at(const char *hosts)
{
	const char *at = strchr(tls_uri, '@');
	char	   *result;

	if (asprintf(&result, "%.*s%s%s", (int) (at + 1 - tls_uri), tls_uri, hosts, strchr(at, '/')) < 0)
		return NULL;
	return result;
}

/* The TLS server's URI for another port of 127.0.0.1. */
static char *
uri_on_port(int port)
{
	char		hosts[32];

	snprintf(hosts, sizeof(hosts), "127.0.0.1:%d", port);
	return uri_at(hosts);
}

/* A loopback TCP socket bound to a port the kernel chose, and that port. */
static int
bound_socket(int *port)
{
	struct sockaddr_in addr = {.sin_family = AF_INET};
	socklen_t	len = sizeof(addr);
	int			s = socket(AF_INET, SOCK_STREAM, 0);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s, (struct sockaddr *) &addr, sizeof(addr));
	getsockname(s, (struct sockaddr *) &addr, &len);
	*port = ntohs(addr.sin_port);
	return s;
}

/* NULL-safe string equality. */
static bool
same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* NULL-safe substring test. */
static bool
contains(const char *text, const char *part)
{
	return text && strstr(text, part);
}

/* The request's error for a test's name, on one line. */
static const char *
error_of(const SqlRequest *req)
{
	static char line[512];

	snprintf(line, sizeof(line), "%s", req && req->error ? req->error : "");
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	return line;
}

/* A statement over TLS: its count and tag; the session is TLS and carries our application_name. */
static void
test_statement_over_tls(SqlEngine *engine)
{
	SqlRequest *req = run_sql(engine, tls_uri,
							  "SELECT 1 FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
							  "WHERE pid = pg_backend_pid() AND s.ssl AND a.application_name = 'neon_platform'");
	char	   *named = uri_with(tls_uri, "application_name=custom");

	ok(req && req->outcome == SQL_OK && req->rows_affected == 1 && same(req->command_tag, "SELECT 1") &&
	   req->statements == 1 && req->error == NULL && req->sqlstate[0] == '\0',
	   "SELECT over TLS: ok, 1 row, tag SELECT 1 (%s)", error_of(req));
	ok(req && req->sql_sent && req->connect_ms > 0 && req->latency_ms >= req->connect_ms,
	   "sql_sent; connected in %.1f ms of %.1f ms", req ? req->connect_ms : 0, req ? req->latency_ms : 0);
	sql_request_free(req);

	req = run_sql(engine, named, "SELECT 1 FROM pg_stat_activity WHERE pid = pg_backend_pid() AND application_name = 'custom'");
	ok(req && req->outcome == SQL_OK && req->rows_affected == 1, "the URI's application_name wins over ours");
	sql_request_free(req);
	free(named);
}

/* Several statements in one string: one result each, counts summed, the last tag; rows do not pile up. */
static void
test_multi_statement(SqlEngine *engine)
{
	SqlRequest *req = run_sql(engine, tls_uri,
							  "CREATE TABLE multi (a int); INSERT INTO multi SELECT generate_series(1, 3); "
							  "UPDATE multi SET a = a + 1 WHERE a > 1");

	ok(req && req->outcome == SQL_OK && req->statements == 3 && req->rows_affected == 5 &&
	   same(req->command_tag, "UPDATE 2"),
	   "three statements: 3 results, 0 + 3 + 2 rows, tag UPDATE 2 (%d, %lld, %s)",
	   req ? req->statements : 0, req ? req->rows_affected : 0, req ? req->command_tag : "");
	sql_request_free(req);

	req = run_sql(engine, tls_uri, "SELECT generate_series(1, 200000); SELECT 'a' UNION ALL SELECT 'b'");
	ok(req && req->outcome == SQL_OK && req->statements == 2 && req->rows_affected == 200002 &&
	   same(req->command_tag, "SELECT 2"),
	   "200,000 rows then 2, read one at a time: 2 results, 200002 rows, tag SELECT 2");
	sql_request_free(req);

	req = run_sql(engine, tls_uri, "");
	ok(req && req->outcome == SQL_OK && req->statements == 1 && req->rows_affected == 0,
	   "an empty string: ok, one empty result");
	sql_request_free(req);
}

/* A failing statement: its SQLSTATE and message; the statements before it rolled back with it. */
static void
test_remote_error(SqlEngine *engine)
{
	SqlRequest *req = run_sql(engine, tls_uri,
							  "CREATE TABLE rolled_back (a int); INSERT INTO rolled_back VALUES (1); "
							  "SELECT * FROM missing_table; INSERT INTO rolled_back VALUES (2)");

	ok(req && req->outcome == SQL_REMOTE_ERROR && same(req->sqlstate, "42P01") &&
	   same(req->error, "relation \"missing_table\" does not exist"),
	   "missing table: remote error 42P01 (%s)", error_of(req));
	ok(req && req->statements == 3 && req->rows_affected == 1 && req->sql_sent &&
	   same(req->command_tag, "INSERT 0 1"),
	   "2 statements ran before it, the 4th never (%d results)", req ? req->statements : 0);
	sql_request_free(req);

	req = run_sql(engine, tls_uri, "SELECT count(*) FROM pg_class WHERE relname = 'rolled_back' HAVING count(*) > 0");
	ok(req && req->outcome == SQL_OK && req->rows_affected == 0, "the implicit transaction rolled back: no table");
	sql_request_free(req);

	req = run_sql(engine, tls_uri, "CREATE TEMP TABLE u (a int PRIMARY KEY); INSERT INTO u VALUES (1), (1)");
	ok(req && req->outcome == SQL_REMOTE_ERROR && same(req->sqlstate, "23505") &&
	   contains(req->error, "duplicate key value") && contains(req->error, "\nDETAIL:  Key (a)=(1) already exists."),
	   "unique violation: 23505 with its DETAIL (%s)", error_of(req));
	sql_request_free(req);

	req = run_sql(engine, tls_uri, "SELECT no_such_function(1)");
	ok(req && req->outcome == SQL_REMOTE_ERROR && same(req->sqlstate, "42883") &&
	   contains(req->error, "\nHINT:  No function matches"),
	   "unknown function: 42883 with its HINT");
	sql_request_free(req);

	req = run_sql(engine, tls_uri, "COPY (SELECT 1) TO STDOUT");
	ok(req && req->outcome == SQL_LOST && same(req->error, "COPY is not supported") && req->sqlstate[0] == '\0',
	   "COPY TO STDOUT refused, unknown what ran (%s)", req ? sql_outcome_name(req->outcome) : "");
	sql_request_free(req);

	req = run_sql(engine, tls_uri, "CREATE TEMP TABLE c (a int); COPY c FROM STDIN");
	ok(req && req->outcome == SQL_REMOTE_ERROR && same(req->error, "COPY is not supported"),
	   "COPY FROM STDIN refused as a remote error");
	sql_request_free(req);
}

/* Refusals at connect time: SQLSTATE from the server, nothing sent, no password in the text. */
static void
test_connect_refusals(SqlEngine *engine)
{
	char	   *wrong = uri_as("tester:wrong-Pa55word");
	char	   *echoed = uri_as("leakme:leakme");
	char	   *plain_tls = uri_with(plain_uri, "sslmode=require");
	char	   *tls_plain = strdup(tls_uri);
	SqlRequest *req = run_sql(engine, wrong, "SELECT 1");

	ok(req && req->outcome == SQL_CONNECT_FAILED && same(req->sqlstate, "28P01") && !req->sql_sent &&
	   req->connect_ms == -1 && contains(req->error, "password authentication failed for user \"tester\""),
	   "wrong password: connect failed, 28P01 (%s)", error_of(req));
	ok(req && !contains(req->error, "wrong-Pa55word") && !contains(req->error, password) &&
	   !contains(req->error, "LOCATION") && !contains(req->error, "28P01"),
	   "no password, no verbose residue in the text");
	sql_request_free(req);

	req = run_sql(engine, echoed, "SELECT 1");
	ok(req && req->outcome == SQL_CONNECT_FAILED && !contains(req->error, "leakme") &&
	   contains(req->error, "for user \"********\""),
	   "a password the error would show is masked (%s)", error_of(req));
	sql_request_free(req);

	req = run_sql(engine, plain_tls, "SELECT 1");
	ok(req && req->outcome == SQL_CONNECT_FAILED && !req->sql_sent && contains(req->error, "SSL"),
	   "sslmode=require against a server without TLS: connect failed (%s)", error_of(req));
	sql_request_free(req);

	req = run_sql(engine, plain_uri, "SELECT 1 FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND NOT ssl");
	ok(req && req->outcome == SQL_OK && req->rows_affected == 1, "without sslmode the plain server takes us, without TLS");
	sql_request_free(req);

	memcpy(strstr(tls_plain, "sslmode=require"), "sslmode=disable", strlen("sslmode=disable"));
	req = run_sql(engine, tls_plain, "SELECT 1");
	ok(req && req->outcome == SQL_CONNECT_FAILED && same(req->sqlstate, "28000"),
	   "sslmode=disable against the TLS-only server: refused, 28000 (%s)", error_of(req));
	sql_request_free(req);

	free(wrong);
	free(echoed);
	free(plain_tls);
	free(tls_plain);
}

/* Where nothing answers: refused at once, or a listener that never speaks times out. */
static void
test_unreachable(SqlEngine *engine)
{
	int			port;
	int			s = bound_socket(&port);
	char	   *uri;
	SqlRequest *req;
	int			wakeups = 0;

	close(s);
	uri = uri_on_port(port);
	req = run_sql(engine, uri, "SELECT 1");
	ok(req && req->outcome == SQL_CONNECT_FAILED && !req->sql_sent && req->sqlstate[0] == '\0' &&
	   contains(req->error, "refused"),
	   "nothing listening: connect failed, not sent (%s)", error_of(req));
	sql_request_free(req);
	free(uri);

	s = bound_socket(&port);
	listen(s, 8);
	uri = uri_on_port(port);
	sql_engine_configure(engine, 16, 300, 10000);
	req = run_one(engine, sql_request_new(uri, "SELECT 1"), 10, &wakeups);
	ok(req && req->outcome == SQL_CONNECT_TIMEOUT && !req->sql_sent && contains(req->error, "connect timeout"),
	   "a listener that never answers: connect timeout (%s)", error_of(req));
	ok(req && req->latency_ms >= 299 && req->latency_ms < 3000, "after about 300 ms (%.0f ms)",
	   req ? req->latency_ms : 0);
	ok(wakeups < 20, "waiting for it took %d wakeups, no spinning", wakeups);
	sql_request_free(req);
	free(uri);
	close(s);
	sql_engine_configure(engine, 16, 10000, 10000);
}

/* A second host after a dead one: libpq moves to another socket, which the engine watches instead. */
static void
test_second_host(SqlEngine *engine)
{
	int			port;
	int			s = bound_socket(&port);
	const char *own = strchr(tls_uri, '@') + 1;
	char		hosts[80];
	char	   *uri;
	SqlRequest *req;

	close(s);
	snprintf(hosts, sizeof(hosts), "127.0.0.1:%d,%.*s", port, (int) strcspn(own, "/"), own);
	uri = uri_at(hosts);
	req = run_sql(engine, uri, "SELECT 1");
	ok(req && req->outcome == SQL_OK && req->rows_affected == 1,
	   "first host refused, second host answered (%s)", error_of(req));
	sql_request_free(req);
	free(uri);
}

/* Conninfo that does not parse is refused at submit without quoting it; a bad option value at connect. */
static void
test_bad_conninfo(SqlEngine *engine)
{
	SqlRequest *req = sql_request_new("postgresql://tester:hunter2%zz@127.0.0.1/unit", "SELECT 1");
	char	   *bogus = uri_with(tls_uri, "sslmode=bogus");
	bool		refused = !sql_engine_submit(engine, req);

	ok(refused && req->outcome == SQL_CONNECT_FAILED && !req->sql_sent &&
	   contains(req->error, "invalid connection string") && !contains(req->error, "hunter2") &&
	   sql_engine_inflight(engine) == 0,
	   "a malformed URI is refused at submit, password not quoted (%s)", error_of(req));
	sql_request_free(req);

	req = run_sql(engine, bogus, "SELECT 1");
	ok(req && req->outcome == SQL_CONNECT_FAILED && contains(req->error, "sslmode") && !contains(req->error, password),
	   "sslmode=bogus: connect failed (%s)", error_of(req));
	sql_request_free(req);
	free(bogus);
}

/* statement_timeout: the server's own cancel (57014), or, when the URI sets options, the engine's deadline. */
static void
test_statement_timeouts(SqlEngine *engine)
{
	char	   *own_options = uri_with(tls_uri, "options=-c%20search_path%3Dpublic");
	SqlRequest *req;
	int			wakeups = 0;

	sql_engine_configure(engine, 16, 10000, 300);
	req = run_sql(engine, tls_uri, "SELECT pg_sleep(5)");
	ok(req && req->outcome == SQL_REMOTE_ERROR && same(req->sqlstate, "57014") &&
	   contains(req->error, "statement timeout"),
	   "pg_sleep(5) with statement_timeout 300 ms: the server cancels it, 57014 (%s)", error_of(req));
	sql_request_free(req);

	req = run_one(engine, sql_request_new(own_options, "SELECT pg_sleep(30)"), 20, &wakeups);
	ok(req && req->outcome == SQL_STATEMENT_TIMEOUT && req->sql_sent && contains(req->error, "connection closed"),
	   "options in the URI (no server-side timeout): the engine gives up at 300 ms + 5 s (%s)", error_of(req));
	ok(req && req->latency_ms >= 5299 && req->latency_ms < 9000 && wakeups < 20,
	   "after %.0f ms and %d wakeups", req ? req->latency_ms : 0, wakeups);
	sql_request_free(req);
	free(own_options);
	sql_engine_configure(engine, 16, 10000, 10000);
}

/* A session terminated while its statement runs (pg_terminate_backend from another request): lost. */
static void
test_terminated(SqlEngine *engine)
{
	char	   *victim_uri = uri_with(tls_uri, "application_name=victim");
	SqlRequest *victim = sql_request_new(victim_uri, "SELECT pg_sleep(30)");
	Drive		d = {.n = 0};
	int			kills = 0;
	double		end = http_now() + 20;

	sql_engine_submit(engine, victim);
	while (kills == 0 && http_now() < end)
	{
		SqlRequest *killer = sql_request_new(tls_uri,
											 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
											 "WHERE application_name = 'victim' AND state = 'active'");

		sql_engine_submit(engine, killer);
		drive_until_back(engine, &d, killer, end);
		kills = killer->outcome == SQL_OK ? (int) killer->rows_affected : 0;
	}
	drive_until_back(engine, &d, victim, http_now() + 10);
	ok(kills == 1 && is_back(&d, victim), "the victim was terminated and came back");
	ok(victim->outcome == SQL_LOST && victim->sql_sent && same(victim->sqlstate, "57P01") &&
	   contains(victim->error, "terminating connection due to administrator command"),
	   "terminated mid-statement: lost, 57P01 (%s: %s)", sql_outcome_name(victim->outcome), error_of(victim));
	for (int i = 0; i < d.n; i++)
		sql_request_free(d.done[i]);
	free(victim_uri);
}

/* A blocking session beside the engine that counts our statements running on the server. */
typedef struct Sampler
{
	PGconn	   *pg;
	int			max_active;
	int			samples;
} Sampler;

/* Counts the test's sessions running a statement now; keeps the maximum. */
static void
sample_active(void *arg)
{
	Sampler    *s = arg;
	PGresult   *res = PQexec(s->pg, "SELECT count(*) FROM pg_stat_activity "
							 "WHERE application_name = 'capped' AND state = 'active'");

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		int			active = atoi(PQgetvalue(res, 0, 0));

		if (active > s->max_active)
			s->max_active = active;
		s->samples++;
	}
	PQclear(res);
}

/* max_connections caps the sessions the server sees; every request gets through. */
static void
test_cap(SqlEngine *engine)
{
	enum
	{
		N = 40, CAP = 4
	};
	char	   *sampler_uri = uri_with(tls_uri, "application_name=sampler");
	char	   *capped_uri = uri_with(tls_uri, "application_name=capped");
	Sampler		s = {.pg = PQconnectdb(sampler_uri)};
	Drive		d = {.each_wakeup = sample_active,.arg = &s};
	int			fine = 0;
	long		owners = 0;

	sql_engine_configure(engine, CAP, 10000, 10000);
	for (long i = 0; i < N; i++)
	{
		SqlRequest *req = sql_request_new(capped_uri, "SELECT pg_sleep(0.05)");

		req->owner = (void *) i;
		sql_engine_submit(engine, req);
	}
	ok(sql_engine_inflight(engine) == N && sql_engine_timeout_ms(engine) == 0,
	   "%d requests in flight after submit, work to do", N);
	drive(engine, &d, N, 60);
	for (int i = 0; i < d.n; i++)
	{
		fine += d.done[i]->outcome == SQL_OK && same(d.done[i]->command_tag, "SELECT 1");
		owners += (long) d.done[i]->owner;
		sql_request_free(d.done[i]);
	}
	ok(d.n == N && fine == N && owners == N * (N - 1) / 2,
	   "%d requests at max_connections %d: %d back, %d ok, each with its owner", N, CAP, d.n, fine);
	ok(s.samples > 0 && s.max_active <= CAP && s.max_active >= 2,
	   "the server never ran more than %d of them at once (at most %d in %d samples)", CAP, s.max_active, s.samples);
	ok(d.wakeups < 20 * N, "event driven: %d wakeups for %d requests", d.wakeups, N);
	ok(sql_engine_inflight(engine) == 0 && sql_engine_timeout_ms(engine) == -1, "nothing in flight afterwards, no deadline");
	PQfinish(s.pg);
	free(sampler_uri);
	free(capped_uri);
	sql_engine_configure(engine, 16, 10000, 10000);
}

/* The connect timeout of a queued request runs from when it starts connecting, not from submit. */
static void
test_queued_connect_timeout(SqlEngine *engine)
{
	Drive		d = {.n = 0};
	int			fine = 0;

	sql_engine_configure(engine, 1, 1000, 10000);
	for (int i = 0; i < 3; i++)
		sql_engine_submit(engine, sql_request_new(tls_uri, "SELECT pg_sleep(0.6)"));
	drive(engine, &d, 3, 20);
	for (int i = 0; i < d.n; i++)
	{
		fine += d.done[i]->outcome == SQL_OK;
		sql_request_free(d.done[i]);
	}
	ok(d.n == 3 && fine == 3, "3 requests of 0.6 s, one at a time, connect timeout 1 s: all ok (%d)", fine);
	sql_engine_configure(engine, 16, 10000, 10000);
}

/* Waiting for a slow statement is a handful of wakeups; a returned request can be submitted again. */
static void
test_no_spin_and_resubmit(SqlEngine *engine)
{
	int			wakeups = 0;
	SqlRequest *req = run_one(engine, sql_request_new(tls_uri, "SELECT pg_sleep(0.5)"), 10, &wakeups);

	ok(req && req->outcome == SQL_OK && wakeups < 15, "pg_sleep(0.5): %d wakeups, no spinning", wakeups);
	req = req ? run_one(engine, req, 10, NULL) : NULL;
	ok(req && req->outcome == SQL_OK && req->statements == 1 && same(req->command_tag, "SELECT 1"),
	   "a returned request can be submitted again");
	sql_request_free(req);
}

/* Destroying the engine with requests connecting, running, queued and done frees them all. */
static void
test_destroy_in_flight(void)
{
	const char *err;
	SqlEngine  *engine = sql_engine_create(&err);
	double		end = http_now() + 0.5;

	sql_engine_configure(engine, 2, 10000, 60000);
	for (int i = 0; i < 5; i++)
		sql_engine_submit(engine, sql_request_new(tls_uri, "SELECT pg_sleep(30)"));
	sql_engine_submit(engine, sql_request_new("postgresql://x:y@127.0.0.1:1/z", "SELECT 1"));
	while (http_now() < end)
	{
		struct pollfd pfd = {.fd = sql_engine_fd(engine),.events = POLLIN};

		poll(&pfd, 1, 20);
		sql_engine_perform(engine);
	}
	ok(sql_engine_inflight(engine) == 6, "6 requests pending (running, queued, done)");
	sql_engine_destroy(engine);
	ok(true, "engine destroyed with requests in flight");
}

/* Runs this program again through sql_fixture.sh (beside it), which sets SQL_TEST_URI. */
static void
run_under_fixture(const char *argv0)
{
	char	   *dir = dirname(strdup(argv0));
	char	   *script;

	if (asprintf(&script, "%s/sql_fixture.sh", dir) >= 0)
		execl(script, script, argv0, (char *) NULL);
	ok(false, "could not run the fixture %s/sql_fixture.sh", dir);
	exit(done_testing());
}

/* Runs every test against the fixture's servers. */
int
main(int argc, char **argv)
{
	const char *err = NULL;
	SqlEngine  *engine;

	(void) argc;
	tls_uri = getenv("SQL_TEST_URI");
	plain_uri = getenv("SQL_TEST_PLAIN_URI");
	password = getenv("SQL_TEST_PASSWORD");
	if (tls_uri == NULL)
		run_under_fixture(argv[0]);
	if (!ok(plain_uri && password, "the fixture set SQL_TEST_PLAIN_URI and SQL_TEST_PASSWORD"))
		return done_testing();

	engine = sql_engine_create(&err);
	ok(engine && sql_engine_fd(engine) >= 0 && sql_engine_timeout_ms(engine) == -1 &&
	   sql_engine_inflight(engine) == 0, "engine created, idle: no deadline");
	sql_engine_configure(engine, 16, 10000, 10000);

	test_statement_over_tls(engine);
	test_multi_statement(engine);
	test_remote_error(engine);
	test_connect_refusals(engine);
	test_unreachable(engine);
	test_second_host(engine);
	test_bad_conninfo(engine);
	test_statement_timeouts(engine);
	test_terminated(engine);
	test_cap(engine);
	test_queued_connect_timeout(engine);
	test_no_spin_and_resubmit(engine);
	test_destroy_in_flight();
	sql_engine_destroy(engine);
	return done_testing();
}
