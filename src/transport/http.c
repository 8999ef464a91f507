/*
 * http.c
 *		The HTTP engine: libcurl's multi interface behind a private epoll
 *		descriptor, so the caller's event loop (the worker's WaitEventSet)
 *		waits on one fd plus a timeout and never blocks inside curl.
 *
 * Unlike pg_net, which hands its whole batch to curl and waits for the
 * slowest call, every call here is returned as soon as it ends, and the
 * number of calls (and connections) in flight is capped: calls beyond
 * max_inflight wait in our own queue, where curl's timeout does not run yet.
 *
 * Plain C (libc and libcurl only).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "transport/curl_prelude.h"
#include "transport/http.h"

/* Response bodies beyond this are cut (Neon's largest answers are a few kB). */
#define RESPONSE_MAX		(4 * 1024 * 1024)

/* Initial allocation for a response body. */
#define RESPONSE_INITIAL	4096

/* A connect that takes longer than this is not going to succeed. */
#define CONNECT_TIMEOUT_MAX_MS	10000

/* Socket events taken from epoll per wait. */
#define EVENTS_PER_WAIT		64

/* Defaults until http_engine_configure() is called. */
#define DEFAULT_MAX_INFLIGHT	64
#define DEFAULT_TIMEOUT_MS		30000

/* One call's engine-side state, reachable as req->handle. */
typedef struct Transfer
{
	HttpRequest *req;
	CURL	   *easy;
	size_t		capacity;		/* bytes allocated for req->response */
	char		curl_error[CURL_ERROR_SIZE];
	struct Transfer *prev;		/* links in the running list */
	struct Transfer *next;		/* links in the running list or a queue */
} Transfer;

/* A FIFO of transfers linked through next. */
typedef struct TransferQueue
{
	Transfer   *head;
	Transfer   *tail;
	int			count;
} TransferQueue;

struct HttpEngine
{
	CURLM	   *multi;
	int			epoll_fd;
	char	   *user_agent;
	int			max_inflight;
	long		timeout_ms;
	bool		has_deadline;	/* curl asked to be called back at deadline */
	double		deadline;
	TransferQueue waiting;		/* submitted, not yet handed to curl */
	Transfer   *running;		/* handed to curl (doubly linked) */
	int			n_running;
	TransferQueue done;			/* ended, not yet returned to the caller */
};

/* The monotonic clock, so neither timeouts nor the rate limiter jump with the wall clock. */
double
http_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Appends a transfer to a queue. */
static void
queue_push(TransferQueue *q, Transfer *t)
{
	t->next = NULL;
	if (q->tail)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
	q->count++;
}

/* Removes the oldest transfer of a queue; NULL when it is empty. */
static Transfer *
queue_pop(TransferQueue *q)
{
	Transfer   *t = q->head;

	if (t == NULL)
		return NULL;
	q->head = t->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->count--;
	t->next = NULL;
	return t;
}

/* Links a transfer into the running list. */
static void
running_add(HttpEngine *engine, Transfer *t)
{
	t->prev = NULL;
	t->next = engine->running;
	if (engine->running)
		engine->running->prev = t;
	engine->running = t;
	engine->n_running++;
}

/* Unlinks a transfer from the running list. */
static void
running_remove(HttpEngine *engine, Transfer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		engine->running = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
	engine->n_running--;
}

/*
 * curl's socket callback: mirrors the sockets curl wants watched into our
 * epoll set. socketp is non-NULL once curl has seen the socket registered,
 * which spares a failing EPOLL_CTL_ADD on every change of direction.
 */
static int
on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	HttpEngine *engine = userp;
	struct epoll_event ev;
	int			op;

	(void) easy;
	if (what == CURL_POLL_REMOVE)
	{
		/* curl may already have closed it; nothing to do then. */
		epoll_ctl(engine->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
		return 0;
	}

	memset(&ev, 0, sizeof(ev));
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	ev.data.fd = fd;
	op = socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(engine->epoll_fd, op, fd, &ev) < 0)
	{
		if (errno != ENOENT && errno != EEXIST)
			return -1;
		op = (errno == ENOENT) ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
		if (epoll_ctl(engine->epoll_fd, op, fd, &ev) < 0)
			return -1;
	}
	if (socketp == NULL)
		curl_multi_assign(engine->multi, fd, engine);
	return 0;
}

