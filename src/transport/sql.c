/*
 * sql.c
 *		The SQL engine: libpq's asynchronous API behind a private epoll
 *		descriptor, as http.c does with curl, so the caller's event loop (the
 *		worker's WaitEventSet) waits on one fd plus a timeout and never blocks
 *		inside libpq.
 *
 * A request goes through four phases, each step taken when its socket is
 * ready or its deadline has passed:
 *	queued		submitted, waiting for room under max_connections
 *	connecting	PQconnectStartParams, then PQconnectPoll on each socket event
 *	sending		PQsendQuery, then PQflush until libpq has sent it all
 *	reading		PQconsumeInput and PQgetResult until the NULL result
 *
 * Plain C (libc and libpq only).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "transport/http.h"
#include "transport/sql.h"

/* How much longer than statement_timeout the engine waits for the server's own cancel. */
#define STATEMENT_MARGIN_MS		5000

/* What the server shows in pg_stat_activity unless conninfo names itself. */
#define APPLICATION_NAME		"neon_platform"

/* What replaces the password wherever an error text would show it. */
#define PASSWORD_MASK			"********"

/* Socket events taken from epoll per perform (a busier set stays readable, so the caller comes back). */
#define EVENTS_PER_PERFORM		64

/* Defaults until sql_engine_configure() is called. */
#define DEFAULT_MAX_CONNECTIONS		16
#define DEFAULT_CONNECT_TIMEOUT_MS	10000
#define DEFAULT_STATEMENT_TIMEOUT_MS 300000

/* Where a request is in its life (see the top of this file). */
typedef enum Phase
{
	PHASE_QUEUED,
	PHASE_CONNECTING,
	PHASE_SENDING,
	PHASE_READING,
	PHASE_DONE
} Phase;

/* One request's engine-side state, reachable as req->handle. */
typedef struct Conn
{
	SqlRequest *req;
	PGconn	   *pg;
	Phase		phase;
	char	   *password;		/* conninfo's password, only to mask it in errors; wiped */
	int			statement_timeout_ms;	/* the setting when the request started */
	double		deadline;		/* of the current phase, http_now() time; 0 = none */
	double		started_at;		/* when connecting began */
	bool		statement_failed;	/* a statement ended with an ERROR */
	bool		session_ended;	/* the server ended the session (FATAL) or libpq gave up */
	int			slot;			/* index in engine->open while connecting, sending or reading */
	struct Conn *next;			/* link in a ConnFifo */
} Conn;

/* A FIFO of connections linked through next; tail points at the last link. */
typedef struct ConnFifo
{
	Conn	   *head;
	Conn	  **tail;
	int			count;
} ConnFifo;

/* A text being written with stdio into memory that grows as needed (open_memstream). */
typedef struct Text
{
	char	   *data;
	size_t		size;
	FILE	   *out;
} Text;

/* The engine: its epoll set, its settings, and every request it holds, by phase. */
struct SqlEngine
{
	int			epoll_fd;
	int			max_connections;
	int			connect_timeout_ms;
	int			statement_timeout_ms;
	ConnFifo	waiting;		/* submitted, not yet connecting */
	Conn	  **open;			/* connecting, sending or reading, in no order */
	int			n_open;
	int			open_capacity;
	ConnFifo	done;			/* ended, not yet returned to the caller */
};

/* Makes a FIFO empty. */
static void
fifo_init(ConnFifo *fifo)
{
	fifo->head = NULL;
	fifo->tail = &fifo->head;
	fifo->count = 0;
}

/* Adds a connection at the end of a FIFO. */
static void
fifo_append(ConnFifo *fifo, Conn *c)
{
	c->next = NULL;
	*fifo->tail = c;
	fifo->tail = &c->next;
	fifo->count++;
}

/* Takes the oldest connection of a FIFO; NULL when it is empty. */
static Conn *
fifo_take(ConnFifo *fifo)
{
	Conn	   *c = fifo->head;

	if (c == NULL)
		return NULL;
	fifo->head = c->next;
	if (fifo->head == NULL)
		fifo->tail = &fifo->head;
	fifo->count--;
	c->next = NULL;
	return c;
}

