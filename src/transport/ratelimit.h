/*
 * ratelimit.h
 *		A token bucket that keeps our calls under Neon's rate limits.
 *
 * Neon allows requests_per_minute per account and burst_per_second per
 * route. A plain bucket with rate rpm/60 and capacity burst lets
 * burst + rpm requests through in some 60 s window, so the bucket is sized
 * to hold both windows strictly: capacity C and rate r with C + r <= burst
 * (any 1 s window) and C + 60 r <= rpm (any 60 s window).
 *
 * A 429 empties the bucket and halves the rate for a while; a Retry-After,
 * if Neon ever sends one, pauses every call until it has passed.
 *
 * Plain C; times are seconds on the caller's monotonic clock.
 */
#ifndef NEON_PLATFORM_RATELIMIT_H
#define NEON_PLATFORM_RATELIMIT_H

#include <stdbool.h>

typedef struct RateLimiter
{
	double		rate;			/* tokens per second now (may be slowed down) */
	double		full_rate;		/* rate without a 429 penalty */
	double		capacity;
	double		tokens;
	double		updated_at;
	double		paused_until;	/* no call before this time (Retry-After) */
	double		slowed_until;	/* rate is below full_rate until this time */
} RateLimiter;

/* Sets up a full bucket for the given limits. */
extern void ratelimit_init(RateLimiter *rl, int per_minute, int burst_per_second, double now);

/* Applies new limits (SIGHUP), keeping the tokens already earned up to the new capacity. */
extern void ratelimit_configure(RateLimiter *rl, int per_minute, int burst_per_second, double now);

/* Takes one token if there is one. */
extern bool ratelimit_try_take(RateLimiter *rl, double now);

/* Seconds until a token will be available (0 if one is now). */
extern double ratelimit_wait_seconds(RateLimiter *rl, double now);

/* Neon answered 429: slow everything down; retry_after < 0 means none was given. */
extern void ratelimit_throttled(RateLimiter *rl, double now, double retry_after);

#endif							/* NEON_PLATFORM_RATELIMIT_H */
