/*
 * test_neon_json.c
 *		The Neon request builder, response parsers and value checks of
 *		src/neon, mostly against responses recorded from the live API
 *		(test/fixtures/real-responses), and against hostile answers.
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

#include "neon/json_prelude.h"
#include "neon/neon_common.h"
#include "neon/neon_connection_uri.h"
#include "neon/neon_endpoints.h"
#include "neon/neon_operations.h"
#include "neon/neon_projects.h"
#include "tap.h"

static const char *responses_dir;

/* Where the recordings are: $NEON_REAL_RESPONSES, or the repository's fixtures (make unit runs from its root). */
static const char *
find_responses_dir(void)
{
	const char *env = getenv("NEON_REAL_RESPONSES");

	return (env && env[0]) ? env : "test/fixtures/real-responses";
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

/*
 * Whether `ids` are those of the operations of `body` that are neither
 * finished, skipped nor cancelled, in order.
 */
static bool
operations_match(json_object *body, char **ids, int n)
{
	json_object *ops;
	int			k = 0;

	if (!json_object_object_get_ex(body, "operations", &ops))
		return n == 0;
	for (size_t i = 0; i < json_object_array_length(ops); i++)
	{
		json_object *op = json_object_array_get_idx(ops, i);
		const char *status = LOOKUP(op, "status");

		if (same(status, "finished") || same(status, "skipped") || same(status, "cancelled"))
			continue;
		if (k >= n || !same(ids[k], LOOKUP(op, "id")))
			return false;
		k++;
	}
	return k == n;
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
	ok(p.n_operations > 0 && operations_match(body, p.operation_ids, p.n_operations),
	   "%s: %d unfinished operations", name, p.n_operations);
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
	ok(same(p.password, "npg_Fixture00Passw0rd"), "project-03: password");
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
	ok(same(p.role_name, "neondb_owner") && same(p.password, "npg_Fixture00Passw0rd") &&
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
	h = neon_pooler_host("127.0.0.1:40001");
	ok(same(h, "127.0.0.1:40002"), "a local compute's pooler listens on the next port (%s)", h);
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

/* Whether obj.key is an object with exactly `members` members; *out is that object. */
static bool
has_object(json_object *obj, const char *key, int members, json_object **out)
{
	return json_object_object_get_ex(obj, key, out) && json_object_is_type(*out, json_type_object) &&
		json_object_object_length(*out) == members;
}

/* The tier PATCH body parses back with only the tier's fields, zeros included, where Neon reads them. */
static void
test_build_update_project(void)
{
	NeonProjectSpec spec = {
		.name = "tenant-acme", .org_id = "org-agent-paid", .region_id = "aws-us-east-2",
		.pg_version = 17, .history_retention_seconds = 0,
		.database_name = "app", .role_name = "app_owner",
		.autoscaling_min_cu = 0.25, .autoscaling_max_cu = 4, .suspend_timeout_seconds = -1,
		.active_time_seconds = 0, .compute_time_seconds = 36000,
		.written_data_bytes = 0, .data_transfer_bytes = 5368709120LL,
		.logical_size_bytes = 0,
	};
	char	   *body = neon_build_update_project(&spec);
	json_object *root = json_tokener_parse(body);
	json_object *project = NULL;
	json_object *settings = NULL;
	json_object *v = NULL;

	ok(root && json_object_object_length(root) == 1 && has_object(root, "project", 3, &project),
	   "update body: {project: {three fields}} (%s)", body);
	ok(has_int(project, "history_retention_seconds", 0), "history_retention_seconds 0 at project level");
	ok(!json_object_object_get_ex(project, "name", NULL) && !json_object_object_get_ex(project, "org_id", NULL) &&
	   !json_object_object_get_ex(project, "region_id", NULL) &&
	   !json_object_object_get_ex(project, "pg_version", NULL) &&
	   !json_object_object_get_ex(project, "branch", NULL), "no name, org_id, region_id, pg_version or branch");
	ok(has_object(project, "settings", 1, &settings) && has_object(settings, "quota", 5, &v),
	   "settings holds only quota, with all five fields");
	ok(has_int(v, "active_time_seconds", 0) && has_int(v, "compute_time_seconds", 36000) &&
	   has_int(v, "written_data_bytes", 0) && has_int(v, "data_transfer_bytes", 5368709120LL) &&
	   has_int(v, "logical_size_bytes", 0), "quota values: zeros sent, 64-bit ones intact");
	ok(!json_object_object_get_ex(settings, "history_retention_seconds", NULL),
	   "history_retention_seconds not under settings");
	ok(has_object(project, "default_endpoint_settings", 3, &v) &&
	   has_double(v, "autoscaling_limit_min_cu", 0.25) && has_double(v, "autoscaling_limit_max_cu", 4) &&
	   has_int(v, "suspend_timeout_seconds", -1),
	   "default_endpoint_settings: autoscaling limits and suspend timeout -1");
	json_object_put(root);
	free(body);

	spec.history_retention_seconds = 2592000;
	spec.suspend_timeout_seconds = 0;
	body = neon_build_update_project(&spec);
	root = json_tokener_parse(body);
	json_object_object_get_ex(root, "project", &project);
	ok(has_int(project, "history_retention_seconds", 2592000) &&
	   has_object(project, "default_endpoint_settings", 3, &v) && has_int(v, "suspend_timeout_seconds", 0),
	   "history_retention_seconds 2592000, suspend timeout 0");
	json_object_put(root);
	free(body);
}

/* The endpoint PATCH body parses back as {endpoint: {the three settings}}. */
static void
test_build_update_endpoint(void)
{
	static const struct
	{
		double		min_cu;
		double		max_cu;
		int			suspend;
	}			cases[] = {{0.25, 0.25, 0}, {0.5, 2, 300}, {1, 8, -1}, {2, 56, 604800}};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char	   *body = neon_build_update_endpoint(cases[i].min_cu, cases[i].max_cu, cases[i].suspend);
		json_object *root = json_tokener_parse(body);
		json_object *ep = NULL;

		ok(root && json_object_object_length(root) == 1 && has_object(root, "endpoint", 3, &ep) &&
		   has_double(ep, "autoscaling_limit_min_cu", cases[i].min_cu) &&
		   has_double(ep, "autoscaling_limit_max_cu", cases[i].max_cu) &&
		   has_int(ep, "suspend_timeout_seconds", cases[i].suspend),
		   "endpoint update body %s", body);
		json_object_put(root);
		free(body);
	}
}

/* The compute settings of every endpoint, recorded and synthetic. */
static void
test_endpoint_settings(void)
{
	json_object *record = load_recording("endpoints-04-get-projects_solitary_thunder_08372287_endpoints.json");
	char	   *text = body_text(record);
	json_object *body = NULL;
	json_object *first = NULL;
	NeonEndpointSettings *s = NULL;
	int			n = -1;
	char	   *error = NULL;
	bool		parsed;
	const char *several = "{\"endpoints\":["
		"{\"id\":\"ep-a\",\"autoscaling_limit_min_cu\":1,\"autoscaling_limit_max_cu\":8,"
		"\"suspend_timeout_seconds\":-1,\"type\":\"read_write\"},"
		"{\"id\":\"ep-b\",\"autoscaling_limit_min_cu\":0.25,\"autoscaling_limit_max_cu\":2.5,"
		"\"suspend_timeout_seconds\":300,\"type\":\"read_only\"}],\"pagination\":{}}";

	json_object_object_get_ex(record, "response_body", &body);
	json_object_object_get_ex(body, "endpoints", &first);
	first = json_object_array_get_idx(first, 0);
	parsed = text && neon_parse_endpoint_settings(text, &s, &n, &error);
	ok(parsed && n == 1 && s != NULL, "endpoints-04: settings parse, one endpoint (%s)", error ? error : "ok");
	if (parsed && n == 1)
	{
		ok(same(s[0].endpoint_id, LOOKUP(first, "id")) && same(s[0].endpoint_id, "ep-dawn-king-a527wlyu"),
		   "endpoints-04: endpoint id %s", s[0].endpoint_id);
		ok(has_double(first, "autoscaling_limit_min_cu", s[0].autoscaling_min_cu) &&
		   has_double(first, "autoscaling_limit_max_cu", s[0].autoscaling_max_cu) &&
		   s[0].autoscaling_min_cu == 0.25 && s[0].autoscaling_max_cu == 0.25,
		   "endpoints-04: autoscaling %g to %g CU", s[0].autoscaling_min_cu, s[0].autoscaling_max_cu);
		ok(has_int(first, "suspend_timeout_seconds", s[0].suspend_timeout_seconds) &&
		   s[0].suspend_timeout_seconds == 0, "endpoints-04: suspend timeout 0");
	}
	neon_endpoint_settings_free(s, n);
	free(text);
	json_object_put(record);

	ok(neon_parse_endpoint_settings(several, &s, &n, &error) && n == 2 &&
	   same(s[0].endpoint_id, "ep-a") && s[0].autoscaling_min_cu == 1 && s[0].autoscaling_max_cu == 8 &&
	   s[0].suspend_timeout_seconds == -1 &&
	   same(s[1].endpoint_id, "ep-b") && s[1].autoscaling_min_cu == 0.25 && s[1].autoscaling_max_cu == 2.5 &&
	   s[1].suspend_timeout_seconds == 300,
	   "every endpoint, read_only too; integer CUs and suspend timeout -1");
	neon_endpoint_settings_free(s, n);
	ok(neon_parse_endpoint_settings("{\"endpoints\":[]}", &s, &n, &error) && s == NULL && n == 0,
	   "no endpoints: NULL and 0");
}

/* Whether `haystack` holds `needle`; NULL-safe. */
static bool
contains(const char *haystack, const char *needle)
{
	return haystack && strstr(haystack, needle) != NULL;
}

/* One value given to a check, and whether it must pass. */
typedef struct ValueCase
{
	const char *value;
	size_t		len;			/* 0: strlen(value) */
	bool		valid;
} ValueCase;

/* A value fit for a TAP line: itself when it is printable ASCII, else a placeholder. */
static const char *
printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] > 0x7E)
			return "(unprintable bytes)";
	return s;
}

