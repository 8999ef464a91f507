/*
 * usage_sweep.c
 *		The usage sweep: reads every project of the free organization, then
 *		of the paid one, 400 a page, and records each tenant's active time
 *		and storage and every project in the sweep's inventory; reconciles
 *		the complete inventory with the tenants; reads the paid
 *		organization's billing figures from the consumption API; then
 *		enqueues detail reads for the tenants closest to a quota
 *		(background lane, no tenant).
 *
 * Input (jobs.args, written by neon_sync_usage(), neon_reconcile() or
 * enqueue_due_sweep()): {}
 *
 *	 list_projects (free organization's key) ──full page──> list_projects (cursor)
 *	   │ short or empty page
 *	   v
 *	 list_projects (paid organization's key) ──full page──> list_projects (cursor)
 *	   │ short or empty page: neon_platform.reconcile(job id, delete_strays)
 *	   v
 *	 read_consumption ──full page──> (2 s later) read_consumption (cursor)
 *	   │ short or empty page, or 403 (the plan has no consumption API)
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
 * the alerts, and the inventory), with the phase and cursor reached in
 * jobs.progress: a restarted worker resumes at the next page. Only once the
 * last page of both organizations is in does reconciliation act: a sweep
 * that fails halfway changes nothing.
 *
 * GET /consumption_history/v2/projects?org_id=...&granularity=monthly
 * &from=<month start>&to=<now>&limit=100 with the paid organization's key
 * gives its projects' compute-unit seconds, storage byte-hours and transfer
 * (neon_platform.record_consumption_page). Neon allows it about 30 requests
 * a minute in a bucket of its own: pages are 2 s apart. A page is a read:
 * one whose answer was lost is simply read again.
 *
 * Result: {"pages", "projects", "matched_tenants", "consumption_pages",
 * "billed_tenants", "billing", "reconciliation", "detail_reads"}.
 *
 * Cost: floor(n / 400) + 1 requests per organization of n projects, plus
 * floor(p / 100) + 1 consumption requests for p paid projects, plus the
 * read_usage jobs it enqueues (1 request each, at most
 * neon_platform.usage_detail_reads) and the apply_tier and delete_stray
 * jobs reconciliation enqueues.
 */
#include "pg_prelude.h"

#include "engine/job_args.h"
#include "engine/settings.h"
#include "engine/spi_util.h"
#include "kinds/kinds.h"
#include "neon/neon_usage.h"

#define STEP_LIST "list_projects"
#define STEP_CONSUMPTION "read_consumption"

/* Projects per page: the most GET /projects gives. */
#define PAGE_LIMIT 400

/* Projects per consumption page, and seconds between two (30 a minute). */
#define CONSUMPTION_LIMIT 100
#define CONSUMPTION_SPACING_SECONDS 2.0

/* The billing metrics read: compute, root and child branch storage, public transfer. */
#define CONSUMPTION_METRICS \
	"compute_unit_seconds,root_branch_bytes_month,child_branch_bytes_month,public_network_transfer_bytes"

typedef struct UsageSweep
{
	bool		paid;			/* the organization being listed: free, then paid */
	bool		billing;		/* listing is done: reading the consumption pages */
	char	   *cursor;			/* the next page's cursor; NULL: the phase's first page */
	int64		pages;
	int64		projects;
	int64		matched;		/* tenants matched by the pages recorded before this answer */
	int64		page_matched;	/* tenants matched by the page of this answer */
	int64		consumption_pages;
	int64		billed;			/* tenants billed by the consumption pages recorded before this answer */
	int64		page_billed;	/* tenants billed by the consumption page of this answer */
	const char *billing_note;	/* why billing was not read, if it was not */
	char	   *reconciliation; /* what neon_platform.reconcile() returned (JSON) */
	bool		listed_all;		/* this answer was the last list page */
	char	   *page;			/* the items of this answer's page, for record_answer */
	bool		page_paid;		/* a list page: it lists the paid organization */
} UsageSweep;

static SPIPlanPtr record_page_plan;
static SPIPlanPtr record_consumption_plan;
static SPIPlanPtr reconcile_plan;
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

/* A string saved in jobs.progress, copied into the job's memory (NULL when absent). */
static char *
progress_string(Job *job, JobArgs *progress, const char *path)
{
	const char *value = job_args_string(progress, path);

	return value ? MemoryContextStrdup(job->cxt, value) : NULL;
}

