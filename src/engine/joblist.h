/*
 * joblist.h
 *		FIFO lists of jobs, chained through job->next (a job is on one list
 *		at a time).
 */
#ifndef NEON_PLATFORM_JOBLIST_H
#define NEON_PLATFORM_JOBLIST_H

#include "engine/job.h"

typedef struct JobList
{
	Job		   *head;
	Job		   *tail;
} JobList;

/* Appends a job to a list. */
static inline void
list_push(JobList *list, Job *job)
{
	job->next = NULL;
	if (list->tail)
		list->tail->next = job;
	else
		list->head = job;
	list->tail = job;
}

/* Takes the first job of a list, or NULL. */
static inline Job *
list_pop(JobList *list)
{
	Job		   *job = list->head;

	if (job == NULL)
		return NULL;
	list->head = job->next;
	if (list->head == NULL)
		list->tail = NULL;
	job->next = NULL;
	return job;
}

/* Puts a whole list in front of another, keeping its order. */
static inline void
list_prepend(JobList *list, JobList *front)
{
	if (front->head == NULL)
		return;
	front->tail->next = list->head;
	if (list->tail == NULL)
		list->tail = front->tail;
	list->head = front->head;
	front->head = front->tail = NULL;
}

#endif							/* NEON_PLATFORM_JOBLIST_H */
