/*
 * provision.c
 *		The provision job: one Neon project per tenant, never two.
 *
 * Normally a single call, POST /projects, whose 201 answer carries all the
 * tenant needs (ids, hosts, role and password). Its operations keep running
 * at Neon; they are stored on the tenant so that only a later mutation of
 * the project waits for them.
 *
 * When the outcome of a create is unknown (a timeout, a reset connection, a
 * 5xx that may come from a proxy after Neon acted, a worker crash), the job
 * never creates blindly again. It resumes at find_existing: look the project
 * up by its deterministic name, and if it exists read its endpoint and
 * connection URI instead of creating it.
 *
 *	 create ──201──> done
 *	   │ unknown outcome
 *	   v
 *	 find_existing ──not found──> create
 *	   │ found
 *	   v
 *	 fetch_endpoints ──> fetch_connection_uri ──> done
 */
#include "pg_prelude.h"

#include "neon_platform.h"

#define STEP_CREATE "create"
#define STEP_FIND "find_existing"
#define STEP_ENDPOINTS "fetch_endpoints"
#define STEP_CONNECTION_URI "fetch_connection_uri"

/* Names given to each tenant's database and owner role, so a lost answer can be recovered. */
#define TENANT_DATABASE "neondb"
#define TENANT_ROLE "neondb_owner"

/* Projects per page when searching by name (Neon's maximum). */
#define SEARCH_PAGE_SIZE 400

static const char *tenant_ready_sql =
"UPDATE neon_platform.tenants"
"   SET state = 'ready', project_id = $2, org_id = $3, branch_id = $4, endpoint_id = $5,"
"       database_name = $6, role_name = $7, host = $8, pooler_host = $9,"
"       pending_operations = $10, last_error = NULL, ready_at = now(), updated_at = now()"
" WHERE tenant = $1";

static const char *secret_sql =
"INSERT INTO neon_platform.tenant_secrets AS s (tenant, role_password) VALUES ($1, $2)"
"    ON CONFLICT (tenant) DO UPDATE SET role_password = excluded.role_password, updated_at = now()";

static const char *tenant_failed_sql =
"UPDATE neon_platform.tenants SET state = 'failed', last_error = $2, updated_at = now()"
" WHERE tenant = $1 AND state = 'provisioning'";

static SPIPlanPtr tenant_ready_plan;
static SPIPlanPtr secret_plan;
static SPIPlanPtr tenant_failed_plan;

/* The step the job is at; a job that has not started is at create. */
static const char *
current_step(Job *job)
{
	return job->step ? job->step : STEP_CREATE;
}

/* Moves the job to another step (in memory; a crash resumes at find_existing anyway). */
static void
set_step(Job *job, const char *step)
{
	job->step = MemoryContextStrdup(job->cxt, step);
}

/* The API key of the organization the tenant's project lives in. */
static const char *
organization_key(Job *job, const char **error)
{
	bool		paid = strcmp(job->organization, "paid") == 0;
	const char *key = paid ? neon_paid_org_api_key : neon_free_org_api_key;

	if (key == NULL || key[0] == '\0')
	{
		*error = paid ? "neon_platform.paid_org_api_key is not set"
			: "neon_platform.free_org_api_key is not set";
		return NULL;
	}
	return key;
}

/* The organization id, or NULL to let the organization key imply it. */
static const char *
organization_id(Job *job)
{
	const char *id = strcmp(job->organization, "paid") == 0 ? neon_paid_org_id : neon_free_org_id;

	return (id && id[0]) ? id : NULL;
}

/* The path and query of the call the current step makes; *body set for a create. */
static char *
step_path(Job *job, const char **method, char **body)
{
	const char *step = current_step(job);

	*body = NULL;
	*method = "GET";
	if (strcmp(step, STEP_CREATE) == 0)
	{
		*method = "POST";
		job->spec.org_id = organization_id(job);
		job->spec.database_name = TENANT_DATABASE;
		job->spec.role_name = TENANT_ROLE;
		*body = neon_build_create_project(&job->spec);
		return pstrdup("/projects");
	}
	if (strcmp(step, STEP_FIND) == 0)
	{
		char	   *name = http_escape(job->spec.name);
		char	   *cursor = job->list_cursor ? http_escape(job->list_cursor) : NULL;
		char	   *path = psprintf("/projects?search=%s&limit=%d%s%s", name, SEARCH_PAGE_SIZE,
									cursor ? "&cursor=" : "", cursor ? cursor : "");

		free(name);
		free(cursor);
		return path;
	}
	if (strcmp(step, STEP_ENDPOINTS) == 0)
		return psprintf("/projects/%s/endpoints", job->project.project_id);
	if (strcmp(step, STEP_CONNECTION_URI) == 0)
		return psprintf("/projects/%s/connection_uri?database_name=%s&role_name=%s&branch_id=%s&pooled=false",
						job->project.project_id, TENANT_DATABASE, TENANT_ROLE, job->project.branch_id);
	elog(ERROR, "neon_platform: provision job %lld is at unknown step \"%s\"", (long long) job->id, step);
	return NULL;
}

