/*
 * test_neon_json.c
 *		The Neon request builder and response parsers, mostly against
 *		responses recorded from the live API.
 *
 * Expected values are read from each recording with plain json-c lookups
 * that share no code with the parsers, and the values of one project
 * (project-03) are also written out by hand.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json_prelude.h"
#include "neon_json.h"
#include "tap.h"

static const char *responses_dir;

/* Where the recordings are: $NEON_REAL_RESPONSES, or the shared reference beside the repository. */
static const char *
find_responses_dir(void)
{
	const char *env = getenv("NEON_REAL_RESPONSES");

	return (env && env[0]) ? env : "../shared/reference/real-responses";
}

/* The names of the recordings matching a glob pattern, sorted; NULL-terminated. */
static char **
list_recordings(const char *pattern, int *count)
{
	struct dirent **entries;
	char	  **names;
	int			n = scandir(responses_dir, &entries, NULL, alphasort);

	*count = 0;
	names = calloc(n > 0 ? n + 1 : 1, sizeof(char *));
	for (int i = 0; i < n; i++)
	{
		if (fnmatch(pattern, entries[i]->d_name, 0) == 0)
			names[(*count)++] = strdup(entries[i]->d_name);
		free(entries[i]);
	}
	if (n > 0)
		free(entries);
	return names;
}

/* Frees a list from list_recordings(). */
static void
free_names(char **names)
{
	for (char **p = names; *p; p++)
		free(*p);
	free(names);
}

/* Loads a recording file; NULL when it cannot be read. */
static json_object *
load_recording(const char *name)
{
	char	   *path;
	json_object *record;

	if (asprintf(&path, "%s/%s", responses_dir, name) < 0)
		return NULL;
	record = json_object_from_file(path);
	free(path);
	return record;
}

/* The recording's response_body serialized back to text, as the API sent it. */
static char *
body_text(json_object *record)
{
	json_object *body;

	if (!json_object_object_get_ex(record, "response_body", &body))
		return NULL;
	return strdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
}

/* A string found by following object keys and array indexes: path("a", "0", "b"). */
static const char *
lookup(json_object *obj, const char *const *keys)
{
	for (; *keys && obj; keys++)
	{
		if (json_object_is_type(obj, json_type_array))
			obj = json_object_array_get_idx(obj, atoi(*keys));
		else if (!json_object_object_get_ex(obj, *keys, &obj))
			return NULL;
	}
	return obj && json_object_is_type(obj, json_type_string) ? json_object_get_string(obj) : NULL;
}

#define LOOKUP(obj, ...) lookup((obj), (const char *const[]) {__VA_ARGS__, NULL})

/* NULL-safe string equality. */
static bool
same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* The id of the read_write endpoint in a create response, found the plain way. */
static const char *
expected_endpoint_id(json_object *body)
{
	json_object *endpoints;

	if (!json_object_object_get_ex(body, "endpoints", &endpoints))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(endpoints); i++)
	{
		json_object *ep = json_object_array_get_idx(endpoints, i);

		if (same(LOOKUP(ep, "type"), "read_write"))
			return LOOKUP(ep, "id");
	}
	return NULL;
}

/* Whether the parsed operation ids are those of the running or scheduling operations, in order. */
static bool
operations_match(json_object *body, const NeonProject *p)
{
	json_object *ops;
	int			k = 0;

	if (!json_object_object_get_ex(body, "operations", &ops))
		return p->n_operations == 0;
	for (size_t i = 0; i < json_object_array_length(ops); i++)
	{
		json_object *op = json_object_array_get_idx(ops, i);
		const char *status = LOOKUP(op, "status");

		if (!same(status, "running") && !same(status, "scheduling"))
			continue;
		if (k >= p->n_operations || !same(p->operation_ids[k], LOOKUP(op, "id")))
			return false;
		k++;
	}
	return k == p->n_operations && k > 0;
}

