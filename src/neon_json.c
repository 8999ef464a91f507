/*
 * neon_json.c
 *		Request bodies for, and parsing of, Neon API responses (json-c).
 *
 * The parsers read only the fields we need and check their types, so a
 * response with extra or reordered fields still parses, while one that lacks
 * what we need is refused with a message naming the missing field.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_prelude.h"
#include "neon_json.h"

/* Longest error text we derive from a response body, in bytes. */
#define ERROR_EXCERPT_MAX	200

static char *format_string(const char *fmt,...) __attribute__((format(printf, 1, 2)));

/* malloc'd printf; NULL on out of memory. */
static char *
format_string(const char *fmt,...)
{
	va_list		args;
	char	   *result;

	va_start(args, fmt);
	if (vasprintf(&result, fmt, args) < 0)
		result = NULL;
	va_end(args);
	return result;
}

/* strdup that accepts NULL. */
static char *
copy_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Frees a string that may hold a secret, wiping it first. */
static void
free_secret(char *s)
{
	if (s)
	{
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* The member `key` of `obj` if it has the wanted type, else NULL. */
static json_object *
member_of_type(json_object *obj, const char *key, json_type type)
{
	json_object *value;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &value) || !json_object_is_type(value, type))
		return NULL;
	return value;
}

/* The string member `key` of `obj`, or NULL when absent or not a string. */
static const char *
string_member(json_object *obj, const char *key)
{
	json_object *value = member_of_type(obj, key, json_type_string);

	return value ? json_object_get_string(value) : NULL;
}

/* Parses `body` and checks that it is an object. */
static json_object *
parse_object(const char *body, char **error)
{
	json_object *root = body ? json_tokener_parse(body) : NULL;

	if (root == NULL || !json_object_is_type(root, json_type_object))
	{
		json_object_put(root);
		*error = strdup("response is not a JSON object");
		return NULL;
	}
	return root;
}

/* Adds a string member unless the value is NULL or empty (then Neon's default applies). */
static void
add_string(json_object *obj, const char *key, const char *value)
{
	if (value && value[0])
		json_object_object_add(obj, key, json_object_new_string(value));
}

/* Adds an integer member; int64 so quotas above 2 GiB survive. */
static void
add_int(json_object *obj, const char *key, long long value)
{
	json_object_object_add(obj, key, json_object_new_int64(value));
}

/* The settings.quota object: all five limits, since Neon may replace rather than merge it. */
static json_object *
build_quota(const NeonProjectSpec *spec)
{
	json_object *quota = json_object_new_object();

	add_int(quota, "active_time_seconds", spec->active_time_seconds);
	add_int(quota, "compute_time_seconds", spec->compute_time_seconds);
	add_int(quota, "written_data_bytes", spec->written_data_bytes);
	add_int(quota, "data_transfer_bytes", spec->data_transfer_bytes);
	add_int(quota, "logical_size_bytes", spec->logical_size_bytes);
	return quota;
}

/* Compute limits applied to the endpoint that Neon creates with the project. */
static json_object *
build_endpoint_settings(const NeonProjectSpec *spec)
{
	json_object *settings = json_object_new_object();

	json_object_object_add(settings, "autoscaling_limit_min_cu",
						   json_object_new_double(spec->autoscaling_min_cu));
	json_object_object_add(settings, "autoscaling_limit_max_cu",
						   json_object_new_double(spec->autoscaling_max_cu));
	add_int(settings, "suspend_timeout_seconds", spec->suspend_timeout_seconds);
	return settings;
}

/* Builds the POST /projects body from a tier's settings. */
char *
neon_build_create_project(const NeonProjectSpec *spec)
{
	json_object *root = json_object_new_object();
	json_object *project = json_object_new_object();
	json_object *settings = json_object_new_object();
	json_object *branch = json_object_new_object();
	char	   *body;

	add_string(project, "name", spec->name);
	add_string(project, "org_id", spec->org_id);
	add_string(project, "region_id", spec->region_id);
	add_int(project, "pg_version", spec->pg_version);
	/* Neon reads the restore window here, not under settings. */
	add_int(project, "history_retention_seconds", spec->history_retention_seconds);

	json_object_object_add(settings, "quota", build_quota(spec));
	json_object_object_add(project, "settings", settings);
	json_object_object_add(project, "default_endpoint_settings", build_endpoint_settings(spec));

	add_string(branch, "database_name", spec->database_name);
	add_string(branch, "role_name", spec->role_name);
	json_object_object_add(project, "branch", branch);

	json_object_object_add(root, "project", project);
	body = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	return body;
}

/*
 * The read_write endpoint of `branch_id` in an array of endpoints, or the
 * first read_write endpoint when branch_id is NULL or none matches.
 */
