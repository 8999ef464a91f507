/*
 * test_http.c
 *		The HTTP engine against a real HTTP server on loopback
 *		(test/unit/http_fixture.py, started here), driven the way the worker
 *		drives it: poll() on http_engine_fd() with http_engine_timeout_ms().
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "transport/http.h"
#include "neon/json_prelude.h"
#include "tap.h"

#define USER_AGENT	"neon_platform/test"

static pid_t fixture_pid;
static char base_url[64];

/* Starts http_fixture.py (beside this program) and reads the URL it listens on. */
static bool
start_fixture(const char *argv0)
{
	char	   *dir = dirname(strdup(argv0));
	char	   *script;
	char		line[128] = "";
	int			pipefd[2];
	struct pollfd pfd;
	FILE	   *out;
	int			port;

	if (asprintf(&script, "%s/http_fixture.py", dir) < 0 || pipe(pipefd) < 0)
		return false;
	if ((fixture_pid = fork()) == 0)
	{
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		execlp("python3", "python3", script, (char *) NULL);
		_exit(127);
	}
	close(pipefd[1]);
	free(script);
	free(dir);

	pfd.fd = pipefd[0];
	pfd.events = POLLIN;
	out = fdopen(pipefd[0], "r");
	if (poll(&pfd, 1, 10000) <= 0 || fgets(line, sizeof(line), out) == NULL ||
		sscanf(line, "listening on http://127.0.0.1:%d", &port) != 1)
		return false;
	snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", port);
	return true;
}

/* Stops the fixture server. */
static void
stop_fixture(void)
{
	if (fixture_pid > 0)
	{
		kill(fixture_pid, SIGTERM);
		waitpid(fixture_pid, NULL, 0);
	}
}

/* A request for `path` on the fixture. */
static HttpRequest *
make_request(const char *method, const char *path)
{
	char	   *url;
	HttpRequest *req;

	if (asprintf(&url, "%s%s", base_url, path) < 0)
		return NULL;
	req = http_request_new(method, url);
	free(url);
	return req;
}

/*
 * Drives the engine as the worker does until `expected` calls are back or
 * `seconds` pass: wait for the fd or the engine's timeout, perform, collect.
 * *wakeups counts the waits, so tests can tell an event loop from a spin.
 */
static int
run_engine(HttpEngine *engine, HttpRequest **done, int expected, double seconds, int *wakeups)
{
	double		end = http_now() + seconds;
	int			n = 0;

	while (n < expected && http_now() < end)
	{
		struct pollfd pfd = {.fd = http_engine_fd(engine),.events = POLLIN};
		long		remaining = (long) ((end - http_now()) * 1000) + 1;
		long		timeout = http_engine_timeout_ms(engine);
		HttpRequest *req;

		if (timeout < 0 || timeout > remaining)
			timeout = remaining;
		poll(&pfd, 1, (int) timeout);
		if (wakeups)
			(*wakeups)++;
		http_engine_perform(engine);
		while ((req = http_engine_next_done(engine)) != NULL)
			done[n++] = req;
	}
	return n;
}

/* Submits one request and runs the engine until it is back; NULL if it never came back. */
static HttpRequest *
call(HttpEngine *engine, HttpRequest *req, double seconds)
{
	HttpRequest *done = NULL;

	if (!http_engine_submit(engine, req))
		return req;
	run_engine(engine, &done, 1, seconds, NULL);
	return done;
}

/* A string member of a JSON object (a response body parsed with json-c). */
static const char *
json_string(json_object *obj, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(obj, key, &v) ? json_object_get_string(v) : NULL;
}

/* NULL-safe string equality. */
static bool
same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* The request headers the fixture saw, from an /echo body. */
static json_object *
echoed_headers(json_object *echo)
{
	json_object *headers = NULL;

	json_object_object_get_ex(echo, "headers", &headers);
	return headers;
}

/* GET: our headers go out, Neon's request id comes back, nothing secret is sent without a key. */
static void
test_get(HttpEngine *engine)
{
	HttpRequest *req = call(engine, make_request("GET", "/echo"), 10);
	json_object *echo = req ? json_tokener_parse(req->response) : NULL;
	json_object *headers = echoed_headers(echo);

	ok(req && req->status == 200 && req->error[0] == '\0' && req->maybe_sent && !req->timed_out,
	   "GET /echo: 200, no error");
	ok(req && strncmp(req->request_id, "req-", 4) == 0, "x-neon-ret-request-id captured (%s)",
	   req ? req->request_id : "");
	ok(req && req->retry_after_seconds == -1 && req->latency_ms > 0 && req->latency_ms < 5000,
	   "no Retry-After; latency %.2f ms", req ? req->latency_ms : 0);
	ok(same(json_string(headers, "user-agent"), USER_AGENT) &&
	   same(json_string(headers, "accept"), "application/json"), "User-Agent and Accept sent");
	ok(headers && json_string(headers, "authorization") == NULL &&
	   json_string(headers, "content-type") == NULL, "no Authorization without a key, no Content-Type without a body");
	json_object_put(echo);
	http_request_free(req);
}