/* A 201 create response: every field the parser returns equals the recording's. */
static void
check_created(const char *name, json_object *record, const char *text)
{
	json_object *body;
	NeonProject p;
	char	   *error = NULL;
	bool		parsed;

	json_object_object_get_ex(record, "response_body", &body);
	parsed = neon_parse_create_project(text, &p, &error);
	if (!ok(parsed, "%s: parses (%s)", name, error ? error : "ok"))
	{
		free(error);
		return;
	}
	ok(same(p.project_id, LOOKUP(body, "project", "id")), "%s: project id %s", name, p.project_id);
	ok(same(p.branch_id, LOOKUP(body, "branch", "id")), "%s: branch id %s", name, p.branch_id);
	ok(same(p.endpoint_id, expected_endpoint_id(body)), "%s: endpoint id %s", name, p.endpoint_id);
	ok(same(p.role_name, LOOKUP(body, "connection_uris", "0", "connection_parameters", "role")) &&
	   same(p.role_name, LOOKUP(body, "roles", "0", "name")), "%s: role %s", name, p.role_name);
	ok(same(p.password, LOOKUP(body, "connection_uris", "0", "connection_parameters", "password")) &&
	   same(p.password, LOOKUP(body, "roles", "0", "password")), "%s: password", name);
	ok(same(p.database_name, LOOKUP(body, "connection_uris", "0", "connection_parameters", "database")) &&
	   same(p.database_name, LOOKUP(body, "databases", "0", "name")), "%s: database %s", name, p.database_name);
	ok(same(p.host, LOOKUP(body, "connection_uris", "0", "connection_parameters", "host")) &&
	   same(p.host, LOOKUP(body, "endpoints", "0", "host")), "%s: host %s", name, p.host);
	ok(same(p.pooler_host, LOOKUP(body, "connection_uris", "0", "connection_parameters", "pooler_host")),
	   "%s: pooler host %s", name, p.pooler_host);
	ok(operations_match(body, &p), "%s: %d unfinished operations", name, p.n_operations);
	neon_project_free(&p);
}

/* A failed create: the parser refuses it and the error text is Neon's message. */
static void
check_failed_create(const char *name, json_object *record, const char *text)
{
	json_object *body;
	json_object *status;
	NeonProject p;
	char	   *error = NULL;
	char	   *message;
	bool		parsed;

	json_object_object_get_ex(record, "response_body", &body);
	json_object_object_get_ex(record, "status", &status);
	parsed = neon_parse_create_project(text, &p, &error);
	ok(!parsed && error != NULL, "%s: an error body is refused (%s)", name, error ? error : "");
	message = neon_error_message(text);
	ok(same(message, LOOKUP(body, "message")), "%s: error message \"%s\"", name, message);
	free(error);
	free(message);
}

/* Every recorded POST /projects response. */
static void
test_recorded_creates(void)
{
	int			n;
	int			created = 0;
	char	  **names = list_recordings("*-post-projects.json", &n);

	for (int i = 0; i < n; i++)
	{
		json_object *record = load_recording(names[i]);
		json_object *status;
		char	   *text = body_text(record);

		if (!ok(text != NULL, "%s: readable", names[i]))
			continue;
		json_object_object_get_ex(record, "status", &status);
		if (json_object_get_int(status) == 201)
		{
			check_created(names[i], record, text);
			created++;
		}
		else
			check_failed_create(names[i], record, text);
		free(text);
		json_object_put(record);
	}
	ok(created >= 7, "found %d recorded 201 create responses in %s", created, responses_dir);
	free_names(names);
}

/* The values of project-03, written out by hand. */
static void
test_project_03(void)
{
	json_object *record = load_recording("project-03-post-projects.json");
	char	   *text = body_text(record);
	NeonProject p;
	char	   *error = NULL;

	if (!ok(text && neon_parse_create_project(text, &p, &error), "project-03: parses"))
	{
		free(error);
		free(text);
		json_object_put(record);
		return;
	}
	ok(same(p.project_id, "long-forest-06846227"), "project-03: project id");
	ok(same(p.branch_id, "br-floral-wind-a5090hvr"), "project-03: branch id");
	ok(same(p.endpoint_id, "ep-jolly-frost-a57qv4wh"), "project-03: endpoint id");
	ok(same(p.role_name, "neondb_owner"), "project-03: role");
	ok(same(p.database_name, "neondb"), "project-03: database");
	ok(same(p.password, "hvMdgaKjIg8x"), "project-03: password");
	ok(same(p.host, "ep-jolly-frost-a57qv4wh.us-east-2.aws.neon.tech"), "project-03: host");
	ok(same(p.pooler_host, "ep-jolly-frost-a57qv4wh-pooler.us-east-2.aws.neon.tech"), "project-03: pooler host");
	ok(p.org_id == NULL, "project-03: no org id (personal account)");
	ok(p.n_operations == 2 && same(p.operation_ids[0], "389d2336-3e9f-41b6-9042-5f06317b30d4") &&
	   same(p.operation_ids[1], "4ddd4212-07ac-4264-aa43-d39702b504e5"),
	   "project-03: both operations (running, scheduling) pending");
	neon_project_free(&p);
	ok(p.project_id == NULL && p.operation_ids == NULL, "neon_project_free clears the struct");
	free(text);
	json_object_put(record);
}

