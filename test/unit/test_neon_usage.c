/*
 * test_neon_usage.c
 *		The parsers a downgrade's check, a usage sweep and a claim link rely
 *		on (neon_usage.c, the transfer requests of neon_transfers.c) and the
 *		timestamp check, on answers shaped like Neon's and on hostile ones.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "neon/neon_common.h"
#include "neon/neon_transfers.h"
#include "neon/neon_usage.h"
#include "tap.h"

/* The fields of GET /projects/{id} the check reads, as recorded from the live API (project-04). */
#define PROJECT_04 \
	"{\"project\":{\"data_storage_bytes_hour\":0,\"data_transfer_bytes\":5,\"written_data_bytes\":7," \
	"\"compute_time_seconds\":11,\"active_time_seconds\":13,\"cpu_used_sec\":0,\"id\":\"long-forest-06846227\"," \
	"\"history_retention_seconds\":86400,\"synthetic_storage_size\":0," \
	"\"consumption_period_start\":\"2025-01-01T00:00:00Z\",\"consumption_period_end\":\"2025-02-01T00:00:00Z\"}}"

/* A page of GET /projects as recorded from the live API (project-01, January 2025). */
#define PROJECT_PAGE_01 \
	"{\"projects\":[{\"id\":\"aged-salad-46255801\",\"platform_id\":\"azure\",\"region_id\":\"azure-eastus2\"," \
	"\"name\":\"test\",\"provisioner\":\"k8s-neonvm\",\"default_endpoint_settings\":{\"autoscaling_limit_min_cu\":0.25," \
	"\"autoscaling_limit_max_cu\":2,\"suspend_timeout_seconds\":0},\"settings\":{\"allowed_ips\":{\"ips\":[]," \
	"\"protected_branches_only\":false},\"enable_logical_replication\":false,\"block_public_connections\":false," \
	"\"block_vpc_connections\":false},\"pg_version\":16,\"proxy_host\":\"eastus2.azure.neon.tech\"," \
	"\"branch_logical_size_limit\":512,\"branch_logical_size_limit_bytes\":536870912,\"store_passwords\":true," \
	"\"active_time\":1340,\"cpu_used_sec\":343,\"creation_source\":\"console\",\"created_at\":\"2024-12-27T17:00:44Z\"," \
	"\"updated_at\":\"2025-01-13T04:08:18Z\",\"synthetic_storage_size\":46881408," \
	"\"quota_reset_at\":\"2025-02-01T00:00:00Z\",\"owner_id\":\"92cdd2ee-a6d8-4647-868f-124531123b03\"," \
	"\"compute_last_active_at\":\"2025-01-13T04:08:09Z\"}],\"pagination\":{\"cursor\":\"aged-salad-46255801\"}," \
	"\"applications\":{},\"integrations\":{}}"

/* A page as recorded in January 2024 (get_projects-01): the list then showed 0/0 CU. */
#define PROJECT_PAGE_2024 \
	"{\"projects\":[{\"id\":\"winter-frost-26518790\",\"platform_id\":\"aws\",\"region_id\":\"aws-us-east-2\"," \
	"\"name\":\"pytest-480\",\"provisioner\":\"k8s-neonvm\",\"default_endpoint_settings\":{\"autoscaling_limit_min_cu\":0," \
	"\"autoscaling_limit_max_cu\":0,\"suspend_timeout_seconds\":0},\"settings\":{\"allowed_ips\":" \
	"{\"primary_branch_only\":false},\"enable_logical_replication\":false},\"pg_version\":15," \
	"\"proxy_host\":\"us-east-2.aws.neon.tech\",\"branch_logical_size_limit\":3072," \
	"\"branch_logical_size_limit_bytes\":3221225472,\"store_passwords\":true,\"active_time\":0,\"cpu_used_sec\":0," \
	"\"creation_source\":\"console\",\"created_at\":\"2024-01-23T22:02:45Z\",\"updated_at\":\"2024-01-23T22:04:10Z\"," \
	"\"synthetic_storage_size\":0,\"quota_reset_at\":\"2024-02-01T00:00:00Z\"," \
	"\"owner_id\":\"838386f6-b5f1-4c3b-89a2-4f5a130ef3de\"}],\"pagination\":{\"cursor\":\"winter-frost-26518790\"}}"

/* A tenant's project with a tier's quota and defaults, as the emulator lists it (project_list_item). */
#define PROJECT_PAGE_TIER \
	"{\"projects\":[{\"id\":\"curly-sun-89304071\",\"platform_id\":\"aws\",\"region_id\":\"aws-us-east-2\"," \
	"\"name\":\"tenant-acme\",\"provisioner\":\"k8s-neonvm\",\"default_endpoint_settings\":" \
	"{\"autoscaling_limit_min_cu\":0.25,\"autoscaling_limit_max_cu\":2,\"suspend_timeout_seconds\":300}," \
	"\"settings\":{\"allowed_ips\":{\"ips\":[],\"protected_branches_only\":false},\"enable_logical_replication\":false," \
	"\"block_public_connections\":false,\"block_vpc_connections\":false,\"quota\":{\"active_time_seconds\":360000," \
	"\"compute_time_seconds\":90000,\"written_data_bytes\":0,\"data_transfer_bytes\":5368709120," \
	"\"logical_size_bytes\":536870912}},\"pg_version\":17,\"proxy_host\":\"us-east-2.aws.neon.tech\"," \
	"\"branch_logical_size_limit\":2097152,\"branch_logical_size_limit_bytes\":2199023255552,\"store_passwords\":true," \
	"\"active_time\":0,\"cpu_used_sec\":1234,\"creation_source\":\"console\",\"created_at\":\"2026-11-22T08:17:58Z\"," \
	"\"updated_at\":\"2026-11-22T08:17:58Z\",\"synthetic_storage_size\":0,\"quota_reset_at\":\"2026-12-01T00:00:00Z\"," \
	"\"owner_id\":\"5d3a6c0e-8f1b-4c2a-9e7d-3b1f2a4c6d8e\",\"compute_last_active_at\":\"2026-11-22T08:17:58Z\"," \
	"\"org_id\":\"org-agent-paid\"}],\"pagination\":{\"cursor\":\"curly-sun-89304071\"},\"applications\":{}," \
	"\"integrations\":{}}"