/* Reads where a sweep stood (jobs.progress): phase, cursor, and the counts so far. */
static bool
usage_sweep_load(Job *job, const char *args pg_attribute_unused(), const char *progress_text, const char **error)
{
	UsageSweep *s = MemoryContextAllocZero(job->cxt, sizeof(UsageSweep));
	JobArgs    *progress = job_args_parse(progress_text, error);
	const char *organization;

	job->state = s;
	if (progress == NULL)
		return false;
	organization = job_args_string(progress, "organization");
	s->paid = organization && strcmp(organization, "paid") == 0;
	s->billing = job_args_true(progress, "billing");
	s->cursor = progress_string(job, progress, "cursor");
	s->reconciliation = progress_string(job, progress, "reconciliation");
	s->pages = progress_count(progress, "pages");
	s->projects = progress_count(progress, "projects");
	s->matched = progress_count(progress, "matched_tenants");
	s->consumption_pages = progress_count(progress, "consumption_pages");
	s->billed = progress_count(progress, "billed_tenants");
	job_args_free(progress);
	return true;
}

/* Appends a JSON string, or null. */
static void
append_json_string(StringInfo buf, const char *value)
{
	if (value)
		escape_json(buf, value);
	else
		appendStringInfoString(buf, "null");
}

/* The phase, cursor and counts reached, for jobs.progress. */
static char *
usage_sweep_save_progress(Job *job)
{
	UsageSweep *s = usage_sweep(job);
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"organization\": \"%s\", \"billing\": %s, \"cursor\": ",
					 s->paid ? "paid" : "free", s->billing ? "true" : "false");
	append_json_string(&buf, s->cursor);
	appendStringInfoString(&buf, ", \"reconciliation\": ");
	append_json_string(&buf, s->reconciliation);
	appendStringInfo(&buf, ", \"pages\": " INT64_FORMAT ", \"projects\": " INT64_FORMAT
					 ", \"matched_tenants\": " INT64_FORMAT ", \"consumption_pages\": " INT64_FORMAT
					 ", \"billed_tenants\": " INT64_FORMAT "}",
					 s->pages, s->projects, s->matched + s->page_matched, s->consumption_pages,
					 s->billed + s->page_billed);
	return buf.data;
}

/* Forgets the page of the previous answer; its matches are counted. */
static void
take_next_answer(UsageSweep *s)
{
	s->matched += s->page_matched;
	s->billed += s->page_billed;
	s->page_matched = s->page_billed = 0;
	s->listed_all = false;
	if (s->page)
		pfree(s->page);
	s->page = NULL;
}

/* Moves the cursor to the next page (NULL: the phase's first page). */
static void
set_cursor(UsageSweep *s, const char *cursor)
{
	if (s->cursor)
		pfree(s->cursor);
	s->cursor = cursor ? pstrdup(cursor) : NULL;
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

/* A project's listed settings, named like neon_platform.tiers' columns; the compute ones only when listed. */
static void
append_settings_json(StringInfo buf, const NeonListedSettings *st)
{
	appendStringInfo(buf, "{\"active_time_seconds\": %lld, \"compute_time_seconds\": %lld, "
					 "\"written_data_bytes\": %lld, \"data_transfer_bytes\": %lld, \"logical_size_bytes\": %lld",
					 st->active_time_seconds, st->compute_time_seconds, st->written_data_bytes,
					 st->data_transfer_bytes, st->logical_size_bytes);
	if (st->autoscaling_min_cu >= 0)
		appendStringInfo(buf, ", \"autoscaling_min_cu\": %g", st->autoscaling_min_cu);
	if (st->autoscaling_max_cu >= 0)
		appendStringInfo(buf, ", \"autoscaling_max_cu\": %g", st->autoscaling_max_cu);
	if (st->suspend_timeout_seconds >= -1)
		appendStringInfo(buf, ", \"suspend_timeout_seconds\": %lld", st->suspend_timeout_seconds);
	appendStringInfoChar(buf, '}');
}

/* The page's projects as record_project_page takes them. */
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
		appendStringInfoString(&buf, ", \"name\": ");
		escape_json(&buf, p->name);
		appendStringInfoString(&buf, ", \"created_at\": ");
		escape_json(&buf, p->created_at);
		appendStringInfo(&buf, ", \"active_time\": %lld, \"synthetic_storage_size\": ", p->active_time);
		if (p->synthetic_storage_size >= 0)
			appendStringInfo(&buf, "%lld", p->synthetic_storage_size);
		else
			appendStringInfoString(&buf, "null");
		appendStringInfoString(&buf, ", \"settings\": ");
		append_settings_json(&buf, &p->settings);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/* Whether a full page came without a new cursor (following it would never end). */
static bool
cursor_stuck(UsageSweep *s, bool full, const char *cursor)
{
	return full && (cursor == NULL || (s->cursor && strcmp(cursor, s->cursor) == 0));
}

/* After the last page of a phase: the paid organization's list, billing, or the end. */
static JobOutcome
next_phase(Job *job)
{
	UsageSweep *s = usage_sweep(job);

	if (!s->paid)
	{
		s->paid = true;
		return job_next_step(job, STEP_LIST);
	}
	if (!s->billing)
	{
		s->listed_all = true;
		s->billing = true;
		if (neon_paid_org_id && neon_paid_org_id[0])
			return job_next_step(job, STEP_CONSUMPTION);
		s->billing_note = "no paid organization";
	}
	return job_outcome(JOB_SUCCEEDED, NULL);
}

/*
 * A page read: it is kept for record_answer, and the sweep goes on at the
 * next page or the next phase.
 */
static JobOutcome
handle_list(Job *job, HttpRequest *req)
{
	UsageSweep *s = usage_sweep(job);
	NeonProjectPage page;
	char	   *error = NULL;
	bool		full;

	take_next_answer(s);
	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_parse_project_page(req->response, &page, &error))
		return job_refused_answer(job, req, error);
	full = page.n_projects >= PAGE_LIMIT;
	if (cursor_stuck(s, full, page.cursor))
	{
		neon_project_page_free(&page);
		return job_refused_answer(job, req, strdup("a full page without a new pagination.cursor"));
	}
	s->page = page_items_json(&page);
	s->page_paid = s->paid;
	s->pages++;
	s->projects += page.n_projects;
	set_cursor(s, full ? page.cursor : NULL);
	neon_project_page_free(&page);
	if (full)
		return job_next_step(job, STEP_LIST);
	return next_phase(job);
}