/* POST, PATCH, DELETE: method, bearer key, JSON body and its type. */
static void
test_methods(HttpEngine *engine)
{
	static const char *methods[] = {"POST", "PATCH", "PUT", "DELETE"};

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
	{
		HttpRequest *req = make_request(methods[i], "/echo");
		json_object *echo;
		json_object *headers;
		bool		with_body = strcmp(methods[i], "DELETE") != 0;

		req->api_key = strdup("secret-key");
		req->body = with_body ? strdup("{\"project\":{\"name\":\"t\"}}") : NULL;
		req = call(engine, req, 10);
		echo = req ? json_tokener_parse(req->response) : NULL;
		headers = echoed_headers(echo);
		ok(req && req->status == 200 && same(json_string(echo, "method"), methods[i]),
		   "%s /echo: method sent", methods[i]);
		ok(same(json_string(headers, "authorization"), "Bearer secret-key"),
		   "%s: Authorization: Bearer <key>", methods[i]);
		ok(with_body ? (same(json_string(headers, "content-type"), "application/json") &&
						same(json_string(echo, "body"), "{\"project\":{\"name\":\"t\"}}"))
		   : json_string(headers, "content-type") == NULL,
		   "%s: %s", methods[i], with_body ? "JSON body and Content-Type" : "no body, no Content-Type");
		ok(headers && json_string(headers, "expect") == NULL, "%s: no Expect header", methods[i]);
		json_object_put(echo);
		http_request_free(req);
	}
}

/* Requests the engine must refuse or fail without sending anything. */
static void
test_refusals(HttpEngine *engine)
{
	HttpRequest *req = make_request("TRACE", "/echo");
	HttpRequest *done;
	struct sockaddr_in addr = {.sin_family = AF_INET};
	socklen_t	len = sizeof(addr);
	int			s = socket(AF_INET, SOCK_STREAM, 0);
	char		url[64];

	ok(!http_engine_submit(engine, req) && strstr(req->error, "TRACE") && http_engine_inflight(engine) == 0,
	   "an unsupported method is refused at submit (%s)", req->error);
	http_request_free(req);

	/* A port that was free a moment ago: nothing listens there. */
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s, (struct sockaddr *) &addr, sizeof(addr));
	getsockname(s, (struct sockaddr *) &addr, &len);
	close(s);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo", ntohs(addr.sin_port));
	done = call(engine, http_request_new("GET", url), 10);
	ok(done && done->status == 0 && !done->maybe_sent && !done->timed_out && done->error[0] &&
	   done->response && done->response[0] == '\0',
	   "connection refused: status 0, maybe_sent false (%s)", done ? done->error : "");
	http_request_free(done);

	done = call(engine, http_request_new("GET", "file:///etc/passwd"), 10);
	ok(done && done->status == 0 && !done->maybe_sent && done->error[0],
	   "file:// refused, only http and https (%s)", done ? done->error : "");
	http_request_free(done);

	done = call(engine, make_request("GET", "/redirect"), 10);
	ok(done && done->status == 302, "a redirect is returned, not followed (%ld)", done ? done->status : 0);
	http_request_free(done);
}

