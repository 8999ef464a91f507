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

/* A page of GET /projects as recorded from the live API (project-01), the fields a sweep reads. */
#define PROJECT_PAGE_01 \
	"{\"projects\":[{\"id\":\"aged-salad-46255801\",\"platform_id\":\"azure\",\"name\":\"test\"," \
	"\"active_time\":1340,\"cpu_used_sec\":343,\"synthetic_storage_size\":46881408," \
	"\"quota_reset_at\":\"2025-02-01T00:00:00Z\",\"compute_last_active_at\":\"2025-01-13T04:08:09Z\"}]," \
	"\"pagination\":{\"cursor\":\"aged-salad-46255801\"},\"applications\":{},\"integrations\":{}}"

/* The last page, empty, as recorded (branches-01): no pagination at all. */
#define PROJECT_PAGE_EMPTY "{\"projects\":[],\"applications\":{},\"integrations\":{}}"

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

/* A page of a project list: ids, active time, storage, the cursor. */
static void
test_project_page(void)
{
	NeonProjectPage page;
	char	   *error = NULL;

	if (ok(neon_parse_project_page(PROJECT_PAGE_01, &page, &error), "project-01 list page parses"))
	{
		ok(page.n_projects == 1 && same(page.projects[0].id, "aged-salad-46255801")
		   && page.projects[0].active_time == 1340 && page.projects[0].synthetic_storage_size == 46881408,
		   "project-01: the project's id, active time and storage");
		ok(same(page.cursor, "aged-salad-46255801"), "project-01: the cursor is the last id");
		neon_project_page_free(&page);
	}
	free(error);
	error = NULL;
	ok(neon_parse_project_page(PROJECT_PAGE_EMPTY, &page, &error) && page.n_projects == 0 && page.cursor == NULL,
	   "an empty last page has no projects and no cursor");
	neon_project_page_free(&page);
	free(error);
	error = NULL;
	if (ok(neon_parse_project_page("{\"projects\":[{\"id\":\"p-1\",\"active_time\":5},"
								   "{\"id\":\"p-2\",\"active_time\":0,\"synthetic_storage_size\":null}],"
								   "\"pagination\":{\"cursor\":\"p-2\"}}", &page, &error),
		   "items without storage parse"))
		ok(page.n_projects == 2 && page.projects[0].synthetic_storage_size < 0
		   && page.projects[1].synthetic_storage_size < 0 && page.projects[0].active_time == 5,
		   "an absent or null synthetic_storage_size is not read");
	neon_project_page_free(&page);
	free(error);

	ok(page_refused("{\"projects\":[{\"id\":\"p-1\",\"active_time\":1},{\"id\":\"P-2'); --\",\"active_time\":1}]}",
					"projects[1].id"), "an id that is no Neon id refuses the page");
	ok(page_refused("{\"projects\":[{\"active_time\":1}]}", "projects[0].id"), "an item without an id is refused");
	ok(page_refused("{\"projects\":[{\"id\":\"p-1\",\"active_time\":-5}]}", "projects[0].active_time"),
	   "a negative active time is refused");
	ok(page_refused("{\"projects\":[{\"id\":\"p-1\",\"active_time\":\"12\"}]}", "projects[0].active_time"),
	   "an active time that is a string is refused");
	ok(page_refused("{\"projects\":[{\"id\":\"p-1\"}]}", "projects[0].active_time"),
	   "an item without an active time is refused");
	ok(page_refused("{\"projects\":[{\"id\":\"p-1\",\"active_time\":1,\"synthetic_storage_size\":1.5}]}",
					"projects[0].synthetic_storage_size"), "a fractional storage size is refused");
	ok(page_refused("{\"projects\":[{\"id\":\"p-1\",\"active_time\":1}],"
					"\"pagination\":{\"cursor\":\"p-1&limit=1\"}}", "pagination.cursor"),
	   "a cursor that is no id is refused");
	ok(page_refused("{\"projects\":[\"p-1\"]}", "projects[0].id"), "an item that is no object is refused");
	ok(page_refused("{\"projects\":{}}", "projects[]"), "projects that are no list are refused");
	ok(page_refused("[]", "JSON object"), "an answer that is no object is refused");
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
	test_transfer_requests();
	test_transfer_refusals();
	return done_testing();
}