static json_object *
find_read_write_endpoint(json_object *endpoints, const char *branch_id)
{
	json_object *first = NULL;
	size_t		n = endpoints ? json_object_array_length(endpoints) : 0;

	for (size_t i = 0; i < n; i++)
	{
		json_object *ep = json_object_array_get_idx(endpoints, i);
		const char *type = string_member(ep, "type");
		const char *ep_branch = string_member(ep, "branch_id");

		if (type == NULL || strcmp(type, "read_write") != 0 || string_member(ep, "id") == NULL)
			continue;
		if (branch_id && ep_branch && strcmp(branch_id, ep_branch) == 0)
			return ep;
		if (first == NULL)
			first = ep;
	}
	return first;
}

/* Whether an operation status means Neon is still working on it. */
static bool
operation_pending(const char *status)
{
	return status == NULL ||
		(strcmp(status, "finished") != 0 &&
		 strcmp(status, "skipped") != 0 &&
		 strcmp(status, "cancelled") != 0);
}

/* Collects the ids of the operations in `operations` that are not done yet. */
static void
collect_pending_operations(json_object *operations, NeonProject *out)
{
	size_t		n = operations ? json_object_array_length(operations) : 0;

	out->operation_ids = calloc(n ? n : 1, sizeof(char *));
	out->n_operations = 0;
	for (size_t i = 0; i < n; i++)
	{
		json_object *op = json_object_array_get_idx(operations, i);
		const char *id = string_member(op, "id");

		if (id && operation_pending(string_member(op, "status")))
			out->operation_ids[out->n_operations++] = strdup(id);
	}
}

/* The password of role `name` in the roles[] array of a create response. */
static const char *
role_password(json_object *roles, const char *name)
{
	size_t		n = roles ? json_object_array_length(roles) : 0;

	for (size_t i = 0; i < n; i++)
	{
		json_object *role = json_object_array_get_idx(roles, i);
		const char *role_name = string_member(role, "name");

		if (role_name && name && strcmp(role_name, name) == 0)
			return string_member(role, "password");
	}
	return NULL;
}

/* The first element of an array member, when it is an object. */
static json_object *
first_object(json_object *obj, const char *key)
{
	json_object *array = member_of_type(obj, key, json_type_array);
	json_object *first = array && json_object_array_length(array) > 0 ?
		json_object_array_get_idx(array, 0) : NULL;

	return first && json_object_is_type(first, json_type_object) ? first : NULL;
}

/*
 * Fills the connection fields of a create response: connection_uris[0]'s
 * connection_parameters when present (what Neon documents as the source of
 * truth for hosts), else databases[], roles[] and the endpoint.
 */
static void
fill_connection(json_object *root, json_object *endpoint, NeonProject *out)
{
	json_object *params = member_of_type(first_object(root, "connection_uris"),
										 "connection_parameters", json_type_object);
	const char *database = string_member(params, "database");
	const char *role = string_member(params, "role");
	const char *password = string_member(params, "password");
	const char *host = string_member(params, "host");
	const char *pooler_host = string_member(params, "pooler_host");

	if (database == NULL)
		database = string_member(first_object(root, "databases"), "name");
	if (role == NULL)
		role = string_member(first_object(root, "roles"), "name");
	if (password == NULL)
		password = role_password(member_of_type(root, "roles", json_type_array), role);
	if (host == NULL)
		host = string_member(endpoint, "host");

	out->database_name = copy_or_null(database);
	out->role_name = copy_or_null(role);
	out->password = copy_or_null(password);
	out->host = copy_or_null(host);
	out->pooler_host = pooler_host ? strdup(pooler_host) : neon_pooler_host(host);
}

/* The name of the first required field the parsed create response lacks, or NULL. */
static const char *
missing_create_field(const NeonProject *p)
{
	if (p->project_id == NULL)
		return "project.id";
	if (p->branch_id == NULL)
		return "branch.id";
	if (p->endpoint_id == NULL)
		return "a read_write endpoint";
	if (p->host == NULL)
		return "the endpoint host";
	if (p->database_name == NULL)
		return "the database name";
	if (p->role_name == NULL)
		return "the role name";
	return NULL;
}

/* Extracts ids, connection data and pending operations from a 201 answer of POST /projects. */
bool
neon_parse_create_project(const char *body, NeonProject *out, char **error)
{
	json_object *root;
	json_object *project;
	json_object *endpoint;
	const char *missing;

	memset(out, 0, sizeof(*out));
	*error = NULL;
	if ((root = parse_object(body, error)) == NULL)
		return false;

	project = member_of_type(root, "project", json_type_object);
	out->project_id = copy_or_null(string_member(project, "id"));
	out->org_id = copy_or_null(string_member(project, "org_id"));
	out->branch_id = copy_or_null(string_member(member_of_type(root, "branch", json_type_object), "id"));
	endpoint = find_read_write_endpoint(member_of_type(root, "endpoints", json_type_array),
										out->branch_id);
	out->endpoint_id = copy_or_null(string_member(endpoint, "id"));
	fill_connection(root, endpoint, out);
	collect_pending_operations(member_of_type(root, "operations", json_type_array), out);
	json_object_put(root);

	if ((missing = missing_create_field(out)) != NULL)
	{
		*error = format_string("create project response lacks %s", missing);
		neon_project_free(out);
		return false;
	}
	return true;
}