/* Every recorded GET /projects page: each project is found by its name, nothing else is. */
static void
test_recorded_lists(void)
{
	int			n;
	int			projects_seen = 0;
	char	  **names = list_recordings("*-get-projects.json", &n);

	for (int i = 0; i < n; i++)
	{
		json_object *record = load_recording(names[i]);
		char	   *text = body_text(record);
		json_object *body;
		json_object *projects;
		char	   *id;
		char	   *last;
		char	   *error;
		int			count;
		bool		found;
		bool		all_found = true;

		json_object_object_get_ex(record, "response_body", &body);
		json_object_object_get_ex(body, "projects", &projects);
		for (size_t k = 0; k < json_object_array_length(projects); k++)
		{
			json_object *proj = json_object_array_get_idx(projects, k);

			neon_find_project_by_name(text, LOOKUP(proj, "name"), &id, &last, &count, &error);
			all_found = all_found && same(id, LOOKUP(proj, "id"));
			free(id);
			free(last);
			projects_seen++;
		}
		ok(all_found, "%s: every project found by name", names[i]);
		found = neon_find_project_by_name(text, "tenant-nobody", &id, &last, &count, &error);
		ok(found && id == NULL && count == (int) json_object_array_length(projects) &&
		   (count == 0 ? last == NULL : same(last, LOOKUP(body, "pagination", "cursor"))),
		   "%s: unknown name not found; %d on the page, last id %s", names[i], count, last);
		free(id);
		free(last);
		free(text);
		json_object_put(record);
	}
	ok(n >= 8 && projects_seen >= 6, "%d recorded project lists, %d projects", n, projects_seen);
	free_names(names);
}

/* Name matching is exact: Neon's search is a substring match, we must not be. */
static void
test_find_exact_name(void)
{
	const char *body = "{\"projects\":[{\"id\":\"a-1\",\"name\":\"tenant-acme-2\"},"
		"{\"id\":\"b-2\",\"name\":\"tenant-acme\"},{\"id\":\"c-3\",\"name\":\"TENANT-ACME\"}],"
		"\"pagination\":{\"cursor\":\"c-3\"}}";
	char	   *id;
	char	   *last;
	char	   *error = NULL;
	int			count;
	bool		found;

	ok(neon_find_project_by_name(body, "tenant-acme", &id, &last, &count, &error) &&
	   same(id, "b-2") && same(last, "c-3") && count == 3,
	   "exact name chosen among substring and case variants");
	free(id);
	free(last);
	found = neon_find_project_by_name("{\"items\":[]}", "x", &id, &last, &count, &error);
	ok(!found && error, "a body without projects[] is refused (%s)", error ? error : "");
	free(error);
	ok(!neon_find_project_by_name("<html>", "x", &id, &last, &count, &error) && error,
	   "a non-JSON body is refused");
	free(error);
}