/*
 * Builds the HTTP request of the job's current step into job->call. false,
 * with *error set, when the configuration makes the call impossible.
 */
bool
provision_prepare_call(Job *job, const char **error)
{
	const char *key = organization_key(job, error);
	const char *method;
	char	   *body;
	char	   *path;
	char	   *url;
	size_t		base_len;

	if (key == NULL)
		return false;
	if (neon_api_url == NULL || neon_api_url[0] == '\0')
	{
		*error = "neon_platform.api_url is not set";
		return false;
	}

	path = step_path(job, &method, &body);
	base_len = strlen(neon_api_url);
	while (base_len > 0 && neon_api_url[base_len - 1] == '/')
		base_len--;
	url = psprintf("%.*s%s", (int) base_len, neon_api_url, path);

	job->call = http_request_new(method, url);
	if (job->call == NULL)
		elog(ERROR, "neon_platform: out of memory");
	job->call->body = body;
	job->call->api_key = strdup(key);
	job->call->owner = job;
	job->call_path = MemoryContextStrdup(job->cxt, path);
	pfree(url);
	pfree(path);
	return true;
}

/* An outcome that is decided now. */
static JobOutcome
outcome(JobVerdict verdict, const char *error)
{
	JobOutcome	o = {0};

	o.verdict = verdict;
	o.error = error;
	o.retry_in = -1;
	return o;
}

/* A transient failure: try again later from `step`. */
static JobOutcome
retry_from(const char *step, const char *error)
{
	JobOutcome	o = outcome(JOB_RETRY, error);

	o.retry_step = step;
	return o;
}

/* Neon answered with a body we cannot read: try again from `step`. */
static JobOutcome
unreadable_answer(const char *what, char *error, const char *step)
{
	const char *msg = psprintf("unreadable %s: %s", what, error);

	free(error);
	return retry_from(step, msg);
}

/* Continue with another call now. */
static JobOutcome
call_next(Job *job, const char *step)
{
	const char *error = NULL;

	set_step(job, step);
	if (!provision_prepare_call(job, &error))
		return outcome(JOB_FAILED, error);
	return outcome(JOB_CALL_AGAIN, NULL);
}

/* The job's result: where the project is, for neon_platform.jobs.result. */
static const char *
result_json(Job *job, bool recovered)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"project_id\": ");
	escape_json(&buf, job->project.project_id);
	appendStringInfoString(&buf, ", \"branch_id\": ");
	escape_json(&buf, job->project.branch_id);
	appendStringInfoString(&buf, ", \"endpoint_id\": ");
	escape_json(&buf, job->project.endpoint_id ? job->project.endpoint_id : "");
	appendStringInfo(&buf, ", \"recovered\": %s}", recovered ? "true" : "false");
	return buf.data;
}

/* Takes parsed project data into the job; ownership of the malloc'd strings moves too. */
static JobOutcome
succeeded(Job *job, bool recovered)
{
	JobOutcome	o = outcome(JOB_SUCCEEDED, NULL);

	if (job->project.database_name == NULL)
		job->project.database_name = strdup(TENANT_DATABASE);
	if (job->project.role_name == NULL)
		job->project.role_name = strdup(TENANT_ROLE);
	o.result_json = result_json(job, recovered);
	return o;
}

/* The answer to POST /projects. */
static JobOutcome
handle_create(Job *job, HttpRequest *req)
{
	char	   *error = NULL;

	/* Neon said it created something we cannot read: find it rather than create again. */
	if (!neon_parse_create_project(req->response, &job->project, &error))
		return unreadable_answer("answer to POST /projects", error, STEP_FIND);
	return succeeded(job, false);
}

/* A page of GET /projects?search=: our project, the next page, or create it. */
static JobOutcome
handle_find(Job *job, HttpRequest *req)
{
	char	   *project_id = NULL;
	char	   *last_id = NULL;
	char	   *error = NULL;
	int			count = 0;

	if (!neon_find_project_by_name(req->response, job->spec.name, &project_id, &last_id, &count, &error))
		return unreadable_answer("project list", error, STEP_FIND);
	if (project_id != NULL)
	{
		job->project.project_id = project_id;
		free(last_id);
		return call_next(job, STEP_ENDPOINTS);
	}
	if (count >= SEARCH_PAGE_SIZE && last_id != NULL)
	{
		job->list_cursor = MemoryContextStrdup(job->cxt, last_id);
		free(last_id);
		return call_next(job, STEP_FIND);
	}
	free(last_id);
	job->list_cursor = NULL;
	return call_next(job, STEP_CREATE);
}

/* The endpoints of a project found by name. */
static JobOutcome
handle_endpoints(Job *job, HttpRequest *req)
{
	char	   *error = NULL;

	if (!neon_parse_endpoints(req->response, &job->project, &error))
		return unreadable_answer("endpoint list", error, STEP_FIND);
	return call_next(job, STEP_CONNECTION_URI);
}

