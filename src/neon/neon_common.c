/*
 * neon_common.c
 *		The checks of values taken from Neon's answers, the text of error
 *		answers, and the parse helpers shared by the parsers of src/neon.
 *
 * The parsers read only the fields they need and check their types, so a
 * response with extra or reordered fields still parses, while one that lacks
 * what is needed, or holds a value that is not what Neon sends, is refused
 * with a message naming the field.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neon/json_prelude.h"
#include "neon/neon_common.h"

/* Longest error text we derive from a response body, in bytes. */
#define ERROR_EXCERPT_MAX	200

/* Longest part of a refused value that an error message repeats, in bytes. */
#define VALUE_EXCERPT_MAX	64

#define ID_MAX			60
#define HOST_MAX		253
#define HOST_LABEL_MAX	63
#define NAME_MAX_BYTES	63
#define PASSWORD_MAX	1024

/* malloc'd printf; NULL on out of memory. */
char *
neon_format(const char *fmt,...)
{
	va_list		args;
	char	   *result;

	va_start(args, fmt);
	if (vasprintf(&result, fmt, args) < 0)
		result = NULL;
	va_end(args);
	return result;
}

/* Wipes a secret before giving its memory back. */
void
neon_free_secret(char *s)
{
	if (s)
	{
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Swaps in a newly checked value, wiping the old one (it may be a password). */
void
neon_replace_string(char **field, char *value)
{
	neon_free_secret(*field);
	*field = value;
}

/*
 * Length of the valid UTF-8 sequence at `s` (of `avail` bytes), 0 if the
 * bytes there are not one. Overlong forms, surrogates and code points above
 * U+10FFFF are refused, as PostgreSQL refuses them.
 */
static size_t
utf8_sequence_length(const unsigned char *s, size_t avail)
{
	size_t		len;
	unsigned char second_min = 0x80;
	unsigned char second_max = 0xBF;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
	{
		len = 3;
		if (s[0] == 0xE0)
			second_min = 0xA0;
		else if (s[0] == 0xED)
			second_max = 0x9F;
	}
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
	{
		len = 4;
		if (s[0] == 0xF0)
			second_min = 0x90;
		else if (s[0] == 0xF4)
			second_max = 0x8F;
	}
	else
		return 0;
	if (len > avail || s[1] < second_min || s[1] > second_max)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

/* Checks text before it is stored in PostgreSQL, which refuses invalid UTF-8 and NUL. */
bool
neon_valid_utf8(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *) s;

	for (size_t i = 0; i < len;)
	{
		size_t		n = utf8_sequence_length(u + i, len - i);

		if (n == 0 || u[i] == '\0')
			return false;
		i += n;
	}
	return true;
}

/* Ids go into request paths: only the characters of Neon's path-id pattern may. */
bool
neon_valid_id(const char *s, size_t len)
{
	if (len == 0 || len > ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* Whether s[0..n-1] are digits. */
static bool
digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Timestamps are stored as timestamptz: only RFC 3339's shape may reach the cast. */
bool
neon_valid_timestamp(const char *s, size_t len)
{
	size_t		i = 19;

	if (len < 20 || len > 40 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-'
		|| !digits(s + 8, 2) || s[10] != 'T' || !digits(s + 11, 2) || s[13] != ':'
		|| !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
		return false;
	if (s[i] == '.')
	{
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == 20)
			return false;
	}
	if (len - i == 1)
		return s[i] == 'Z';
	return len - i == 6 && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2) && s[i + 3] == ':'
		&& digits(s + i + 4, 2);
}

/* Whether `c` may appear in a DNS label. */
static bool
host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

/*
 * A loopback address with a port, 127.a.b.c:PORT: where a local compute
 * (the emulator's real databases) listens. Neon's hosts never carry a port.
 */
static bool
loopback_with_port(const char *s, size_t len)
{
	const char *colon = memchr(s, ':', len);
	size_t		port_len;
	long		port = 0;
	int			parts = 0;
	size_t		i;

	if (colon == NULL || len < 10 || strncmp(s, "127.", 4) != 0)
		return false;
	for (i = 0; i < (size_t) (colon - s); i += strspn(s + i, "0123456789") + 1)
	{
		size_t		digits_len = strspn(s + i, "0123456789");

		if (digits_len == 0 || digits_len > 3 || atoi(s + i) > 255
			|| (s + i + digits_len != colon && s[i + digits_len] != '.'))
			return false;
		parts++;
	}
	port_len = len - (colon - s) - 1;
	if (parts != 4 || port_len == 0 || port_len > 5 || strspn(colon + 1, "0123456789") < port_len)
		return false;
	for (i = 0; i < port_len; i++)
		port = port * 10 + (colon[1 + i] - '0');
	return port >= 1 && port <= 65535;
}

/*
 * Hosts end up in connection strings handed to tenants: no scheme, port,
 * path, userinfo or space can slip in, only DNS labels (and a port only
 * after a loopback address: a local compute).
 */
bool
neon_valid_host(const char *s, size_t len)
{
	size_t		label = 0;

	if (len == 0 || len > HOST_MAX)
		return false;
	if (memchr(s, ':', len) != NULL)
		return loopback_with_port(s, len);
	for (size_t i = 0; i <= len; i++)
	{
		if (i == len || s[i] == '.')
		{
			if (label == 0 || s[i - label] == '-' || s[i - 1] == '-')
				return false;
			label = 0;
		}
		else if (!host_char(s[i]) || ++label > HOST_LABEL_MAX)
			return false;
	}
	return true;
}

/* Role and database names are shown and logged: no control characters, C0, DEL or C1. */
bool
neon_valid_name(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *) s;

	if (len == 0 || len > NAME_MAX_BYTES || !neon_valid_utf8(s, len))
		return false;
	for (size_t i = 0; i < len; i++)
		if (u[i] < 0x20 || u[i] == 0x7F || (u[i] == 0xC2 && u[i + 1] <= 0x9F))
			return false;
	return true;
}

/* Passwords are stored as text and put into connection strings. */
bool
neon_valid_password(const char *s, size_t len)
{
	return len > 0 && len <= PASSWORD_MAX && neon_valid_utf8(s, len);
}

/*
 * Copies at most `max` bytes of the `len` bytes of `text` into a
 * single-line, valid UTF-8 string that PostgreSQL will store and log:
 * control characters (NUL included) become spaces, runs of whitespace
 * collapse, invalid bytes become '?', and a cut text ends in "...".
 */
static char *
sanitize_excerpt(const char *text, size_t len, size_t max)
{
	const unsigned char *s = (const unsigned char *) text;
	const unsigned char *end = s + len;
	char	   *out = malloc(max + 4);
	size_t		o = 0;

	while (s < end && *s <= ' ')
		s++;
	while (s < end)
	{
		size_t		len = utf8_sequence_length(s, end - s);

		if (o + (len ? len : 1) > max)
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

/* The check of each kind of value, and what to say when a value fails it. */
static const struct
{
	bool		(*valid) (const char *s, size_t len);
	const char *rule;
}			value_kinds[] =
{
	[NEON_VALUE_ID] = {neon_valid_id, "a Neon id (1 to 60 of a-z, 0-9 and '-')"},
	[NEON_VALUE_HOST] = {neon_valid_host, "a host name or IPv4 address"},
	[NEON_VALUE_NAME] = {neon_valid_name, "a name (1 to 63 bytes of UTF-8, no control characters)"},
	[NEON_VALUE_PASSWORD] = {neon_valid_password, "a password (1 to 1024 bytes of UTF-8, no NUL)"},
	[NEON_VALUE_TIMESTAMP] = {neon_valid_timestamp, "an RFC 3339 timestamp"},
	[NEON_VALUE_TEXT] = {neon_valid_utf8, "valid UTF-8 without NUL"},
};

/*
 * The one gate of every value a parser returns. The error repeats a short,
 * sanitized excerpt of the value, so a hostile answer cannot flood the log,
 * and never any part of a password.
 */
bool
neon_check_value(const char *field, const char *value, size_t len,
				 NeonValueKind kind, char **error)
{
	char	   *excerpt;

	if (value_kinds[kind].valid(value, len))
		return true;
	if (kind == NEON_VALUE_PASSWORD)
	{
		*error = neon_format("%s is not %s", field, value_kinds[kind].rule);
		return false;
	}
	excerpt = sanitize_excerpt(value, len, VALUE_EXCERPT_MAX);
	*error = neon_format("%s \"%s\" is not %s", field, excerpt, value_kinds[kind].rule);
	free(excerpt);
	return false;
}

/* Checks and copies one string of an answer; the decoded length exposes \u0000. */
bool
neon_take_string(const char *field, json_object *node, NeonValueKind kind,
				 char **out, char **error)
{
	const char *value;
	size_t		len;

	*out = NULL;
	if (node == NULL)
		return true;
	value = json_object_get_string(node);
	len = (size_t) json_object_get_string_len(node);
	if (!neon_check_value(field, value, len, kind, error))
		return false;
	*out = strdup(value);
	return true;
}

/* Takes a member by name, so the error says where in the answer the value was. */
bool
neon_take_member(const char *where, json_object *obj, const char *key,
				 NeonValueKind kind, bool required, char **out, char **error)
{
	json_object *node = neon_string_member(obj, key);
	char	   *field = neon_format("%s.%s", where, key);
	bool		taken;

	if (node == NULL && required)
	{
		*out = NULL;
		*error = neon_format("%s is missing or not a string", field);
		taken = false;
	}
	else
		taken = neon_take_string(field, node, kind, out, error);
	free(field);
	return taken;
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

/* A string member; one of three typed lookups, as json_type is not in our headers. */
json_object *
neon_string_member(json_object *obj, const char *key)
{
	return member_of_type(obj, key, json_type_string);
}

/* An object member. */
json_object *
neon_object_member(json_object *obj, const char *key)
{
	return member_of_type(obj, key, json_type_object);
}

/* Usage figures and counts are stored as bigint: a negative or fractional one is refused. */
bool
neon_take_count(const char *where, json_object *obj, const char *key, long long *out, char **error)
{
	json_object *node;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &node) || !json_object_is_type(node, json_type_int)
		|| json_object_get_int64(node) < 0)
	{
		*error = neon_format("%s.%s is missing or not a count", where, key);
		return false;
	}
	*out = (long long) json_object_get_int64(node);
	return true;
}

/* An array member. */
json_object *
neon_array_member(json_object *obj, const char *key)
{
	return member_of_type(obj, key, json_type_array);
}

/* Neon answers with one-element arrays where a single value is meant (connection_uris, roles). */
json_object *
neon_first_object(json_object *obj, const char *key)
{
	json_object *array = neon_array_member(obj, key);
	json_object *first = array && json_object_array_length(array) > 0 ?
		json_object_array_get_idx(array, 0) : NULL;

	return first && json_object_is_type(first, json_type_object) ? first : NULL;
}

/* Compares a member without copying it (types, names, statuses). */
bool
neon_member_equals(json_object *obj, const char *key, const char *expected)
{
	json_object *value = neon_string_member(obj, key);

	return value && expected && strcmp(json_object_get_string(value), expected) == 0;
}

/*
 * Parses a body that must be one JSON object and nothing else: json-c
 * stops at the end of the first value, so trailing data is refused here.
 */
json_object *
neon_parse_object(const char *body, char **error)
{
	json_tokener *tok;
	json_object *root = NULL;
	const char *rest = NULL;

	if (body && (tok = json_tokener_new()) != NULL)
	{
		root = json_tokener_parse_ex(tok, body, -1);
		if (json_tokener_get_error(tok) == json_tokener_success)
			rest = body + json_tokener_get_parse_end(tok);
		json_tokener_free(tok);
	}
	if (rest)
		rest += strspn(rest, " \t\r\n");
	if (rest == NULL || *rest != '\0' || !json_object_is_type(root, json_type_object))
	{
		json_object_put(root);
		*error = strdup("response is not a JSON object");
		return NULL;
	}
	return root;
}

/* "code: message" or "message" of a GeneralError, or NULL when `body` is not one. */
static char *
general_error_text(const char *body)
{
	json_object *root = json_tokener_parse(body);
	json_object *message = neon_string_member(root, "message");
	json_object *code = neon_string_member(root, "code");
	char	   *text = NULL;

	if (message && code && json_object_get_string_len(code) > 0)
		text = neon_format("%s: %s", json_object_get_string(code), json_object_get_string(message));
	else if (message)
		text = strdup(json_object_get_string(message));
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
		result = sanitize_excerpt(text, strlen(text), ERROR_EXCERPT_MAX);
		free(text);
		return result;
	}

	excerpt = sanitize_excerpt(body ? body : "", body ? strlen(body) : 0, ERROR_EXCERPT_MAX);
	if (excerpt[0])
		return excerpt;
	free(excerpt);
	return strdup("empty body");
}
