/*
 * sql.h
 *		The SQL engine: SQL run in tenants' databases on libpq's asynchronous
 *		API, many connections in flight, driven by the caller's event loop
 *		the same way as the HTTP engine (http.h).
 *
 * Plain C (libpq and libc only, no PostgreSQL server headers), so the engine
 * is used unchanged by the background worker and by test/unit. Memory is
 * malloc'd; a request belongs to the caller until it is submitted, to the
 * engine while in flight, and to the caller again once returned by
 * sql_engine_next_done(). An engine belongs to one thread.
 *
 * One connection per request, closed when the request ends, never reused:
 * requests go to ever different databases (bootstrap SQL once per new
 * project, a migration once per tenant database), so a pool would hardly
 * ever hit; a fresh session carries nothing over from the previous request
 * (SET, temporary tables, an aborted transaction); and the number of open
 * connections is simply the number of requests running. max_connections caps
 * both; requests beyond it wait in the engine, in submission order, and
 * count in sql_engine_inflight().
 *
 * The connection: conninfo (a postgresql:// URI, or key=value pairs) goes to
 * libpq as it is, so its own parameters (sslmode=require against Neon,
 * options, ...) apply. Where it is silent the engine adds
 * application_name=neon_platform and options=-c statement_timeout=N. Use a
 * compute's direct URI: a pooler (PgBouncer) may refuse the options startup
 * parameter, and migrations want a session of their own anyway. The SQL is
 * sent as one simple-protocol query: several statements run as one implicit
 * transaction unless they bring their own BEGIN/COMMIT. Rows are read one at
 * a time and dropped (only counts and the command tag are kept), so a large
 * result costs no memory. COPY is refused. Notices are dropped.
 *
 * Timeouts, measured by the engine:
 *	connect		from when the request starts connecting (time queued behind
 *				max_connections does not count) to a ready session, TLS and
 *				authentication included. A suspended Neon compute wakes up on
 *				the first connection, which can take seconds: allow for it.
 *	statement	sent to the server as statement_timeout, which cancels the
 *				statement itself (SQL_REMOTE_ERROR 57014, rolled back). The
 *				engine's own deadline, statement_timeout + 5 s after the SQL
 *				was sent, is for a server or network that stopped answering:
 *				the connection is closed, not cancelled (PQcancel blocks, and
 *				a peer that does not answer would not answer a cancel
 *				either). The server stops only when it notices, and may
 *				still commit before that.
 *
 * What the outcome tells a caller deciding whether to retry:
 *	SQL_OK					every statement succeeded and the implicit
 *							transaction committed.
 *	SQL_CONNECT_FAILED		nothing was sent: safe to retry. sqlstate is the
 *							server's when it refused the session (28P01 wrong
 *							password, 3D000 no such database, 53300 too many
 *							connections, 57P03 cannot connect now, XX000 a Neon
 *							proxy's refusal such as an exceeded quota), "" when
 *							the server was not reached or TLS failed.
 *	SQL_CONNECT_TIMEOUT		nothing was sent: safe to retry (a cold start may
 *							need a longer connect timeout).
 *	SQL_REMOTE_ERROR		the SQL ran and a statement failed (sqlstate, error):
 *							rolled back, unless the SQL committed its own
 *							transactions. sqlstate "" means the engine refused a
 *							COPY FROM STDIN (the server, waiting for data, aborts).
 *	SQL_STATEMENT_TIMEOUT	no end of results by the engine's deadline; the
 *							connection was closed: unknown whether it committed.
 *	SQL_LOST				the connection broke after the SQL was sent: unknown
 *							whether it committed. sqlstate is set when the server
 *							said why (57P01 terminated by an administrator, as when
 *							a compute is suspended or restarted). A refused COPY TO
 *							STDOUT ends this way too: the server may have gone on.
 * For the last two, retry only SQL that is safe to run twice.
 *
 * Credentials: the password is in conninfo only; libpq gets it from there,
 * and sql_request_free() wipes conninfo. Error texts never contain it:
 * libpq's complaints about a malformed conninfo (which quote the string) are
 * cut before the quote, and every error text has the password masked.
 *
 * Nothing waits inside libpq, with one exception: libpq resolves a host name
 * with a blocking getaddrinfo() (inside PQconnectStartParams, or
 * PQconnectPoll for the next host of a list). Give hostaddr to avoid it.
 */