/* curl's timer callback: remembers when curl wants to be called without socket activity. */
static int
on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	HttpEngine *engine = userp;

	(void) multi;
	engine->has_deadline = timeout_ms >= 0;
	engine->deadline = http_now() + (double) timeout_ms / 1000.0;
	return 0;
}

/* Sets up curl once per process, then a multi handle wired to our epoll set. */
HttpEngine *
http_engine_create(const char *user_agent, const char **error)
{
	static bool curl_ready = false;
	HttpEngine *engine;

	if (!curl_ready)
	{
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		{
			*error = "could not initialize libcurl";
			return NULL;
		}
		curl_ready = true;
	}

	engine = calloc(1, sizeof(HttpEngine));
	if (engine == NULL || (engine->user_agent = strdup(user_agent)) == NULL)
	{
		free(engine);
		*error = "out of memory";
		return NULL;
	}
	engine->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	engine->multi = curl_multi_init();
	if (engine->epoll_fd < 0 || engine->multi == NULL)
	{
		if (engine->epoll_fd >= 0)
			close(engine->epoll_fd);
		if (engine->multi)
			curl_multi_cleanup(engine->multi);
		free(engine->user_agent);
		free(engine);
		*error = "could not create the curl multi handle or its epoll descriptor";
		return NULL;
	}

	curl_multi_setopt(engine->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(engine->multi, CURLMOPT_SOCKETDATA, engine);
	curl_multi_setopt(engine->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(engine->multi, CURLMOPT_TIMERDATA, engine);
	http_engine_configure(engine, DEFAULT_MAX_INFLIGHT, DEFAULT_TIMEOUT_MS);
	return engine;
}

/* Stores the limits used by calls started from now on and caps curl's connection pool to match. */
void
http_engine_configure(HttpEngine *engine, int max_inflight, int timeout_ms)
{
	engine->max_inflight = max_inflight < 1 ? 1 : max_inflight;
	engine->timeout_ms = timeout_ms < 1 ? 1 : timeout_ms;

	/* Every call may hold a connection, and idle ones stay cached for reuse. */
	curl_multi_setopt(engine->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long) engine->max_inflight);
	curl_multi_setopt(engine->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) engine->max_inflight);
	curl_multi_setopt(engine->multi, CURLMOPT_MAXCONNECTS, (long) engine->max_inflight);
}

/* Clears what a previous run of the request left, so a request can be submitted again. */
static void
reset_result(HttpRequest *req)
{
	free(req->response);
	req->response = NULL;
	req->response_len = 0;
	req->response_truncated = false;
	req->status = 0;
	req->request_id[0] = '\0';
	req->retry_after_seconds = -1;
	req->latency_ms = 0;
	req->timed_out = false;
	req->maybe_sent = false;
	req->error[0] = '\0';
}

/* Makes room for `needed` bytes of response body; false on out of memory. */
static bool
reserve_body(Transfer *t, size_t needed)
{
	size_t		capacity = t->capacity ? t->capacity : RESPONSE_INITIAL;
	char	   *grown;

	if (needed <= t->capacity)
		return true;
	while (capacity < needed)
		capacity *= 2;
	if ((grown = realloc(t->req->response, capacity)) == NULL)
		return false;
	t->req->response = grown;
	t->capacity = capacity;
	return true;
}

/* curl's write callback: keeps up to RESPONSE_MAX bytes of the body and drops the rest. */
static size_t
on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	Transfer   *t = userp;
	HttpRequest *req = t->req;
	size_t		len = size * nmemb;
	size_t		keep = len;

	if (keep > RESPONSE_MAX - req->response_len)
	{
		keep = RESPONSE_MAX - req->response_len;
		req->response_truncated = true;
	}
	if (keep == 0)
		return len;
	if (!reserve_body(t, req->response_len + keep + 1))
		return 0;				/* curl fails the call with CURLE_WRITE_ERROR */
	memcpy(req->response + req->response_len, data, keep);
	req->response_len += keep;
	req->response[req->response_len] = '\0';
	return len;
}

