/*
 * json_prelude.h
 *		json-c behind one include.
 */
#ifndef NEON_PLATFORM_JSON_PRELUDE_H
#define NEON_PLATFORM_JSON_PRELUDE_H

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <json-c/json.h>
#pragma GCC diagnostic pop

#endif							/* NEON_PLATFORM_JSON_PRELUDE_H */
