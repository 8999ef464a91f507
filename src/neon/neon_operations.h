/*
 * neon_operations.h
 *		Neon's operations: the answer of
 *		GET /projects/{project_id}/operations/{operation_id}, and the
 *		operations[] that every mutation answer lists.
 *
 * Strings are malloc'd; every parser returns false with *error set
 * (malloc'd) when the body is not what Neon sends (see neon_common.h).
 */
#ifndef NEON_PLATFORM_NEON_OPERATIONS_H
#define NEON_PLATFORM_NEON_OPERATIONS_H

#include <stdbool.h>

/* The statuses of the spec's OperationStatus; any other string is refused. */
typedef enum NeonOperationStatus
{
	NEON_OPERATION_SCHEDULING,
	NEON_OPERATION_RUNNING,
	NEON_OPERATION_CANCELLING,
	NEON_OPERATION_FINISHED,
	NEON_OPERATION_SKIPPED,
	NEON_OPERATION_FAILED,
	NEON_OPERATION_ERROR,
	NEON_OPERATION_CANCELLED
} NeonOperationStatus;

/* What a status means for whoever waits on the operation. */
typedef enum NeonOperationOutcome
{
	NEON_OUTCOME_IN_PROGRESS,	/* scheduling, running, cancelling */
	NEON_OUTCOME_SUCCEEDED,		/* finished, skipped */
	NEON_OUTCOME_FAILED			/* failed, error, cancelled */
} NeonOperationOutcome;

/* One operation, as GET /projects/{project_id}/operations/{operation_id} tells it. */
typedef struct NeonOperation
{
	char	   *id;
	char	   *project_id;
	char	   *action;			/* e.g. "start_compute" */
	NeonOperationStatus status;
	char	   *error;			/* Neon's error text; NULL when it gives none */
} NeonOperation;

/* The answer of GET /projects/{project_id}/operations/{operation_id}. */
extern bool neon_parse_operation(const char *body, NeonOperation *out, char **error);

/* The answer of GET /projects/{project_id}/operations: a malloc'd array, newest first. */
extern bool neon_parse_operation_list(const char *body, NeonOperation **ops, int *n, char **error);
extern void neon_operation_list_free(NeonOperation *ops, int n);

extern NeonOperationOutcome neon_operation_outcome(NeonOperationStatus status);

/* The status as Neon spells it ("running"), for messages. */
extern const char *neon_operation_status_name(NeonOperationStatus status);

extern void neon_operation_free(NeonOperation *op);

/*
 * The ids of the operations[] of any mutation answer that are still worth
 * waiting for: all but the finished, skipped and cancelled ones (a failed
 * one is kept, so that the wait reports its failure). *ids is NULL when
 * there are none, an absent operations[] included.
 */
/*
 * The answer of a mutation that made or changed one resource:
 * {"<member>": {"id": ...}, "operations": [...]}: its (checked) id and the
 * operations to wait for. Nothing is returned on failure.
 */
extern bool neon_parse_mutation_answer(const char *body, const char *member, char **id,
									   char ***operation_ids, int *n, char **error);

extern bool neon_parse_operation_ids(const char *body, char ***ids, int *n, char **error);

extern void neon_operation_ids_free(char **ids, int n);

/* For the parsers of src/neon: neon_parse_operation_ids on a parsed answer. */
struct json_object;
extern bool neon_take_operation_ids(struct json_object *answer, char ***ids, int *n, char **error);

#endif							/* NEON_PLATFORM_NEON_OPERATIONS_H */