#ifndef NEON_PLATFORM_SQL_H
#define NEON_PLATFORM_SQL_H

#include <stdbool.h>

typedef struct SqlEngine SqlEngine;

typedef enum SqlOutcome
{
	SQL_OK,
	SQL_CONNECT_FAILED,
	SQL_CONNECT_TIMEOUT,
	SQL_REMOTE_ERROR,
	SQL_STATEMENT_TIMEOUT,
	SQL_LOST
} SqlOutcome;

typedef struct SqlRequest
{
	/* Set by the caller before sql_engine_submit(). */
	char	   *conninfo;		/* URI with password; wiped and freed by sql_request_free() */
	char	   *sql;			/* one or more statements; freed by sql_request_free() */
	void	   *owner;			/* the caller's context; never touched by the engine */

	/* Set by the engine when the request ends. */
	SqlOutcome	outcome;
	char		sqlstate[6];	/* PG_DIAG_SQLSTATE of the error, "" when none */
	char	   *error;			/* what went wrong (message, DETAIL, HINT); NULL when nothing */
	long long	rows_affected;	/* sum of PQcmdTuples over the results */
	char	   *command_tag;	/* of the last statement that succeeded; NULL when none did */
	int			statements;		/* results received, the failed one included */
	double		latency_ms;		/* from submit to end */
	double		connect_ms;		/* from the start of connecting to a ready session; -1 if never */
	bool		sql_sent;		/* the SQL may have reached the server */

	/* Engine internals. */
	void	   *handle;
	double		submitted_at;
} SqlRequest;

/* Creates an engine; NULL (with *error set to a static message) on failure. */
extern SqlEngine *sql_engine_create(const char **error);

/*
 * Applies settings; safe at any time (requests already connecting keep the
 * timeouts they started with). statement_timeout_ms 0 = none.
 */
extern void sql_engine_configure(SqlEngine *engine, int max_connections, int connect_timeout_ms,
								 int statement_timeout_ms);

/*
 * Queues a request. false (outcome SQL_CONNECT_FAILED, error set, nothing
 * sent, the request still the caller's) if conninfo does not parse.
 */
extern bool sql_engine_submit(SqlEngine *engine, SqlRequest *req);

/* Requests submitted and not yet returned by sql_engine_next_done(). */
extern int	sql_engine_inflight(SqlEngine *engine);

/* A descriptor that becomes readable when some connection needs attention. */
extern int	sql_engine_fd(SqlEngine *engine);

/* Milliseconds until the engine needs sql_engine_perform() anyway; -1 = no deadline. */
extern long sql_engine_timeout_ms(SqlEngine *engine);

/* Moves every connection forward without blocking; call after the fd is readable or the timeout passed. */
extern void sql_engine_perform(SqlEngine *engine);

/* Returns a finished request (any outcome) or NULL when none is left. */
extern SqlRequest *sql_engine_next_done(SqlEngine *engine);

/*
 * Closes every connection and frees the engine, together with every request
 * it still holds (submitted and not yet returned by next_done).
 */
extern void sql_engine_destroy(SqlEngine *engine);

/* A new request with the given conninfo and SQL (both copied); NULL on out of memory. */
extern SqlRequest *sql_request_new(const char *conninfo_uri, const char *sql);

/* Frees a request that is not in flight, wiping its conninfo first. */
extern void sql_request_free(SqlRequest *req);

/* The outcome's name for logs and errors: "ok", "connect failed", ... */
extern const char *sql_outcome_name(SqlOutcome outcome);

#endif							/* NEON_PLATFORM_SQL_H */