/* GET /consumption_history/v2/projects for the current month, 100 projects a page. */
static bool
build_consumption(Job *job, const char **error)
{
	UsageSweep *s = usage_sweep(job);
	time_t		now = time(NULL);
	struct tm	tm;
	char		from[32];
	char		to[32];
	char	   *path;

	gmtime_r(&now, &tm);
	strftime(from, sizeof(from), "%Y-%m-01T00:00:00Z", &tm);
	strftime(to, sizeof(to), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (s->cursor)
		path = api_path("/consumption_history/v2/projects?org_id=%s&granularity=monthly&from=%s&to=%s"
						"&metrics=" CONSUMPTION_METRICS "&limit=%d&cursor=%s",
						neon_paid_org_id, from, to, CONSUMPTION_LIMIT, s->cursor);
	else
		path = api_path("/consumption_history/v2/projects?org_id=%s&granularity=monthly&from=%s&to=%s"
						"&metrics=" CONSUMPTION_METRICS "&limit=%d",
						neon_paid_org_id, from, to, CONSUMPTION_LIMIT);
	return job_set_call(job, "GET", KEY_PAID_ORG, path, NULL, error);
}

/* The page's figures as record_consumption_page takes them. */
static char *
consumption_items_json(const NeonConsumptionPage *page)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int i = 0; i < page->n_items; i++)
	{
		const NeonConsumption *c = &page->items[i];

		appendStringInfoString(&buf, i ? ", {\"project_id\": " : "{\"project_id\": ");
		escape_json(&buf, c->project_id);
		appendStringInfoString(&buf, ", \"period_start\": ");
		escape_json(&buf, c->period_start);
		appendStringInfoString(&buf, ", \"period_end\": ");
		append_json_string(&buf, c->period_end);
		appendStringInfo(&buf, ", \"compute_unit_seconds\": %lld, \"storage_byte_hours\": %lld, "
						 "\"transfer_bytes\": %lld}",
						 c->compute_unit_seconds, c->storage_byte_hours, c->transfer_bytes);
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/*
 * A consumption page read: kept for record_answer; the next one is asked
 * for 2 s later (Neon's 30 a minute). A 403 says the organization's plan
 * has no consumption API: the sweep ends without billing figures.
 */
static JobOutcome
handle_consumption(Job *job, HttpRequest *req)
{
	UsageSweep *s = usage_sweep(job);
	NeonConsumptionPage page;
	char	   *error = NULL;
	bool		full;
	JobOutcome	o;

	take_next_answer(s);
	if (req->status == 403)
	{
		s->billing_note = "the paid organization's plan has no consumption API (403)";
		return job_outcome(JOB_SUCCEEDED, NULL);
	}
	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_parse_consumption_page(req->response, &page, &error))
		return job_refused_answer(job, req, error);
	full = page.n_projects >= CONSUMPTION_LIMIT;
	if (cursor_stuck(s, full, page.cursor))
	{
		neon_consumption_page_free(&page);
		return job_refused_answer(job, req, strdup("a full consumption page without a new pagination.cursor"));
	}
	s->page = consumption_items_json(&page);
	s->consumption_pages++;
	set_cursor(s, full ? page.cursor : NULL);
	neon_consumption_page_free(&page);
	if (!full)
		return job_outcome(JOB_SUCCEEDED, NULL);
	o = job_retry_at(STEP_CONSUMPTION, NULL);
	o.retry_in = CONSUMPTION_SPACING_SECONDS;
	o.not_an_attempt = true;
	return o;
}

