/*
 * plan.h
 *		Reading a tier's plan from jobs.args, for the kinds that apply one
 *		(plan.c).
 */
#ifndef NEON_PLATFORM_PLAN_H
#define NEON_PLATFORM_PLAN_H

#include "engine/job.h"
#include "engine/job_args.h"
#include "neon/neon_projects.h"

extern const char *plan_string(Job *job, JobArgs *args, const char *path, const char **missing);
extern void plan_read_spec(Job *job, JobArgs *args, NeonProjectSpec *spec, const char **missing);
extern bool plan_keeps_compute(JobArgs *args);

#endif							/* NEON_PLATFORM_PLAN_H */
