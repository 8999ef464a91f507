/*
 * batch.h
 *		One call for several jobs: forming batches, sharing their answer
 *		(batch.c).
 */
#ifndef NEON_PLATFORM_BATCH_H
#define NEON_PLATFORM_BATCH_H

#include "engine/joblist.h"

/* How long a job waits for others to share its call when more may come. */
#define BATCH_LINGER_SECONDS 1.0

extern bool batch_parks(const Job *job);
extern bool batch_due(JobList *parked, bool more_may_come, double now);
extern Job *batch_gather(JobList *parked, JobList *refused, int *taken);
extern void batch_share_answer(Job *carrier, HttpRequest *req);

#endif							/* NEON_PLATFORM_BATCH_H */
