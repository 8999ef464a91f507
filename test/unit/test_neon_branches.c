/*
 * test_neon_branches.c
 *		The branch bodies and parsers of neon_branches.c: the bodies sent
 *		to create and restore a branch, the answers of create, get,
 *		restore and delete, the search by name, and the compute of a
 *		branch, on answers shaped like Neon's (some recorded from the live
 *		API) and on hostile ones.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neon/json_prelude.h"
#include "neon/neon_branches.h"
#include "neon/neon_common.h"
#include "neon/neon_operations.h"
#include "tap.h"

/* A create answer as Neon gives it (fields the parsers do not read left out), operations still running. */
#define CREATE_ANSWER \
	"{\"branch\":{\"id\":\"br-wispy-dew-a5x1\",\"project_id\":\"old-violet-32930710\",\"parent_id\":\"br-noisy-breeze-a5e59rrb\"," \
	"\"name\":\"dev\",\"current_state\":\"init\",\"pending_state\":\"ready\"}," \
	"\"endpoints\":[{\"host\":\"ep-cool-rain-a5y2.us-east-2.aws.neon.tech\",\"id\":\"ep-cool-rain-a5y2\"," \
	"\"branch_id\":\"br-wispy-dew-a5x1\",\"type\":\"read_write\"}]," \
	"\"operations\":[{\"id\":\"0b3ab1d0-5b3d-4e21-a2a4-3d0c4bd1e1a1\",\"project_id\":\"old-violet-32930710\"," \
	"\"action\":\"create_branch\",\"status\":\"running\"}," \
	"{\"id\":\"c0ffee00-5b3d-4e21-a2a4-3d0c4bd1e1a2\",\"project_id\":\"old-violet-32930710\"," \
	"\"action\":\"start_compute\",\"status\":\"finished\"}]}"

/* The endpoints of one branch, as GET /projects/{id}/branches/{branch_id}/endpoints lists them. */
#define ENDPOINTS_OF(branch, ep, host, type) \
	"{\"endpoints\":[{\"host\":\"" host "\",\"id\":\"" ep "\",\"branch_id\":\"" branch "\",\"type\":\"" type "\"}]}"

/* NULL-safe string equality. */
static bool
same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* A string found by following object keys: get(obj, "branch", "name"). */
static const char *
get(json_object *obj, const char *k1, const char *k2)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(obj, k1, &v) || (k2 && !json_object_object_get_ex(v, k2, &v)))
		return NULL;
	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* The response_body of a recording, as text; NULL when it cannot be read. */
static char *
recorded_body(const char *name)
{
	const char *dir = getenv("NEON_REAL_RESPONSES");
	char	   *path;
	json_object *record;
	json_object *body;
	char	   *text = NULL;

	if (asprintf(&path, "%s/%s", (dir && dir[0]) ? dir : "test/fixtures/real-responses", name) < 0)
		return NULL;
	record = json_object_from_file(path);
	free(path);
	if (record && json_object_object_get_ex(record, "response_body", &body))
		text = strdup(json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN));
	json_object_put(record);
	return text;
}

/* The create body: the branch, its parent, the point in time when asked, one read_write compute. */
static void
test_build_create(void)
{
	NeonBranchSpec spec = {.name = "de\"v", .parent_id = "br-noisy-breeze-a5e59rrb",
	.parent_timestamp = "2025-01-16T21:01:00+00:00", .autoscaling_min_cu = 0.25,
	.autoscaling_max_cu = 2, .suspend_timeout_seconds = 300};
	char	   *body = neon_build_create_branch(&spec);
	json_object *root = json_tokener_parse(body);
	json_object *endpoints = NULL;
	json_object *ep = NULL;

	ok(root != NULL, "create body is JSON");
	ok(same(get(root, "branch", "name"), "de\"v"), "branch.name is the name, escaped and intact");
	ok(same(get(root, "branch", "parent_id"), "br-noisy-breeze-a5e59rrb"), "branch.parent_id");
	ok(same(get(root, "branch", "parent_timestamp"), "2025-01-16T21:01:00+00:00"), "branch.parent_timestamp");
	if (ok(json_object_object_get_ex(root, "endpoints", &endpoints) && json_object_array_length(endpoints) == 1,
		   "one endpoint asked for"))
	{
		ep = json_object_array_get_idx(endpoints, 0);
		ok(same(get(ep, "type", NULL), "read_write"), "endpoints[0].type is read_write");
		ok(json_object_get_double(json_object_object_get(ep, "autoscaling_limit_min_cu")) == 0.25
		   && json_object_get_double(json_object_object_get(ep, "autoscaling_limit_max_cu")) == 2
		   && json_object_get_int(json_object_object_get(ep, "suspend_timeout_seconds")) == 300,
		   "endpoints[0] has the tier's compute settings");
	}
	json_object_put(root);
	free(body);

	spec.parent_timestamp = NULL;
	body = neon_build_create_branch(&spec);
	root = json_tokener_parse(body);
	ok(root && !json_object_object_get_ex(json_object_object_get(root, "branch"), "parent_timestamp", NULL),
	   "no point in time: no parent_timestamp (the parent's head)");
	json_object_put(root);
	free(body);
}