/* Wipes every header line (one holds the API key) and frees the list. */
static void
free_headers(struct curl_slist *headers)
{
	for (struct curl_slist *h = headers; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(headers);
}

/*
 * The request headers: JSON both ways, the bearer token when there is one,
 * and no "Expect: 100-continue" round trip for larger bodies.
 */
static struct curl_slist *
build_headers(const HttpRequest *req)
{
	struct curl_slist *headers = NULL;
	struct curl_slist *grown;
	char	   *authorization = NULL;
	bool		ok = true;
	const char *lines[4];
	int			n = 0;

	lines[n++] = "Accept: application/json";
	lines[n++] = "Expect:";
	if (req->body)
		lines[n++] = "Content-Type: application/json";
	if (req->api_key && req->api_key[0])
	{
		ok = asprintf(&authorization, "Authorization: Bearer %s", req->api_key) >= 0;
		lines[n++] = ok ? authorization : NULL;
	}

	for (int i = 0; ok && i < n; i++)
	{
		if ((grown = curl_slist_append(headers, lines[i])) == NULL)
			ok = false;
		else
			headers = grown;
	}
	if (authorization)
	{
		explicit_bzero(authorization, strlen(authorization));
		free(authorization);
	}
	if (!ok)
	{
		free_headers(headers);
		return NULL;
	}
	return headers;
}

/* Sets the method, body and connection choice; false for a method we do not speak. */
static bool
set_method(CURL *easy, const HttpRequest *req)
{
	if (strcmp(req->method, "GET") == 0)
	{
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
		return true;
	}
	if (strcmp(req->method, "POST") == 0)
		curl_easy_setopt(easy, CURLOPT_POST, 1L);
	else if (strcmp(req->method, "PATCH") == 0 || strcmp(req->method, "PUT") == 0 ||
			 strcmp(req->method, "DELETE") == 0)
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
	else
		return false;

	/*
	 * curl silently resends a request whose reused connection died before
	 * any answer; a mutation may have been acted on, so it gets a connection
	 * of its own and fails instead.
	 */
	curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);

	if (req->body || strcmp(req->method, "POST") == 0)
	{
		const char *body = req->body ? req->body : "";

		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
	}
	return true;
}

/* Restricts a call to http and https, with the option spelling of the libcurl at hand. */
static CURLcode
allow_only_http(CURL *easy)
{
#if LIBCURL_VERSION_NUM >= 0x075500
	return curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	return curl_easy_setopt(easy, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

/*
 * Sets every option of a call. Security-relevant choices: TLS peer and host
 * verification on, only http and https, no redirects (a redirect must not
 * carry our key elsewhere).
 */
static CURLcode
set_options(HttpEngine *engine, Transfer *t)
{
	CURL	   *easy = t->easy;
	long		connect_ms = engine->timeout_ms < CONNECT_TIMEOUT_MAX_MS ?
		engine->timeout_ms : CONNECT_TIMEOUT_MAX_MS;
	CURLcode	rc;

	if ((rc = curl_easy_setopt(easy, CURLOPT_URL, t->req->url)) != CURLE_OK ||
		(rc = allow_only_http(easy)) != CURLE_OK ||
		(rc = curl_easy_setopt(easy, CURLOPT_USERAGENT, engine->user_agent)) != CURLE_OK)
		return rc;

	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, (struct curl_slist *) t->req->headers);
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, engine->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->curl_error);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
	return CURLE_OK;
}

/* Frees what a call holds inside curl: its easy handle and header list. */
static void
release_curl(Transfer *t)
{
	if (t->easy)
		curl_easy_cleanup(t->easy);
	t->easy = NULL;
	free_headers(t->req->headers);
	t->req->headers = NULL;
}

