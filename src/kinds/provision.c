/*
 * provision.c
 *		The provision job: one Neon project per tenant, never two.
 *
 * Input (jobs.args, written by neon_provision at enqueue time):
 *   {"tier": "pro", "project_name": "tenant-acme",
 *    "plan": {the tier's row as it was then: organization, region_id, ...}}
 *
 * Normally a single call, POST /projects, whose 201 answer carries all the
 * tenant needs (ids, hosts, role and password). Its operations keep running
 * at Neon; they are stored on the tenant so that only a later mutation of
 * the project waits for them.
 *
 * When the outcome of a create is unknown, the engine resumes at
 * find_existing once the create can no longer land: look the project up by
 * its deterministic name and, if it exists, read its endpoint and
 * connection URI instead of creating it.
 *
 *	 create ──201──> done
 *	   │ unknown outcome (after request_timeout + settle_margin)
 *	   v
 *	 find_existing ──not found──> create
 *	   │ found
 *	   v
 *	 fetch_endpoints ──> fetch_connection_uri ──> done
 *
 * A tier with bootstrap_sql ends instead at bootstrap: the project and the
 * password are written to the tenant (still provisioning), the job is
 * taken up again at once and reads the tenant's connection from there (so
 * a restarted worker has it too), and the SQL runs in the new database as
 * its owner role. The tenant is ready only once it ran; if it fails, the
 * job fails with the server's error and SQLSTATE, the tenant is failed
 * with its project, and neon_provision() again runs only the bootstrap.
 * SQL whose end was lost is never run again (sql_outcome_unknown).
 *
 *	 create / fetch_connection_uri ──> bootstrap ──ran──> done
 *
 * Cost: 1 request per tenant; 4 or more when an answer was lost; the
 * bootstrap costs no request, one connection.
 */
#include "pg_prelude.h"

#include "engine/tenant_state.h"
#include "kinds/kinds.h"
#include "kinds/plan.h"
#include "kinds/sql_steps.h"
#include "neon/neon_connection_uri.h"
#include "neon/neon_endpoints.h"

#define STEP_CREATE "create"
#define STEP_FIND "find_existing"
#define STEP_ENDPOINTS "fetch_endpoints"
#define STEP_CONNECTION_URI "fetch_connection_uri"
#define STEP_BOOTSTRAP "bootstrap"

/* Names given to each tenant's database and owner role, so a lost answer can be recovered. */
#define TENANT_DATABASE "neondb"
#define TENANT_ROLE "neondb_owner"

/* Projects per page when searching by name (Neon's maximum). */
#define SEARCH_PAGE_SIZE 400

typedef struct Provision
{
	NeonProjectSpec spec;		/* strings in the job's memory */
	NeonProject project;		/* malloc'd strings, from the answers */
	char	   *list_cursor;	/* paging through GET /projects?search= */
	const char *bootstrap_sql;	/* the tier's, NULL when none */
	TenantSql	bootstrap;		/* its connection, at step bootstrap */
	bool		store_project;	/* the project is known: write it before the bootstrap */
	bool		bootstrapped;	/* the bootstrap ran: the tenant becomes ready */
} Provision;

/* The kind's state of a job. */
static Provision *
state_of(Job *job)
{
	return (Provision *) job->state;
}

/*
 * What find_existing and fetch_endpoints learn, saved in jobs.progress so
 * that a step retried later (claimed afresh, say after a 502) still has it.
 * No secret is among them.
 */
static const struct
{
	const char *name;
	size_t		offset;
}			progress_fields[] = {
	{"project_id", offsetof(NeonProject, project_id)},
	{"branch_id", offsetof(NeonProject, branch_id)},
	{"endpoint_id", offsetof(NeonProject, endpoint_id)},
	{"host", offsetof(NeonProject, host)},
	{"pooler_host", offsetof(NeonProject, pooler_host)},
};

/* The project's string that progress_fields[i] names. */
static char **
progress_field(Provision *p, int i)
{
	return (char **) ((char *) &p->project + progress_fields[i].offset);
}

/* Reads the plan from jobs.args and what an earlier run found from jobs.progress. */
static bool
provision_load(Job *job, const char *args_text, const char *progress_text, const char **error)
{
	Provision  *p = MemoryContextAllocZero(job->cxt, sizeof(Provision));
	JobArgs    *args = job_args_parse(args_text, error);
	JobArgs    *progress;
	const char *organization;
	const char *value;

	if (args == NULL)
		return false;
	*error = NULL;
	job->state = p;
	p->spec.name = plan_string(job, args, "project_name", error);
	p->spec.database_name = TENANT_DATABASE;
	p->spec.role_name = TENANT_ROLE;
	plan_read_spec(job, args, &p->spec, error);
	organization = plan_string(job, args, "plan.organization", error);
	if ((value = job_args_string(args, "plan.bootstrap_sql")) != NULL && value[0] != '\0')
		p->bootstrap_sql = MemoryContextStrdup(job->cxt, value);
	job_args_free(args);
	if (*error)
		return false;
	job->view.organization = (char *) organization;
	if (job->step && strcmp(job->step->name, STEP_BOOTSTRAP) == 0
		&& !tenant_sql_load(job, &p->bootstrap, NULL, p->bootstrap_sql ? p->bootstrap_sql : "", error))
		return false;

	progress = job_args_parse(progress_text, error);
	if (progress == NULL)
		return false;
	for (int i = 0; i < (int) lengthof(progress_fields); i++)
		if ((value = job_args_string(progress, progress_fields[i].name)) != NULL)
			*progress_field(p, i) = strdup(value);
	if ((value = job_args_string(progress, "cursor")) != NULL)
		p->list_cursor = MemoryContextStrdup(job->cxt, value);
	job_args_free(progress);
	return true;
}