/* Scans one page of GET /projects for an exact name (Neon's search matches substrings). */
bool
neon_find_project_by_name(const char *body, const char *name,
						  char **project_id, char **last_id,
						  int *page_count, char **error)
{
	json_object *root;
	json_object *projects;
	size_t		n;

	*project_id = NULL;
	*last_id = NULL;
	*page_count = 0;
	*error = NULL;
	if ((root = parse_object(body, error)) == NULL)
		return false;
	if ((projects = member_of_type(root, "projects", json_type_array)) == NULL)
	{
		json_object_put(root);
		*error = strdup("project list response lacks projects[]");
		return false;
	}

	n = json_object_array_length(projects);
	for (size_t i = 0; i < n; i++)
	{
		json_object *p = json_object_array_get_idx(projects, i);
		const char *id = string_member(p, "id");
		const char *pname = string_member(p, "name");

		if (id == NULL)
			continue;
		if (*project_id == NULL && pname && strcmp(pname, name) == 0)
			*project_id = strdup(id);
		free(*last_id);
		*last_id = strdup(id);
	}
	*page_count = (int) n;
	json_object_put(root);
	return true;
}

/* Replaces a malloc'd string field with a copy of `value`. */
static void
replace_string(char **field, const char *value)
{
	char	   *copy = copy_or_null(value);

	free_secret(*field);
	*field = copy;
}

/* Refreshes endpoint, branch and hosts from GET /projects/{id}/endpoints; untouched on failure. */
bool
neon_parse_endpoints(const char *body, NeonProject *project, char **error)
{
	json_object *root;
	json_object *endpoint;
	const char *host;

	*error = NULL;
	if ((root = parse_object(body, error)) == NULL)
		return false;
	endpoint = find_read_write_endpoint(member_of_type(root, "endpoints", json_type_array),
										project->branch_id);
	host = string_member(endpoint, "host");
	if (endpoint == NULL || host == NULL)
	{
		json_object_put(root);
		*error = strdup("endpoint list has no read_write endpoint with a host");
		return false;
	}

	replace_string(&project->endpoint_id, string_member(endpoint, "id"));
	if (string_member(endpoint, "branch_id"))
		replace_string(&project->branch_id, string_member(endpoint, "branch_id"));
	replace_string(&project->host, host);
	free(project->pooler_host);
	project->pooler_host = neon_pooler_host(host);
	json_object_put(root);
	return true;
}

/* Value of one hexadecimal digit, -1 if it is not one. */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decodes `len` bytes of `s` into a malloc'd string; NULL when an
 * escape is malformed or decodes to NUL.
 */
static char *
percent_decode(const char *s, size_t len)
{
	char	   *out = malloc(len + 1);
	size_t		o = 0;

	for (size_t i = 0; i < len; i++)
	{
		int			hi,
					lo;

		if (s[i] != '%')
		{
			out[o++] = s[i];
			continue;
		}
		hi = i + 2 < len ? hex_value(s[i + 1]) : -1;
		lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
		{
			explicit_bzero(out, len + 1);
			free(out);
			return NULL;
		}
		out[o++] = (char) (hi * 16 + lo);
		i += 2;
	}
	out[o] = '\0';
	return out;
}

/* The four parts of a postgresql:// URI we keep, percent-decoded. */
typedef struct UriParts
{
	char	   *role;
	char	   *password;
	char	   *host;
	char	   *database;
} UriParts;

/* Frees the parts of a URI, wiping the password. */
static void
uri_parts_free(UriParts *parts)
{
	free(parts->role);
	free_secret(parts->password);
	free(parts->host);
	free(parts->database);
}

/*
 * Splits postgresql://role:password@host[:port]/database[?params]. The
 * password may contain '@' only percent-encoded, so the userinfo ends at the
 * last '@' before the path. The port, if any, is dropped: Neon never sends
 * one and callers connect on 5432.
 */
