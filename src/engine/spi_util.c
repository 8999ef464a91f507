/*
 * spi_util.c
 *		Short transactions and saved SPI plans for the worker.
 *
 * The worker never keeps a transaction open while API calls are in flight:
 * every access to the tables is a short transaction between db_begin() and
 * db_commit(), and every statement is prepared once per worker life.
 */
#include "pg_prelude.h"

#include "engine/spi_util.h"

/* The memory context that was current when the open transaction began. */
static MemoryContext context_before_transaction;

/* Opens the short transaction every table access runs in. */
void
db_begin(const char *activity)
{
	context_before_transaction = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "neon_platform: SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

/* Commits it and reports statistics, so autovacuum sees the queue's churn. */
void
db_commit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(context_before_transaction);
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* Seconds since the epoch (the time base of jobs.mutation_sent_at). */
double
db_wall_clock(void)
{
	return (double) (GetCurrentTimestamp() - SetEpochTimestamp()) / USECS_PER_SEC;
}

/*
 * Errors that say "not now" rather than "never": a lock held by somebody
 * else past lock_timeout, a cancel, a deadlock or serialization failure,
 * resources running short. Writing the same thing again later can succeed.
 */
bool
db_error_is_transient(int sqlerrcode)
{
	int			category = ERRCODE_TO_CATEGORY(sqlerrcode);

	return sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE
		|| sqlerrcode == ERRCODE_QUERY_CANCELED
		|| category == ERRCODE_TRANSACTION_ROLLBACK
		|| category == ERRCODE_INSUFFICIENT_RESOURCES;
}

/* Prepares a statement once per worker life and keeps the plan. */
SPIPlanPtr
spi_plan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, argtypes);

		if (p == NULL)
			elog(ERROR, "neon_platform: could not prepare \"%s\": %s",
				 sql, SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		*plan = p;
	}
	return *plan;
}

/* Runs a prepared statement and insists on the expected result code. */
void
spi_run(SPIPlanPtr plan, Datum *values, const char *nulls, int expected)
{
	int			rc = SPI_execute_plan(plan, values, nulls, false, 0);

	if (rc != expected)
		elog(ERROR, "neon_platform: statement failed: %s", SPI_result_code_string(rc));
}

/* A text Datum, or a null marker when the string is NULL. */
Datum
text_or_null(const char *value, char *null_flag)
{
	*null_flag = value ? ' ' : 'n';
	return value ? CStringGetTextDatum(value) : (Datum) 0;
}

/* A text[] Datum of n strings. */
Datum
text_array(char **items, int n)
{
	Datum	   *datums = palloc0(sizeof(Datum) * Max(n, 1));
	int			i;

	for (i = 0; i < n; i++)
		datums[i] = CStringGetTextDatum(items[i]);
	return PointerGetDatum(construct_array(datums, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* Column `col` of an SPI row as a string in `cxt`, NULL when null. */
char *
spi_text(HeapTuple row, int col, MemoryContext cxt)
{
	char	   *value = SPI_getvalue(row, SPI_tuptable->tupdesc, col);

	return value ? MemoryContextStrdup(cxt, value) : NULL;
}

/* Integer column (int4 or int8) of an SPI row; 0 when null. */
int64
spi_int(HeapTuple row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(row, SPI_tuptable->tupdesc, col, &isnull);
	Oid			type = SPI_gettypeid(SPI_tuptable->tupdesc, col);

	if (isnull)
		return 0;
	return type == INT8OID ? DatumGetInt64(d) : DatumGetInt32(d);
}

/* Boolean column of an SPI row; false when null. */
bool
spi_bool(HeapTuple row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(row, SPI_tuptable->tupdesc, col, &isnull);

	return !isnull && DatumGetBool(d);
}

/* float8 column of an SPI row; 0 when null. */
double
spi_float(HeapTuple row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(row, SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? 0.0 : DatumGetFloat8(d);
}

/* text[] column of an SPI row as strings in `cxt`; *n = 0 when null or empty. */
char **
spi_text_array(HeapTuple row, int col, MemoryContext cxt, int *n)
{
	bool		isnull;
	Datum		d = SPI_getbinval(row, SPI_tuptable->tupdesc, col, &isnull);
	Datum	   *elems;
	bool	   *nulls;
	char	  **items;
	int			count;
	int			i;

	*n = 0;
	if (isnull)
		return NULL;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count);
	items = MemoryContextAllocZero(cxt, sizeof(char *) * Max(count, 1));
	for (i = 0; i < count; i++)
		if (!nulls[i])
			items[(*n)++] = MemoryContextStrdup(cxt, TextDatumGetCString(elems[i]));
	return items;
}