/* The last page, empty, as recorded (branches-01): no pagination at all. */
#define PROJECT_PAGE_EMPTY "{\"projects\":[],\"applications\":{},\"integrations\":{}}"

/* The members every list item must have, before the figure under test. */
#define LISTED(id) "\"id\":\"" id "\",\"name\":\"" id "\",\"created_at\":\"2025-01-16T21:02:01Z\",\"active_time\":1"

/* A list page of one item made of LISTED("p-1") and `rest`. */
#define LISTED_PAGE(rest) "{\"projects\":[{" LISTED("p-1") rest "}]}"

/*
 * A page of GET /consumption_history/v2/projects shaped as the emulator
 * answers (h_consumption_v2, daily): the newest project with a closed
 * October and the current November (no period_end) of two days each, one
 * created too late for the range (no period), and one with a null
 * period_end whose figures are 0; among the metrics, some not read (one of
 * them not even a count).
 */
#define CONSUMPTION_PAGE \
	"{\"projects\":[{\"project_id\":\"curly-sun-89304071\",\"periods\":[" \
	"{\"period_id\":\"1627849b-ff60-585a-9c2a-ca38c1a95c98\",\"period_plan\":\"scale_v3\"," \
	"\"period_start\":\"2026-10-01T00:00:00Z\",\"period_end\":\"2026-11-01T00:00:00Z\",\"consumption\":[" \
	"{\"timeframe_start\":\"2026-10-30T00:00:00Z\",\"timeframe_end\":\"2026-10-31T00:00:00Z\",\"metrics\":[" \
	"{\"metric_name\":\"compute_unit_seconds\",\"value\":1234},{\"metric_name\":\"root_branch_bytes_month\",\"value\":" \
	"1125281431552},{\"metric_name\":\"child_branch_bytes_month\",\"value\":402653184}," \
	"{\"metric_name\":\"public_network_transfer_bytes\",\"value\":5678},{\"metric_name\":\"extra_branches_month\"," \
	"\"value\":24}]},{\"timeframe_start\":\"2026-10-31T00:00:00Z\",\"timeframe_end\":\"2026-11-01T00:00:00Z\"," \
	"\"metrics\":[{\"metric_name\":\"compute_unit_seconds\",\"value\":766},{\"metric_name\":\"root_branch_bytes_month\"," \
	"\"value\":1125281431552},{\"metric_name\":\"child_branch_bytes_month\",\"value\":0}," \
	"{\"metric_name\":\"public_network_transfer_bytes\",\"value\":322},{\"metric_name\":\"extra_branches_month\"," \
	"\"value\":0}]}]},{\"period_id\":\"0b5a52e4-3f6c-5d2e-8f39-1d4c7a9e2b61\",\"period_plan\":\"scale_v3\"," \
	"\"period_start\":\"2026-11-01T00:00:00Z\",\"consumption\":[{\"timeframe_start\":\"2026-11-01T00:00:00Z\"," \
	"\"timeframe_end\":\"2026-11-02T00:00:00Z\",\"metrics\":[{\"metric_name\":\"compute_unit_seconds\",\"value\":60}," \
	"{\"metric_name\":\"root_branch_bytes_month\",\"value\":1125281431552},{\"metric_name\":" \
	"\"child_branch_bytes_month\",\"value\":0},{\"metric_name\":\"public_network_transfer_bytes\",\"value\":0}," \
	"{\"metric_name\":\"extra_branches_month\",\"value\":0}]},{\"timeframe_start\":\"2026-11-02T00:00:00Z\"," \
	"\"timeframe_end\":\"2026-11-03T00:00:00Z\",\"metrics\":[{\"metric_name\":\"compute_unit_seconds\",\"value\":0}," \
	"{\"metric_name\":\"root_branch_bytes_month\",\"value\":1125281431552},{\"metric_name\":" \
	"\"child_branch_bytes_month\",\"value\":0},{\"metric_name\":\"public_network_transfer_bytes\",\"value\":0}," \
	"{\"metric_name\":\"extra_branches_month\",\"value\":0}]}]}]}," \
	"{\"project_id\":\"late-tree-12345678\",\"periods\":[]}," \
	"{\"project_id\":\"quiet-snow-71788278\",\"periods\":[{\"period_id\":\"9f0e2c1a-7b3d-5e4f-a6b8-c9d0e1f2a3b4\"," \
	"\"period_plan\":\"launch_v3\",\"period_start\":\"2026-11-01T00:00:00Z\",\"period_end\":null,\"consumption\":[" \
	"{\"timeframe_start\":\"2026-11-01T00:00:00Z\",\"timeframe_end\":\"2026-11-02T00:00:00Z\",\"metrics\":[" \
	"{\"metric_name\":\"compute_unit_seconds\",\"value\":0},{\"metric_name\":\"instant_restore_bytes_month\"," \
	"\"value\":0.5}]}]}]}],\"pagination\":{\"cursor\":\"quiet-snow-71788278\"}}"

