/*
 * neon_connection_uri.c
 *		Parsing of GET /projects/{id}/connection_uri: the role, password,
 *		host and database of a postgresql:// URI.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdlib.h>
#include <string.h>

#include "neon/json_prelude.h"
#include "neon/neon_common.h"
#include "neon/neon_connection_uri.h"

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

/* A port as a URI may carry it: 1 to 5 digits. */
static bool
valid_port(const char *s, size_t len)
{
	return len >= 1 && len <= 5 && strspn(s, "0123456789") >= len;
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

/*
 * Splits postgresql://role:password@host[:port]/database[?params] into the
 * role_name, password, host and database_name of `parts`, percent-decoded.
 * The password may contain '@' only percent-encoded, so the userinfo ends at
 * the last '@' before the path. The port, if any, must be a number; it is
 * dropped (Neon never sends one and callers connect on 5432) but after a
 * loopback address, a local compute's, where it stays part of the host.
 */
static bool
split_connection_uri(const char *uri, NeonProject *parts)
{
	const char *p;
	const char *slash;
	const char *at;
	const char *colon;
	const char *host_end;
	const char *db_end;

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
	else if (!valid_port(host_end + 1, slash - (host_end + 1)))
		return false;
	else if (strncmp(at + 1, "127.", 4) == 0)
		host_end = slash;
	db_end = slash + 1 + strcspn(slash + 1, "?#");

	parts->role_name = percent_decode(p, colon - p);
	parts->password = percent_decode(colon + 1, at - (colon + 1));
	parts->host = percent_decode(at + 1, host_end - (at + 1));
	parts->database_name = percent_decode(slash + 1, db_end - (slash + 1));
	return parts->role_name && parts->password && parts->host && parts->database_name;
}

/* Checks the decoded parts: percent-encoding can smuggle in anything. */
static bool
check_uri_parts(const NeonProject *parts, char **error)
{
	return neon_check_value("uri role", parts->role_name, strlen(parts->role_name),
							NEON_VALUE_NAME, error) &&
		neon_check_value("uri password", parts->password, strlen(parts->password),
						 NEON_VALUE_PASSWORD, error) &&
		neon_check_value("uri host", parts->host, strlen(parts->host),
						 NEON_VALUE_HOST, error) &&
		neon_check_value("uri database", parts->database_name, strlen(parts->database_name),
						 NEON_VALUE_NAME, error);
}

/*
 * Takes role, password, host and database from the URI Neon returns. The
 * URI holds the password, so no error repeats any part of it.
 */
bool
neon_parse_connection_uri(const char *body, NeonProject *project, char **error)
{
	json_object *root;
	json_object *uri;
	NeonProject parts = {0};
	bool		parsed = false;

	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	uri = neon_string_member(root, "uri");
	if (uri == NULL)
		*error = strdup("connection_uri response lacks uri");
	else if ((size_t) json_object_get_string_len(uri) != strlen(json_object_get_string(uri)))
		*error = strdup("connection_uri response has a NUL byte in uri");
	else if (!split_connection_uri(json_object_get_string(uri), &parts))
		*error = strdup("connection_uri response has a malformed uri");
	else
		parsed = check_uri_parts(&parts, error);
	json_object_put(root);
	if (!parsed)
	{
		neon_project_free(&parts);
		return false;
	}

	neon_replace_string(&project->role_name, parts.role_name);
	neon_replace_string(&project->password, parts.password);
	neon_replace_string(&project->host, parts.host);
	neon_replace_string(&project->database_name, parts.database_name);
	return true;
}
