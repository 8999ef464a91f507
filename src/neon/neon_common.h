/*
 * neon_common.h
 *		What the Neon API modules of src/neon share: the checks every value
 *		taken from an answer must pass, the text of an error answer, and the
 *		parse helpers of the parsers.
 *
 * Plain C (json-c and libc only), so the parsers are tested directly against
 * the responses recorded from the live API (test/unit). No answer is
 * trusted: every string a parser returns has passed one of the checks below,
 * and a parser that meets a value failing its check returns false with a
 * malloc'd *error naming the field. Strings returned are malloc'd.
 */
#ifndef NEON_PLATFORM_NEON_COMMON_H
#define NEON_PLATFORM_NEON_COMMON_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The checks. Each takes the value and its length, so that a NUL byte
 * inside it (JSON's \u0000) fails rather than cutting the value short.
 */

/* Valid UTF-8 without NUL bytes (PostgreSQL text can hold no NUL), as PostgreSQL checks it. */
extern bool neon_valid_utf8(const char *s, size_t len);

/* A Neon id (project, branch, endpoint, org, operation): ^[a-z0-9-]{1,60}$. */
extern bool neon_valid_id(const char *s, size_t len);

/*
 * A DNS name: labels of 1 to 63 of [A-Za-z0-9-], neither starting nor ending
 * with '-', joined by '.', 253 bytes at most. IPv4 literals fit this rule.
 */
extern bool neon_valid_host(const char *s, size_t len);

/*
 * A UTC or offset timestamp as Neon prints it (RFC 3339):
 * YYYY-MM-DDTHH:MM:SS, optional fraction, then Z or +HH:MM / -HH:MM.
 */
extern bool neon_valid_timestamp(const char *s, size_t len);

/* A role or database name: 1 to 63 bytes of UTF-8, no control characters. */
extern bool neon_valid_name(const char *s, size_t len);

/* A password: 1 to 1024 bytes of UTF-8 without NUL. */
extern bool neon_valid_password(const char *s, size_t len);

/* "code: message" of a GeneralError body, or a short excerpt of any other body; malloc'd. */
extern char *neon_error_message(const char *body);

/*
 * For the parsers of src/neon only. json-c is not included here (it clashes
 * with PostgreSQL's headers, see json_prelude.h): the parse helpers name
 * only struct json_object, which json-c's json_object stands for.
 */
struct json_object;

/* What a value taken from an answer must be. */
typedef enum NeonValueKind
{
	NEON_VALUE_ID,
	NEON_VALUE_HOST,
	NEON_VALUE_NAME,
	NEON_VALUE_PASSWORD,
	NEON_VALUE_TIMESTAMP,
	NEON_VALUE_TEXT				/* any other string: valid UTF-8 */
} NeonValueKind;

/* Whether `value` is a `kind`; if not, *error names `field` and says why. */
extern bool neon_check_value(const char *field, const char *value, size_t len,
							 NeonValueKind kind, char **error);

/*
 * Copies the JSON string `node` into *out once it passes neon_check_value;
 * *out is NULL when node is NULL (the member is absent).
 */
extern bool neon_take_string(const char *field, struct json_object *node,
							 NeonValueKind kind, char **out, char **error);

/*
 * neon_take_string on the string member `key` of `obj`, named "where.key"
 * in errors; a required member that is absent or not a string is refused.
 */
extern bool neon_take_member(const char *where, struct json_object *obj, const char *key,
							 NeonValueKind kind, bool required, char **out, char **error);

/*
 * The integer member `key` of `obj` (named "where.key" in errors): a count
 * or a usage figure, so never negative. Absent or not an integer is refused.
 */
extern bool neon_take_count(const char *where, struct json_object *obj, const char *key,
							long long *out, char **error);

/* The member `key` of `obj` when it is a string, an object or an array; else NULL. */
extern struct json_object *neon_string_member(struct json_object *obj, const char *key);
extern struct json_object *neon_object_member(struct json_object *obj, const char *key);
extern struct json_object *neon_array_member(struct json_object *obj, const char *key);

/* The first element of the array member `key`, when it is an object. */
extern struct json_object *neon_first_object(struct json_object *obj, const char *key);

/* Whether the member `key` of `obj` is the string `expected`. */
extern bool neon_member_equals(struct json_object *obj, const char *key, const char *expected);

/* Parses `body` as exactly one JSON object; NULL with *error set otherwise. */
extern struct json_object *neon_parse_object(const char *body, char **error);

/* malloc'd printf. */
extern char *neon_format(const char *fmt,...) __attribute__((format(printf, 1, 2)));

/* Frees a string that may hold a secret, wiping it first. */
extern void neon_free_secret(char *s);

/* Frees *field (wiping it) and puts `value` in its place. */
extern void neon_replace_string(char **field, char *value);

#endif							/* NEON_PLATFORM_NEON_COMMON_H */