/* The connection URI of a project found by name: the last piece. */
static JobOutcome
handle_connection_uri(Job *job, HttpRequest *req)
{
	char	   *error = NULL;

	if (!neon_parse_connection_uri(req->response, &job->project, &error))
		return unreadable_answer("connection URI", error, STEP_FIND);
	if (job->project.pooler_host == NULL && job->project.host != NULL)
		job->project.pooler_host = neon_pooler_host(job->project.host);
	return succeeded(job, true);
}

/* Why a call got no useful answer, in words for last_error. */
static const char *
failure_text(Job *job, HttpRequest *req)
{
	char	   *neon = NULL;
	const char *text;

	if (req->status == 0)
		return psprintf("%s %s: %s", req->method, job->call_path,
						req->timed_out ? psprintf("no answer within %d ms", neon_request_timeout_ms) : req->error);
	neon = neon_error_message(req->response);
	text = psprintf("%s %s: HTTP %ld: %s", req->method, job->call_path, req->status, neon);
	free(neon);
	return text;
}

/*
 * Where a job resumes after a transient failure. Only a create that Neon
 * certainly did not carry out (429, 423, or a call that never left) is made
 * again as is; any other create may have happened, so the job looks for the
 * project first. The later steps resume there too: what they found lives
 * only in the worker's memory until the job ends.
 */
static const char *
resume_step(Job *job, bool certainly_not_done)
{
	bool		is_create = strcmp(current_step(job), STEP_CREATE) == 0;

	return (is_create && certainly_not_done) ? STEP_CREATE : STEP_FIND;
}

/*
 * Decides what an answer means for the job: done, the next call, a retry
 * later, or a permanent failure (a 4xx that retrying cannot change).
 */
JobOutcome
provision_handle_response(Job *job, HttpRequest *req)
{
	const char *step = current_step(job);

	if (req->status == 0)
		return retry_from(resume_step(job, !req->maybe_sent), failure_text(job, req));
	if (req->status == 429)
	{
		JobOutcome	o = retry_from(resume_step(job, true), failure_text(job, req));

		o.snooze = true;
		return o;
	}
	if (req->status == 423)
		return retry_from(resume_step(job, true), failure_text(job, req));
	if (req->status >= 500)
		return retry_from(resume_step(job, false), failure_text(job, req));
	if (req->status < 200 || req->status >= 300)
		return outcome(JOB_FAILED, failure_text(job, req));

	if (strcmp(step, STEP_CREATE) == 0)
		return handle_create(job, req);
	if (strcmp(step, STEP_FIND) == 0)
		return handle_find(job, req);
	if (strcmp(step, STEP_ENDPOINTS) == 0)
		return handle_endpoints(job, req);
	return handle_connection_uri(job, req);
}

/* The tenant's pending operations as a text[] Datum. */
static Datum
operations_array(NeonProject *project)
{
	Datum	   *items = palloc0(sizeof(Datum) * Max(project->n_operations, 1));
	int			i;

	for (i = 0; i < project->n_operations; i++)
		items[i] = CStringGetTextDatum(project->operation_ids[i]);
	return PointerGetDatum(construct_array(items, project->n_operations, TEXTOID, -1, false, TYPALIGN_INT));
}

/* Writes the tenant's project and password; the tenant becomes ready. */
void
provision_record_success(Job *job)
{
	NeonProject *p = &job->project;
	Oid			types[10] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID};
	Datum		values[10];
	char		nulls[10];
	Oid			secret_types[2] = {TEXTOID, TEXTOID};
	Datum		secret_values[2];
	const char *org_id = p->org_id ? p->org_id : organization_id(job);

	values[0] = text_or_null(job->tenant, &nulls[0]);
	values[1] = text_or_null(p->project_id, &nulls[1]);
	values[2] = text_or_null(org_id, &nulls[2]);
	values[3] = text_or_null(p->branch_id, &nulls[3]);
	values[4] = text_or_null(p->endpoint_id, &nulls[4]);
	values[5] = text_or_null(p->database_name, &nulls[5]);
	values[6] = text_or_null(p->role_name, &nulls[6]);
	values[7] = text_or_null(p->host, &nulls[7]);
	values[8] = text_or_null(p->pooler_host, &nulls[8]);
	values[9] = operations_array(p);
	nulls[9] = ' ';
	spi_run(spi_plan(&tenant_ready_plan, tenant_ready_sql, 10, types), values, nulls, SPI_OK_UPDATE);

	if (p->password == NULL)
		elog(ERROR, "neon_platform: Neon returned no password for tenant \"%s\"", job->tenant);
	secret_values[0] = CStringGetTextDatum(job->tenant);
	secret_values[1] = CStringGetTextDatum(p->password);
	spi_run(spi_plan(&secret_plan, secret_sql, 2, secret_types), secret_values, NULL, SPI_OK_INSERT);
}

/* A provisioning that failed for good leaves the tenant failed, with the reason. */
void
provision_record_failure(Job *job, const char *error)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(job->tenant);
	values[1] = CStringGetTextDatum(error);
	spi_run(spi_plan(&tenant_failed_plan, tenant_failed_sql, 2, types), values, NULL, SPI_OK_UPDATE);
}
