/*
 * spi_util.h
 *		Short transactions and saved SPI plans for the worker (spi_util.c).
 */
#ifndef NEON_PLATFORM_SPI_UTIL_H
#define NEON_PLATFORM_SPI_UTIL_H

extern void db_begin(const char *activity);
extern void db_commit(void);
extern bool db_error_is_transient(int sqlerrcode);
extern double db_wall_clock(void);

extern SPIPlanPtr spi_plan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes);
extern void spi_run(SPIPlanPtr plan, Datum *values, const char *nulls, int expected);
extern Datum text_or_null(const char *value, char *null_flag);
extern Datum text_array(char **items, int n);

extern char *spi_text(HeapTuple row, int col, MemoryContext cxt);
extern int64 spi_int(HeapTuple row, int col);
extern bool spi_bool(HeapTuple row, int col);
extern double spi_float(HeapTuple row, int col);
extern char **spi_text_array(HeapTuple row, int col, MemoryContext cxt, int *n);

#endif							/* NEON_PLATFORM_SPI_UTIL_H */