static bool
split_connection_uri(const char *uri, UriParts *parts)
{
	const char *p;
	const char *slash;
	const char *at;
	const char *colon;
	const char *host_end;
	const char *db_end;

	memset(parts, 0, sizeof(*parts));
	if (strncmp(uri, "postgresql://", 13) == 0)
		p = uri + 13;
	else if (strncmp(uri, "postgres://", 11) == 0)
		p = uri + 11;
	else
		return false;

	if ((slash = strchr(p, '/')) == NULL)
		return false;
	at = memrchr(p, '@', slash - p);
	colon = at ? memchr(p, ':', at - p) : NULL;
	if (at == NULL || colon == NULL)
		return false;
	host_end = memchr(at + 1, ':', slash - (at + 1));
	if (host_end == NULL)
		host_end = slash;
	db_end = slash + 1 + strcspn(slash + 1, "?#");

	parts->role = percent_decode(p, colon - p);
	parts->password = percent_decode(colon + 1, at - (colon + 1));
	parts->host = percent_decode(at + 1, host_end - (at + 1));
	parts->database = percent_decode(slash + 1, db_end - (slash + 1));
	return parts->role && parts->role[0] && parts->password &&
		parts->host && parts->host[0] && parts->database && parts->database[0];
}

/* Takes role, password, host and database from the URI Neon returns; untouched on failure. */
bool
neon_parse_connection_uri(const char *body, NeonProject *project, char **error)
{
	json_object *root;
	const char *uri;
	UriParts	parts;
	bool		ok;

	*error = NULL;
	if ((root = parse_object(body, error)) == NULL)
		return false;
	if ((uri = string_member(root, "uri")) == NULL)
	{
		json_object_put(root);
		*error = strdup("connection_uri response lacks uri");
		return false;
	}

	ok = split_connection_uri(uri, &parts);
	json_object_put(root);
	if (!ok)
	{
		uri_parts_free(&parts);
		*error = strdup("connection_uri response has a malformed uri");
		return false;
	}
	replace_string(&project->role_name, parts.role);
	replace_string(&project->password, parts.password);
	replace_string(&project->host, parts.host);
	replace_string(&project->database_name, parts.database);
	uri_parts_free(&parts);
	return true;
}

/* Length of the valid UTF-8 sequence at `s`, 0 if the bytes there are not one. */
static size_t
utf8_sequence_length(const unsigned char *s)
{
	size_t		len;

	if (s[0] < 0x80)
		return 1;
	else if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4;
	else
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

/*
 * Copies at most ERROR_EXCERPT_MAX bytes of `text` into a single-line,
 * valid UTF-8 string that PostgreSQL will store and log: control characters
 * become spaces, runs of whitespace collapse, invalid bytes become '?', and
 * a cut text ends in "...".
 */
static char *
sanitize_excerpt(const char *text)
{
	const unsigned char *s = (const unsigned char *) text;
	char	   *out = malloc(ERROR_EXCERPT_MAX + 4);
	size_t		o = 0;

	while (*s == ' ' || (*s && *s < 0x20))
		s++;
	while (*s)
	{
		size_t		len = utf8_sequence_length(s);

		if (o + (len ? len : 1) > ERROR_EXCERPT_MAX)
		{
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (len == 0)
			out[o++] = '?';
		else if (*s < 0x20 || *s == 0x7F || *s == ' ')
		{
			if (o > 0 && out[o - 1] != ' ')
				out[o++] = ' ';
		}
		else
		{
			memcpy(out + o, s, len);
			o += len;
		}
		s += len ? len : 1;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return out;
}

/* "code: message" or "message" of a GeneralError, or NULL when `body` is not one. */
static char *
general_error_text(const char *body)
{
	json_object *root = json_tokener_parse(body);
	const char *message = string_member(root, "message");
	const char *code = string_member(root, "code");
	char	   *text = NULL;

	if (message && code && code[0])
		text = format_string("%s: %s", code, message);
	else if (message)
		text = strdup(message);
	json_object_put(root);
	return text;
}

/* A one-line, bounded, valid UTF-8 description of an error answer, fit for api_calls and logs. */
char *
neon_error_message(const char *body)
{
	char	   *text = body ? general_error_text(body) : NULL;
	char	   *excerpt;
	char	   *result;

	if (text)
	{
		result = sanitize_excerpt(text);
		free(text);
		return result;
	}

	excerpt = sanitize_excerpt(body ? body : "");
	if (excerpt[0])
		return excerpt;
	free(excerpt);
	return strdup("empty body");
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
	return format_string("%.*s-pooler%s", (int) label_len, host, host + label_len);
}

/* Frees every string of a project (wiping the password) and zeroes the struct for reuse. */
void
neon_project_free(NeonProject *project)
{
	free(project->project_id);
	free(project->org_id);
	free(project->branch_id);
	free(project->endpoint_id);
	free(project->database_name);
	free(project->role_name);
	free_secret(project->password);
	free(project->host);
	free(project->pooler_host);
	for (int i = 0; i < project->n_operations; i++)
		free(project->operation_ids[i]);
	free(project->operation_ids);
	memset(project, 0, sizeof(*project));
}