/* GET /projects/{id}/endpoints, recorded and with several endpoints. */
static void
test_endpoints(void)
{
	json_object *record = load_recording("endpoints-04-get-projects_solitary_thunder_08372287_endpoints.json");
	char	   *text = body_text(record);
	NeonProject p = {0};
	char	   *error = NULL;
	bool		parsed;
	const char *several = "{\"endpoints\":["
		"{\"id\":\"ep-ro\",\"type\":\"read_only\",\"branch_id\":\"br-main\",\"host\":\"ep-ro.r.neon.tech\"},"
		"{\"id\":\"ep-dev\",\"type\":\"read_write\",\"branch_id\":\"br-dev\",\"host\":\"ep-dev.r.neon.tech\"},"
		"{\"id\":\"ep-main\",\"type\":\"read_write\",\"branch_id\":\"br-main\",\"host\":\"ep-main.r.neon.tech\"}]}";

	ok(text && neon_parse_endpoints(text, &p, &error), "endpoints-04: parses");
	ok(same(p.endpoint_id, "ep-dawn-king-a527wlyu") && same(p.branch_id, "br-calm-union-a59jz26r"),
	   "endpoints-04: endpoint %s on branch %s", p.endpoint_id, p.branch_id);
	ok(same(p.host, "ep-dawn-king-a527wlyu.us-east-2.aws.neon.tech") &&
	   same(p.pooler_host, "ep-dawn-king-a527wlyu-pooler.us-east-2.aws.neon.tech"),
	   "endpoints-04: host %s, pooler %s", p.host, p.pooler_host);
	neon_project_free(&p);

	p.branch_id = strdup("br-main");
	parsed = neon_parse_endpoints(several, &p, &error);
	ok(parsed && same(p.endpoint_id, "ep-main"), "the read_write endpoint of the default branch wins");
	neon_project_free(&p);
	ok(neon_parse_endpoints(several, &p, &error) && same(p.endpoint_id, "ep-dev"),
	   "without a known branch, the first read_write endpoint");
	neon_project_free(&p);
	parsed = neon_parse_endpoints("{\"endpoints\":[]}", &p, &error);
	ok(!parsed && error && p.endpoint_id == NULL, "no endpoint: refused, project untouched (%s)",
	   error ? error : "");
	free(error);
	free(text);
	json_object_put(record);
}

/* GET /projects/{id}/connection_uri, recorded and with percent-encoding. */
static void
test_connection_uri(void)
{
	json_object *record = load_recording("project-08-get-projects_long_forest_06846227_connection_uri.json");
	char	   *text = body_text(record);
	NeonProject p = {0};
	char	   *error = NULL;
	static const char *bad[] = {
		"{\"uri\":\"mysql://a:b@h/d\"}",
		"{\"uri\":\"postgresql://a:b@h\"}",
		"{\"uri\":\"postgresql://ab@h/d\"}",
		"{\"uri\":\"postgresql://a:b%2@h/d\"}",
		"{\"uri\":\"postgresql://a:b%00@h/d\"}",
		"{\"uri\":\"postgresql://a:b@h/?x=1\"}",
		"{\"url\":\"postgresql://a:b@h/d\"}",
	};

	ok(text && neon_parse_connection_uri(text, &p, &error), "project-08: parses");
	ok(same(p.role_name, "neondb_owner") && same(p.password, "hvMdgaKjIg8x") &&
	   same(p.database_name, "neondb") &&
	   same(p.host, "ep-jolly-frost-a57qv4wh-pooler.us-east-2.aws.neon.tech"),
	   "project-08: role, password, database and (pooled) host");
	neon_project_free(&p);

	ok(neon_parse_connection_uri("{\"uri\":\"postgresql://r%40x:p%2Fw%3A%40@ep-a.r.neon.tech:5432/db%2D1"
								 "?sslmode=require&channel_binding=require\"}", &p, &error) &&
	   same(p.role_name, "r@x") && same(p.password, "p/w:@") && same(p.host, "ep-a.r.neon.tech") &&
	   same(p.database_name, "db-1"),
	   "percent-decoding, a port and extra parameters");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		ok(!neon_parse_connection_uri(bad[i], &p, &error) && error && same(p.role_name, "r@x"),
		   "malformed %s refused, project untouched", bad[i]);
		free(error);
	}
	neon_project_free(&p);
	free(text);
	json_object_put(record);
}