/* Prepares the curl side of a call; false with req->error set on failure. */
static bool
prepare_transfer(HttpEngine *engine, Transfer *t)
{
	HttpRequest *req = t->req;
	CURLcode	rc;

	if ((t->easy = curl_easy_init()) == NULL ||
		(req->headers = build_headers(req)) == NULL)
	{
		snprintf(req->error, sizeof(req->error), "out of memory");
		return false;
	}
	if (!set_method(t->easy, req))
	{
		snprintf(req->error, sizeof(req->error), "unsupported HTTP method \"%s\"", req->method);
		return false;
	}
	if ((rc = set_options(engine, t)) != CURLE_OK)
	{
		snprintf(req->error, sizeof(req->error), "%s", curl_easy_strerror(rc));
		return false;
	}
	return true;
}

/* Prepares the call at once (so errors surface here) and queues it; perform() hands it to curl. */
bool
http_engine_submit(HttpEngine *engine, HttpRequest *req)
{
	Transfer   *t;

	reset_result(req);
	req->submitted_at = http_now();
	if (req->method == NULL || req->url == NULL)
	{
		snprintf(req->error, sizeof(req->error), "request has no method or URL");
		return false;
	}
	if ((t = calloc(1, sizeof(Transfer))) == NULL)
	{
		snprintf(req->error, sizeof(req->error), "out of memory");
		return false;
	}
	t->req = req;
	if (!prepare_transfer(engine, t))
	{
		release_curl(t);
		free(t);
		return false;
	}
	req->handle = t;
	queue_push(&engine->waiting, t);
	return true;
}

/* Counts calls the caller has not got back yet, wherever they are in the engine. */
int
http_engine_inflight(HttpEngine *engine)
{
	return engine->waiting.count + engine->n_running + engine->done.count;
}

/* The epoll set holding every socket curl watches; readable when any of them is. */
int
http_engine_fd(HttpEngine *engine)
{
	return engine->epoll_fd;
}

/* How long the caller may sleep: 0 when work is ready, else curl's own deadline (rounded up). */
long
http_engine_timeout_ms(HttpEngine *engine)
{
	double		remaining_ms;
	long		ms;

	if (engine->done.count > 0 ||
		(engine->waiting.count > 0 && engine->n_running < engine->max_inflight))
		return 0;
	if (!engine->has_deadline)
		return -1;
	remaining_ms = (engine->deadline - http_now()) * 1000.0;
	if (remaining_ms <= 0)
		return 0;
	ms = (long) remaining_ms;
	return ms < remaining_ms ? ms + 1 : ms;
}

/*
 * Whether a call that failed with `result` may have reached the server.
 * It certainly did not when the name did not resolve, the connection was
 * refused, or the URL was refused before any of that. Anything else may
 * have been sent: a TLS failure, a timeout, a reset, or an answer that is
 * not HTTP (libcurl says "unsupported protocol" for one).
 */
static bool
may_have_been_sent(CURL *easy, CURLcode result)
{
	long		request_bytes = 0;

	switch (result)
	{
		case CURLE_URL_MALFORMAT:
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
			return false;
		case CURLE_UNSUPPORTED_PROTOCOL:
			/* A scheme refused before connecting sent nothing; a reply that is not HTTP came after the request. */
			return curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &request_bytes) != CURLE_OK
				|| request_bytes > 0;
		default:
			return true;
	}
}

/*
 * Seconds to wait according to a Retry-After value: delay-seconds or an
 * HTTP date; -1 when the value is neither.
 */
static double
parse_retry_after(const char *value)
{
	char	   *end;
	long		seconds;
	time_t		when;

	while (isspace((unsigned char) *value))
		value++;
	if (isdigit((unsigned char) *value))
	{
		seconds = strtol(value, &end, 10);
		while (isspace((unsigned char) *end))
			end++;
		return *end == '\0' ? (double) seconds : -1;
	}
	if ((when = curl_getdate(value, NULL)) == -1)
		return -1;
	return when > time(NULL) ? difftime(when, time(NULL)) : 0;
}