/* The restore body names the source branch only. */
static void
test_build_restore(void)
{
	char	   *body = neon_build_restore_branch("br-noisy-breeze-a5e59rrb");

	ok(same(body, "{\"source_branch_id\":\"br-noisy-breeze-a5e59rrb\"}"), "restore body: %s", body);
	free(body);
}

/* Whether `body` is refused by neon_parse_branch_answer with an error that mentions `field`. */
static bool
answer_refused(const char *body, const char *field)
{
	char	   *id = NULL;
	char	  **ops = NULL;
	int			n = 0;
	char	   *error = NULL;
	bool		parsed = neon_parse_branch_answer(body, &id, &ops, &n, &error);
	bool		named = error && strstr(error, field) != NULL;

	free(error);
	free(id);
	neon_operation_ids_free(ops, n);
	return !parsed && named && id == NULL;
}

/* The branch id and the operations still running of create, get, restore and delete answers. */
static void
test_branch_answer(void)
{
	char	   *id = NULL;
	char	  **ops = NULL;
	int			n = 0;
	char	   *error = NULL;

	if (ok(neon_parse_branch_answer(CREATE_ANSWER, &id, &ops, &n, &error), "create answer parses"))
	{
		ok(same(id, "br-wispy-dew-a5x1"), "its branch id");
		ok(n == 1 && same(ops[0], "0b3ab1d0-5b3d-4e21-a2a4-3d0c4bd1e1a1"),
		   "only the running operation is worth waiting for");
	}
	free(id);
	neon_operation_ids_free(ops, n);

	ok(neon_parse_branch_answer("{\"branch\":{\"id\":\"br-wispy-dew-a5x1\",\"name\":\"dev\"}}", &id, &ops, &n, &error)
	   && same(id, "br-wispy-dew-a5x1") && n == 0 && ops == NULL,
	   "a get answer (no operations) parses with none to wait for");
	free(id);

	ok(answer_refused("{\"branch\":{\"id\":\"../../steal?x=1#\"},\"operations\":[]}", "branch.id"),
	   "a branch id that could leave its path segment is refused");
	ok(answer_refused("{\"operations\":[]}", "branch"), "an answer without branch is refused");
	ok(answer_refused("{\"branch\":{\"id\":\"br-a\"},\"operations\":{}}", "operations"),
	   "operations that are not an array are refused");
	ok(answer_refused("{\"branch\":{\"id\":\"br-a\"},\"operations\":[{\"id\":\"x y\",\"status\":\"running\"}]}",
					  "operations"),
	   "an operation id that fails its check is refused");
	ok(answer_refused("{\"branch\":", "not a JSON object"), "a cut answer is refused");
}

/* Runs the search on `body` and tells what it found. */
static bool
find(const char *body, const char *name, const char *except, const char *expected_id, bool expected_settled)
{
	char	   *id = NULL;
	bool		settled = false;
	char	   *error = NULL;
	bool		parsed = neon_find_branch_by_name(body, name, except, &id, &settled, &error);
	bool		as_expected = parsed && (expected_id ? same(id, expected_id) && settled == expected_settled : id == NULL);

	free(id);
	free(error);
	return as_expected;
}