/* Only unfinished operations are kept; a create without connection_uris still parses. */
static void
test_operations_and_fallbacks(void)
{
	const char *body = "{\"project\":{\"id\":\"p-1\",\"org_id\":\"org-x\"},"
		"\"branch\":{\"id\":\"br-1\"},"
		"\"endpoints\":[{\"id\":\"ep-1\",\"type\":\"read_write\",\"branch_id\":\"br-1\","
		"\"host\":\"ep-1.eu-central-1.aws.neon.tech\"}],"
		"\"roles\":[{\"name\":\"app\",\"password\":\"s3cret\"}],"
		"\"databases\":[{\"name\":\"appdb\"}],"
		"\"operations\":[{\"id\":\"o1\",\"status\":\"finished\"},{\"id\":\"o2\",\"status\":\"running\"},"
		"{\"id\":\"o3\",\"status\":\"skipped\"},{\"id\":\"o4\",\"status\":\"cancelled\"},"
		"{\"id\":\"o5\",\"status\":\"scheduling\"},{\"id\":\"o6\",\"status\":\"failed\"}]}";
	NeonProject p;
	char	   *error = NULL;
	bool		parsed;

	ok(neon_parse_create_project(body, &p, &error), "synthetic create response parses");
	ok(p.n_operations == 3 && same(p.operation_ids[0], "o2") && same(p.operation_ids[1], "o5") &&
	   same(p.operation_ids[2], "o6"), "finished, skipped and cancelled operations are dropped");
	ok(same(p.org_id, "org-x") && same(p.role_name, "app") && same(p.password, "s3cret") &&
	   same(p.database_name, "appdb") && same(p.host, "ep-1.eu-central-1.aws.neon.tech") &&
	   same(p.pooler_host, "ep-1-pooler.eu-central-1.aws.neon.tech"),
	   "without connection_uris: roles[], databases[], endpoint host and a derived pooler host");
	neon_project_free(&p);

	parsed = neon_parse_create_project("{\"project\":{\"id\":\"p\"}}", &p, &error);
	ok(!parsed && error && p.project_id == NULL, "a create response without a branch is refused (%s)",
	   error ? error : "");
	free(error);
	ok(!neon_parse_create_project("not json", &p, &error) && error, "a non-JSON body is refused");
	free(error);
	ok(!neon_parse_create_project(NULL, &p, &error) && error, "a NULL body is refused");
	free(error);
}

/* GeneralError bodies and anything else an API (or a proxy in front of it) may send. */
static void
test_error_messages(void)
{
	static const char bad_utf8[] = "\xff\xfe bad \xc3\x28 ok \xc3\xa9";
	static const char sanitized[] = "?? bad ?( ok \xc3\xa9";
	char		big[2000];
	char	   *m;

	m = neon_error_message("{\"code\":\"PROJECTS_LIMIT_EXCEEDED\",\"message\":\"limit of 1 exceeded\"}");
	ok(same(m, "PROJECTS_LIMIT_EXCEEDED: limit of 1 exceeded"), "code: message (%s)", m);
	free(m);
	m = neon_error_message("{\"code\":\"\",\"message\":\"rate limit exceeded\",\"request_id\":\"x\"}");
	ok(same(m, "rate limit exceeded"), "empty code: message only (%s)", m);
	free(m);
	m = neon_error_message("<html>\r\n<head><title>502 Bad Gateway</title></head>\n</html>");
	ok(same(m, "<html> <head><title>502 Bad Gateway</title></head> </html>"),
	   "non-JSON body: one-line excerpt (%s)", m);
	free(m);
	m = neon_error_message("");
	ok(same(m, "empty body"), "empty body (%s)", m);
	free(m);
	m = neon_error_message(NULL);
	ok(same(m, "empty body"), "NULL body");
	free(m);
	m = neon_error_message("{\"error\":\"x\"}");
	ok(same(m, "{\"error\":\"x\"}"), "JSON that is not a GeneralError: excerpt (%s)", m);
	free(m);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	m = neon_error_message(big);
	ok(m && strlen(m) <= 220 && strstr(m, "...") != NULL, "a long body is cut (%zu bytes)", strlen(m));
	free(m);

	memcpy(big, bad_utf8, sizeof(bad_utf8) - 1);
	for (int i = 0; i < 100; i++)
		memcpy(big + sizeof(bad_utf8) - 1 + 2 * i, "\xc3\xa9", 2);
	m = neon_error_message(big);
	ok(m && strncmp(m, sanitized, strlen(sanitized)) == 0, "invalid UTF-8 replaced (%.30s)", m ? m : "");
	ok(m && strlen(m) <= 220 && (m[strlen(m) - 4] & 0xC0) != 0xC0,
	   "a cut never splits a UTF-8 character");
	free(m);
}

/* The pooled host is derived by suffixing the first label. */
static void
test_pooler_host(void)
{
	char	   *h;

	h = neon_pooler_host("ep-jolly-frost-a57qv4wh.us-east-2.aws.neon.tech");
	ok(same(h, "ep-jolly-frost-a57qv4wh-pooler.us-east-2.aws.neon.tech"), "pooler host (%s)", h);
	free(h);
	h = neon_pooler_host("ep-x-pooler.eastus2.azure.neon.tech");
	ok(same(h, "ep-x-pooler.eastus2.azure.neon.tech"), "an already pooled host is kept");
	free(h);
	h = neon_pooler_host("localhost");
	ok(same(h, "localhost-pooler"), "a single label");
	free(h);
	ok(neon_pooler_host(NULL) == NULL, "NULL in, NULL out");
}