/* Gives a connection a slot among the open ones; false on out of memory. */
static bool
open_add(SqlEngine *engine, Conn *c)
{
	if (engine->n_open == engine->open_capacity)
	{
		int			capacity = engine->open_capacity ? 2 * engine->open_capacity : 16;
		Conn	  **grown = realloc(engine->open, (size_t) capacity * sizeof(Conn *));

		if (grown == NULL)
			return false;
		engine->open = grown;
		engine->open_capacity = capacity;
	}
	c->slot = engine->n_open;
	engine->open[engine->n_open++] = c;
	return true;
}

/* Frees a connection's slot, moving the last open connection into it. */
static void
open_remove(SqlEngine *engine, Conn *c)
{
	Conn	   *last = engine->open[--engine->n_open];

	engine->open[c->slot] = last;
	last->slot = c->slot;
}

/* Milliseconds elapsed since a http_now() time. */
static double
ms_since(double start)
{
	return (http_now() - start) * 1000.0;
}

/* Wipes and frees a secret string. */
static void
free_secret(char *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	free(secret);
}

/* Starts an empty text written with stdio into malloc'd memory; false on out of memory. */
static bool
text_open(Text *t)
{
	t->data = NULL;
	t->size = 0;
	t->out = open_memstream(&t->data, &t->size);
	return t->out != NULL;
}

/* Ends a text and returns it, malloc'd; NULL (nothing left allocated) if writing it failed. */
static char *
text_close(Text *t)
{
	if (fclose(t->out) == 0)
		return t->data;
	free(t->data);
	return NULL;
}

/*
 * A copy of text with every occurrence of secret replaced by the mask and
 * without trailing white space (libpq ends its messages with a newline).
 * NULL on out of memory.
 */
static char *
masked_copy(const char *text, const char *secret)
{
	size_t		secret_len = secret ? strlen(secret) : 0;
	Text		copy;
	const char *hit;
	char	   *result;
	size_t		len;

	if (!text_open(&copy))
		return NULL;
	while (secret_len > 0 && (hit = strstr(text, secret)) != NULL)
	{
		fwrite(text, 1, (size_t) (hit - text), copy.out);
		fputs(PASSWORD_MASK, copy.out);
		text = hit + secret_len;
	}
	fputs(text, copy.out);
	if ((result = text_close(&copy)) == NULL)
		return NULL;
	for (len = strlen(result); len > 0 && isspace((unsigned char) result[len - 1]); len--)
		result[len - 1] = '\0';
	return result;
}

/* Sets a request's error unless it has one already: the first error is the one that explains. */
static void
set_error(Conn *c, const char *text)
{
	if (c->req->error == NULL)
		c->req->error = masked_copy(text, c->password);
}

/* Copies a SQLSTATE (five characters) into the request. */
static void
set_sqlstate(SqlRequest *req, const char *code)
{
	snprintf(req->sqlstate, sizeof(req->sqlstate), "%.5s", code ? code : "");
}

/* Replaces a malloc'd string with a copy of value. */
static void
replace_string(char **field, const char *value)
{
	free(*field);
	*field = strdup(value);
}

