/*
 * worker.h
 *		The background worker (worker.c).
 */
#ifndef NEON_PLATFORM_WORKER_H
#define NEON_PLATFORM_WORKER_H

extern PGDLLEXPORT void neon_worker_main(Datum arg);
extern void worker_register(void);

#endif							/* NEON_PLATFORM_WORKER_H */
