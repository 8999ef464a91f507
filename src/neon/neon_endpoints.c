/*
 * neon_endpoints.c
 *		Parsing of GET /projects/{id}/endpoints, and the choice of the
 *		endpoint tenants connect to, shared with the create parser.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>

#include "neon/json_prelude.h"
#include "neon/neon_common.h"
#include "neon/neon_endpoints.h"

/* Picks the endpoint tenants write through: the default branch's, when it is known. */
json_object *
neon_read_write_endpoint(json_object *endpoints, const char *branch_id)
{
	json_object *first = NULL;
	size_t		n = endpoints ? json_object_array_length(endpoints) : 0;

	for (size_t i = 0; i < n; i++)
	{
		json_object *ep = json_object_array_get_idx(endpoints, i);

		if (!neon_member_equals(ep, "type", "read_write") || neon_string_member(ep, "id") == NULL)
			continue;
		if (neon_member_equals(ep, "branch_id", branch_id))
			return ep;
		if (first == NULL)
			first = ep;
	}
	return first;
}

/* Inserts "-pooler" after the endpoint id, as Neon names its PgBouncer hosts. */
char *
neon_pooler_host(const char *host)
{
	size_t		label_len;

	if (host == NULL)
		return NULL;
	label_len = strcspn(host, ".");
	if (label_len >= 7 && strncmp(host + label_len - 7, "-pooler", 7) == 0)
		return strdup(host);
	return neon_format("%.*s-pooler%s", (int) label_len, host, host + label_len);
}

/* A derived host is checked too: the suffix can push a long first label past 63 bytes. */
bool
neon_take_pooler_host(const char *host, char **pooler_host, char **error)
{
	*pooler_host = neon_pooler_host(host);
	if (*pooler_host == NULL ||
		neon_check_value("pooler host derived from the host", *pooler_host, strlen(*pooler_host),
						 NEON_VALUE_HOST, error))
		return true;
	free(*pooler_host);
	*pooler_host = NULL;
	return false;
}

/* Refreshes endpoint, branch and hosts from GET /projects/{id}/endpoints; untouched on failure. */
bool
neon_parse_endpoints(const char *body, NeonProject *project, char **error)
{
	json_object *root;
	json_object *endpoint;
	NeonProject fresh = {0};
	bool		parsed;

	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	endpoint = neon_read_write_endpoint(neon_array_member(root, "endpoints"), project->branch_id);
	if (endpoint == NULL)
	{
		json_object_put(root);
		*error = strdup("endpoint list has no read_write endpoint");
		return false;
	}
	parsed = neon_take_member("endpoints[]", endpoint, "id", NEON_VALUE_ID, true,
							  &fresh.endpoint_id, error) &&
		neon_take_member("endpoints[]", endpoint, "branch_id", NEON_VALUE_ID, false,
						 &fresh.branch_id, error) &&
		neon_take_member("endpoints[]", endpoint, "host", NEON_VALUE_HOST, true,
						 &fresh.host, error) &&
		neon_take_pooler_host(fresh.host, &fresh.pooler_host, error);
	json_object_put(root);
	if (!parsed)
	{
		neon_project_free(&fresh);
		return false;
	}

	neon_replace_string(&project->endpoint_id, fresh.endpoint_id);
	if (fresh.branch_id)
		neon_replace_string(&project->branch_id, fresh.branch_id);
	neon_replace_string(&project->host, fresh.host);
	neon_replace_string(&project->pooler_host, fresh.pooler_host);
	return true;
}
