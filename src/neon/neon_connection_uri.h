/*
 * neon_connection_uri.h
 *		The answer of GET /projects/{id}/connection_uri.
 *
 * The parser returns false with *error set (malloc'd) when the body is not
 * what Neon sends, or holds a value that fails its check (see
 * neon_common.h); the password is never repeated in the error.
 */
#ifndef NEON_PLATFORM_NEON_CONNECTION_URI_H
#define NEON_PLATFORM_NEON_CONNECTION_URI_H

#include <stdbool.h>

#include "neon/neon_projects.h"

/*
 * Fills role_name, password, host and database_name from the URI; the
 * project is untouched on failure.
 */
extern bool neon_parse_connection_uri(const char *body, NeonProject *project, char **error);

#endif							/* NEON_PLATFORM_NEON_CONNECTION_URI_H */
