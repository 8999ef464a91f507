/*
 * api_call.c
 *		What a job kind needs to make a call and to say what its answer
 *		means: the request (URL, key, escaped path), outcomes, texts.
 */
#include "pg_prelude.h"

#include "engine/job.h"
#include "engine/job_args.h"
#include "engine/opwait.h"
#include "engine/secrets.h"
#include "engine/settings.h"
#include "neon/neon_common.h"

/* The organization setting for "free" or "paid". */
static const char *
org_setting(const char *organization)
{
	return strcmp(organization, "paid") == 0 ? neon_paid_org_id : neon_free_org_id;
}

/* The organization id of the tenant's project, or NULL to let the organization key imply it. */
const char *
job_tenant_org_id(Job *job)
{
	const char *id = job->view.organization ? org_setting(job->view.organization) : NULL;

	return (id && id[0]) ? id : NULL;
}

/* The kind of key that `key` means for this job. */
static ApiKeyKind
resolve_key_kind(Job *job, ApiKeyKind key)
{
	if (key != KEY_TENANT_ORG)
		return key;
	if (job->view.organization && strcmp(job->view.organization, "paid") == 0)
		return KEY_PAID_ORG;
	return KEY_FREE_ORG;
}

/*
 * Makes job->call the request METHOD api_url||path with the key, taking
 * ownership of `path` (palloc'd) and `body` (malloc'd). false, with *error
 * set, when the configuration makes the call impossible: the job then waits
 * for a reload instead of failing. A NULL path (api_path() met a value the
 * job does not know: its jobs.progress lacks it) fails the job.
 */
bool
job_set_call(Job *job, const char *method, ApiKeyKind key, char *path, char *body, const char **error)
{
	const char *secret;
	size_t		base_len;
	char	   *url;

	if (path == NULL)
	{
		*error = psprintf("step %s lacks a value it needs (the job's progress or its tenant's row does not hold it)",
						  job->step->name);
		free(body);
		return false;
	}
	secret = secrets_api_key(resolve_key_kind(job, key), error);
	if (secret == NULL || neon_api_url == NULL || neon_api_url[0] == '\0')
	{
		if (secret != NULL)
			*error = "neon_platform.api_url is not set";
		job->config_missing = true;
		free(body);
		return false;
	}
	base_len = strlen(neon_api_url);
	while (base_len > 0 && neon_api_url[base_len - 1] == '/')
		base_len--;
	url = psprintf("%.*s%s", (int) base_len, neon_api_url, path);

	if (job->call)
		http_request_free(job->call);
	job->call = http_request_new(method, url);
	if (job->call == NULL || (job->call->api_key = strdup(secret)) == NULL)
		elog(ERROR, "neon_platform: out of memory");
	job->call->body = body;
	job->call->owner = job;
	job->call_path = MemoryContextStrdup(job->cxt, path);
	job->call_is_mutation = strcmp(method, "GET") != 0;
	pfree(url);
	pfree(path);
	return true;
}

/*
 * A path below api_url, printf-like with %s, %d and %%, where every %s
 * argument is percent-encoded (a path segment or a query value): nothing an
 * answer carries can reach another path or add a query parameter. NULL
 * when a %s argument is NULL (a value the job does not know), which
 * job_set_call() refuses.
 */
char *
api_path(const char *fmt,...)
{
	StringInfoData buf;
	va_list		args;
	const char *p;

	initStringInfo(&buf);
	va_start(args, fmt);
	for (p = fmt; *p; p++)
	{
		if (p[0] != '%')
			appendStringInfoChar(&buf, *p);
		else if (p[1] == 's')
		{
			const char *value = va_arg(args, const char *);
			char	   *escaped;

			if (value == NULL)
			{
				va_end(args);
				pfree(buf.data);
				return NULL;
			}
			escaped = http_escape(value);
			if (escaped == NULL)
				elog(ERROR, "neon_platform: out of memory");
			appendStringInfoString(&buf, escaped);
			free(escaped);
			p++;
		}
		else if (p[1] == 'd')
		{
			appendStringInfo(&buf, "%d", va_arg(args, int));
			p++;
		}
		else
		{
			appendStringInfoChar(&buf, '%');
			p += p[1] == '%';
		}
	}
	va_end(args);
	return buf.data;
}

/* An outcome decided now. */
JobOutcome
job_outcome(JobVerdict verdict, const char *error)
{
	JobOutcome	o = {0};

	o.verdict = verdict;
	o.error = error;
	o.retry_in = -1;
	return o;
}

/*
 * Builds the call of the job's step: CALL_AGAIN when it is ready, WAIT_CONFIG
 * when the configuration lacks what it needs, FAILED when the kind refuses.
 */
JobOutcome
job_build_call(Job *job)
{
	const char *error = NULL;

	job->config_missing = false;
	job->waiting_on_operation = false;
	job->checking_claim = false;
	if (opwait_needed(job) ? opwait_build(job, &error) : job->step->build(job, &error))
		return job_outcome(JOB_CALL_AGAIN, NULL);
	return job_outcome(job->config_missing ? JOB_WAIT_CONFIG : JOB_FAILED, error);
}

/* Moves the job to `step` and builds that step's call. */
JobOutcome
job_next_step(Job *job, const char *step)
{
	job->step = job_step_by_name(job->kind, step);
	return job_build_call(job);
}

/* A transient failure: try again later from `step` (NULL: the same step). */
JobOutcome
job_retry_at(const char *step, const char *error)
{
	JobOutcome	o = job_outcome(JOB_RETRY, error);

	o.retry_step = step;
	return o;
}

/*
 * An answer a parser did not take (`error`, malloc'd, freed here): one that
 * is not even JSON (a broken proxy) is tried again; one that is JSON but
 * holds a value that fails its check (a hostile or broken server) fails the
 * job, and nothing from it is stored.
 */
JobOutcome
job_refused_answer(Job *job, HttpRequest *req, char *error)
{
	JobOutcome	o;

	if (json_text_parses(req->response))
		o = job_outcome(JOB_FAILED, psprintf("refused Neon's answer to %s %s: %s",
											 req->method, job->answer_path, error));
	else
		o = job_retry_at(NULL, psprintf("unreadable answer to %s %s: %s", req->method, job->answer_path, error));
	free(error);
	return o;
}

/*
 * Why a call got no useful answer, in words for last_error: method, path,
 * status and Neon's message, with every key removed.
 */
const char *
job_answer_text(Job *job, HttpRequest *req)
{
	char	   *neon;
	char	   *text;

	if (req->status == 0)
		text = psprintf("%s %s: %s", req->method, job->answer_path,
						req->timed_out ? psprintf("no answer within %d ms", neon_request_timeout_ms) : req->error);
	else
	{
		neon = neon_error_message(req->response);
		text = psprintf("%s %s: HTTP %ld: %s", req->method, job->answer_path, req->status, neon);
		free(neon);
	}
	return redact_secrets(text);
}