/* What the job found so far, for jobs.progress: a retried step is claimed afresh. */
static char *
provision_save_progress(Job *job)
{
	Provision  *p = state_of(job);
	StringInfoData buf;
	const char *sep = "{";

	initStringInfo(&buf);
	for (int i = 0; i < (int) lengthof(progress_fields); i++)
	{
		if (*progress_field(p, i) == NULL)
			continue;
		appendStringInfo(&buf, "%s\"%s\": ", sep, progress_fields[i].name);
		escape_json(&buf, *progress_field(p, i));
		sep = ", ";
	}
	if (p->list_cursor)
	{
		appendStringInfo(&buf, "%s\"cursor\": ", sep);
		escape_json(&buf, p->list_cursor);
		sep = ", ";
	}
	if (buf.len == 0)
		return NULL;
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* POST /projects with the plan. */
static bool
build_create(Job *job, const char **error)
{
	Provision  *p = state_of(job);

	p->spec.org_id = job_tenant_org_id(job);
	return job_set_call(job, "POST", KEY_TENANT_ORG, pstrdup("/projects"),
						neon_build_create_project(&p->spec), error);
}

/* GET /projects?search=NAME, one page. */
static bool
build_find(Job *job, const char **error)
{
	Provision  *p = state_of(job);
	char	   *path = p->list_cursor
		? api_path("/projects?search=%s&limit=%d&cursor=%s", p->spec.name, SEARCH_PAGE_SIZE, p->list_cursor)
		: api_path("/projects?search=%s&limit=%d", p->spec.name, SEARCH_PAGE_SIZE);

	return job_set_call(job, "GET", KEY_TENANT_ORG, path, NULL, error);
}

/* GET /projects/{id}/endpoints of the project found. */
static bool
build_endpoints(Job *job, const char **error)
{
	return job_set_call(job, "GET", KEY_TENANT_ORG,
						api_path("/projects/%s/endpoints", state_of(job)->project.project_id), NULL, error);
}

/* GET /projects/{id}/connection_uri of the project found: its role's password. */
static bool
build_connection_uri(Job *job, const char **error)
{
	NeonProject *project = &state_of(job)->project;

	return job_set_call(job, "GET", KEY_TENANT_ORG,
						api_path("/projects/%s/connection_uri?database_name=%s&role_name=%s&branch_id=%s&pooled=false",
								 project->project_id, TENANT_DATABASE, TENANT_ROLE, project->branch_id),
						NULL, error);
}

/* The job's result: where the project is, for neon_platform.jobs.result. */
static const char *
result_json(NeonProject *project, bool recovered)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"project_id\": ");
	escape_json(&buf, project->project_id);
	appendStringInfoString(&buf, ", \"branch_id\": ");
	escape_json(&buf, project->branch_id);
	appendStringInfoString(&buf, ", \"endpoint_id\": ");
	escape_json(&buf, project->endpoint_id ? project->endpoint_id : "");
	appendStringInfo(&buf, ", \"recovered\": %s}", recovered ? "true" : "false");
	return buf.data;
}

/*
 * The project is known in full: the job succeeds, or, for a tier with
 * bootstrap SQL, is taken up again at once at the bootstrap, once the
 * project is written (record_answer).
 */
static JobOutcome
succeeded(Job *job, bool recovered)
{
	Provision  *p = state_of(job);
	NeonProject *project = &p->project;
	JobOutcome	o;

	if (project->database_name == NULL)
		project->database_name = strdup(TENANT_DATABASE);
	if (project->role_name == NULL)
		project->role_name = strdup(TENANT_ROLE);
	if (p->bootstrap_sql)
	{
		p->store_project = true;
		o = job_retry_at(STEP_BOOTSTRAP, NULL);
		o.retry_in = 0;
		o.not_an_attempt = true;
		return o;
	}
	o = job_outcome(JOB_SUCCEEDED, NULL);
	o.result_json = result_json(project, recovered);
	return o;
}

/* The tier's bootstrap SQL on the new database. */
static bool
build_bootstrap(Job *job, const char **error)
{
	return tenant_sql_build(job, &state_of(job)->bootstrap, error);
}

