/*
 * bench_http.c
 *		Requests per second of the HTTP engine against the emulator, at
 *		several numbers of calls in flight, and the process's peak memory.
 *
 *		bench_http BASE_URL API_KEY [ORG_ID [SECONDS_PER_LEVEL]]
 *
 * Creates one project with POST /projects, then keeps N GET /projects/{id}
 * calls in flight for SECONDS_PER_LEVEL (default 3) at each N of 1, 16, 64
 * and 256, driving the engine the way the worker does (poll on its fd).
 * Run through test/bench/run.sh, which starts the emulator without limits.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "transport/http.h"
#include "neon/neon_common.h"
#include "neon/neon_projects.h"

/* What one level of the benchmark measured. */
typedef struct LevelResult
{
	int			completed;
	int			failed;
	double		seconds;
	double	   *latencies;		/* ms of every completed call */
} LevelResult;

/* Waits for the engine's fd or deadline and returns the calls that ended meanwhile via `on_done`. */
static void
drive_once(HttpEngine *engine, void (*on_done) (HttpRequest *, void *), void *arg)
{
	struct pollfd pfd = {.fd = http_engine_fd(engine),.events = POLLIN};
	long		timeout = http_engine_timeout_ms(engine);
	HttpRequest *req;

	poll(&pfd, 1, (int) (timeout < 0 || timeout > 1000 ? 1000 : timeout));
	http_engine_perform(engine);
	while ((req = http_engine_next_done(engine)) != NULL)
		on_done(req, arg);
}

/* Keeps the single creation call's result. */
static void
keep_request(HttpRequest *req, void *arg)
{
	*(HttpRequest **) arg = req;
}

/* A request to BASE_URL + path with the bench's key. */
static HttpRequest *
api_request(const char *method, const char *base, const char *path, const char *key)
{
	char	   *url;
	HttpRequest *req;

	if (asprintf(&url, "%s%s", base, path) < 0)
		return NULL;
	req = http_request_new(method, url);
	req->api_key = strdup(key);
	free(url);
	return req;
}

/* Creates the project the benchmark reads; its id, or NULL after printing why not. */
static char *
create_project(HttpEngine *engine, const char *base, const char *key, const char *org)
{
	NeonProjectSpec spec = {
		.name = "bench-project", .org_id = org, .region_id = "aws-us-east-2", .pg_version = 17,
		.history_retention_seconds = 86400, .database_name = "app", .role_name = "app_owner",
		.autoscaling_min_cu = 0.25, .autoscaling_max_cu = 0.25, .suspend_timeout_seconds = 300,
	};
	HttpRequest *req = api_request("POST", base, "/projects", key);
	HttpRequest *done = NULL;
	NeonProject project;
	char	   *error = NULL;
	char	   *id = NULL;

	req->body = neon_build_create_project(&spec);
	http_engine_submit(engine, req);
	for (int i = 0; i < 300 && done == NULL; i++)
		drive_once(engine, keep_request, &done);
	if (done == NULL || done->status != 201 || !neon_parse_create_project(done->response, &project, &error))
	{
		char	   *message = done ? neon_error_message(done->response) : NULL;

		fprintf(stderr, "bench: POST /projects failed: %s %s\n", done ? done->error : "no answer",
				message ? message : (error ? error : ""));
		free(message);
	}
	else
	{
		id = strdup(project.project_id);
		neon_project_free(&project);
	}
	free(error);
	http_request_free(done);
	return id;
}

/* State of one level while it runs. */
typedef struct LevelRun
{
	HttpEngine *engine;
	LevelResult *result;
	double		end;
	int			capacity;
} LevelRun;

/* Counts a finished call and puts the request straight back in flight while time remains. */
static void
recycle(HttpRequest *req, void *arg)
{
	LevelRun   *run = arg;
	LevelResult *r = run->result;

	if (req->status == 200)
	{
		if (r->completed == run->capacity)
		{
			run->capacity *= 2;
			r->latencies = realloc(r->latencies, run->capacity * sizeof(double));
		}
		r->latencies[r->completed++] = req->latency_ms;
	}
	else
		r->failed++;
	if (http_now() < run->end)
		http_engine_submit(run->engine, req);
	else
		http_request_free(req);
}

/* Keeps `inflight` GETs of the project going for `seconds`. */
static void
run_level(HttpEngine *engine, const char *base, const char *key, const char *path,
		  int inflight, double seconds, LevelResult *result)
{
	LevelRun	run = {.engine = engine,.result = result,.capacity = 1024};
	double		start = http_now();

	memset(result, 0, sizeof(*result));
	result->latencies = malloc(run.capacity * sizeof(double));
	run.end = start + seconds;
	http_engine_configure(engine, inflight, 30000);
	for (int i = 0; i < inflight; i++)
		http_engine_submit(engine, api_request("GET", base, path, key));
	while (http_engine_inflight(engine) > 0)
		drive_once(engine, recycle, &run);
	result->seconds = http_now() - start;
}

/* qsort comparator for latencies. */
static int
compare_doubles(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* The p-th percentile of sorted values. */
static double
percentile(const double *sorted, int n, double p)
{
	return n ? sorted[(int) ((n - 1) * p)] : 0;
}

/* Creates the project, runs every level, prints the figures. */
int
main(int argc, char **argv)
{
	static const int levels[] = {1, 16, 64, 256};
	const char *err;
	HttpEngine *engine;
	char	   *project_id;
	char	   *path;
	double		seconds = argc > 4 ? atof(argv[4]) : 3.0;
	struct rusage usage;

	if (argc < 3)
	{
		fprintf(stderr, "usage: %s BASE_URL API_KEY [ORG_ID [SECONDS_PER_LEVEL]]\n", argv[0]);
		return 2;
	}
	if ((engine = http_engine_create("neon_platform/bench", &err)) == NULL)
	{
		fprintf(stderr, "bench: %s\n", err);
		return 1;
	}
	if ((project_id = create_project(engine, argv[1], argv[2], argc > 3 ? argv[3] : NULL)) == NULL)
		return 1;
	if (asprintf(&path, "/projects/%s", project_id) < 0)
		return 1;

	printf("HTTP engine: GET /api/v2/projects/{id} against the emulator, %.0f s per level\n", seconds);
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
	{
		LevelResult r;

		run_level(engine, argv[1], argv[2], path, levels[i], seconds, &r);
		qsort(r.latencies, r.completed, sizeof(double), compare_doubles);
		printf("  in flight %3d: %7d requests in %.2f s = %7.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d\n",
			   levels[i], r.completed, r.seconds, r.completed / r.seconds,
			   percentile(r.latencies, r.completed, 0.50), percentile(r.latencies, r.completed, 0.99),
			   r.failed);
		free(r.latencies);
	}
	getrusage(RUSAGE_SELF, &usage);
	printf("  max RSS of the benchmark process: %ld kB\n", usage.ru_maxrss);

	http_engine_destroy(engine);
	free(path);
	free(project_id);
	return 0;
}
