/*
 * secrets.h
 *		The API keys, from the settings or a key file, and their removal
 *		from every text the worker stores or logs (secrets.c).
 */
#ifndef NEON_PLATFORM_SECRETS_H
#define NEON_PLATFORM_SECRETS_H

#include "engine/job.h"

/* Longest error text stored in a table or written to the log, in bytes. */
#define STORED_ERROR_MAX 1000

extern void secrets_reload(void);
extern const char *secrets_api_key(ApiKeyKind which, const char **missing);
extern char *redact_secrets(const char *text);

#endif							/* NEON_PLATFORM_SECRETS_H */
