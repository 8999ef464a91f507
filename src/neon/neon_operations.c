/*
 * neon_operations.c
 *		Parsing of Neon's operations: the answer of GET
 *		/projects/{project_id}/operations/{operation_id}, and the operations[]
 *		of mutation answers, whose ids the worker waits on.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neon/json_prelude.h"
#include "neon/neon_common.h"
#include "neon/neon_operations.h"

/* Neon's spelling of each status, indexed by NeonOperationStatus. */
static const char *const status_names[] = {
	[NEON_OPERATION_SCHEDULING] = "scheduling",
	[NEON_OPERATION_RUNNING] = "running",
	[NEON_OPERATION_CANCELLING] = "cancelling",
	[NEON_OPERATION_FINISHED] = "finished",
	[NEON_OPERATION_SKIPPED] = "skipped",
	[NEON_OPERATION_FAILED] = "failed",
	[NEON_OPERATION_ERROR] = "error",
	[NEON_OPERATION_CANCELLED] = "cancelled",
};

#define N_STATUSES	(sizeof(status_names) / sizeof(status_names[0]))

/* Names a status in messages. */
const char *
neon_operation_status_name(NeonOperationStatus status)
{
	return (size_t) status < N_STATUSES ? status_names[status] : "unknown";
}

/* Groups the statuses into what a waiting job does next. */
NeonOperationOutcome
neon_operation_outcome(NeonOperationStatus status)
{
	switch (status)
	{
		case NEON_OPERATION_FINISHED:
		case NEON_OPERATION_SKIPPED:
			return NEON_OUTCOME_SUCCEEDED;
		case NEON_OPERATION_FAILED:
		case NEON_OPERATION_ERROR:
		case NEON_OPERATION_CANCELLED:
			return NEON_OUTCOME_FAILED;
		case NEON_OPERATION_SCHEDULING:
		case NEON_OPERATION_RUNNING:
		case NEON_OPERATION_CANCELLING:
			break;
	}
	return NEON_OUTCOME_IN_PROGRESS;
}

/*
 * The status of operation `op` (named `where` in errors). An unknown status
 * is refused: we cannot tell whether to wait on it. It is repeated in the
 * error only when it has the harmless shape of an id.
 */
static bool
take_status(const char *where, json_object *op, NeonOperationStatus *status, char **error)
{
	json_object *node = neon_string_member(op, "status");
	const char *value = node ? json_object_get_string(node) : NULL;
	size_t		len = node ? (size_t) json_object_get_string_len(node) : 0;

	if (value == NULL)
	{
		*error = neon_format("%s.status is missing or not a string", where);
		return false;
	}
	for (size_t i = 0; i < N_STATUSES; i++)
	{
		if (strlen(status_names[i]) == len && memcmp(value, status_names[i], len) == 0)
		{
			*status = (NeonOperationStatus) i;
			return true;
		}
	}
	if (neon_valid_id(value, len))
		*error = neon_format("%s.status \"%s\" is not a status Neon documents", where, value);
	else
		*error = neon_format("%s.status is not a status Neon documents", where);
	return false;
}

/* What every operation must have: a valid id and a known status. */
static bool
take_id_and_status(const char *where, json_object *op, char **id,
				   NeonOperationStatus *status, char **error)
{
	if (!neon_take_member(where, op, "id", NEON_VALUE_ID, true, id, error))
		return false;
	if (take_status(where, op, status, error))
		return true;
	free(*id);
	*id = NULL;
	return false;
}

/* Reads the one operation of GET /projects/{project_id}/operations/{operation_id}. */
/* Fills `out` from one operation object; false (out freed) when a field fails its check. */
static bool
take_operation(const char *where, json_object *op, NeonOperation *out, char **error)
{
	bool		parsed;

	parsed = take_id_and_status(where, op, &out->id, &out->status, error) &&
		neon_take_member(where, op, "project_id", NEON_VALUE_ID, true, &out->project_id, error) &&
		neon_take_member(where, op, "action", NEON_VALUE_TEXT, true, &out->action, error) &&
		neon_take_member(where, op, "error", NEON_VALUE_TEXT, false, &out->error, error);
	if (!parsed)
		neon_operation_free(out);
	return parsed;
}

bool
neon_parse_operation(const char *body, NeonOperation *out, char **error)
{
	json_object *root;
	json_object *op;
	bool		parsed;

	memset(out, 0, sizeof(*out));
	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	if ((op = neon_object_member(root, "operation")) == NULL)
	{
		json_object_put(root);
		*error = strdup("operation response lacks operation");
		return false;
	}
	parsed = take_operation("operation", op, out, error);
	json_object_put(root);
	return parsed;
}