/* Runs a table of values through one check. */
static void
check_values(const char *check, bool (*valid) (const char *, size_t),
			 const ValueCase *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		size_t		len = cases[i].len ? cases[i].len : strlen(cases[i].value);

		ok(valid(cases[i].value, len) == cases[i].valid, "%s: %.40s (%zu bytes) %s",
		   check, printable(cases[i].value, len), len, cases[i].valid ? "passes" : "fails");
	}
}

#define CHECK_VALUES(check, ...) \
	check_values(#check, check, (const ValueCase[]) {__VA_ARGS__}, \
				 sizeof((const ValueCase[]) {__VA_ARGS__}) / sizeof(ValueCase))

/* The checks themselves, at their edges. */
static void
test_value_checks(void)
{
	char		label63[64];
	char		long_host[300];

	memset(label63, 'a', 63);
	label63[63] = '\0';
	/* 4 labels of 63 and one of 1, joined: 4 * 64 + 1 = 257 bytes; cut to 253 and 254. */
	snprintf(long_host, sizeof(long_host), "%s.%s.%s.%s.a", label63, label63, label63, label63);

	CHECK_VALUES(neon_valid_id,
				 {"long-forest-06846227", 0, true},
				 {"389d2336-3e9f-41b6-9042-5f06317b30d4", 0, true},
				 {"org-agent-paid", 0, true},
				 {"", 0, false},
				 {"../../steal?x=1#", 0, false},
				 {"a/b", 0, false},
				 {"Ep-1", 0, false},
				 {"ep_1", 0, false},
				 {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, true},
				 {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, false},
				 {"ab\0cd", 5, false});
	CHECK_VALUES(neon_valid_host,
				 {"ep-jolly-frost-a57qv4wh.us-east-2.aws.neon.tech", 0, true},
				 {"127.0.0.1", 0, true},
				 {"localhost", 0, true},
				 {"EP-1.Example.COM", 0, true},
				 {label63, 0, true},
				 {long_host, 253, true},
				 {long_host, 254, false},
				 {"javascript:alert(1)//", 0, false},
				 {"https://ep-1.neon.tech", 0, false},
				 {"ep-1.neon.tech:5432", 0, false},
				 {"127.0.0.1:54321", 0, true},
				 {"127.10.200.3:1", 0, true},
				 {"127.0.0.1:65535", 0, true},
				 {"127.0.0.1:65536", 0, false},
				 {"127.0.0.1:0", 0, false},
				 {"127.0.0.1:", 0, false},
				 {"127.0.0.1:5432x", 0, false},
				 {"127.0.0.1:5432/db", 0, false},
				 {"127.0.0.256:5432", 0, false},
				 {"127.0.0:5432", 0, false},
				 {"127.0.0.1.5:5432", 0, false},
				 {"10.0.0.1:5432", 0, false},
				 {"localhost:5432", 0, false},
				 {"127.0.0.1:54:32", 0, false},
				 {"127.0.0.1:5432\0", 15, false},
				 {"user@ep-1.neon.tech", 0, false},
				 {"ep-1.neon.tech/x", 0, false},
				 {"ep 1.neon.tech", 0, false},
				 {"-ep.neon.tech", 0, false},
				 {"ep-.neon.tech", 0, false},
				 {"ep..neon.tech", 0, false},
				 {".neon.tech", 0, false},
				 {"neon.tech.", 0, false},
				 {"", 0, false},
				 {"ep-1.neon.tech\0evil", 19, false});
	ok(!neon_valid_host("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.x", 66),
	   "neon_valid_host: a label of 64 bytes fails");
	CHECK_VALUES(neon_valid_utf8,
				 {"", 0, true},
				 {"plain", 0, true},
				 {"\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 0, true},
				 {"\xff\xfe", 0, false},
				 {"\xc3\x28", 0, false},
				 {"\xc0\x80", 0, false},
				 {"\xe0\x80\xaf", 0, false},
				 {"\xed\xa0\x80", 0, false},
				 {"\xf4\x90\x80\x80", 0, false},
				 {"\xf0\x9f\x98", 0, false},
				 {"a\0b", 3, false});
	CHECK_VALUES(neon_valid_name,
				 {"neondb_owner", 0, true},
				 {"r\xc3\xb4le \"x\"", 0, true},
				 {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, true},
				 {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, false},
				 {"", 0, false},
				 {"a\nb", 0, false},
				 {"a\x7f", 0, false},
				 {"a\xc2\x85", 0, false},
				 {"\xff", 0, false},
				 {"a\0b", 3, false});
	CHECK_VALUES(neon_valid_password,
				 {"npg_Fixture00Passw0rd", 0, true},
				 {"p/w:@ \xc3\xa9", 0, true},
				 {"", 0, false},
				 {"\xff\xfe", 0, false},
				 {"pa\0ss", 5, false});
}

/* A create response; each argument is the raw JSON text of one string value. */
static char *
create_body(const char *project_id, const char *host, const char *role, const char *password)
{
	char	   *body;

	if (asprintf(&body, "{\"project\":{\"id\":\"%s\"},\"branch\":{\"id\":\"br-1\"},"
				 "\"endpoints\":[{\"id\":\"ep-1\",\"type\":\"read_write\",\"branch_id\":\"br-1\","
				 "\"host\":\"%s\"}],\"roles\":[{\"name\":\"%s\",\"password\":\"%s\"}],"
				 "\"databases\":[{\"name\":\"appdb\"}],"
				 "\"operations\":[{\"id\":\"op-1\",\"status\":\"running\"}]}",
				 project_id, host, role, password) < 0)
		return NULL;
	return body;
}

/*
 * A create response with one bad value is refused: the error names `field`,
 * repeats no more than a bounded excerpt, and never the word SECRET that
 * the bad passwords carry; nothing is returned.
 */
static void
refuse_create(const char *what, char *body, const char *field)
{
	NeonProject p;
	char	   *error = NULL;
	bool		parsed = neon_parse_create_project(body, &p, &error);

	ok(!parsed && contains(error, field) && !contains(error, "SECRET") && strlen(error) < 250 &&
	   p.project_id == NULL && p.password == NULL,
	   "create with %s refused (%s)", what, error ? error : "no error");
	if (parsed)
		neon_project_free(&p);
	free(error);
	free(body);
}

/* Hostile values in a create response. */
static void
test_hostile_create(void)
{
	char		long_id[1001];
	char	   *body = create_body("p-1", "ep-1.r.neon.tech", "app", "s3cret");
	NeonProject p;
	char	   *error = NULL;

	ok(neon_parse_create_project(body, &p, &error) && same(p.password, "s3cret") &&
	   p.n_operations == 1, "the well-formed base of the hostile creates parses");
	neon_project_free(&p);
	free(body);

	refuse_create("project id ../../steal?x=1#", create_body("../../steal?x=1#", "h.r", "app", "pw"),
				  "project.id \"../../steal?x=1#\"");
	refuse_create("host javascript:alert(1)//", create_body("p-1", "javascript:alert(1)//", "app", "pw"),
				  "host \"javascript:alert(1)//\"");
	refuse_create("a password of invalid UTF-8", create_body("p-1", "h.r", "app", "\xff\xfeSECRET"),
				  "password is not");
	refuse_create("a password with an escaped NUL", create_body("p-1", "h.r", "app", "pa\\u0000SECRET"),
				  "password is not");
	refuse_create("an empty password", create_body("p-1", "h.r", "app", ""), "password is not");
	refuse_create("a role name of 64 bytes",
				  create_body("p-1", "h.r", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "pw"),
				  "role name");
	refuse_create("a role name with a newline", create_body("p-1", "h.r", "a\\nb", "pw"), "role name");
	refuse_create("a host of 64-byte first label (its pooler host too long)",
				  create_body("p-1", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.r", "app", "pw"),
				  "pooler host derived");

	memset(long_id, 'X', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	refuse_create("a 1000-byte bad id (excerpt bounded)", create_body(long_id, "h.r", "app", "pw"),
				  "project.id \"XXXX");
	refuse_create("an org id with a slash",
				  strdup("{\"project\":{\"id\":\"p-1\",\"org_id\":\"org/x\"},\"branch\":{\"id\":\"br-1\"}}"),
				  "project.org_id");
	refuse_create("a branch id with a space",
				  strdup("{\"project\":{\"id\":\"p-1\"},\"branch\":{\"id\":\"br 1\"}}"), "branch.id");
	refuse_create("an operation id with a slash",
				  strdup("{\"project\":{\"id\":\"p-1\"},\"operations\":[{\"id\":\"o/1\",\"status\":\"running\"}]}"),
				  "operations[0].id");
	refuse_create("a bad pooler_host in connection_parameters",
				  strdup("{\"project\":{\"id\":\"p-1\"},\"branch\":{\"id\":\"br-1\"},"
						 "\"connection_uris\":[{\"connection_parameters\":{\"pooler_host\":\"a@b\"}}]}"),
				  "pooler host \"a@b\"");
	refuse_create("trailing data after the object",
				  create_body("p-1\"}} {\"x\":{\"y\":\"", "h.r", "app", "pw"), "not a JSON object");
}

/* Hostile values in endpoint lists and connection URIs leave the project as it was. */
static void
test_hostile_endpoints_and_uris(void)
{
	NeonProject p = {0};
	char	   *error = NULL;
	static const char *bad_endpoints[] = {
		"{\"endpoints\":[{\"id\":\"ep-1\",\"type\":\"read_write\",\"host\":\"javascript:alert(1)//\"}]}",
		"{\"endpoints\":[{\"id\":\"EP_1\",\"type\":\"read_write\",\"host\":\"ep-1.r.neon.tech\"}]}",
		"{\"endpoints\":[{\"id\":\"ep-1\",\"type\":\"read_write\",\"branch_id\":\"../br\",\"host\":\"h.r\"}]}",
		"{\"endpoints\":[{\"id\":\"ep-1\",\"type\":\"read_write\"}]}",
	};
	static const char *bad_uris[] = {
		"{\"uri\":\"postgresql://a:b@javascript:alert(1)//d\"}",
		"{\"uri\":\"postgresql://a:b@ep%2Fx.r.neon.tech/d\"}",
		"{\"uri\":\"postgresql://a:b@h.r:54a/d\"}",
		"{\"uri\":\"postgresql://a:%FF%FESECRET@h.r/d\"}",
		"{\"uri\":\"postgresql://a:SECRET@h.r/d\\u0000x\"}",
		"{\"uri\":\"postgresql://a%0Ab:SECRET@h.r/d\"}",
		"{\"uri\":\"postgresql://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:SECRET@h.r/d\"}",
		"{\"uri\":\"postgresql://a:SECRET@h.r/d\"} trailing",
	};

	p.endpoint_id = strdup("ep-old");
	p.host = strdup("ep-old.r.neon.tech");
	p.role_name = strdup("old");
	for (size_t i = 0; i < sizeof(bad_endpoints) / sizeof(bad_endpoints[0]); i++)
	{
		bool		parsed = neon_parse_endpoints(bad_endpoints[i], &p, &error);

		ok(!parsed && error && same(p.endpoint_id, "ep-old") && same(p.host, "ep-old.r.neon.tech"),
		   "endpoints %zu refused, project untouched (%s)", i, error ? error : "");
		free(error);
	}
	for (size_t i = 0; i < sizeof(bad_uris) / sizeof(bad_uris[0]); i++)
	{
		bool		parsed = neon_parse_connection_uri(bad_uris[i], &p, &error);

		ok(!parsed && error && !contains(error, "SECRET") &&
		   same(p.role_name, "old") && same(p.host, "ep-old.r.neon.tech"),
		   "connection uri %zu refused, project untouched (%s)", i, error ? error : "");
		free(error);
	}
	ok(neon_parse_connection_uri("{\"uri\":\"postgres://a:b@10.0.0.1:5432/d\"}\n", &p, &error) &&
	   same(p.host, "10.0.0.1"), "an IPv4 host, a port and a trailing newline are fine");
	ok(neon_parse_connection_uri("{\"uri\":\"postgresql://a:b@127.0.0.1:40001/d?sslmode=require\"}", &p, &error) &&
	   same(p.host, "127.0.0.1:40001"), "a local compute's port stays part of the host (%s)", p.host);
	neon_project_free(&p);
}

/* A list page with a bad id is refused whole: its ids reach request paths and the next cursor. */
static void
test_hostile_lists(void)
{
	static const char *bad_pages[] = {
		"{\"projects\":[{\"id\":\"p-1\",\"name\":\"tenant-acme\"},{\"id\":\"a/b\",\"name\":\"x\"}]}",
		"{\"projects\":[{\"id\":\"a/b\",\"name\":\"tenant-acme\"}]}",
		"{\"projects\":[{\"id\":\"p-1\",\"name\":\"x\"},{\"name\":\"y\"}]}",
		"{\"projects\":[{\"id\":\"p-1\",\"name\":\"x\"},{\"id\":\"p-2\\u0000/x\",\"name\":\"y\"}]}",
	};
	char	   *id;
	char	   *last;
	char	   *error = NULL;
	int			count;

	for (size_t i = 0; i < sizeof(bad_pages) / sizeof(bad_pages[0]); i++)
	{
		bool		found = neon_find_project_by_name(bad_pages[i], "tenant-acme", &id, &last, &count, &error);

		ok(!found && contains(error, "projects[") && id == NULL && last == NULL && count == 0,
		   "list page %zu refused (%s)", i, error ? error : "");
		free(error);
	}
}

/* Endpoint settings with one bad value: the whole list is refused, nothing returned. */
static void
test_hostile_endpoint_settings(void)
{
	static const struct
	{
		const char *what;
		const char *endpoint;	/* the second endpoint of the list */
		const char *field;		/* what the error must name */
	}			cases[] = {
		{"id ../x", "\"id\":\"../x\",\"autoscaling_limit_min_cu\":1,\"autoscaling_limit_max_cu\":1,"
		"\"suspend_timeout_seconds\":0", "endpoints[1].id \"../x\""},
		{"no id", "\"autoscaling_limit_min_cu\":1,\"autoscaling_limit_max_cu\":1,"
		"\"suspend_timeout_seconds\":0", "endpoints[1].id is missing"},
		{"id with NUL", "\"id\":\"ep\\u0000x\",\"autoscaling_limit_min_cu\":1,\"autoscaling_limit_max_cu\":1,"
		"\"suspend_timeout_seconds\":0", "endpoints[1].id"},
		{"no settings at all", "\"id\":\"ep-b\"", "endpoints[1].autoscaling_limit_min_cu is missing"},
		{"no max CU", "\"id\":\"ep-b\",\"autoscaling_limit_min_cu\":1,\"suspend_timeout_seconds\":0",
		"endpoints[1].autoscaling_limit_max_cu is missing"},
		{"no suspend timeout", "\"id\":\"ep-b\",\"autoscaling_limit_min_cu\":1,\"autoscaling_limit_max_cu\":1",
		"endpoints[1].suspend_timeout_seconds is missing"},
		{"CU as a string", "\"id\":\"ep-b\",\"autoscaling_limit_min_cu\":\"0.25\",\"autoscaling_limit_max_cu\":1,"
		"\"suspend_timeout_seconds\":0", "endpoints[1].autoscaling_limit_min_cu is missing or not a number"},
		{"CU as a boolean", "\"id\":\"ep-b\",\"autoscaling_limit_min_cu\":1,\"autoscaling_limit_max_cu\":true,"
		"\"suspend_timeout_seconds\":0", "endpoints[1].autoscaling_limit_max_cu is missing or not a number"},
		{"CU null", "\"id\":\"ep-b\",\"autoscaling_limit_min_cu\":null,\"autoscaling_limit_max_cu\":1,"
		"\"suspend_timeout_seconds\":0", "endpoints[1].autoscaling_limit_min_cu is missing or not a number"},
		{"CU NaN", "\"id\":\"ep-b\",\"autoscaling_limit_min_cu\":NaN,\"autoscaling_limit_max_cu\":1,"
		"\"suspend_timeout_seconds\":0", "endpoints[1].autoscaling_limit_min_cu"},
		{"CU negative", "\"id\":\"ep-b\",\"autoscaling_limit_min_cu\":-0.25,\"autoscaling_limit_max_cu\":1,"
		"\"suspend_timeout_seconds\":0", "endpoints[1].autoscaling_limit_min_cu is not a number of compute units"},
		{"CU 1e999", "\"id\":\"ep-b\",\"autoscaling_limit_min_cu\":1,\"autoscaling_limit_max_cu\":1e999,"
		"\"suspend_timeout_seconds\":0", "endpoints[1].autoscaling_limit_max_cu"},
		{"suspend timeout 300.5", "\"id\":\"ep-b\",\"autoscaling_limit_min_cu\":1,\"autoscaling_limit_max_cu\":1,"
		"\"suspend_timeout_seconds\":300.5", "endpoints[1].suspend_timeout_seconds is missing or not an integer"},
		{"suspend timeout as a string", "\"id\":\"ep-b\",\"autoscaling_limit_min_cu\":1,"
		"\"autoscaling_limit_max_cu\":1,\"suspend_timeout_seconds\":\"300\"",
		"endpoints[1].suspend_timeout_seconds is missing or not an integer"},
		{"suspend timeout -2", "\"id\":\"ep-b\",\"autoscaling_limit_min_cu\":1,\"autoscaling_limit_max_cu\":1,"
		"\"suspend_timeout_seconds\":-2", "endpoints[1].suspend_timeout_seconds is not between -1 and 604800"},
		{"suspend timeout 2^32", "\"id\":\"ep-b\",\"autoscaling_limit_min_cu\":1,\"autoscaling_limit_max_cu\":1,"
		"\"suspend_timeout_seconds\":4294967296", "endpoints[1].suspend_timeout_seconds is not between"},
	};
	static const char *bad_lists[] = {
		"{\"items\":[]}",
		"{\"endpoints\":{}}",
		"{\"endpoints\":[\"ep-a\"]}",
		"[]",
		"{\"endpoints\":[]} trailing",
	};
	NeonEndpointSettings *s;
	int			n;
	char	   *error = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		char	   *body;
		bool		parsed;

		if (asprintf(&body, "{\"endpoints\":[{\"id\":\"ep-a\",\"autoscaling_limit_min_cu\":0.25,"
					 "\"autoscaling_limit_max_cu\":1,\"suspend_timeout_seconds\":0},{%s}]}",
					 cases[i].endpoint) < 0)
			continue;
		parsed = neon_parse_endpoint_settings(body, &s, &n, &error);
		ok(!parsed && contains(error, cases[i].field) && s == NULL && n == 0,
		   "endpoint settings with %s refused (%s)", cases[i].what, error ? error : "no error");
		if (parsed)
			neon_endpoint_settings_free(s, n);
		free(error);
		free(body);
	}
	for (size_t i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++)
	{
		bool		parsed = neon_parse_endpoint_settings(bad_lists[i], &s, &n, &error);

		ok(!parsed && error && s == NULL && n == 0, "endpoint list %s refused (%s)", bad_lists[i],
		   error ? error : "no error");
		if (parsed)
			neon_endpoint_settings_free(s, n);
		free(error);
	}
}

/* The body of GET /projects/{id}/operations/{op} with one member left out or changed. */
static char *
operation_body(const char *skip, const char *status, const char *extra)
{
	char	   *body;

	if (asprintf(&body, "{\"operation\":{%s%s%s%s\"failures_count\":0%s}}",
				 same(skip, "id") ? "" : "\"id\":\"d6ad21e4-725d-493f-a495-43867ad88d09\",",
				 same(skip, "project_id") ? "" : "\"project_id\":\"solitary-cell-58208823\",",
				 same(skip, "action") ? "" : "\"action\":\"start_compute\",",
				 same(skip, "status") ? "" : status, extra) < 0)
		return NULL;
	return body;
}

/* Parses a synthetic operation body, freeing it. */
static bool
parse_operation_body(char *body, NeonOperation *op, char **error)
{
	bool		parsed = neon_parse_operation(body, op, error);

	free(body);
	return parsed;
}

/*
 * An operation body (freed here) is refused with an error holding
 * `expected` and not `unwanted` (when given); nothing is returned.
 */
static void
refuse_operation(const char *what, char *body, const char *expected, const char *unwanted)
{
	NeonOperation op;
	char	   *error = NULL;
	bool		parsed = parse_operation_body(body, &op, &error);

	ok(!parsed && contains(error, expected) && !(unwanted && contains(error, unwanted)) && op.id == NULL,
	   "%s is refused (%s)", what, error ? error : "no error");
	if (parsed)
		neon_operation_free(&op);
	free(error);
}

/* GET /projects/{id}/operations/{op}: every status, its outcome, and what is refused. */
static void
test_operation_parsing(void)
{
	static const struct
	{
		const char *name;
		NeonOperationOutcome outcome;
	}			statuses[] = {
		{"scheduling", NEON_OUTCOME_IN_PROGRESS}, {"running", NEON_OUTCOME_IN_PROGRESS},
		{"cancelling", NEON_OUTCOME_IN_PROGRESS}, {"finished", NEON_OUTCOME_SUCCEEDED},
		{"skipped", NEON_OUTCOME_SUCCEEDED}, {"failed", NEON_OUTCOME_FAILED},
		{"error", NEON_OUTCOME_FAILED}, {"cancelled", NEON_OUTCOME_FAILED},
	};
	static const char *required[] = {"id", "project_id", "action", "status"};
	NeonOperation op;
	char	   *error = NULL;
	char		status[64];
	bool		parsed;

	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
	{
		snprintf(status, sizeof(status), "\"status\":\"%s\",", statuses[i].name);
		ok(parse_operation_body(operation_body(NULL, status, ""), &op, &error) &&
		   same(neon_operation_status_name(op.status), statuses[i].name) &&
		   neon_operation_outcome(op.status) == statuses[i].outcome &&
		   same(op.id, "d6ad21e4-725d-493f-a495-43867ad88d09") &&
		   same(op.project_id, "solitary-cell-58208823") && same(op.action, "start_compute") &&
		   op.error == NULL, "operation status %s, outcome %d", statuses[i].name, statuses[i].outcome);
		neon_operation_free(&op);
	}
	parsed = parse_operation_body(operation_body(NULL, "\"status\":\"failed\",",
												 ",\"error\":\"compute \\u00e9chec: OOM\""), &op, &error);
	ok(parsed && same(op.error, "compute \xc3\xa9" "chec: OOM"), "the error text of a failed operation (%s)",
	   op.error);
	neon_operation_free(&op);
	ok(op.id == NULL && op.error == NULL, "neon_operation_free clears the struct");
	ok(parse_operation_body(operation_body(NULL, "\"status\":\"running\",", ",\"error\":null"), &op, &error) &&
	   op.error == NULL, "a null error is no error");
	neon_operation_free(&op);

	refuse_operation("an unknown status", operation_body(NULL, "\"status\":\"paused\",", ""),
					 "operation.status \"paused\"", NULL);
	refuse_operation("an unknown status of odd shape, not repeated,",
					 operation_body(NULL, "\"status\":\"<b>\\u0000x\",", ""), "operation.status is not", "<b>");
	refuse_operation("a status in capitals", operation_body(NULL, "\"status\":\"Running\",", ""),
					 "operation.status", NULL);
	refuse_operation("a status that is not a string", operation_body(NULL, "\"status\":3,", ""),
					 "operation.status is missing or not a string", NULL);
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
	{
		snprintf(status, sizeof(status), "operation.%s is missing", required[i]);
		refuse_operation(status, operation_body(required[i], "\"status\":\"running\",", ""), status, NULL);
	}
	refuse_operation("an error text of invalid UTF-8",
					 operation_body(NULL, "\"status\":\"failed\",", ",\"error\":\"\xff\""), "operation.error", NULL);
	refuse_operation("a body without operation", strdup("{\"operations\":[]}"), "lacks operation", NULL);
	refuse_operation("an operation id outside the pattern",
					 operation_body("id", "\"id\":\"../x\",\"status\":\"running\",", ""), "operation.id \"../x\"", NULL);
}

/* The ids to wait on, from operations[] of any mutation answer. */
static void
test_operation_ids(void)
{
	char	  **ids;
	int			n;
	char	   *error = NULL;

	ok(neon_parse_operation_ids("{\"operations\":[{\"id\":\"o1\",\"status\":\"finished\"},"
								"{\"id\":\"o2\",\"status\":\"cancelling\"},{\"id\":\"o3\",\"status\":\"cancelled\"},"
								"{\"id\":\"o4\",\"status\":\"error\"}]}", &ids, &n, &error) &&
	   n == 2 && same(ids[0], "o2") && same(ids[1], "o4"), "cancelling and error kept, the rest dropped");
	neon_operation_ids_free(ids, n);
	ok(neon_parse_operation_ids("{\"project\":{}}", &ids, &n, &error) && n == 0 && ids == NULL,
	   "no operations[]: nothing to wait on");
	ok(neon_parse_operation_ids("{\"operations\":[{\"id\":\"o1\",\"status\":\"skipped\"}]}", &ids, &n, &error) &&
	   n == 0 && ids == NULL, "only finished operations: nothing to wait on");
	ok(!neon_parse_operation_ids("{\"operations\":{}}", &ids, &n, &error) &&
	   contains(error, "operations is not an array") && ids == NULL, "operations that is not an array is refused");
	free(error);
	ok(!neon_parse_operation_ids("{\"operations\":[{\"id\":\"o1\",\"status\":\"running\"},"
								 "{\"id\":\"o2\",\"status\":\"queued\"}]}", &ids, &n, &error) &&
	   contains(error, "operations[1].status \"queued\"") && ids == NULL && n == 0,
	   "an unknown status refuses the whole list");
	free(error);
	ok(!neon_parse_operation_ids("{\"operations\":[{\"status\":\"running\"}]}", &ids, &n, &error) &&
	   contains(error, "operations[0].id"), "an operation without id is refused");
	free(error);
	ok(!neon_parse_operation_ids("[]", &ids, &n, &error) && error, "a body that is not an object is refused");
	free(error);
}

/* Every recording that carries operations: the one of GET .../operations/{id}, or operations[]. */
static void
test_recorded_operations(void)
{
	int			n;
	int			seen = 0;
	char	  **names = list_recordings("*.json", &n);

	for (int i = 0; i < n; i++)
	{
		json_object *record = load_recording(names[i]);
		json_object *body = NULL;
		json_object *single;
		json_object *ops;
		char	   *text = body_text(record);
		char	  **ids;
		int			n_ids;
		char	   *error = NULL;
		NeonOperation op;
		bool		parsed;

		json_object_object_get_ex(record, "response_body", &body);
		if (json_object_object_get_ex(body, "operation", &single))
		{
			parsed = neon_parse_operation(text, &op, &error);
			ok(parsed && same(op.id, LOOKUP(single, "id")) &&
			   same(op.project_id, LOOKUP(single, "project_id")) && same(op.action, LOOKUP(single, "action")) &&
			   same(neon_operation_status_name(op.status), LOOKUP(single, "status")),
			   "%s: operation %s, %s", names[i], op.id, neon_operation_status_name(op.status));
			neon_operation_free(&op);
			seen++;
		}
		if (json_object_object_get_ex(body, "operations", &ops))
		{
			parsed = neon_parse_operation_ids(text, &ids, &n_ids, &error);
			ok(parsed && operations_match(body, ids, n_ids),
			   "%s: %d of %zu operations to wait on", names[i], n_ids, json_object_array_length(ops));
			neon_operation_ids_free(ids, n_ids);
			for (size_t k = 0; k < json_object_array_length(ops); k++)
			{
				json_object *wrapped = json_object_new_object();
				json_object *item = json_object_array_get_idx(ops, k);

				json_object_object_add(wrapped, "operation", json_object_get(item));
				ok(neon_parse_operation(json_object_to_json_string(wrapped), &op, &error) &&
				   same(op.id, LOOKUP(item, "id")) &&
				   same(neon_operation_status_name(op.status), LOOKUP(item, "status")),
				   "%s: operations[%zu] %s parses alone", names[i], k, LOOKUP(item, "action"));
				neon_operation_free(&op);
				json_object_put(wrapped);
			}
			seen++;
		}
		free(error);
		free(text);
		json_object_put(record);
	}
	ok(seen >= 10, "%d recorded responses carry operations", seen);
	free_names(names);
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
	test_build_update_project();
	test_build_update_endpoint();
	test_endpoint_settings();
	test_value_checks();
	test_hostile_create();
	test_hostile_endpoints_and_uris();
	test_hostile_lists();
	test_hostile_endpoint_settings();
	test_operation_parsing();
	test_operation_ids();
	test_recorded_operations();
	return done_testing();
}