/* Reads the response headers we keep: Neon's request id and Retry-After. */
static void
read_response_headers(Transfer *t)
{
	HttpRequest *req = t->req;
	struct curl_header *h;

	if (curl_easy_header(t->easy, "x-neon-ret-request-id", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
		snprintf(req->request_id, sizeof(req->request_id), "%s", h->value);
	if (curl_easy_header(t->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
		req->retry_after_seconds = parse_retry_after(h->value);
}

/* Fills the result fields of a call that curl has finished with `result`. */
static void
record_result(Transfer *t, CURLcode result)
{
	HttpRequest *req = t->req;

	req->latency_ms = (http_now() - req->submitted_at) * 1000.0;
	read_response_headers(t);
	if (result == CURLE_OK)
	{
		curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &req->status);
		req->maybe_sent = true;
	}
	else
	{
		req->status = 0;
		req->timed_out = (result == CURLE_OPERATION_TIMEDOUT);
		req->maybe_sent = may_have_been_sent(t->easy, result);
		snprintf(req->error, sizeof(req->error), "%.80s%s%.170s", curl_easy_strerror(result),
				 t->curl_error[0] ? ": " : "", t->curl_error);
	}
	if (req->response == NULL)
		req->response = calloc(1, 1);
}

/* Hands a call that ended (with `result`) to the done list and frees its curl side. */
static void
finish_transfer(HttpEngine *engine, Transfer *t, CURLcode result)
{
	record_result(t, result);
	curl_multi_remove_handle(engine->multi, t->easy);
	running_remove(engine, t);
	release_curl(t);
	queue_push(&engine->done, t);
}

/* Collects every call curl reports as complete. */
static void
collect_finished(HttpEngine *engine)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(engine->multi, &left)) != NULL)
	{
		CURLcode	result = msg->data.result;
		char	   *transfer;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &transfer);
		finish_transfer(engine, (Transfer *) transfer, result);
	}
}

/* Ends a call that never reached curl's hands; it was certainly not sent. */
static void
fail_unstarted(HttpEngine *engine, Transfer *t, const char *message)
{
	HttpRequest *req = t->req;

	snprintf(req->error, sizeof(req->error), "%s", message);
	req->latency_ms = (http_now() - req->submitted_at) * 1000.0;
	req->response = calloc(1, 1);
	release_curl(t);
	queue_push(&engine->done, t);
}

/* Hands waiting calls to curl while there is room; returns how many it moved. */
static int
start_waiting(HttpEngine *engine)
{
	int			started = 0;
	Transfer   *t;

	while (engine->n_running < engine->max_inflight &&
		   (t = queue_pop(&engine->waiting)) != NULL)
	{
		if (curl_multi_add_handle(engine->multi, t->easy) == CURLM_OK)
			running_add(engine, t);
		else
			fail_unstarted(engine, t, "could not hand the call to curl");
		started++;
	}
	return started;
}

/* Lets curl act on every socket epoll reports ready, without blocking. */
static void
drain_socket_events(HttpEngine *engine)
{
	struct epoll_event events[EVENTS_PER_WAIT];
	int			n;
	int			running;

	do
	{
		n = epoll_wait(engine->epoll_fd, events, EVENTS_PER_WAIT, 0);
		for (int i = 0; i < n; i++)
		{
			int			mask = 0;

			if (events[i].events & (EPOLLIN | EPOLLHUP))
				mask |= CURL_CSELECT_IN;
			if (events[i].events & EPOLLOUT)
				mask |= CURL_CSELECT_OUT;
			if (events[i].events & EPOLLERR)
				mask |= CURL_CSELECT_ERR;
			curl_multi_socket_action(engine->multi, events[i].data.fd, mask, &running);
		}
	} while (n == EVENTS_PER_WAIT);
}

