/*
 * job_args.h
 *		Reading the JSON of jobs.args and jobs.progress (job_args.c).
 *
 * Plain C (json-c and libc), so kinds read their input without caring how
 * it is parsed. Paths name nested members with dots: "plan.region_id".
 */
#ifndef NEON_PLATFORM_JOB_ARGS_H
#define NEON_PLATFORM_JOB_ARGS_H

#include <stdbool.h>

typedef struct JobArgs JobArgs;

/* Parses a JSON object; NULL text gives an empty object; NULL with *error on bad JSON. */
extern JobArgs *job_args_parse(const char *text, const char **error);
extern void job_args_free(JobArgs *args);

/* A string member, or NULL when absent or not a string. */
extern const char *job_args_string(JobArgs *args, const char *path);

/* A number member; false when absent or not a number. */
extern bool job_args_number(JobArgs *args, const char *path, double *out);

/* Whether a member is the JSON true. */
extern bool job_args_true(JobArgs *args, const char *path);

/* Whether a text is well-formed JSON (an answer that cannot be read at all versus one whose values are refused). */
extern bool json_text_parses(const char *text);

#endif							/* NEON_PLATFORM_JOB_ARGS_H */
