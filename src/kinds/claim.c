/*
 * claim.c
 *		The claim job: a link with which the tenant's end user takes the
 *		project into their own Neon account (Neon's transfer requests, the
 *		"claimable database" flow; interactive lane).
 *
 * Input (jobs.args, written by neon_claim() at enqueue time):
 *   {"ttl_seconds": 86400, "redirect_url": "https://app.example/welcome"}
 *
 *	 create_request ──201──> done: tenants.claim_url, claim_expires_at
 *
 * POST /projects/{project_id}/transfer_requests {"ttl_seconds": N} answers
 * the request's id; the link is
 * https://console.neon.tech/app/claim?p={project_id}&tr={request_id}&ru={redirect},
 * every value percent-encoded. A create whose answer was lost is made
 * again: a request whose id nobody learned can be used by nobody, and it
 * expires. Once the end user accepts, the project has left our account:
 * the next call of any job of the tenant gets 404, which the engine takes
 * as the claim (the tenant becomes claimed and is managed no more).
 *
 * Cost: 1 request.
 */
#include "pg_prelude.h"

#include "engine/job_args.h"
#include "engine/tenant_state.h"
#include "kinds/kinds.h"
#include "kinds/plan.h"
#include "neon/neon_transfers.h"

#define CLAIM_BASE_URL "https://console.neon.tech/app/claim"

typedef struct ClaimJob
{
	long long	ttl_seconds;
	const char *redirect_url;	/* "" for none */
	char	   *url;			/* the link, once Neon answered */
	char	   *expires_at;
} ClaimJob;

/* Reads the link's lifetime and where the console sends the user after. */
static bool
claim_load(Job *job, const char *args_text, const char *progress pg_attribute_unused(), const char **error)
{
	ClaimJob   *c = MemoryContextAllocZero(job->cxt, sizeof(ClaimJob));
	JobArgs    *args = job_args_parse(args_text, error);
	double		ttl = 0;

	if (args == NULL)
		return false;
	*error = NULL;
	if (!job_args_number(args, "ttl_seconds", &ttl) || ttl < 1)
		*error = "args.ttl_seconds is missing";
	c->ttl_seconds = (long long) ttl;
	c->redirect_url = job_args_string(args, "redirect_url") ? plan_string(job, args, "redirect_url", error) : "";
	job_args_free(args);
	job->state = c;
	if (*error == NULL && job->view.project_id == NULL)
		*error = "the tenant has no Neon project to hand over";
	return *error == NULL;
}

/* POST /projects/{id}/transfer_requests. */
static bool
build_create_request(Job *job, const char **error)
{
	ClaimJob   *c = (ClaimJob *) job->state;

	return job_set_call(job, "POST", KEY_TENANT_ORG, api_path("/projects/%s/transfer_requests", job->view.project_id),
						neon_build_transfer_request(c->ttl_seconds), error);
}

/* One value of the link, percent-encoded (in the job's memory). */
static char *
query_value(const char *value)
{
	char	   *escaped = http_escape(value);
	char	   *copy;

	if (escaped == NULL)
		elog(ERROR, "neon_platform: out of memory");
	copy = pstrdup(escaped);
	free(escaped);
	return copy;
}

/* The link the end user opens to take the project. */
static char *
claim_url(const char *project_id, const char *request_id, const char *redirect_url)
{
	return psprintf("%s?p=%s&tr=%s%s%s", CLAIM_BASE_URL, query_value(project_id), query_value(request_id),
					redirect_url[0] ? "&ru=" : "", redirect_url[0] ? query_value(redirect_url) : "");
}

/* The transfer request made: the link, and until when it works. */
static JobOutcome
handle_create_request(Job *job, HttpRequest *req)
{
	ClaimJob   *c = (ClaimJob *) job->state;
	NeonTransferRequest tr;
	char	   *error = NULL;
	JobOutcome	o;

	if (req->status >= 300)
		return job_outcome(JOB_FAILED, job_answer_text(job, req));
	if (!neon_parse_transfer_request(req->response, &tr, &error))
		return job_refused_answer(job, req, error);
	if (strcmp(tr.project_id, job->view.project_id) != 0)
	{
		neon_transfer_request_free(&tr);
		return job_refused_answer(job, req, strdup("transfer_request.project_id is another project's"));
	}
	c->url = claim_url(job->view.project_id, tr.id, c->redirect_url);
	c->expires_at = pstrdup(tr.expires_at);
	neon_transfer_request_free(&tr);
	o = job_outcome(JOB_SUCCEEDED, NULL);
	o.result_json = psprintf("{\"expires_at\": \"%s\"}", c->expires_at);
	return o;
}

/* The link goes on the tenant (the job's row keeps only its expiry). */
static void
claim_record_success(Job *job)
{
	ClaimJob   *c = (ClaimJob *) job->state;

	tenant_state_claim_link(job->tenant, c->url, c->expires_at);
}

/* No link: the tenant stays as it was, with the reason. */
static void
claim_record_failure(Job *job, const char *error)
{
	tenant_state_note_error(job->tenant, error);
}

static const JobStep claim_steps[] = {
	{.name = "create_request", .build = build_create_request, .handle = handle_create_request},
	{.name = NULL}
};

const JobKind claim_kind = {
	.name = "claim",
	.lane = LANE_INTERACTIVE,
	.needs_tenant = true,
	.steps = claim_steps,
	.load = claim_load,
	.record_success = claim_record_success,
	.record_failure = claim_record_failure,
};
