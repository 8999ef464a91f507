/*
 * secrets.c
 *		The API keys, and their removal from every text stored or logged.
 *
 * A key can be set as a setting (postgresql.conf or ALTER SYSTEM; a reload
 * then logs "parameter ... changed to ...") or in neon_platform.api_key_file,
 * a file of "name = key" lines that only the server's OS user may read. The
 * file is re-read on every reload and its contents never reach the log.
 *
 * Any text the worker stores or logs that came from outside (an error body,
 * a transport error) goes through redact_secrets(): a proxy that echoes the
 * Authorization header must not put a key into a table every role can read.
 */
#include "pg_prelude.h"

#include <sys/stat.h>

#include "engine/secrets.h"
#include "engine/settings.h"

#define KEY_NAMES 3
#define REDACTED "[redacted]"

static const char *const key_names[KEY_NAMES] = {
	"free_org_api_key", "paid_org_api_key", "personal_api_key"
};

/* Keys read from the key file (malloc'd), and why the file could not be used. */
static char *file_keys[KEY_NAMES];
static char file_problem[256];

/* Forgets what the key file said, wiping the keys. */
static void
forget_file_keys(void)
{
	int			i;

	for (i = 0; i < KEY_NAMES; i++)
	{
		if (file_keys[i])
		{
			explicit_bzero(file_keys[i], strlen(file_keys[i]));
			free(file_keys[i]);
			file_keys[i] = NULL;
		}
	}
	file_problem[0] = '\0';
}

/* Removes leading and trailing blanks in place. */
static char *
trim(char *s)
{
	char	   *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* Takes one "name = key" line; false (with file_problem set) for a line it cannot use. */
static bool
take_key_line(char *line, int lineno)
{
	char	   *eq = strchr(line, '=');
	char	   *name;
	int			i;

	line = trim(line);
	if (line[0] == '\0' || line[0] == '#')
		return true;
	if (eq == NULL)
	{
		snprintf(file_problem, sizeof(file_problem), "line %d of neon_platform.api_key_file has no \"=\"", lineno);
		return false;
	}
	*eq = '\0';
	name = trim(line);
	for (i = 0; i < KEY_NAMES; i++)
	{
		if (strcmp(name, key_names[i]) == 0)
		{
			free(file_keys[i]);
			file_keys[i] = strdup(trim(eq + 1));
			return true;
		}
	}
	snprintf(file_problem, sizeof(file_problem),
			 "line %d of neon_platform.api_key_file names no known key (free_org_api_key, paid_org_api_key, personal_api_key)",
			 lineno);
	return false;
}

/*
 * Re-reads neon_platform.api_key_file (after start and every reload). A file
 * that is missing, readable by others or malformed gives no keys at all, and
 * the jobs that need one wait with the reason.
 */
void
secrets_reload(void)
{
	FILE	   *f;
	struct stat st;
	char		line[4096];
	int			lineno = 0;

	forget_file_keys();
	if (neon_api_key_file == NULL || neon_api_key_file[0] == '\0')
		return;
	f = fopen(neon_api_key_file, "r");
	if (f == NULL || fstat(fileno(f), &st) != 0)
	{
		snprintf(file_problem, sizeof(file_problem), "neon_platform.api_key_file cannot be read: %m");
		if (f)
			fclose(f);
		return;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		snprintf(file_problem, sizeof(file_problem),
				 "neon_platform.api_key_file is accessible by group or others (chmod 600 it)");
	while (file_problem[0] == '\0' && fgets(line, sizeof(line), f) != NULL)
		take_key_line(line, ++lineno);
	explicit_bzero(line, sizeof(line));
	fclose(f);
	if (file_problem[0] != '\0')
	{
		char		problem[sizeof(file_problem)];

		memcpy(problem, file_problem, sizeof(problem));
		forget_file_keys();
		memcpy(file_problem, problem, sizeof(problem));
		ereport(LOG, (errmsg("neon_platform: %s; no key is taken from it", file_problem)));
	}
}

/* The setting that holds a key. */
static const char *
setting_key(int i)
{
	switch (i)
	{
		case 0:
			return neon_free_org_api_key;
		case 1:
			return neon_paid_org_api_key;
		default:
			return neon_personal_api_key;
	}
}

/*
 * The key of one kind: from the key file if it names it, else from the
 * setting. NULL, with *missing saying why, when there is none.
 */
const char *
secrets_api_key(ApiKeyKind which, const char **missing)
{
	int			i = which == KEY_FREE_ORG ? 0 : which == KEY_PAID_ORG ? 1 : 2;
	const char *key = file_keys[i] ? file_keys[i] : setting_key(i);

	Assert(which != KEY_TENANT_ORG);
	if (file_problem[0] != '\0')
	{
		*missing = file_problem;
		return NULL;
	}
	if (key == NULL || key[0] == '\0')
	{
		*missing = psprintf("neon_platform.%s is not set", key_names[i]);
		return NULL;
	}
	return key;
}

/* Replaces every occurrence of `secret` in buf by REDACTED. */
static void
replace_all(StringInfo buf, const char *secret)
{
	size_t		len = secret ? strlen(secret) : 0;
	StringInfoData out;
	const char *p;
	const char *hit;

	if (len < 4 || strstr(buf->data, secret) == NULL)
		return;
	initStringInfo(&out);
	for (p = buf->data; (hit = strstr(p, secret)) != NULL; p = hit + len)
	{
		appendBinaryStringInfo(&out, p, hit - p);
		appendStringInfoString(&out, REDACTED);
	}
	appendStringInfoString(&out, p);
	resetStringInfo(buf);
	appendStringInfoString(buf, out.data);
	pfree(out.data);
}

/* Blanks the word after "Bearer " (any credential an echo carries, configured or not). */
static void
redact_bearer_tokens(StringInfo buf)
{
	char	   *p = buf->data;

	while ((p = strstr(p, "Bearer ")) != NULL)
	{
		char	   *start = p + strlen("Bearer ");
		char	   *end = start;

		while (*end && *end != ' ' && *end != '"' && *end != '\'' && *end != ',' && *end != '\n')
			end++;
		if (end > start)
		{
			StringInfoData out;

			initStringInfo(&out);
			appendBinaryStringInfo(&out, buf->data, start - buf->data);
			appendStringInfoString(&out, REDACTED);
			appendStringInfoString(&out, end);
			p = out.data + (start - buf->data) + strlen(REDACTED);
			pfree(buf->data);
			*buf = out;
		}
		else
			p = start;
	}
}

/* Cuts text to STORED_ERROR_MAX bytes without splitting a UTF-8 character. */
static void
cut_text(StringInfo buf)
{
	int			len = STORED_ERROR_MAX - 3;

	if (buf->len <= STORED_ERROR_MAX)
		return;
	while (len > 0 && (buf->data[len] & 0xC0) == 0x80)
		len--;
	buf->len = len;
	buf->data[len] = '\0';
	appendStringInfoString(buf, "...");
}

/*
 * A copy of `text` safe to store or log: the configured keys (settings and
 * key file) and any bearer token removed, cut to STORED_ERROR_MAX bytes.
 */
char *
redact_secrets(const char *text)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, text ? text : "");
	for (i = 0; i < KEY_NAMES; i++)
	{
		replace_all(&buf, file_keys[i]);
		replace_all(&buf, setting_key(i));
	}
	redact_bearer_tokens(&buf);
	cut_text(&buf);
	return buf.data;
}