/* Whether obj.key is an integer equal to `expected`. */
static bool
has_int(json_object *obj, const char *key, long long expected)
{
	json_object *v;

	return json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_int) &&
		json_object_get_int64(v) == expected;
}

/* Whether obj.key is a number equal to `expected`. */
static bool
has_double(json_object *obj, const char *key, double expected)
{
	json_object *v;

	return json_object_object_get_ex(obj, key, &v) &&
		(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) &&
		json_object_get_double(v) == expected;
}

/* The create body parses back with every field where Neon reads it. */
static void
test_build_create(void)
{
	NeonProjectSpec spec = {
		.name = "tenant-acme", .org_id = "org-agent-paid", .region_id = "aws-us-east-2",
		.pg_version = 17, .history_retention_seconds = 604800,
		.database_name = "app", .role_name = "app_owner",
		.autoscaling_min_cu = 0.25, .autoscaling_max_cu = 2, .suspend_timeout_seconds = 300,
		.active_time_seconds = 2700000, .compute_time_seconds = 0,
		.written_data_bytes = 53687091200LL, .data_transfer_bytes = 53687091200LL,
		.logical_size_bytes = 10737418240LL,
	};
	char	   *body = neon_build_create_project(&spec);
	json_object *root = json_tokener_parse(body);
	json_object *project = NULL;
	json_object *v;

	ok(root && json_object_object_get_ex(root, "project", &project), "create body: {project: ...}");
	ok(same(LOOKUP(project, "name"), "tenant-acme") && same(LOOKUP(project, "org_id"), "org-agent-paid") &&
	   same(LOOKUP(project, "region_id"), "aws-us-east-2"), "name, org_id, region_id");
	ok(has_int(project, "pg_version", 17), "pg_version");
	ok(has_int(project, "history_retention_seconds", 604800), "history_retention_seconds at project level");
	ok(json_object_object_get_ex(project, "settings", &v) &&
	   !json_object_object_get_ex(v, "history_retention_seconds", NULL),
	   "history_retention_seconds not under settings");
	ok(json_object_object_get_ex(v, "quota", &v) && json_object_object_length(v) == 5,
	   "settings.quota has all five fields");
	ok(has_int(v, "active_time_seconds", 2700000) && has_int(v, "compute_time_seconds", 0) &&
	   has_int(v, "written_data_bytes", 53687091200LL) && has_int(v, "data_transfer_bytes", 53687091200LL) &&
	   has_int(v, "logical_size_bytes", 10737418240LL), "quota values, 64-bit ones intact");
	ok(json_object_object_get_ex(project, "default_endpoint_settings", &v) &&
	   json_object_object_length(v) == 3, "default_endpoint_settings with three fields");
	ok(has_double(v, "autoscaling_limit_min_cu", 0.25) && has_double(v, "autoscaling_limit_max_cu", 2.0) &&
	   has_int(v, "suspend_timeout_seconds", 300), "autoscaling limits and suspend timeout");
	ok(same(LOOKUP(project, "branch", "database_name"), "app") &&
	   same(LOOKUP(project, "branch", "role_name"), "app_owner"), "branch database and role");
	json_object_put(root);
	free(body);

	spec.org_id = NULL;
	spec.name = "quote\" and \\ back";
	body = neon_build_create_project(&spec);
	root = json_tokener_parse(body);
	json_object_object_get_ex(root, "project", &project);
	ok(project && !json_object_object_get_ex(project, "org_id", NULL) &&
	   same(LOOKUP(project, "name"), "quote\" and \\ back"), "no org_id when none is given; names escaped");
	json_object_put(root);
	free(body);
}

/* Runs every test against the recordings found. */
int
main(void)
{
	responses_dir = find_responses_dir();
	printf("# recorded responses from %s\n", responses_dir);
	test_recorded_creates();
	test_project_03();
	test_recorded_lists();
	test_find_exact_name();
	test_endpoints();
	test_connection_uri();
	test_operations_and_fallbacks();
	test_error_messages();
	test_pooler_host();
	test_build_create();
	return done_testing();
}