/* Status codes, Retry-After in both forms, and big bodies. */
static void
test_responses(HttpEngine *engine)
{
	HttpRequest *req;
	char	   *date;
	char	   *path;

	req = call(engine, make_request("GET", "/status?code=429&retry_after=7"), 10);
	ok(req && req->status == 429 && req->retry_after_seconds == 7 && req->error[0] == '\0' &&
	   strstr(req->response, "status 429"), "429 with Retry-After: 7 s and its body");
	http_request_free(req);

	req = call(engine, make_request("GET", "/status?code=503&retry_after_in=30"), 10);
	ok(req && req->status == 503 && req->retry_after_seconds >= 28 && req->retry_after_seconds <= 31,
	   "Retry-After as an HTTP date (%.0f s)", req ? req->retry_after_seconds : -1);
	http_request_free(req);

	date = http_escape("soon, maybe");
	asprintf(&path, "/status?code=429&retry_after=%s", date);
	req = call(engine, make_request("GET", path), 10);
	ok(req && req->status == 429 && req->retry_after_seconds == -1, "unparsable Retry-After ignored");
	http_request_free(req);
	free(path);
	free(date);

	req = call(engine, make_request("GET", "/big?bytes=1000"), 10);
	ok(req && req->response_len == 1000 && !req->response_truncated && strlen(req->response) == 1000,
	   "1000-byte body kept whole");
	http_request_free(req);
	req = call(engine, make_request("GET", "/big?bytes=5000000"), 30);
	ok(req && req->status == 200 && req->response_truncated && req->response_len == 4 * 1024 * 1024,
	   "5 MB body cut at 4 MiB and flagged");
	http_request_free(req);
}

/* Many calls at once, each answered with its own body. */
static void
test_concurrency(HttpEngine *engine)
{
	enum
	{
		N = 500
	};
	HttpRequest *done[N];
	int			n;
	int			right = 0;
	int			wakeups = 0;

	http_engine_configure(engine, 64, 10000);
	for (long i = 0; i < N; i++)
	{
		char		path[32];
		HttpRequest *req;

		snprintf(path, sizeof(path), "/echo?i=%ld", i);
		req = make_request(i % 2 ? "GET" : "POST", path);
		req->owner = (void *) i;
		http_engine_submit(engine, req);
	}
	ok(http_engine_inflight(engine) == N, "%d calls in flight after submit", N);
	n = run_engine(engine, done, N, 60, &wakeups);
	for (int i = 0; i < n; i++)
	{
		json_object *echo = json_tokener_parse(done[i]->response);
		char		path[32];

		snprintf(path, sizeof(path), "/echo?i=%ld", (long) done[i]->owner);
		if (done[i]->status == 200 && same(json_string(echo, "path"), path))
			right++;
		json_object_put(echo);
		http_request_free(done[i]);
	}
	ok(n == N && right == N, "%d concurrent calls: %d back, %d with their own answer", N, n, right);
	ok(http_engine_inflight(engine) == 0 && http_engine_timeout_ms(engine) == -1,
	   "nothing in flight afterwards, no deadline");
	ok(wakeups < 4 * N, "event driven: %d wakeups for %d calls", wakeups, N);
}

/* The fixture's counters, fetched through the engine. */
static json_object *
fixture_stats(HttpEngine *engine, const char *path)
{
	HttpRequest *req = call(engine, make_request("GET", path), 10);
	json_object *stats = req ? json_tokener_parse(req->response) : NULL;

	http_request_free(req);
	return stats;
}

/* An integer member of the fixture's stats. */
static int
stat_of(json_object *stats, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(stats, key, &v) ? json_object_get_int(v) : -1;
}

/* max_inflight caps calls and connections; connections are reused across calls and batches. */
static void
test_cap_and_keepalive(HttpEngine *control)
{
	enum
	{
		N = 120, CAP = 4
	};
	const char *err;
	HttpEngine *engine = http_engine_create(USER_AGENT, &err);
	HttpRequest *done[N];
	json_object *stats;
	int			n;
	int			wakeups = 0;

	json_object_put(fixture_stats(control, "/_reset"));
	http_engine_configure(engine, CAP, 10000);
	for (int i = 0; i < N; i++)
		http_engine_submit(engine, make_request("GET", "/slow?ms=5"));
	n = run_engine(engine, done, N, 60, &wakeups);
	for (int i = 0; i < n; i++)
		http_request_free(done[i]);
	stats = fixture_stats(control, "/_stats");
	ok(n == N, "%d slow calls with max_inflight %d all back", N, CAP);
	ok(stat_of(stats, "max_concurrent_requests") <= CAP && stat_of(stats, "max_concurrent_requests") >= 2,
	   "server saw at most %d concurrent requests (%d)", CAP, stat_of(stats, "max_concurrent_requests"));
	ok(stat_of(stats, "max_open_connections") <= CAP && stat_of(stats, "max_open_connections") >= 1,
	   "server saw at most %d open connections (%d)", CAP, stat_of(stats, "max_open_connections"));
	ok(stat_of(stats, "connections") <= CAP && stat_of(stats, "connections") >= 1,
	   "keep-alive: %d calls over %d connections", N, stat_of(stats, "connections"));
	json_object_put(stats);

	for (int i = 0; i < N; i++)
		http_engine_submit(engine, make_request("GET", "/echo"));
	n = run_engine(engine, done, N, 60, NULL);
	for (int i = 0; i < n; i++)
		http_request_free(done[i]);
	stats = fixture_stats(control, "/_stats");
	ok(n == N && stat_of(stats, "connections") <= CAP && stat_of(stats, "connections") >= 1,
	   "keep-alive: a second batch reuses them (%d connections in all)", stat_of(stats, "connections"));
	json_object_put(stats);
	http_engine_destroy(engine);
}