/* Runs curl's timeout handling when the deadline it asked for has passed. */
static void
fire_timer_if_due(HttpEngine *engine)
{
	int			running;

	if (!engine->has_deadline || http_now() < engine->deadline)
		return;
	engine->has_deadline = false;
	curl_multi_socket_action(engine->multi, CURL_SOCKET_TIMEOUT, 0, &running);
}

/* One pass: socket events, curl's timer, finished calls, then queued calls into freed slots. */
void
http_engine_perform(HttpEngine *engine)
{
	drain_socket_events(engine);
	do
	{
		fire_timer_if_due(engine);
		collect_finished(engine);
	} while (start_waiting(engine) > 0);
}

/* Returns ended calls in the order they ended, handing the request back to the caller. */
HttpRequest *
http_engine_next_done(HttpEngine *engine)
{
	Transfer   *t = queue_pop(&engine->done);
	HttpRequest *req;

	if (t == NULL)
		return NULL;
	req = t->req;
	req->handle = NULL;
	free(t);
	return req;
}

/* Frees a transfer that is not running and the request it carries. */
static void
discard_transfer(Transfer *t)
{
	release_curl(t);
	t->req->handle = NULL;
	http_request_free(t->req);
	free(t);
}

/* Aborts every call and frees every request the engine still holds, then the engine. */
void
http_engine_destroy(HttpEngine *engine)
{
	Transfer   *t;

	if (engine == NULL)
		return;
	while ((t = engine->running) != NULL)
	{
		curl_multi_remove_handle(engine->multi, t->easy);
		running_remove(engine, t);
		discard_transfer(t);
	}
	while ((t = queue_pop(&engine->waiting)) != NULL)
		discard_transfer(t);
	while ((t = queue_pop(&engine->done)) != NULL)
		discard_transfer(t);
	curl_multi_cleanup(engine->multi);
	close(engine->epoll_fd);
	free(engine->user_agent);
	free(engine);
}

/* A blank request; the result fields start as "nothing happened yet". */
HttpRequest *
http_request_new(const char *method, const char *url)
{
	HttpRequest *req = calloc(1, sizeof(HttpRequest));

	if (req == NULL)
		return NULL;
	if ((req->url = strdup(url)) == NULL)
	{
		free(req);
		return NULL;
	}
	req->method = method;
	req->retry_after_seconds = -1;
	return req;
}

/* Frees a request and its strings; the key is wiped so it does not linger in freed memory. */
void
http_request_free(HttpRequest *req)
{
	if (req == NULL)
		return;
	free(req->url);
	free(req->body);
	if (req->api_key)
	{
		explicit_bzero(req->api_key, strlen(req->api_key));
		free(req->api_key);
	}
	free(req->response);
	free(req);
}

/*
 * A copy of a finished request's outcome (status, answer, request id,
 * timings, transport error), without its key or body: one call that served
 * several jobs gives each its own. NULL on out of memory.
 */
HttpRequest *
http_request_copy_result(const HttpRequest *done)
{
	HttpRequest *copy = http_request_new(done->method, done->url);

	if (copy == NULL)
		return NULL;
	copy->status = done->status;
	copy->response_len = done->response_len;
	copy->response_truncated = done->response_truncated;
	memcpy(copy->request_id, done->request_id, sizeof(copy->request_id));
	copy->retry_after_seconds = done->retry_after_seconds;
	copy->latency_ms = done->latency_ms;
	copy->timed_out = done->timed_out;
	copy->maybe_sent = done->maybe_sent;
	memcpy(copy->error, done->error, sizeof(copy->error));
	copy->response = malloc(done->response_len + 1);
	if (copy->response == NULL)
	{
		http_request_free(copy);
		return NULL;
	}
	memcpy(copy->response, done->response ? done->response : "", done->response_len);
	copy->response[done->response_len] = '\0';
	return copy;
}

/* Escapes with curl's encoder, returned as a plain malloc'd string. */
char *
http_escape(const char *value)
{
	char	   *escaped = curl_easy_escape(NULL, value, 0);
	char	   *result;

	if (escaped == NULL)
		return NULL;
	result = strdup(escaped);
	curl_free(escaped);
	return result;
}
