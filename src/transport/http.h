/*
 * http.h
 *		The HTTP engine: many Neon API calls in flight on libcurl's multi
 *		interface, driven by the caller's event loop.
 *
 * Plain C (libcurl and libc only, no PostgreSQL headers), so the engine is
 * used unchanged by the background worker, by test/unit and by the benchmark.
 * Memory is malloc'd; a request belongs to the caller until it is submitted,
 * to the engine while in flight, and to the caller again once returned by
 * http_engine_next_done().
 */
#ifndef NEON_PLATFORM_HTTP_H
#define NEON_PLATFORM_HTTP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct HttpEngine HttpEngine;

typedef struct HttpRequest
{
	/* Set by the caller before http_engine_submit(). */
	const char *method;			/* "GET", "POST", "PATCH", "DELETE" (static string) */
	char	   *url;			/* full URL; freed by http_request_free() */
	char	   *body;			/* JSON body or NULL; freed by http_request_free() */
	char	   *api_key;		/* bearer token or NULL; wiped and freed by http_request_free() */
	void	   *owner;			/* the caller's context; never touched by the engine */

	/* Set by the engine when the call ends. */
	long		status;			/* HTTP status, 0 when no response arrived */
	char	   *response;		/* NUL-terminated body ("" when none) */
	size_t		response_len;
	bool		response_truncated; /* body was larger than the engine keeps */
	char		request_id[80]; /* x-neon-ret-request-id, "" when absent */
	double		retry_after_seconds;	/* Retry-After, -1 when absent */
	double		latency_ms;		/* from submit to end */
	bool		timed_out;		/* the call hit the request timeout */
	bool		maybe_sent;		/* the request may have reached the server */
	char		error[256];		/* transport error, "" when a response arrived */

	/* Engine internals. */
	void	   *handle;
	void	   *headers;
	double		submitted_at;
} HttpRequest;

/* Creates an engine; NULL (with *error set to a static message) on failure. */
extern HttpEngine *http_engine_create(const char *user_agent, const char **error);

/*
 * Applies settings; safe at any time (in-flight calls keep the timeout they
 * started with). max_inflight caps connections as well as calls.
 */
extern void http_engine_configure(HttpEngine *engine, int max_inflight, int timeout_ms);

/* Starts a call. false (and req->error set) if it could not be started. */
extern bool http_engine_submit(HttpEngine *engine, HttpRequest *req);

/* Calls submitted and not yet returned by http_engine_next_done(). */
extern int	http_engine_inflight(HttpEngine *engine);

/* A descriptor that becomes readable when some call has socket activity. */
extern int	http_engine_fd(HttpEngine *engine);

/* Milliseconds until the engine needs http_engine_perform() anyway; -1 = no deadline. */
extern long http_engine_timeout_ms(HttpEngine *engine);

/* Moves every call forward without blocking; call after the fd is readable or the timeout passed. */
extern void http_engine_perform(HttpEngine *engine);

/* Returns a finished call (success or failure) or NULL when none is left. */
extern HttpRequest *http_engine_next_done(HttpEngine *engine);

/*
 * Aborts all calls in flight and frees the engine, together with every
 * request it still holds (submitted and not yet returned by next_done).
 */
extern void http_engine_destroy(HttpEngine *engine);

/* A new request with the given method and URL (copied); NULL on out of memory. */
extern HttpRequest *http_request_new(const char *method, const char *url);

/* A copy of a finished request's outcome, without key or body; NULL on out of memory. */
extern HttpRequest *http_request_copy_result(const HttpRequest *done);

/* Frees a request that is not in flight, wiping its key first. */
extern void http_request_free(HttpRequest *req);

/* URL-escapes a query value; malloc'd result. */
extern char *http_escape(const char *value);

/* Monotonic clock in seconds, the time base of the engine and the rate limiter. */
extern double http_now(void);

#endif							/* NEON_PLATFORM_HTTP_H */