/* A call that gets no answer times out; one whose connection is reset fails; both may have been sent. */
static void
test_failures(HttpEngine *engine)
{
	HttpRequest *req;
	double		start = http_now();
	int			wakeups = 0;
	HttpRequest *done = NULL;
	json_object *stats;

	http_engine_configure(engine, 64, 300);
	req = make_request("POST", "/hang");
	req->body = strdup("{}");
	http_engine_submit(engine, req);
	run_engine(engine, &done, 1, 10, &wakeups);
	ok(done && done->timed_out && done->status == 0 && done->maybe_sent && strstr(done->error, "imeout"),
	   "no answer in 300 ms: timed_out, maybe_sent (%s)", done ? done->error : "");
	ok(done && done->latency_ms >= 290 && http_now() - start < 2.0,
	   "timed out after %.0f ms", done ? done->latency_ms : 0);
	ok(wakeups < 20, "waiting for the timeout took %d wakeups, no spinning", wakeups);
	http_request_free(done);

	http_engine_configure(engine, 64, 10000);
	req = call(engine, make_request("GET", "/reset"), 10);
	ok(req && req->status == 0 && req->maybe_sent && !req->timed_out && req->error[0],
	   "connection reset: status 0, maybe_sent (%s)", req ? req->error : "");
	http_request_free(req);

	json_object_put(fixture_stats(engine, "/_reset"));
	req = make_request("POST", "/reset");
	req->body = strdup("{}");
	req = call(engine, req, 10);
	stats = fixture_stats(engine, "/_stats");
	ok(req && req->status == 0 && req->maybe_sent && stat_of(stats, "resets") == 1,
	   "a POST whose connection dies is never resent by curl (%d sent)", stat_of(stats, "resets"));
	json_object_put(stats);
	http_request_free(req);

	req = call(engine, make_request("GET", "/echo"), 10);
	ok(req && req->status == 200, "the engine works on after failures");
	req = call(engine, req, 10);
	ok(req && req->status == 200 && req->request_id[0], "a returned request can be submitted again");
	http_request_free(req);
}

/* Destroying the engine with calls in flight, queued and done frees them all. */
static void
test_destroy_in_flight(void)
{
	const char *err;
	HttpEngine *engine = http_engine_create(USER_AGENT, &err);

	http_engine_configure(engine, 2, 30000);
	for (int i = 0; i < 5; i++)
	{
		HttpRequest *req = make_request("POST", "/hang");

		req->api_key = strdup("secret-key");
		http_engine_submit(engine, req);
	}
	for (int i = 0; i < 10; i++)
	{
		struct pollfd pfd = {.fd = http_engine_fd(engine),.events = POLLIN};

		poll(&pfd, 1, 20);
		http_engine_perform(engine);
	}
	ok(http_engine_inflight(engine) == 5, "5 calls pending (2 running, 3 queued)");
	http_engine_destroy(engine);
	ok(true, "engine destroyed with calls in flight");
}

/* Query values are escaped so tenant names cannot break the URL. */
static void
test_escape(void)
{
	char	   *e = http_escape("tenant a&b/é");

	ok(same(e, "tenant%20a%26b%2F%C3%A9"), "http_escape (%s)", e);
	free(e);
}

/* Starts the fixture, runs every test against it, stops it. */
int
main(int argc, char **argv)
{
	const char *err = NULL;
	HttpEngine *engine;

	(void) argc;
	if (!ok(start_fixture(argv[0]), "fixture server started (%s)", base_url))
	{
		stop_fixture();
		return done_testing();
	}
	engine = http_engine_create(USER_AGENT, &err);
	ok(engine && http_engine_fd(engine) >= 0 && http_engine_timeout_ms(engine) == -1,
	   "engine created, idle: no deadline");

	test_get(engine);
	test_methods(engine);
	test_refusals(engine);
	test_responses(engine);
	test_concurrency(engine);
	test_cap_and_keepalive(engine);
	test_failures(engine);
	test_destroy_in_flight();
	test_escape();
	http_engine_destroy(engine);
	stop_fixture();
	return done_testing();
}