/*
 * The answer of GET /projects/{project_id}/operations: every operation on
 * the page, newest first, each checked like a single one. *ops is a
 * malloc'd array of *n entries, NULL when the page is empty.
 */
bool
neon_parse_operation_list(const char *body, NeonOperation **ops, int *n, char **error)
{
	json_object *root;
	json_object *list;
	size_t		count;
	size_t		i;
	bool		parsed = true;

	*ops = NULL;
	*n = 0;
	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	if ((list = neon_array_member(root, "operations")) == NULL)
	{
		json_object_put(root);
		*error = strdup("operation list lacks operations");
		return false;
	}
	count = json_object_array_length(list);
	if (count > 0 && (*ops = calloc(count, sizeof(NeonOperation))) == NULL)
	{
		json_object_put(root);
		*error = strdup("out of memory");
		return false;
	}
	for (i = 0; i < count && parsed; i++, (*n)++)
		parsed = take_operation("operations[]", json_object_array_get_idx(list, i), &(*ops)[i], error);
	json_object_put(root);
	if (!parsed)
	{
		neon_operation_list_free(*ops, *n);
		*ops = NULL;
		*n = 0;
	}
	return parsed;
}

/* Frees an array of operations. */
void
neon_operation_list_free(NeonOperation *ops, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		neon_operation_free(&ops[i]);
	free(ops);
}

/* Frees the strings of an operation and zeroes it for reuse. */
void
neon_operation_free(NeonOperation *op)
{
	free(op->id);
	free(op->project_id);
	free(op->action);
	free(op->error);
	memset(op, 0, sizeof(*op));
}

/*
 * Whether a job must wait on an operation listed in a mutation answer. A
 * cancelled one was superseded before the answer was made (Neon cancels,
 * for instance, a suspend that a start overtakes), so it is not waited on.
 */
static bool
worth_waiting_for(NeonOperationStatus status)
{
	return neon_operation_outcome(status) != NEON_OUTCOME_SUCCEEDED &&
		status != NEON_OPERATION_CANCELLED;
}

/* Collects the ids to wait on from operations[] of a parsed answer; all or nothing. */
bool
neon_take_operation_ids(json_object *answer, char ***ids, int *n, char **error)
{
	json_object *operations = neon_array_member(answer, "operations");
	size_t		count = operations ? json_object_array_length(operations) : 0;

	*ids = NULL;
	*n = 0;
	if (operations == NULL && json_object_object_get_ex(answer, "operations", NULL))
	{
		*error = strdup("operations is not an array");
		return false;
	}
	if (count == 0)
		return true;

	*ids = calloc(count, sizeof(char *));
	for (size_t i = 0; i < count; i++)
	{
		char		where[48];
		char	   *id;
		NeonOperationStatus status;

		snprintf(where, sizeof(where), "operations[%zu]", i);
		if (!take_id_and_status(where, json_object_array_get_idx(operations, i), &id, &status, error))
		{
			neon_operation_ids_free(*ids, *n);
			*ids = NULL;
			*n = 0;
			return false;
		}
		if (worth_waiting_for(status))
			(*ids)[(*n)++] = id;
		else
			free(id);
	}
	if (*n == 0)
	{
		free(*ids);
		*ids = NULL;
	}
	return true;
}

/* The ids to wait on after any mutation (create, update, delete of any resource). */
bool
neon_parse_operation_ids(const char *body, char ***ids, int *n, char **error)
{
	json_object *root;
	bool		parsed;

	*ids = NULL;
	*n = 0;
	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	parsed = neon_take_operation_ids(root, ids, n, error);
	json_object_put(root);
	return parsed;
}

/* Reads one resource's id and the operations of a mutation's answer. */
bool
neon_parse_mutation_answer(const char *body, const char *member, char **id, char ***operation_ids, int *n,
						   char **error)
{
	json_object *root;
	bool		parsed;

	*id = NULL;
	*operation_ids = NULL;
	*n = 0;
	*error = NULL;
	if ((root = neon_parse_object(body, error)) == NULL)
		return false;
	parsed = neon_take_member(member, neon_object_member(root, member), "id", NEON_VALUE_ID, true, id, error)
		&& neon_take_operation_ids(root, operation_ids, n, error);
	json_object_put(root);
	if (!parsed)
	{
		free(*id);
		*id = NULL;
	}
	return parsed;
}

/* Frees a list of operation ids. */
void
neon_operation_ids_free(char **ids, int n)
{
	for (int i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}
