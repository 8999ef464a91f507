/*
 * json_prelude.h
 *		json-c behind one include, for the sources of src/neon and the unit
 *		tests only.
 *
 * Never include it next to PostgreSQL's headers: json-c's json_object type
 * clashes with the SQL function json_object() that utils/fmgrprotos.h
 * declares. The public headers of src/neon therefore name only
 * "struct json_object".
 */
#ifndef NEON_PLATFORM_JSON_PRELUDE_H
#define NEON_PLATFORM_JSON_PRELUDE_H

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <json-c/json.h>
#pragma GCC diagnostic pop

#endif							/* NEON_PLATFORM_JSON_PRELUDE_H */
