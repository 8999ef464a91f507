/*
 * neon_endpoints.c
 *		Parsing of GET /projects/{id}/endpoints, and the choice of the
 *		endpoint tenants connect to, shared with the create parser; the
 *		compute settings of endpoints, read and written.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neon/json_prelude.h"
#include "neon/neon_common.h"
#include "neon/neon_endpoints.h"
#include "neon/neon_projects.h"

/* The range of suspend_timeout_seconds in Neon's spec: -1 (never suspend), 0 (the default), up to a week. */
#define SUSPEND_TIMEOUT_MIN	(-1)
#define SUSPEND_TIMEOUT_MAX	604800

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

/*
 * Inserts "-pooler" after the endpoint id, as Neon names its PgBouncer
 * hosts. A local compute at 127.a.b.c:PORT has its pooler on PORT + 1.
 */
char *
neon_pooler_host(const char *host)
{
	size_t		label_len;
	const char *colon;

	if (host == NULL)
		return NULL;
	if ((colon = strchr(host, ':')) != NULL)
		return neon_format("%.*s:%ld", (int) (colon - host), host, strtol(colon + 1, NULL, 10) + 1);
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

/* One builder for both places Neon reads compute settings, so their names cannot drift apart. */
json_object *
neon_compute_settings(double autoscaling_min_cu, double autoscaling_max_cu, int suspend_timeout_seconds)
{
	json_object *settings = json_object_new_object();

	json_object_object_add(settings, "autoscaling_limit_min_cu",
						   json_object_new_double(autoscaling_min_cu));
	json_object_object_add(settings, "autoscaling_limit_max_cu",
						   json_object_new_double(autoscaling_max_cu));
	json_object_object_add(settings, "suspend_timeout_seconds",
						   json_object_new_int(suspend_timeout_seconds));
	return settings;
}

/* Builds the PATCH body that brings an existing endpoint to a tier's compute settings. */
char *
neon_build_update_endpoint(double autoscaling_min_cu, double autoscaling_max_cu,
						   int suspend_timeout_seconds)
{
	return neon_request_body("endpoint",
							 neon_compute_settings(autoscaling_min_cu, autoscaling_max_cu,
												   suspend_timeout_seconds));
}

/*
 * A compute-unit limit of an endpoint: Neon prints 2 as well as 0.25, so an
 * integer or a double, but finite and not negative (NaN would never compare
 * equal to a tier's limit). The value is not repeated in the error.
 */
static bool
take_cu(const char *where, json_object *ep, const char *key, double *out, char **error)
{
	json_object *node;

	if (!json_object_object_get_ex(ep, key, &node) ||
		!(json_object_is_type(node, json_type_int) || json_object_is_type(node, json_type_double)))
	{
		*error = neon_format("%s.%s is missing or not a number", where, key);
		return false;
	}
	*out = json_object_get_double(node);
	if (isfinite(*out) && *out >= 0)
		return true;
	*error = neon_format("%s.%s is not a number of compute units", where, key);
	return false;
}

/* The suspend timeout of an endpoint: an integer in the spec's range, -1 and 0 included. */
static bool
take_suspend_timeout(const char *where, json_object *ep, int *out, char **error)
{
	json_object *node;
	int64_t		value;

	if (!json_object_object_get_ex(ep, "suspend_timeout_seconds", &node) ||
		!json_object_is_type(node, json_type_int))
	{
		*error = neon_format("%s.suspend_timeout_seconds is missing or not an integer", where);
		return false;
	}
	value = json_object_get_int64(node);
	if (value < SUSPEND_TIMEOUT_MIN || value > SUSPEND_TIMEOUT_MAX)
	{
		*error = neon_format("%s.suspend_timeout_seconds is not between %d and %d",
							 where, SUSPEND_TIMEOUT_MIN, SUSPEND_TIMEOUT_MAX);
		return false;
	}
	*out = (int) value;
	return true;
}

/* Takes the id and compute settings of endpoint `ep` (named `where` in errors); all are required. */
static bool
take_endpoint_settings(const char *where, json_object *ep, NeonEndpointSettings *out, char **error)
{
	return neon_take_member(where, ep, "id", NEON_VALUE_ID, true, &out->endpoint_id, error) &&
		take_cu(where, ep, "autoscaling_limit_min_cu", &out->autoscaling_min_cu, error) &&
		take_cu(where, ep, "autoscaling_limit_max_cu", &out->autoscaling_max_cu, error) &&
		take_suspend_timeout(where, ep, &out->suspend_timeout_seconds, error);
}

/*
 * Reads the compute settings of every endpoint, so that a tier change can
 * patch those that differ. One bad endpoint refuses the whole list: its id
 * would go into a request path.
 */
bool
neon_parse_endpoint_settings(const char *body, NeonEndpointSettings **out, int *n, char **error)
{
	json_object *root;
	json_object *endpoints;
	size_t		count;

	*out = NULL;
	*n = 0;
	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	if ((endpoints = neon_array_member(root, "endpoints")) == NULL)
	{
		json_object_put(root);
		*error = strdup("endpoint list response lacks endpoints[]");
		return false;
	}

	count = json_object_array_length(endpoints);
	if (count > 0)
		*out = calloc(count, sizeof(NeonEndpointSettings));
	for (size_t i = 0; i < count; i++)
	{
		char		where[48];

		snprintf(where, sizeof(where), "endpoints[%zu]", i);
		/* counted before taking, so that a half-taken entry is freed too */
		(*n)++;
		if (!take_endpoint_settings(where, json_object_array_get_idx(endpoints, i), &(*out)[i], error))
		{
			neon_endpoint_settings_free(*out, *n);
			*out = NULL;
			*n = 0;
			json_object_put(root);
			return false;
		}
	}
	json_object_put(root);
	return true;
}

/* Frees a list from neon_parse_endpoint_settings. */
void
neon_endpoint_settings_free(NeonEndpointSettings *settings, int n)
{
	for (int i = 0; i < n; i++)
		free(settings[i].endpoint_id);
	free(settings);
}
