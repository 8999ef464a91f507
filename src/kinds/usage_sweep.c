/*
 * usage_sweep.c
 *		The usage sweep: reads every project of the free organization, then
 *		of the paid one, 400 a page, and records each tenant's active time
 *		and storage; then enqueues detail reads for the tenants closest to
 *		a quota (background lane, no tenant).
 *
 * Input (jobs.args, written by neon_sync_usage() or enqueue_due_sweep()): {}
 *
 *	 list_projects (free organization's key) ──full page──> list_projects (cursor)
 *	   │ short or empty page
 *	   v
 *	 list_projects (paid organization's key) ──full page──> list_projects (cursor)
 *	   │ short or empty page
 *	   v
 *	 done: neon_platform.enqueue_usage_reads(usage_detail_reads) → read_usage jobs
 *
 * GET /projects?limit=400[&cursor=...] with each organization's own key
 * (which implies the organization). Neon's pagination.cursor is the last id
 * of every page, the last included, so the sweep stops on a page shorter
 * than the limit; a full page without a cursor, or with the cursor that
 * asked for it, is refused (it would never end). Each page is recorded as
 * it comes, in the transaction that records the answer
 * (neon_platform.record_project_page: the tenants' usage rows, which raise
 * the alerts), with the organization and cursor reached in jobs.progress:
 * a restarted worker resumes at the next page. A page is a read: one whose
 * answer was lost is simply read again.
 *
 * Result: {"pages", "projects", "matched_tenants", "detail_reads"}.
 *
 * Cost: floor(n / 400) + 1 requests per organization of n projects (2 for
 * up to 399 projects in each), plus the read_usage jobs it enqueues (1
 * request each, at most neon_platform.usage_detail_reads).
 */
#include "pg_prelude.h"

#include "engine/job_args.h"
#include "engine/settings.h"
#include "engine/spi_util.h"
#include "kinds/kinds.h"
#include "neon/neon_usage.h"

#define STEP_LIST "list_projects"

/* Projects per page: the most GET /projects gives. */
#define PAGE_LIMIT 400

typedef struct UsageSweep
{
	bool		paid;			/* the organization being read: free, then paid */
	char	   *cursor;			/* the next page's cursor; NULL: the organization's first page */
	int64		pages;
	int64		projects;
	int64		matched;		/* tenants matched by the pages recorded before this answer */
	int64		page_matched;	/* tenants matched by the page of this answer */
	char	   *page;			/* the items of the page of this answer, for record_project_page */
} UsageSweep;

static const char *record_page_sql = "SELECT neon_platform.record_project_page($1::jsonb)";
static const char *enqueue_reads_sql = "SELECT neon_platform.enqueue_usage_reads($1)";

static SPIPlanPtr record_page_plan;
static SPIPlanPtr enqueue_reads_plan;

/* The kind's state of a job. */
static UsageSweep *
usage_sweep(Job *job)
{
	return (UsageSweep *) job->state;
}

/* A count saved in jobs.progress (0 when absent). */
static int64
progress_count(JobArgs *progress, const char *path)
{
	double		value = 0;

	return job_args_number(progress, path, &value) ? (int64) value : 0;
}

/* Reads where a sweep stood (jobs.progress): organization, cursor, and the counts so far. */
static bool
usage_sweep_load(Job *job, const char *args pg_attribute_unused(), const char *progress_text, const char **error)
{
	UsageSweep *s = MemoryContextAllocZero(job->cxt, sizeof(UsageSweep));
	JobArgs    *progress = job_args_parse(progress_text, error);
	const char *organization;
	const char *cursor;

	job->state = s;
	if (progress == NULL)
		return false;
	organization = job_args_string(progress, "organization");
	s->paid = organization && strcmp(organization, "paid") == 0;
	cursor = job_args_string(progress, "cursor");
	s->cursor = cursor ? MemoryContextStrdup(job->cxt, cursor) : NULL;
	s->pages = progress_count(progress, "pages");
	s->projects = progress_count(progress, "projects");
	s->matched = progress_count(progress, "matched_tenants");
	job_args_free(progress);
	return true;
}

/* The organization, cursor and counts reached, for jobs.progress. */
static char *
usage_sweep_save_progress(Job *job)
{
	UsageSweep *s = usage_sweep(job);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"organization\": \"%s\", \"cursor\": ", s->paid ? "paid" : "free");
	if (s->cursor)
		escape_json(&buf, s->cursor);
	else
		appendStringInfoString(&buf, "null");
	appendStringInfo(&buf, ", \"pages\": " INT64_FORMAT ", \"projects\": " INT64_FORMAT
					 ", \"matched_tenants\": " INT64_FORMAT "}",
					 s->pages, s->projects, s->matched + s->page_matched);
	return buf.data;
}