/* Takes a connection's socket out of the epoll set and closes the connection. */
static void
close_connection(SqlEngine *engine, Conn *c)
{
	int			fd;

	if (c->pg == NULL)
		return;
	fd = PQsocket(c->pg);
	if (fd >= 0)
		epoll_ctl(engine->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
	PQfinish(c->pg);
	c->pg = NULL;
}

/*
 * Ends a request with an outcome (and message, unless an earlier error
 * explains it already): the connection is closed and the password
 * forgotten, and the request waits for sql_engine_next_done().
 */
static void
finish(SqlEngine *engine, Conn *c, SqlOutcome outcome, const char *message)
{
	SqlRequest *req = c->req;

	req->outcome = outcome;
	if (message)
		set_error(c, message);
	req->latency_ms = ms_since(req->submitted_at);
	close_connection(engine, c);
	if (c->phase != PHASE_QUEUED)
		open_remove(engine, c);
	c->phase = PHASE_DONE;
	free_secret(c->password);
	c->password = NULL;
	fifo_append(&engine->done, c);
}

/* What a connection that stopped working means, by what had run: see the outcomes in sql.h. */
static SqlOutcome
broken_outcome(const Conn *c)
{
	if (!c->req->sql_sent)
		return SQL_CONNECT_FAILED;
	return c->statement_failed ? SQL_REMOTE_ERROR : SQL_LOST;
}

/* Ends a request whose connection failed, with libpq's reason. */
static void
fail(SqlEngine *engine, Conn *c, const char *message)
{
	finish(engine, c, broken_outcome(c), message);
}

/*
 * Points epoll at the connection's socket for the events libpq waits for.
 * While it tries addresses libpq closes its socket and opens another, which
 * may get the same number; a closed socket leaves the epoll set by itself,
 * so the socket is modified, or added when epoll does not know it (any more).
 */
static void
watch(SqlEngine *engine, Conn *c, uint32_t events)
{
	struct epoll_event ev = {.events = events,.data.ptr = c};
	int			fd = PQsocket(c->pg);

	if (fd < 0)
	{
		fail(engine, c, PQerrorMessage(c->pg));
		return;
	}
	if (epoll_ctl(engine->epoll_fd, EPOLL_CTL_MOD, fd, &ev) == 0 ||
		(errno == ENOENT && epoll_ctl(engine->epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0))
		return;
	fail(engine, c, "could not add the connection's socket to the epoll set");
}

/* Where a libpq verbose error line carries its SQLSTATE ("FATAL:  28P01: ..."); NULL if it has none. */
static const char *
find_sqlstate(const char *line, const char *end)
{
	for (const char *p = line; p + 10 <= end; p++)
	{
		bool		code = p[0] == ':' && p[1] == ' ' && p[2] == ' ' && p[8] == ':' && p[9] == ' ';

		for (int i = 3; code && i < 8; i++)
			code = isdigit((unsigned char) p[i]) || isupper((unsigned char) p[i]);
		if (code)
			return p + 3;
	}
	return NULL;
}

/*
 * libpq's text for a failed connection attempt, made with verbose errors so
 * that it carries the server's SQLSTATE (libpq has no other way to give it
 * before a session exists). The last code goes to req->sqlstate, and the
 * text is given as the default verbosity shows it: no code, no LOCATION.
 */
static char *
connect_error_text(SqlRequest *req, const char *message)
{
	Text		text;
	const char *next;

	if (!text_open(&text))
		return NULL;
	for (const char *line = message; *line; line = next)
	{
		const char *end = strchrnul(line, '\n');
		const char *code = find_sqlstate(line, end);

		next = *end ? end + 1 : end;
		if (strncmp(line, "LOCATION:  ", 11) == 0)
			continue;
		if (code)
		{
			set_sqlstate(req, code);
			fwrite(line, 1, (size_t) (code - line), text.out);
			line = code + 7;
		}
		fwrite(line, 1, (size_t) (next - line), text.out);
	}
	return text_close(&text);
}

/* Ends a request whose connection attempt failed, with the server's SQLSTATE when it sent one. */
static void
fail_connect(SqlEngine *engine, Conn *c)
{
	char	   *text = connect_error_text(c->req, PQerrorMessage(c->pg));

	finish(engine, c, SQL_CONNECT_FAILED, text ? text : "out of memory");
	free(text);
}

/*
 * The text of a server error as psql shows it: the message, then DETAIL and
 * HINT when present. Errors libpq made itself have no fields: its message
 * then. NULL on out of memory.
 */
static char *
describe_error(const PGresult *res)
{
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	char	   *text;

	if (primary == NULL)
		return strdup(PQresultErrorMessage(res));
	if (asprintf(&text, "%s%s%s%s%s", primary,
				 detail ? "\nDETAIL:  " : "", detail ? detail : "",
				 hint ? "\nHINT:  " : "", hint ? hint : "") < 0)
		return NULL;
	return text;
}

/*
 * Records an error result. Severity ERROR is a failed statement (its
 * transaction rolls back); anything else, FATAL from the server or an error
 * libpq made, means the session is gone.
 */
static void
take_error(Conn *c, const PGresult *res)
{
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	char	   *text = describe_error(res);

	if (severity && strcmp(severity, "ERROR") == 0)
		c->statement_failed = true;
	else
		c->session_ended = true;
	if (c->req->error == NULL)
		set_sqlstate(c->req, PQresultErrorField(res, PG_DIAG_SQLSTATE));
	set_error(c, text ? text : "out of memory");
	free(text);
}

/*
 * Takes one result. Rows come one at a time (single-row mode) and are
 * dropped; the zero-row result after them carries the statement's count.
 */
static void
take_result(SqlEngine *engine, Conn *c, PGresult *res)
{
	SqlRequest *req = c->req;
	ExecStatusType status = PQresultStatus(res);

	if (status == PGRES_SINGLE_TUPLE)
		return;
	req->statements++;
	switch (status)
	{
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
		case PGRES_EMPTY_QUERY:
			req->rows_affected += atoll(PQcmdTuples(res));
			replace_string(&req->command_tag, PQcmdStatus(res));
			break;
		case PGRES_COPY_IN:
			/* The server waits for data that never comes: it aborts when the connection closes. */
			finish(engine, c, SQL_REMOTE_ERROR, "COPY is not supported");
			break;
		case PGRES_COPY_OUT:
		case PGRES_COPY_BOTH:
			/* The server may go on without us: what it did is unknown. */
			finish(engine, c, SQL_LOST, "COPY is not supported");
			break;
		default:
			take_error(c, res);
			break;
	}
}

/* Ends a request whose results are all in (the NULL result came). */
static void
finish_results(SqlEngine *engine, Conn *c)
{
	SqlOutcome	outcome = SQL_OK;

	if (c->statement_failed)
		outcome = SQL_REMOTE_ERROR;
	else if (c->session_ended)
		outcome = SQL_LOST;
	finish(engine, c, outcome, NULL);
}

/*
 * Reads what has arrived and takes every complete result; waits for more
 * while libpq is busy. A connection that broke ends the request.
 */
static void
read_results(SqlEngine *engine, Conn *c)
{
	bool		consumed = PQconsumeInput(c->pg) != 0;

	while (c->phase == PHASE_READING && !PQisBusy(c->pg))
	{
		PGresult   *res = PQgetResult(c->pg);

		if (res == NULL)
		{
			finish_results(engine, c);
			return;
		}
		take_result(engine, c, res);
		PQclear(res);
	}
	if (c->phase != PHASE_READING)
		return;
	if (!consumed || PQstatus(c->pg) == CONNECTION_BAD)
		fail(engine, c, PQerrorMessage(c->pg));
	else
		watch(engine, c, EPOLLIN);
}

/*
 * Pushes the query out. While libpq still holds some of it, the socket is
 * watched both ways: the server may answer (an error) before it has read it
 * all, and libpq must read that to make room.
 */
static void
flush_query(SqlEngine *engine, Conn *c)
{
	int			pending;

	if (!PQconsumeInput(c->pg) || (pending = PQflush(c->pg)) < 0)
	{
		fail(engine, c, PQerrorMessage(c->pg));
		return;
	}
	if (pending)
		watch(engine, c, EPOLLIN | EPOLLOUT);
	else
		c->phase = PHASE_READING;
}

/*
 * The session is ready: sends the SQL, non-blocking and in single-row mode,
 * and starts the statement deadline. From here on the SQL may have reached
 * the server.
 */
static void
send_query(SqlEngine *engine, Conn *c)
{
	SqlRequest *req = c->req;

	req->connect_ms = ms_since(c->started_at);
	PQsetErrorVerbosity(c->pg, PQERRORS_DEFAULT);
	if (PQsetnonblocking(c->pg, 1) != 0)
	{
		fail(engine, c, PQerrorMessage(c->pg));
		return;
	}
	req->sql_sent = true;
	c->deadline = c->statement_timeout_ms > 0 ?
		http_now() + (c->statement_timeout_ms + (double) STATEMENT_MARGIN_MS) / 1000.0 : 0;
	if (!PQsendQuery(c->pg, req->sql))
	{
		fail(engine, c, PQerrorMessage(c->pg));
		return;
	}
	/* Rows one at a time, so no result is ever held whole (this fails only when called out of place). */
	PQsetSingleRowMode(c->pg);
	c->phase = PHASE_SENDING;
}

/* One step of the connection's setup; when the session is ready, the SQL goes out at once. */
static void
poll_connect(SqlEngine *engine, Conn *c)
{
	PostgresPollingStatusType status = PQconnectPoll(c->pg);

	if (status == PGRES_POLLING_READING || status == PGRES_POLLING_WRITING)
		watch(engine, c, status == PGRES_POLLING_READING ? EPOLLIN : EPOLLOUT);
	else if (status == PGRES_POLLING_OK)
		send_query(engine, c);
	else
		fail_connect(engine, c);
}

/* Takes every step a connection can take now; each phase falls through to the next when it completes. */
static void
advance(SqlEngine *engine, Conn *c)
{
	if (c->phase == PHASE_CONNECTING)
		poll_connect(engine, c);
	if (c->phase == PHASE_SENDING)
		flush_query(engine, c);
	if (c->phase == PHASE_READING)
		read_results(engine, c);
}

/* libpq's notice processor: notices (NOTICE, WARNING) are not results; they are dropped. */
static void
drop_notice(void *arg, const char *message)
{
	(void) arg;
	(void) message;
}

/*
 * Starts connecting. conninfo is expanded in place of dbname, after the
 * engine's defaults, so that whatever conninfo sets wins: libpq lets later
 * parameters override earlier ones.
 */
static PGconn *
start_connecting(const Conn *c)
{
	const char *keywords[4];
	const char *values[4];
	char		options[48];
	int			n = 0;

	if (c->statement_timeout_ms > 0)
	{
		snprintf(options, sizeof(options), "-c statement_timeout=%d", c->statement_timeout_ms);
		keywords[n] = "options";
		values[n++] = options;
	}
	keywords[n] = "fallback_application_name";
	values[n++] = APPLICATION_NAME;
	keywords[n] = "dbname";
	values[n++] = c->req->conninfo;
	keywords[n] = NULL;
	values[n] = NULL;
	return PQconnectStartParams(keywords, values, 1);
}

/* Moves a queued request into a slot and starts its connection; libpq's first wait is for writing. */
static void
start_request(SqlEngine *engine, Conn *c)
{
	if (!open_add(engine, c))
	{
		finish(engine, c, SQL_CONNECT_FAILED, "out of memory");
		return;
	}
	c->phase = PHASE_CONNECTING;
	c->started_at = http_now();
	c->deadline = c->started_at + engine->connect_timeout_ms / 1000.0;
	c->statement_timeout_ms = engine->statement_timeout_ms;
	if ((c->pg = start_connecting(c)) == NULL)
	{
		finish(engine, c, SQL_CONNECT_FAILED, "out of memory");
		return;
	}
	PQsetNoticeProcessor(c->pg, drop_notice, NULL);
	PQsetErrorVerbosity(c->pg, PQERRORS_VERBOSE);
	if (PQstatus(c->pg) == CONNECTION_BAD)
		fail_connect(engine, c);
	else
		watch(engine, c, EPOLLOUT);
}

/* Ends a request whose phase ran past its deadline. */
static void
expire(SqlEngine *engine, Conn *c)
{
	char		message[160];

	if (c->phase == PHASE_CONNECTING)
	{
		snprintf(message, sizeof(message), "no ready connection within the connect timeout (%.0f ms)",
				 (c->deadline - c->started_at) * 1000.0);
		finish(engine, c, SQL_CONNECT_TIMEOUT, message);
		return;
	}
	snprintf(message, sizeof(message),
			 "no end of results within statement_timeout (%d ms) + %d ms; connection closed",
			 c->statement_timeout_ms, STATEMENT_MARGIN_MS);
	finish(engine, c, c->statement_failed ? SQL_REMOTE_ERROR : SQL_STATEMENT_TIMEOUT, message);
}

/* Ends every open request past its deadline (from the end: a removal moves the last into its slot). */
static void
expire_overdue(SqlEngine *engine)
{
	double		now = http_now();

	for (int i = engine->n_open - 1; i >= 0; i--)
	{
		Conn	   *c = engine->open[i];

		if (c->deadline > 0 && now >= c->deadline)
			expire(engine, c);
	}
}

/* Advances every connection epoll reports ready, without waiting. */
static void
handle_socket_events(SqlEngine *engine)
{
	struct epoll_event events[EVENTS_PER_PERFORM];
	int			n = epoll_wait(engine->epoll_fd, events, EVENTS_PER_PERFORM, 0);

	for (int i = 0; i < n; i++)
		advance(engine, events[i].data.ptr);
}

/* Starts queued requests, oldest first, while there is room. */
static void
start_waiting(SqlEngine *engine)
{
	Conn	   *c;

	while (engine->n_open < engine->max_connections &&
		   (c = fifo_take(&engine->waiting)) != NULL)
		start_request(engine, c);
}

/* One pass: socket events, deadlines, then queued requests into the slots that freed. */
void
sql_engine_perform(SqlEngine *engine)
{
	handle_socket_events(engine);
	expire_overdue(engine);
	start_waiting(engine);
}

/* An engine with its epoll set and the default settings. */
SqlEngine *
sql_engine_create(const char **error)
{
	SqlEngine  *engine = calloc(1, sizeof(SqlEngine));

	if (engine == NULL)
	{
		*error = "out of memory";
		return NULL;
	}
	if ((engine->epoll_fd = epoll_create1(EPOLL_CLOEXEC)) < 0)
	{
		free(engine);
		*error = "could not create the SQL engine's epoll descriptor";
		return NULL;
	}
	fifo_init(&engine->waiting);
	fifo_init(&engine->done);
	sql_engine_configure(engine, DEFAULT_MAX_CONNECTIONS, DEFAULT_CONNECT_TIMEOUT_MS,
						 DEFAULT_STATEMENT_TIMEOUT_MS);
	return engine;
}

/* Stores the limits used by requests that start from now on. */
void
sql_engine_configure(SqlEngine *engine, int max_connections, int connect_timeout_ms,
					 int statement_timeout_ms)
{
	engine->max_connections = max_connections < 1 ? 1 : max_connections;
	engine->connect_timeout_ms = connect_timeout_ms < 1 ? 1 : connect_timeout_ms;
	engine->statement_timeout_ms = statement_timeout_ms < 0 ? 0 : statement_timeout_ms;
}

/* Clears what a previous run of the request left, so a request can be submitted again. */
static void
reset_result(SqlRequest *req)
{
	req->outcome = SQL_CONNECT_FAILED;	/* nothing ran: what a refused submit reports */
	req->sqlstate[0] = '\0';
	free(req->error);
	req->error = NULL;
	req->rows_affected = 0;
	free(req->command_tag);
	req->command_tag = NULL;
	req->statements = 0;
	req->latency_ms = 0;
	req->connect_ms = -1;
	req->sql_sent = false;
}

/*
 * libpq's complaint about a conninfo it cannot parse, without the string it
 * quotes (password and all): the wording up to the first quote.
 */
static char *
parse_error_text(const char *libpq_message)
{
	int			len = (int) strcspn(libpq_message, "\"");
	char	   *text;

	while (len > 0 && (isspace((unsigned char) libpq_message[len - 1]) || libpq_message[len - 1] == ':'))
		len--;
	if (asprintf(&text, "invalid connection string: %.*s (the string is not shown: it holds the password)",
				 len, libpq_message) < 0)
		return NULL;
	return text;
}

/*
 * Parses conninfo as libpq will, so that a malformed one is refused at
 * submit, and keeps a copy of its password to mask in errors. The parsed
 * password is wiped before libpq's array is freed.
 */
static bool
parse_conninfo(Conn *c)
{
	char	   *libpq_error = NULL;
	PQconninfoOption *options = PQconninfoParse(c->req->conninfo, &libpq_error);
	bool		ok = true;

	if (options == NULL)
	{
		c->req->error = libpq_error ? parse_error_text(libpq_error) : strdup("out of memory");
		PQfreemem(libpq_error);
		return false;
	}
	for (PQconninfoOption *o = options; o->keyword; o++)
	{
		if (strcmp(o->keyword, "password") != 0 || o->val == NULL)
			continue;
		ok = (c->password = strdup(o->val)) != NULL;
		explicit_bzero(o->val, strlen(o->val));
	}
	PQconninfoFree(options);
	if (!ok)
		c->req->error = strdup("out of memory");
	return ok;
}

/* Checks the request and queues it; perform() starts it when there is room. */
bool
sql_engine_submit(SqlEngine *engine, SqlRequest *req)
{
	Conn	   *c;

	reset_result(req);
	req->submitted_at = http_now();
	if (req->conninfo == NULL || req->sql == NULL)
	{
		req->error = strdup("request has no conninfo or SQL");
		return false;
	}
	if ((c = calloc(1, sizeof(Conn))) == NULL)
	{
		req->error = strdup("out of memory");
		return false;
	}
	c->req = req;
	if (!parse_conninfo(c))
	{
		free_secret(c->password);
		free(c);
		return false;
	}
	req->handle = c;
	fifo_append(&engine->waiting, c);
	return true;
}

/* Counts requests the caller has not got back yet, wherever they are in the engine. */
int
sql_engine_inflight(SqlEngine *engine)
{
	return engine->waiting.count + engine->n_open + engine->done.count;
}

/* The epoll set holding every open connection's socket; readable when any of them needs attention. */
int
sql_engine_fd(SqlEngine *engine)
{
	return engine->epoll_fd;
}

/* How long the caller may sleep: 0 when work is ready, else until the nearest deadline (rounded up). */
long
sql_engine_timeout_ms(SqlEngine *engine)
{
	double		nearest = 0;
	double		now;

	if (engine->done.count > 0 ||
		(engine->waiting.count > 0 && engine->n_open < engine->max_connections))
		return 0;
	for (int i = 0; i < engine->n_open; i++)
	{
		double		deadline = engine->open[i]->deadline;

		if (deadline > 0 && (nearest == 0 || deadline < nearest))
			nearest = deadline;
	}
	if (nearest == 0)
		return -1;
	now = http_now();
	return nearest <= now ? 0 : (long) ceil((nearest - now) * 1000.0);
}

/* Returns ended requests in the order they ended, handing each back to the caller. */
SqlRequest *
sql_engine_next_done(SqlEngine *engine)
{
	Conn	   *c = fifo_take(&engine->done);
	SqlRequest *req;

	if (c == NULL)
		return NULL;
	req = c->req;
	req->handle = NULL;
	free(c);
	return req;
}

/* Frees a connection the engine no longer runs, and its request. */
static void
discard(SqlEngine *engine, Conn *c)
{
	close_connection(engine, c);
	free_secret(c->password);
	c->req->handle = NULL;
	sql_request_free(c->req);
	free(c);
}

/* Closes every connection and frees every request the engine still holds, then the engine. */
void
sql_engine_destroy(SqlEngine *engine)
{
	Conn	   *c;

	if (engine == NULL)
		return;
	for (int i = 0; i < engine->n_open; i++)
		discard(engine, engine->open[i]);
	while ((c = fifo_take(&engine->waiting)) != NULL)
		discard(engine, c);
	while ((c = fifo_take(&engine->done)) != NULL)
		discard(engine, c);
	close(engine->epoll_fd);
	free(engine->open);
	free(engine);
}

/* A blank request; the result fields start as "nothing happened yet". */
SqlRequest *
sql_request_new(const char *conninfo_uri, const char *sql)
{
	SqlRequest *req = calloc(1, sizeof(SqlRequest));

	if (req == NULL)
		return NULL;
	req->conninfo = strdup(conninfo_uri);
	req->sql = strdup(sql);
	if (req->conninfo == NULL || req->sql == NULL)
	{
		sql_request_free(req);
		return NULL;
	}
	req->connect_ms = -1;
	return req;
}

/* Frees a request and its strings; conninfo is wiped so the password does not linger in freed memory. */
void
sql_request_free(SqlRequest *req)
{
	if (req == NULL)
		return;
	free_secret(req->conninfo);
	free(req->sql);
	free(req->error);
	free(req->command_tag);
	free(req);
}

/* Names for logs, in the order of SqlOutcome. */
const char *
sql_outcome_name(SqlOutcome outcome)
{
	static const char *const names[] = {
		"ok", "connect failed", "connect timeout", "remote error", "statement timeout", "lost"
	};

	if ((unsigned) outcome >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[outcome];
}
