/*
 * queue.h
 *		The durable queue in neon_platform.jobs, as the worker sees it
 *		(queue.c). Every function runs inside db_begin()/db_commit().
 */
#ifndef NEON_PLATFORM_QUEUE_H
#define NEON_PLATFORM_QUEUE_H

#include "engine/job.h"

extern bool queue_schema_present(void);
extern int	queue_recover_abandoned(void);
extern Job *queue_claim(JobLane lane, int limit, MemoryContext parent, double *next_due_seconds);
extern void queue_record_call(Job *job, HttpRequest *req);
extern void queue_mark_sent(Job **jobs, int n);
extern double queue_apply_outcome(Job *job);
extern int	queue_release_config_waits(void);
extern void queue_prune(int retention_seconds);
extern void queue_prune_usage(int retention_seconds);
extern void queue_enqueue_expired(void);
extern void queue_enqueue_due_sweep(int poll_interval_seconds);
extern void job_free(Job *job);

#endif							/* NEON_PLATFORM_QUEUE_H */
