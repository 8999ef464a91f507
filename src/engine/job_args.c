/*
 * job_args.c
 *		Reading the JSON of jobs.args and jobs.progress with json-c.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/job_args.h"
#include "neon/json_prelude.h"

struct JobArgs
{
	json_object *root;
};

/* Parses a JSON object; NULL text gives an empty object. */
JobArgs *
job_args_parse(const char *text, const char **error)
{
	JobArgs    *args = calloc(1, sizeof(JobArgs));

	if (args == NULL)
	{
		*error = "out of memory";
		return NULL;
	}
	args->root = text ? json_tokener_parse(text) : json_object_new_object();
	if (args->root == NULL || !json_object_is_type(args->root, json_type_object))
	{
		*error = "not a JSON object";
		job_args_free(args);
		return NULL;
	}
	return args;
}

void
job_args_free(JobArgs *args)
{
	if (args == NULL)
		return;
	json_object_put(args->root);
	free(args);
}

/* The member at a dotted path, or NULL. */
static json_object *
member_at(JobArgs *args, const char *path)
{
	json_object *node = args->root;
	char		name[128];

	while (node != NULL && *path)
	{
		const char *dot = strchr(path, '.');
		size_t		len = dot ? (size_t) (dot - path) : strlen(path);

		if (len >= sizeof(name) || !json_object_is_type(node, json_type_object))
			return NULL;
		memcpy(name, path, len);
		name[len] = '\0';
		if (!json_object_object_get_ex(node, name, &node))
			return NULL;
		path += len + (dot != NULL);
	}
	return node;
}

const char *
job_args_string(JobArgs *args, const char *path)
{
	json_object *v = member_at(args, path);

	return (v && json_object_is_type(v, json_type_string)) ? json_object_get_string(v) : NULL;
}

bool
job_args_number(JobArgs *args, const char *path, double *out)
{
	json_object *v = member_at(args, path);

	if (v == NULL || !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
		return false;
	*out = json_object_get_double(v);
	return true;
}

bool
job_args_true(JobArgs *args, const char *path)
{
	json_object *v = member_at(args, path);

	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

bool
json_text_parses(const char *text)
{
	json_object *root = text ? json_tokener_parse(text) : NULL;

	json_object_put(root);
	return root != NULL;
}