/* The search by exact name: never a substring, never the production branch, every id checked. */
static void
test_find_by_name(void)
{
	char	   *recorded = recorded_body("branches-03-get-projects_old_violet_32930710_branches.json");
	const char *list =
		"{\"branches\":[{\"id\":\"br-a1\",\"name\":\"dev-2\",\"current_state\":\"ready\"},"
		"{\"id\":\"br-a2\",\"name\":\"dev\",\"current_state\":\"ready\"},"
		"{\"id\":\"br-a3\",\"name\":\"dev3\",\"current_state\":\"init\"}]}";
	char	   *id = NULL;
	bool		settled = true;
	char	   *error = NULL;

	if (ok(recorded != NULL, "recording branches-03 read"))
	{
		ok(find(recorded, "main", NULL, "br-noisy-breeze-a5e59rrb", false),
		   "branches-03: \"main\" found, still init (being made)");
		ok(find(recorded, "main", "br-noisy-breeze-a5e59rrb", NULL, false),
		   "branches-03: not found when it is the production branch");
	}
	free(recorded);
	ok(find(list, "dev", NULL, "br-a2", true), "the exact name, not the substring matches");
	ok(find(list, "dev3", NULL, "br-a3", false), "a branch still init is not settled");
	ok(find(list, "de", NULL, NULL, false), "a prefix of names finds nothing");
	ok(find("{\"branches\":[]}", "dev", NULL, NULL, false), "an empty page finds nothing");
	ok(!neon_find_branch_by_name("{\"branches\":[{\"id\":\"br-a2\",\"name\":\"dev\"},{\"id\":\"BR/../x\",\"name\":\"x\"}]}",
								 "dev", NULL, &id, &settled, &error) && id == NULL && error != NULL,
	   "a bad id anywhere on the page refuses the page");
	free(error);
	error = NULL;
	ok(!neon_find_branch_by_name("{\"projects\":[]}", "dev", NULL, &id, &settled, &error)
	   && error && strstr(error, "branches"), "a list without branches[] is refused");
	free(error);
}

/* Whether the endpoint answer `body` is refused for `branch` with an error that mentions `field`. */
static bool
endpoint_refused(const char *body, const char *branch, const char *field)
{
	NeonBranchEndpoint ep;
	char	   *error = NULL;
	bool		parsed = neon_parse_branch_endpoint(body, branch, &ep, &error);
	bool		named = error && strstr(error, field) != NULL;

	free(error);
	neon_branch_endpoint_free(&ep);
	return !parsed && named;
}

/* The compute of a branch: its own read_write endpoint, never another branch's. */
static void
test_branch_endpoint(void)
{
	char	   *recorded = recorded_body("endpoints-04-get-projects_solitary_thunder_08372287_endpoints.json");
	NeonBranchEndpoint ep;
	char	   *error = NULL;

	if (ok(recorded != NULL, "recording endpoints-04 read")
		&& ok(neon_parse_branch_endpoint(recorded, "br-calm-union-a59jz26r", &ep, &error),
			  "endpoints-04: the branch's endpoint parses"))
	{
		ok(same(ep.endpoint_id, "ep-dawn-king-a527wlyu"), "its id");
		ok(same(ep.host, "ep-dawn-king-a527wlyu.us-east-2.aws.neon.tech"), "its host");
		ok(same(ep.pooler_host, "ep-dawn-king-a527wlyu-pooler.us-east-2.aws.neon.tech"), "its pooled host");
		neon_branch_endpoint_free(&ep);
	}
	ok(recorded && endpoint_refused(recorded, "br-other", "no read_write endpoint"),
	   "endpoints-04: another branch's endpoint is not taken");
	free(recorded);
	ok(endpoint_refused(ENDPOINTS_OF("br-a", "ep-a", "ep-a.us-east-2.aws.neon.tech", "read_only"), "br-a",
						"no read_write endpoint"), "a read_only endpoint is not a branch's compute");
	ok(endpoint_refused("{\"endpoints\":[]}", "br-a", "no read_write endpoint"), "a branch without compute is refused");
	ok(endpoint_refused(ENDPOINTS_OF("br-a", "ep-a", "javascript:alert(1)//", "read_write"), "br-a", "host"),
	   "a host that is not a DNS name is refused");
	ok(endpoint_refused(ENDPOINTS_OF("br-a", "ep-a/../b", "ep-a.us-east-2.aws.neon.tech", "read_write"), "br-a", "id"),
	   "an endpoint id that fails its check is refused");
	ok(endpoint_refused(ENDPOINTS_OF("br-a", "ep-a",
									 "ep-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.aws.neon.tech",
									 "read_write"), "br-a", "pooler host"),
	   "a host whose pooled form would not be a DNS name is refused");
}

int
main(void)
{
	test_build_create();
	test_build_restore();
	test_branch_answer();
	test_find_by_name();
	test_branch_endpoint();
	return done_testing();
}
