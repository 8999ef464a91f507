/*
 * opwait.h
 *		The shared step "wait for the project's Neon operations" (opwait.c).
 */
#ifndef NEON_PLATFORM_OPWAIT_H
#define NEON_PLATFORM_OPWAIT_H

#include "engine/job.h"

extern bool opwait_needed(Job *job);
extern bool opwait_build(Job *job, const char **error);
extern JobOutcome opwait_handle(Job *job, HttpRequest *req);
extern void opwait_add_pending(Job *job, char **ids, int n);

#endif							/* NEON_PLATFORM_OPWAIT_H */