/* GET /projects?limit=400[&cursor=...] with the organization's key. */
static bool
build_list(Job *job, const char **error)
{
	UsageSweep *s = usage_sweep(job);
	ApiKeyKind	key = s->paid ? KEY_PAID_ORG : KEY_FREE_ORG;

	if (s->cursor)
		return job_set_call(job, "GET", key, api_path("/projects?limit=%d&cursor=%s", PAGE_LIMIT, s->cursor),
							NULL, error);
	return job_set_call(job, "GET", key, api_path("/projects?limit=%d", PAGE_LIMIT), NULL, error);
}

/* The page's projects as record_project_page takes them: [{"id", "active_time", "synthetic_storage_size"}]. */
static char *
page_items_json(const NeonProjectPage *page)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < page->n_projects; i++)
	{
		const NeonListedProject *p = &page->projects[i];

		appendStringInfoString(&buf, i ? ", {\"id\": " : "{\"id\": ");
		escape_json(&buf, p->id);
		appendStringInfo(&buf, ", \"active_time\": %lld, \"synthetic_storage_size\": ", p->active_time);
		if (p->synthetic_storage_size >= 0)
			appendStringInfo(&buf, "%lld}", p->synthetic_storage_size);
		else
			appendStringInfoString(&buf, "null}");
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/*
 * A page read: it is kept for record_answer, and the sweep goes on at the
 * next page, the paid organization's first, or ends.
 */
static JobOutcome
handle_list(Job *job, HttpRequest *req)
{
	UsageSweep *s = usage_sweep(job);
	NeonProjectPage page;
	char	   *error = NULL;
	bool		full;

	s->matched += s->page_matched;
	s->page_matched = 0;
	if (s->page)
		pfree(s->page);
	s->page = NULL;
	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_parse_project_page(req->response, &page, &error))
		return job_refused_answer(job, req, error);
	full = page.n_projects >= PAGE_LIMIT;
	if (full && (page.cursor == NULL || (s->cursor && strcmp(page.cursor, s->cursor) == 0)))
	{
		neon_project_page_free(&page);
		return job_refused_answer(job, req, strdup("a full page without a new pagination.cursor"));
	}
	s->page = page_items_json(&page);
	s->pages++;
	s->projects += page.n_projects;
	if (s->cursor)
		pfree(s->cursor);
	s->cursor = full ? pstrdup(page.cursor) : NULL;
	neon_project_page_free(&page);
	if (full)
		return job_next_step(job, STEP_LIST);
	if (!s->paid)
	{
		s->paid = true;
		return job_next_step(job, STEP_LIST);
	}
	return job_outcome(JOB_SUCCEEDED, NULL);
}

/* Writes one page's usage; returns how many tenants it matched. */
static int64
record_page(const char *items)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(items)};

	spi_run(spi_plan(&record_page_plan, record_page_sql, 1, types), values, NULL, SPI_OK_SELECT);
	return spi_int(SPI_tuptable->vals[0], 1);
}

/* Enqueues the detail reads of the tenants closest to a quota; returns how many. */
static int
enqueue_detail_reads(int budget)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(budget)};

	spi_run(spi_plan(&enqueue_reads_plan, enqueue_reads_sql, 1, types), values, NULL, SPI_OK_SELECT);
	return (int) spi_int(SPI_tuptable->vals[0], 1);
}

/*
 * Records the page this answer brought (only a page that was read and
 * taken: not after a lost answer, nor when its recording failed for good;
 * also when the next page must wait for a key), and after the last page
 * the detail reads and the job's result. Run again with the same answer
 * when its recording is retried, so it counts the page's matches afresh
 * rather than adding them up.
 */
static void
usage_sweep_record_answer(Job *job)
{
	UsageSweep *s = usage_sweep(job);
	JobVerdict	verdict = job->outcome.verdict;
	int			detail_reads;

	if (s == NULL || s->page == NULL || job->answer == NULL || job->answer->status >= 300
		|| verdict == JOB_FAILED)
		return;
	s->page_matched = record_page(s->page);
	if (verdict != JOB_SUCCEEDED)
		return;
	detail_reads = enqueue_detail_reads(neon_usage_detail_reads);
	job->outcome.result_json =
		MemoryContextStrdup(job->cxt,
							psprintf("{\"pages\": " INT64_FORMAT ", \"projects\": " INT64_FORMAT
									 ", \"matched_tenants\": " INT64_FORMAT ", \"detail_reads\": %d}",
									 s->pages, s->projects, s->matched + s->page_matched, detail_reads));
}

static const JobStep usage_sweep_steps[] = {
	{.name = STEP_LIST, .build = build_list, .handle = handle_list},
	{.name = NULL}
};

const JobKind usage_sweep_kind = {
	.name = "usage_sweep",
	.lane = LANE_BACKGROUND,
	.needs_tenant = false,
	.steps = usage_sweep_steps,
	.load = usage_sweep_load,
	.save_progress = usage_sweep_save_progress,
	.record_answer = usage_sweep_record_answer,
};
