/*
 * wake.h
 *		Shared memory and the commit-time wake-up of the worker (wake.c).
 */
#ifndef NEON_PLATFORM_WAKE_H
#define NEON_PLATFORM_WAKE_H

extern void wake_register_shmem(void);
extern void wake_advertise_worker(void);
extern bool neon_in_worker;

#endif							/* NEON_PLATFORM_WAKE_H */