/* A consumption page of one project and one period with one timeframe of `metrics`. */
#define CONSUMPTION_METRICS(metrics) \
	"{\"projects\":[{\"project_id\":\"p-1\",\"periods\":[{\"period_start\":\"2026-11-01T00:00:00Z\"," \
	"\"consumption\":[{\"timeframe_start\":\"2026-11-01T00:00:00Z\",\"timeframe_end\":\"2026-11-02T00:00:00Z\"," \
	"\"metrics\":[" metrics "]}]}]}]}"

/* Where the first metric of CONSUMPTION_METRICS is, as errors name it. */
#define FIRST_METRIC "projects[0].periods[0].consumption[0].metrics[0]"

/* NULL-safe string equality. */
static bool
same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* Whether `body` is refused by `parse` with an error that mentions `field`. */
static bool
refused(bool (*parse) (const char *, NeonUsage *, char **), const char *body, const char *field)
{
	NeonUsage	u = {0};
	char	   *error = NULL;
	bool		parsed = parse(body, &u, &error);
	bool		named = error && strstr(error, field) != NULL;

	free(error);
	neon_usage_free(&u);
	return !parsed && named;
}

/* RFC 3339 timestamps, and what is not one. */
static void
test_timestamps(void)
{
	static const struct
	{
		const char *value;
		bool		valid;
	}			cases[] = {
		{"2025-01-01T00:00:00Z", true},
		{"2025-01-16T21:02:01.123456Z", true},
		{"2025-01-16T21:02:01+02:00", true},
		{"2025-01-16T21:02:01.5-05:30", true},
		{"2025-01-16 21:02:01Z", false},
		{"2025-01-16T21:02:01", false},
		{"2025-01-16T21:02:01.Z", false},
		{"2025-01-16T21:02:01Z'; DROP TABLE x; --", false},
		{"infinity", false},
		{"", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(neon_valid_timestamp(cases[i].value, strlen(cases[i].value)) == cases[i].valid,
		   "timestamp \"%s\" %s", cases[i].value, cases[i].valid ? "passes" : "fails");
	ok(!neon_valid_timestamp("2025-01-01T00:00:00Z\0x", 22), "a NUL inside a timestamp fails");
}

/* The period counters of a project. */
static void
test_project_usage(void)
{
	NeonUsage	u = {0};
	char	   *error = NULL;

	if (ok(neon_parse_project_usage(PROJECT_04, &u, &error), "project-04: usage parses"))
	{
		ok(same(u.period_start, "2025-01-01T00:00:00Z") && same(u.period_end, "2025-02-01T00:00:00Z"),
		   "project-04: the consumption period");
		ok(u.active_time_seconds == 13 && u.compute_time_seconds == 11 && u.written_data_bytes == 7
		   && u.data_transfer_bytes == 5, "project-04: the four period counters");
	}
	free(error);
	neon_usage_free(&u);
	ok(u.period_start == NULL && u.period_end == NULL, "neon_usage_free clears the strings");
	ok(refused(neon_parse_project_usage,
			   "{\"project\":{\"consumption_period_start\":\"2025-01-01T00:00:00Z\",\"active_time_seconds\":-1,"
			   "\"compute_time_seconds\":0,\"written_data_bytes\":0,\"data_transfer_bytes\":0}}",
			   "active_time_seconds"), "a negative counter is refused");
	ok(refused(neon_parse_project_usage,
			   "{\"project\":{\"consumption_period_start\":\"2025-01-01T00:00:00Z\",\"active_time_seconds\":1.5,"
			   "\"compute_time_seconds\":0,\"written_data_bytes\":0,\"data_transfer_bytes\":0}}",
			   "active_time_seconds"), "a fractional counter is refused");
	ok(refused(neon_parse_project_usage,
			   "{\"project\":{\"consumption_period_start\":\"now'); --\",\"active_time_seconds\":1,"
			   "\"compute_time_seconds\":0,\"written_data_bytes\":0,\"data_transfer_bytes\":0}}",
			   "consumption_period_start"), "a period start that is no timestamp is refused");
	ok(refused(neon_parse_project_usage, "{\"project\":{\"consumption_period_start\":\"2025-01-01T00:00:00Z\"}}",
			   "active_time_seconds"), "missing counters are refused");
	ok(refused(neon_parse_project_usage, "{\"projects\":[]}", "consumption_period_start"),
	   "an answer without a project is refused");
}

/* Branches: how many, the largest logical size; snapshots: how many. */
static void
test_counts(void)
{
	NeonUsage	u = {0};
	char	   *error = NULL;

	ok(neon_parse_branch_usage("{\"branches\":[{\"id\":\"br-1\",\"logical_size\":30},"
							   "{\"id\":\"br-2\",\"logical_size\":70},{\"id\":\"br-3\"}],\"annotations\":{}}",
							   &u, &error) && u.branches == 3 && u.logical_size_bytes == 70,
	   "3 branches, the largest 70 bytes (one without a size yet)");
	free(error);
	error = NULL;
	ok(neon_parse_branch_usage("{\"branches\":[]}", &u, &error) && u.branches == 0 && u.logical_size_bytes == 0,
	   "no branch");
	free(error);
	error = NULL;
	ok(refused(neon_parse_branch_usage, "{\"branches\":[{\"logical_size\":\"big\"}]}", "logical_size"),
	   "a logical size that is no count is refused");
	ok(refused(neon_parse_branch_usage, "{\"branch\":{}}", "branches"), "an answer without branches is refused");
	ok(neon_parse_snapshot_count("{\"snapshots\":[{\"id\":\"snap-1\"},{\"id\":\"snap-2\"}]}", &u, &error)
	   && u.snapshots == 2, "2 snapshots");
	free(error);
	ok(refused(neon_parse_snapshot_count, "{\"snapshots\":{}}", "snapshots"), "snapshots that are no list are refused");
	neon_usage_free(&u);
}

/* Whether a one-item page is taken and its name read as `name`. */
static bool
page_taken_name(const char *body, const char *name)
{
	NeonProjectPage page;
	char	   *error = NULL;
	bool		taken = neon_parse_project_page(body, &page, &error);
	bool		named = taken && page.n_projects == 1 && same(page.projects[0].name, name);

	if (taken)
		neon_project_page_free(&page);
	free(error);
	return named;
}

/* Whether a project page is refused with an error naming `field`, and leaves nothing behind. */
static bool
page_refused(const char *body, const char *field)
{
	NeonProjectPage page;
	char	   *error = NULL;
	bool		parsed = neon_parse_project_page(body, &page, &error);
	bool		named = error && strstr(error, field) != NULL;

	free(error);
	if (parsed)
		neon_project_page_free(&page);
	return !parsed && named && page.projects == NULL && page.n_projects == 0 && page.cursor == NULL;
}

/* Whether the settings read are the five quota counts, the two CU limits and the suspend timeout given. */
static bool
settings_are(const NeonListedSettings *s, const long long quota[5], double min_cu, double max_cu, long long suspend)
{
	return s->active_time_seconds == quota[0] && s->compute_time_seconds == quota[1]
		&& s->written_data_bytes == quota[2] && s->data_transfer_bytes == quota[3]
		&& s->logical_size_bytes == quota[4] && s->autoscaling_min_cu == min_cu
		&& s->autoscaling_max_cu == max_cu && s->suspend_timeout_seconds == suspend;
}

/* Parses a page that must parse, for the checks of its first project; false (and reported) if it did not. */
static bool
page_parses(const char *body, NeonProjectPage *page, const char *label)
{
	char	   *error = NULL;
	bool		parsed = neon_parse_project_page(body, page, &error);

	ok(parsed && page->n_projects >= 1, "%s parses (%s)", label, error ? error : "no error");
	free(error);
	return parsed && page->n_projects >= 1;
}

/* A page of a project list: ids, names, creation times, active time, storage, the cursor. */
static void
test_project_page(void)
{
	static const long long no_quota[5] = {0, 0, 0, 0, 0};
	static const long long tier_quota[5] = {360000, 90000, 0, 5368709120LL, 536870912};
	NeonProjectPage page;
	char	   *error = NULL;

	if (page_parses(PROJECT_PAGE_01, &page, "project-01 list page"))
	{
		ok(page.n_projects == 1 && same(page.projects[0].id, "aged-salad-46255801")
		   && page.projects[0].active_time == 1340 && page.projects[0].synthetic_storage_size == 46881408,
		   "project-01: the project's id, active time and storage");
		ok(same(page.projects[0].name, "test") && same(page.projects[0].created_at, "2024-12-27T17:00:44Z"),
		   "project-01: the project's name and creation time");
		ok(settings_are(&page.projects[0].settings, no_quota, 0.25, 2, 0),
		   "project-01: no quota, 0.25 to 2 CU, the default suspend timeout (0)");
		ok(same(page.cursor, "aged-salad-46255801"), "project-01: the cursor is the last id");
		neon_project_page_free(&page);
		ok(page.projects == NULL && page.n_projects == 0 && page.cursor == NULL, "neon_project_page_free zeroes");
	}
	if (page_parses(PROJECT_PAGE_2024, &page, "a 2024 list page"))
		ok(same(page.projects[0].name, "pytest-480")
		   && settings_are(&page.projects[0].settings, no_quota, -1, -1, 0),
		   "2024: the 0/0 CU the list showed then are read as not given");
	neon_project_page_free(&page);
	if (page_parses(PROJECT_PAGE_TIER, &page, "a tenant's project with a tier's settings"))
		ok(same(page.projects[0].name, "tenant-acme")
		   && settings_are(&page.projects[0].settings, tier_quota, 0.25, 2, 300),
		   "the tier's five quota counts, 0.25 to 2 CU and a 300 s suspend timeout");
	neon_project_page_free(&page);
	ok(neon_parse_project_page(PROJECT_PAGE_EMPTY, &page, &error) && page.n_projects == 0 && page.cursor == NULL,
	   "an empty last page has no projects and no cursor");
	neon_project_page_free(&page);
	free(error);
	error = NULL;
	if (page_parses("{\"projects\":[{" LISTED("p-1") "},{" LISTED("p-2") ",\"synthetic_storage_size\":null,"
					"\"settings\":null,\"default_endpoint_settings\":{}}],\"pagination\":{\"cursor\":\"p-2\"}}",
					&page, "items without storage or settings"))
	{
		ok(page.n_projects == 2 && page.projects[0].synthetic_storage_size < 0
		   && page.projects[1].synthetic_storage_size < 0 && page.projects[0].active_time == 1,
		   "an absent or null synthetic_storage_size is not read");
		ok(settings_are(&page.projects[0].settings, no_quota, -1, -1, -2)
		   && settings_are(&page.projects[1].settings, no_quota, -1, -1, -2),
		   "absent settings: no quota (0), no CU limits (-1), no suspend timeout (-2)");
	}
	neon_project_page_free(&page);
	if (page_parses(LISTED_PAGE(",\"settings\":{\"quota\":{\"logical_size_bytes\":536870912,"
								"\"active_time_seconds\":null}},\"default_endpoint_settings\":"
								"{\"autoscaling_limit_min_cu\":56,\"autoscaling_limit_max_cu\":56,"
								"\"suspend_timeout_seconds\":-1}"), &page, "a partial quota, 56 CU, never suspended"))
		ok(settings_are(&page.projects[0].settings, (const long long[5]) {0, 0, 0, 0, 536870912}, 56, 56, -1),
		   "the quota counts given, 0 for the others; the bounds 56 CU and -1 are read");
	neon_project_page_free(&page);
	if (page_parses("{\"projects\":[{\"id\":\"p-1\",\"name\":\"caf\xc3\xa9 \xe2\x98\x95\","
					"\"created_at\":\"2025-01-16T21:02:01.5+02:00\",\"active_time\":0}]}", &page,
					"a UTF-8 name and an offset timestamp"))
		ok(same(page.projects[0].name, "caf\xc3\xa9 \xe2\x98\x95")
		   && same(page.projects[0].created_at, "2025-01-16T21:02:01.5+02:00"), "they are kept as given");
	neon_project_page_free(&page);

	ok(page_refused("{\"projects\":[{" LISTED("p-1") "},{" LISTED("P-2'); --") "}]}", "projects[1].id"),
	   "an id that is no Neon id refuses the page");
	ok(page_refused("{\"projects\":[{\"name\":\"n\",\"created_at\":\"2025-01-16T21:02:01Z\",\"active_time\":1}]}",
					"projects[0].id"), "an item without an id is refused");
	ok(page_refused("{\"projects\":[{\"id\":\"p-1\",\"created_at\":\"2025-01-16T21:02:01Z\",\"active_time\":1}]}",
					"projects[0].name"), "an item without a name is refused");
	ok(page_refused("{\"projects\":[{\"id\":\"p-1\",\"name\":\"bad \xff\",\"created_at\":\"2025-01-16T21:02:01Z\","
					"\"active_time\":1}]}", "projects[0].name"), "a name that is not UTF-8 is refused");
	ok(page_refused("{\"projects\":[{\"id\":\"p-1\",\"name\":\"a\\u0000b\",\"created_at\":\"2025-01-16T21:02:01Z\","
					"\"active_time\":1}]}", "projects[0].name"), "a name with a NUL is refused");
	ok(page_taken_name("{\"projects\":[{\"id\":\"p-1\",\"name\":\"a\\nb\",\"created_at\":\"2025-01-16T21:02:01Z\","
					   "\"active_time\":1}]}", "a\nb"),
	   "another project's name with a control character is taken (Neon allows any name up to 256 bytes)");
	ok(page_refused("{\"projects\":[{\"id\":\"p-1\",\"name\":7,\"created_at\":\"2025-01-16T21:02:01Z\","
					"\"active_time\":1}]}", "projects[0].name"), "a name that is no string is refused");
	ok(page_refused("{\"projects\":[{\"id\":\"p-1\",\"name\":\"n\",\"created_at\":\"yesterday\",\"active_time\":1}]}",
					"projects[0].created_at"), "a creation time that is no timestamp is refused");
	ok(page_refused("{\"projects\":[{\"id\":\"p-1\",\"name\":\"n\",\"active_time\":1}]}", "projects[0].created_at"),
	   "an item without a creation time is refused");
	ok(page_refused("{\"projects\":[{\"id\":\"p-1\",\"name\":\"n\",\"created_at\":\"2025-01-16T21:02:01Z\","
					"\"active_time\":-5}]}", "projects[0].active_time"), "a negative active time is refused");
	ok(page_refused("{\"projects\":[{\"id\":\"p-1\",\"name\":\"n\",\"created_at\":\"2025-01-16T21:02:01Z\","
					"\"active_time\":\"12\"}]}", "projects[0].active_time"), "an active time that is a string is refused");
	ok(page_refused("{\"projects\":[{\"id\":\"p-1\",\"name\":\"n\",\"created_at\":\"2025-01-16T21:02:01Z\"}]}",
					"projects[0].active_time"), "an item without an active time is refused");
	ok(page_refused(LISTED_PAGE(",\"synthetic_storage_size\":1.5"), "projects[0].synthetic_storage_size"),
	   "a fractional storage size is refused");
	ok(page_refused(LISTED_PAGE(",\"settings\":[]"), "projects[0].settings"), "settings that are no object are refused");
	ok(page_refused(LISTED_PAGE(",\"settings\":{\"quota\":\"none\"}"), "projects[0].settings.quota"),
	   "a quota that is no object is refused");
	ok(page_refused("{\"projects\":[{" LISTED("p-1") "},{" LISTED("p-2") ",\"settings\":{\"quota\":"
					"{\"active_time_seconds\":-1}}}]}", "projects[1].settings.quota.active_time_seconds"),
	   "a negative quota refuses the page");
	ok(page_refused(LISTED_PAGE(",\"settings\":{\"quota\":{\"compute_time_seconds\":\"90000\"}}"),
					"projects[0].settings.quota.compute_time_seconds"), "a quota that is a string is refused");
	ok(page_refused(LISTED_PAGE(",\"settings\":{\"quota\":{\"written_data_bytes\":1.5}}"),
					"projects[0].settings.quota.written_data_bytes"), "a fractional quota is refused");
	ok(page_refused(LISTED_PAGE(",\"settings\":{\"quota\":{\"data_transfer_bytes\":true}}"),
					"projects[0].settings.quota.data_transfer_bytes"), "a quota that is a boolean is refused");
	ok(page_refused(LISTED_PAGE(",\"settings\":{\"quota\":{\"logical_size_bytes\":{}}}"),
					"projects[0].settings.quota.logical_size_bytes"), "a quota that is an object is refused");
	ok(page_refused(LISTED_PAGE(",\"default_endpoint_settings\":7"), "projects[0].default_endpoint_settings"),
	   "endpoint settings that are no object are refused");
	ok(page_refused(LISTED_PAGE(",\"default_endpoint_settings\":{\"autoscaling_limit_min_cu\":0.125}"),
					"projects[0].default_endpoint_settings.autoscaling_limit_min_cu"),
	   "a minimum below 0.25 CU is refused");
	ok(page_refused(LISTED_PAGE(",\"default_endpoint_settings\":{\"autoscaling_limit_max_cu\":56.5}"),
					"projects[0].default_endpoint_settings.autoscaling_limit_max_cu"),
	   "a maximum above 56 CU is refused");
	ok(page_refused(LISTED_PAGE(",\"default_endpoint_settings\":{\"autoscaling_limit_max_cu\":-2}"),
					"projects[0].default_endpoint_settings.autoscaling_limit_max_cu"),
	   "a negative CU limit is refused");
	ok(page_refused(LISTED_PAGE(",\"default_endpoint_settings\":{\"autoscaling_limit_min_cu\":\"0.25\"}"),
					"projects[0].default_endpoint_settings.autoscaling_limit_min_cu"),
	   "a CU limit that is a string is refused");
	ok(page_refused(LISTED_PAGE(",\"default_endpoint_settings\":{\"autoscaling_limit_max_cu\":NaN}"),
					"projects[0].default_endpoint_settings.autoscaling_limit_max_cu"),
	   "a CU limit that is NaN (json-c reads it) is refused");
	ok(page_refused(LISTED_PAGE(",\"default_endpoint_settings\":{\"suspend_timeout_seconds\":604801}"),
					"projects[0].default_endpoint_settings.suspend_timeout_seconds"),
	   "a suspend timeout above a week is refused");
	ok(page_refused(LISTED_PAGE(",\"default_endpoint_settings\":{\"suspend_timeout_seconds\":-2}"),
					"projects[0].default_endpoint_settings.suspend_timeout_seconds"),
	   "a suspend timeout below -1 is refused");
	ok(page_refused(LISTED_PAGE(",\"default_endpoint_settings\":{\"suspend_timeout_seconds\":300.5}"),
					"projects[0].default_endpoint_settings.suspend_timeout_seconds"),
	   "a fractional suspend timeout is refused");
	ok(page_refused(LISTED_PAGE(",\"default_endpoint_settings\":{\"suspend_timeout_seconds\":\"300\"}"),
					"projects[0].default_endpoint_settings.suspend_timeout_seconds"),
	   "a suspend timeout that is a string is refused");
	ok(page_refused("{\"projects\":[{" LISTED("p-1") "}],\"pagination\":{\"cursor\":\"p-1&limit=1\"}}",
					"pagination.cursor"), "a cursor that is no id is refused");
	ok(page_refused("{\"projects\":[\"p-1\"]}", "projects[0].id"), "an item that is no object is refused");
	ok(page_refused("{\"projects\":{}}", "projects[]"), "projects that are no list are refused");
	ok(page_refused("[]", "JSON object"), "an answer that is no object is refused");
}

/* The figures of one item of a consumption page. */
static bool
consumption_is(const NeonConsumption *c, const char *project_id, const char *start, const char *end,
			   long long compute, long long storage, long long transfer)
{
	return same(c->project_id, project_id) && same(c->period_start, start)
		&& (end ? same(c->period_end, end) : c->period_end == NULL)
		&& c->compute_unit_seconds == compute && c->storage_byte_hours == storage && c->transfer_bytes == transfer;
}

/* Whether a consumption page is refused with an error naming `field`, and leaves nothing behind. */
static bool
consumption_refused(const char *body, const char *field)
{
	NeonConsumptionPage page;
	char	   *error = NULL;
	bool		parsed = neon_parse_consumption_page(body, &page, &error);
	bool		named = error && strstr(error, field) != NULL;

	if (!named)
		printf("# %s\n", error ? error : "no error");
	free(error);
	if (parsed)
		neon_consumption_page_free(&page);
	return !parsed && named && page.items == NULL && page.n_items == 0 && page.n_projects == 0
		&& page.cursor == NULL;
}

/* A page of the consumption history: one item per project and period, the metrics summed. */
static void
test_consumption_page(void)
{
	NeonConsumptionPage page;
	char	   *error = NULL;

	if (ok(neon_parse_consumption_page(CONSUMPTION_PAGE, &page, &error), "a consumption page parses (%s)",
		   error ? error : "no error"))
	{
		ok(page.n_projects == 3 && page.n_items == 3, "3 projects, 3 periods (%d, %d)", page.n_projects,
		   page.n_items);
		ok(page.n_items == 3 && consumption_is(&page.items[0], "curly-sun-89304071", "2026-10-01T00:00:00Z",
											   "2026-11-01T00:00:00Z", 2000, 2250965516288LL, 6000),
		   "October: its two days summed, root and child storage added");
		ok(page.n_items == 3 && consumption_is(&page.items[1], "curly-sun-89304071", "2026-11-01T00:00:00Z",
											   NULL, 60, 2250562863104LL, 0),
		   "November, the current period: no end");
		ok(page.n_items == 3 && consumption_is(&page.items[2], "quiet-snow-71788278", "2026-11-01T00:00:00Z",
											   NULL, 0, 0, 0),
		   "a null period_end, missing metrics 0, a metric not read is not checked");
		ok(same(page.cursor, "quiet-snow-71788278"), "the cursor is the last project");
		neon_consumption_page_free(&page);
		ok(page.items == NULL && page.n_items == 0 && page.n_projects == 0 && page.cursor == NULL,
		   "neon_consumption_page_free zeroes");
	}
	free(error);
	error = NULL;
	ok(neon_parse_consumption_page("{\"projects\":[]}", &page, &error) && page.n_projects == 0 && page.n_items == 0
	   && page.items == NULL && page.cursor == NULL, "an empty page: no project, no cursor");
	neon_consumption_page_free(&page);
	free(error);
	error = NULL;
	ok(neon_parse_consumption_page("{\"projects\":[{\"project_id\":\"p-1\",\"periods\":[]},{\"project_id\":\"p-2\","
								   "\"periods\":[]}],\"pagination\":{\"cursor\":\"p-2\"}}", &page, &error)
	   && page.n_projects == 2 && page.n_items == 0 && same(page.cursor, "p-2"),
	   "projects without periods count as projects of the page");
	neon_consumption_page_free(&page);
	free(error);
	error = NULL;
	ok(neon_parse_consumption_page(CONSUMPTION_METRICS("{\"metric_name\":\"compute_unit_seconds\",\"value\":"
													   "9223372036854775806},{\"metric_name\":\"compute_unit_seconds\","
													   "\"value\":1}"), &page, &error)
	   && page.n_items == 1 && page.items[0].compute_unit_seconds == 9223372036854775807LL,
	   "a sum up to the largest bigint is kept");
	neon_consumption_page_free(&page);
	free(error);

	ok(consumption_refused("{\"projects\":[{\"project_id\":\"p-1\",\"periods\":[]},{\"project_id\":\"P_2\","
						   "\"periods\":[]}]}", "projects[1].project_id"), "a project id that is no Neon id is refused");
	ok(consumption_refused("{\"projects\":[{\"periods\":[]}]}", "projects[0].project_id"),
	   "a project without an id is refused");
	ok(consumption_refused("{\"projects\":[{\"project_id\":\"p-1\"}]}", "projects[0].periods[]"),
	   "a project without periods is refused");
	ok(consumption_refused("{\"projects\":[{\"project_id\":\"p-1\",\"periods\":{}}]}", "projects[0].periods[]"),
	   "periods that are no list are refused");
	ok(consumption_refused("{\"projects\":[{\"project_id\":\"p-1\",\"periods\":[{\"period_start\":"
						   "\"2026-11-01\",\"consumption\":[]}]}]}", "projects[0].periods[0].period_start"),
	   "a period start that is no timestamp is refused");
	ok(consumption_refused("{\"projects\":[{\"project_id\":\"p-1\",\"periods\":[{\"consumption\":[]}]}]}",
						   "projects[0].periods[0].period_start"), "a period without a start is refused");
	ok(consumption_refused("{\"projects\":[{\"project_id\":\"p-1\",\"periods\":[{\"period_start\":"
						   "\"2026-10-01T00:00:00Z\",\"period_end\":\"2026-11-01T00:00:00Z'); --\","
						   "\"consumption\":[]}]}]}", "projects[0].periods[0].period_end"),
	   "a period end that is no timestamp is refused");
	ok(consumption_refused("{\"projects\":[{\"project_id\":\"p-1\",\"periods\":[{\"period_start\":"
						   "\"2026-10-01T00:00:00Z\",\"period_end\":1793491200,\"consumption\":[]}]}]}",
						   "projects[0].periods[0].period_end"), "a period end that is a number is refused");
	ok(consumption_refused("{\"projects\":[{\"project_id\":\"p-1\",\"periods\":[{\"period_start\":"
						   "\"2026-11-01T00:00:00Z\"}]}]}", "projects[0].periods[0].consumption[]"),
	   "a period without consumption is refused");
	ok(consumption_refused("{\"projects\":[{\"project_id\":\"p-1\",\"periods\":[{\"period_start\":"
						   "\"2026-11-01T00:00:00Z\",\"consumption\":[{\"metrics\":{}}]}]}]}",
						   "projects[0].periods[0].consumption[0].metrics[]"), "metrics that are no list are refused");
	ok(consumption_refused(CONSUMPTION_METRICS("{\"metric_name\":\"compute_unit_seconds\",\"value\":-1}"),
						   FIRST_METRIC ".value"), "a negative value is refused");
	ok(consumption_refused(CONSUMPTION_METRICS("{\"metric_name\":\"root_branch_bytes_month\",\"value\":\"12\"}"),
						   FIRST_METRIC ".value"), "a value that is a string is refused");
	ok(consumption_refused(CONSUMPTION_METRICS("{\"metric_name\":\"child_branch_bytes_month\",\"value\":12.5}"),
						   FIRST_METRIC ".value"), "a fractional value is refused");
	ok(consumption_refused(CONSUMPTION_METRICS("{\"metric_name\":\"public_network_transfer_bytes\",\"value\":12.0}"),
						   FIRST_METRIC ".value"), "a value written as a double is refused");
	ok(consumption_refused(CONSUMPTION_METRICS("{\"metric_name\":\"compute_unit_seconds\",\"value\":null}"),
						   FIRST_METRIC ".value"), "a null value is refused");
	ok(consumption_refused(CONSUMPTION_METRICS("{\"metric_name\":\"compute_unit_seconds\"}"), FIRST_METRIC ".value"),
	   "a metric without a value is refused");
	ok(consumption_refused(CONSUMPTION_METRICS("{\"value\":1}"), FIRST_METRIC ".metric_name"),
	   "a metric without a name is refused");
	ok(consumption_refused(CONSUMPTION_METRICS("{\"metric_name\":[],\"value\":1}"), FIRST_METRIC ".metric_name"),
	   "a metric name that is no string is refused");
	ok(consumption_refused(CONSUMPTION_METRICS("{\"metric_name\":\"compute_unit_seconds\",\"value\":"
											   "9223372036854775807},{\"metric_name\":\"compute_unit_seconds\","
											   "\"value\":1}"),
						   "consumption[0].metrics[1].value (compute_unit_seconds) overflows"),
	   "a sum past the largest bigint is refused");
	ok(consumption_refused("{\"projects\":[{\"project_id\":\"p-1\",\"periods\":[{\"period_start\":"
						   "\"2026-11-01T00:00:00Z\",\"consumption\":[{\"metrics\":[{\"metric_name\":"
						   "\"root_branch_bytes_month\",\"value\":5000000000000000000}]},{\"metrics\":[{\"metric_name\":"
						   "\"child_branch_bytes_month\",\"value\":5000000000000000000}]}]}]}]}",
						   "projects[0].periods[0].consumption[1].metrics[0].value (child_branch_bytes_month) overflows"),
	   "root and child storage that overflow together are refused");
	ok(consumption_refused("{\"projects\":[{\"project_id\":\"p-1\",\"periods\":[]}],\"pagination\":"
						   "{\"cursor\":\"p-1&org_id=x\"}}", "pagination.cursor"), "a cursor that is no id is refused");
	ok(consumption_refused("{\"projects\":[\"p-1\"]}", "projects[0].project_id"),
	   "a project that is no object is refused");
	ok(consumption_refused("{\"project\":[]}", "projects[]"), "an answer without projects is refused");
	ok(consumption_refused("{\"projects\":[]} []", "JSON object"), "an answer that is not one object is refused");
}

/* The transfer request a claim link is made of. */
static void
test_transfer_requests(void)
{
	NeonTransferRequest tr;
	char	   *error = NULL;
	char	   *body = neon_build_transfer_request(3600);

	ok(same(body, "{\"ttl_seconds\":3600}"), "the request body: %s", body);
	free(body);
	ok(neon_parse_transfer_request("{\"id\":\"0b4a1c5e-9d2f-4c1e-8a7b-2f1e3d4c5b6a\",\"project_id\":\"long-forest-06846227\","
								   "\"created_at\":\"2026-11-22T04:00:00Z\",\"expires_at\":\"2026-11-23T04:00:00Z\"}",
								   &tr, &error)
	   && same(tr.id, "0b4a1c5e-9d2f-4c1e-8a7b-2f1e3d4c5b6a") && same(tr.project_id, "long-forest-06846227")
	   && same(tr.expires_at, "2026-11-23T04:00:00Z"), "a created transfer request: id, project, expiry");
	neon_transfer_request_free(&tr);
	free(error);
	error = NULL;
	ok(!neon_parse_transfer_request("{\"id\":\"x&ru=https://evil.example\",\"project_id\":\"p-1\","
									"\"expires_at\":\"2026-11-23T04:00:00Z\"}", &tr, &error)
	   && error && strstr(error, "transfer_request.id") && tr.id == NULL,
	   "an id that would add to the link is refused");
	free(error);
	error = NULL;
	ok(!neon_parse_transfer_request("{\"id\":\"tr-1\",\"project_id\":\"p-1\",\"expires_at\":\"soon\"}", &tr, &error)
	   && error && strstr(error, "expires_at"), "an expiry that is no timestamp is refused");
	free(error);
}

/* Which projects a 422 to a transfer refuses. */
static void
test_transfer_refusals(void)
{
	const char *body = "{\"projects\":[{\"id\":\"p-1\",\"integration\":\"github\"}]}";

	ok(neon_transfer_refuses_project(body, "p-1"), "a 422 refuses the project it names");
	ok(!neon_transfer_refuses_project(body, "p-2"), "not the others of the call");
	ok(neon_transfer_refuses_project("{\"code\":\"\",\"message\":\"integration\"}", "p-2"),
	   "an answer without the list refuses every project");
	ok(neon_transfer_refuses_project("<html>", "p-2"), "so does one that is not JSON");
}

/* Runs every test. */
int
main(void)
{
	test_timestamps();
	test_project_usage();
	test_counts();
	test_project_page();
	test_consumption_page();
	test_transfer_requests();
	test_transfer_refusals();
	return done_testing();
}