/* Runs one SQL function of the sweep on a text (or bigint) argument; returns its first column. */
static Datum
run_sweep_sql(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types, Datum *values)
{
	bool		isnull;
	Datum		d;

	spi_run(spi_plan(plan, sql, nargs, types), values, NULL, SPI_OK_SELECT);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? (Datum) 0 : d;
}

/* Writes one list page's usage and inventory; returns how many tenants it matched. */
static int64
record_page(Job *job, const char *items)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3] = {Int64GetDatum(job->id),
		CStringGetTextDatum(usage_sweep(job)->page_paid ? "paid" : "free"),
	CStringGetTextDatum(items)};

	return DatumGetInt32(run_sweep_sql(&record_page_plan,
									   "SELECT neon_platform.record_project_page($1, $2, $3::jsonb)",
									   3, types, values));
}

/* Writes one consumption page; returns how many tenants it billed. */
static int64
record_consumption(const char *items)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(items)};

	return DatumGetInt32(run_sweep_sql(&record_consumption_plan,
									   "SELECT neon_platform.record_consumption_page($1::jsonb)",
									   1, types, values));
}

/* Reconciles the complete inventory; keeps the summary for the result. */
static void
reconcile(Job *job)
{
	Oid			types[2] = {INT8OID, BOOLOID};
	Datum		values[2] = {Int64GetDatum(job->id), BoolGetDatum(neon_delete_strays)};
	Datum		summary = run_sweep_sql(&reconcile_plan, "SELECT neon_platform.reconcile($1, $2)::text",
										2, types, values);

	usage_sweep(job)->reconciliation = MemoryContextStrdup(job->cxt, TextDatumGetCString(summary));
}

/* Enqueues the detail reads of the tenants closest to a quota; returns how many. */
static int
enqueue_detail_reads(int budget)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(budget)};

	return DatumGetInt32(run_sweep_sql(&enqueue_reads_plan, "SELECT neon_platform.enqueue_usage_reads($1)",
									   1, types, values));
}

/* The job's result: what it read, billed, found and enqueued. */
static char *
sweep_result(UsageSweep *s, int detail_reads)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"pages\": " INT64_FORMAT ", \"projects\": " INT64_FORMAT
					 ", \"matched_tenants\": " INT64_FORMAT ", \"consumption_pages\": " INT64_FORMAT
					 ", \"billed_tenants\": " INT64_FORMAT ", \"billing\": ",
					 s->pages, s->projects, s->matched + s->page_matched, s->consumption_pages,
					 s->billed + s->page_billed);
	append_json_string(&buf, s->billing_note ? s->billing_note : "read");
	appendStringInfo(&buf, ", \"reconciliation\": %s, \"detail_reads\": %d}",
					 s->reconciliation ? s->reconciliation : "null", detail_reads);
	return buf.data;
}

/*
 * Records the page this answer brought (only a page that was read and
 * taken: not after a lost or refused answer, whose handler never ran, nor
 * when its recording failed for good), reconciles after the last list
 * page, and at the end enqueues the detail reads and writes the result. Run again with the same answer when
 * its recording is retried (its transaction rolled back), so it counts the
 * page's matches afresh rather than adding them up.
 */
static void
usage_sweep_record_answer(Job *job)
{
	UsageSweep *s = usage_sweep(job);
	JobVerdict	verdict = job->outcome.verdict;

	if (s == NULL || job->answer == NULL || verdict == JOB_FAILED)
		return;
	if (job->answer->status >= 200 && job->answer->status < 300)
	{
		if (s->page && s->billing && !s->listed_all)
			s->page_billed = record_consumption(s->page);
		else if (s->page)
			s->page_matched = record_page(job, s->page);
		if (s->listed_all)
			reconcile(job);
	}
	if (verdict == JOB_SUCCEEDED)
		job->outcome.result_json = MemoryContextStrdup(job->cxt,
													   sweep_result(s, enqueue_detail_reads(neon_usage_detail_reads)));
}

static const JobStep usage_sweep_steps[] = {
	{.name = STEP_LIST, .build = build_list, .handle = handle_list},
	{.name = STEP_CONSUMPTION, .build = build_consumption, .handle = handle_consumption},
	{.name = NULL}
};

const JobKind usage_sweep_kind = {
	.name = "usage_sweep",
	.lane = LANE_SWEEP,
	.needs_tenant = false,
	.steps = usage_sweep_steps,
	.load = usage_sweep_load,
	.save_progress = usage_sweep_save_progress,
	.record_answer = usage_sweep_record_answer,
};