/* The bootstrap ran: the tenant becomes ready; or it failed, with the server's error. */
static JobOutcome
handle_bootstrap(Job *job, SqlRequest *req)
{
	JobOutcome	o = tenant_sql_outcome(job, req, "the tier's bootstrap SQL");

	if (o.verdict == JOB_SUCCEEDED)
	{
		state_of(job)->bootstrapped = true;
		o.result_json = psprintf("{\"project_id\": \"%s\", \"bootstrap\": %s}",
								 job->view.project_id ? job->view.project_id : "", o.result_json);
	}
	return o;
}

/* Before the bootstrap: the tenant's project and password, for its connection. */
static void
provision_record_answer(Job *job)
{
	Provision  *p = state_of(job);

	if (p && p->store_project && job->outcome.verdict == JOB_RETRY)
		tenant_state_project(job->tenant, &p->project, job_tenant_org_id(job), false);
}

/* The answer to POST /projects. */
static JobOutcome
handle_create(Job *job, HttpRequest *req)
{
	Provision  *p = state_of(job);
	char	   *error = NULL;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (neon_parse_create_project(req->response, &p->project, &error))
		return succeeded(job, false);
	neon_project_free(&p->project);
	if (json_text_parses(req->response))
		return job_refused_answer(job, req, error);
	/* Neon created something we cannot read: find it rather than create again. */
	free(error);
	return job_next_step(job, STEP_FIND);
}

/* A page of GET /projects?search=: our project, the next page, or create it. */
static JobOutcome
handle_find(Job *job, HttpRequest *req)
{
	Provision  *p = state_of(job);
	char	   *project_id = NULL;
	char	   *last_id = NULL;
	char	   *error = NULL;
	int			count = 0;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_find_project_by_name(req->response, p->spec.name, &project_id, &last_id, &count, &error))
		return job_refused_answer(job, req, error);
	p->list_cursor = NULL;
	if (project_id != NULL)
	{
		free(p->project.project_id);
		p->project.project_id = project_id;
		free(last_id);
		return job_next_step(job, STEP_ENDPOINTS);
	}
	if (count >= SEARCH_PAGE_SIZE && last_id != NULL)
	{
		p->list_cursor = MemoryContextStrdup(job->cxt, last_id);
		free(last_id);
		return job_next_step(job, STEP_FIND);
	}
	free(last_id);
	return job_next_step(job, STEP_CREATE);
}

/* The endpoints of a project found by name. */
static JobOutcome
handle_endpoints(Job *job, HttpRequest *req)
{
	char	   *error = NULL;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_parse_endpoints(req->response, &state_of(job)->project, &error))
		return job_refused_answer(job, req, error);
	return job_next_step(job, STEP_CONNECTION_URI);
}

/* The connection URI of a project found by name: the last piece. */
static JobOutcome
handle_connection_uri(Job *job, HttpRequest *req)
{
	NeonProject *project = &state_of(job)->project;
	char	   *error = NULL;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_parse_connection_uri(req->response, project, &error))
		return job_refused_answer(job, req, error);
	if (project->pooler_host == NULL && project->host != NULL)
		project->pooler_host = neon_pooler_host(project->host);
	return succeeded(job, true);
}

/* Writes the tenant's project and password (already written when it bootstrapped); the tenant becomes ready. */
static void
provision_record_success(Job *job)
{
	if (state_of(job)->bootstrapped)
		tenant_state_bootstrapped(job->tenant);
	else
		tenant_state_project(job->tenant, &state_of(job)->project, job_tenant_org_id(job), true);
}

/* A provisioning that failed for good leaves the tenant failed, with the reason. */
static void
provision_record_failure(Job *job, const char *error)
{
	tenant_state_job_failed(job->tenant, "provisioning", "failed", error);
}

/* Frees the answers' strings (the password is wiped, and the bootstrap's connection). */
static void
provision_release(Job *job)
{
	if (job->state == NULL)
		return;
	neon_project_free(&state_of(job)->project);
	tenant_sql_release(&state_of(job)->bootstrap);
}

static const JobStep provision_steps[] = {
	{.name = STEP_CREATE, .mutation = true, .lookup_step = STEP_FIND,
	.build = build_create, .handle = handle_create},
	{.name = STEP_FIND, .build = build_find, .handle = handle_find},
	{.name = STEP_ENDPOINTS, .build = build_endpoints, .handle = handle_endpoints},
	{.name = STEP_CONNECTION_URI, .build = build_connection_uri, .handle = handle_connection_uri},
	{.name = STEP_BOOTSTRAP, .mutation = true, .lookup_step = SQL_STEP_UNKNOWN,
	.build = build_bootstrap, .handle_sql = handle_bootstrap},
	{.name = SQL_STEP_UNKNOWN, .build = tenant_sql_unknown_outcome},
	{.name = NULL}
};

const JobKind provision_kind = {
	.name = "provision",
	.lane = LANE_INTERACTIVE,
	.needs_tenant = true,
	.steps = provision_steps,
	.load = provision_load,
	.save_progress = provision_save_progress,
	.record_answer = provision_record_answer,
	.record_success = provision_record_success,
	.record_failure = provision_record_failure,
	.release = provision_release,
};
