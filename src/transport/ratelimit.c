/*
 * ratelimit.c
 *		A token bucket sized so that no 1 s window holds more than
 *		burst_per_second calls and no 60 s window more than
 *		requests_per_minute.
 *
 * See ratelimit.h for the sizing argument. Plain C; all times are seconds on
 * the caller's monotonic clock.
 */
#include "transport/ratelimit.h"

/* How long a 429 keeps the rate lowered. */
#define THROTTLE_SECONDS	30.0

/* A run of 429s never slows us below this fraction of the configured rate. */
#define MIN_RATE_FRACTION	(1.0 / 16.0)

/* The longest pause a Retry-After may impose; a broken header must not stall us for hours. */
#define MAX_RETRY_AFTER		600.0

/* A single-token bucket runs this fraction below the limit, so its spacing never hits it exactly. */
#define SINGLE_TOKEN_MARGIN	(1.0 - 1e-6)

/*
 * Slack when comparing token counts: a caller that waited exactly
 * ratelimit_wait_seconds() (which aims at a whole token) must get its token
 * despite rounding. The debt it may leave (tokens slightly below zero) is
 * repaid, so it never accumulates.
 */
#define TOKEN_EPSILON		1e-9

/*
 * Computes capacity and rate for the given limits.
 *
 * The exact solution of C + r = burst and C + 60 r = rpm is
 * r = (rpm - burst) / 59, C = burst - r. When it leaves no room for a whole
 * token (C < 1) or no refill (r <= 0), which happens when one limit dwarfs the
 * other, we use a single-token bucket instead: its calls are at least 1/r
 * apart, so a window of W seconds holds at most floor(W r) + 1 of them, which
 * stays within both limits when r is just below burst and rpm / 60.
 */
static void
bucket_size(int per_minute, int burst_per_second, double *capacity, double *rate)
{
	double		rpm = per_minute < 1 ? 1.0 : (double) per_minute;
	double		burst = burst_per_second < 1 ? 1.0 : (double) burst_per_second;
	double		r = (rpm - burst) / 59.0;

	if (r > 0.0 && burst - r >= 1.0)
	{
		*capacity = burst - r;
		*rate = r;
		return;
	}
	*capacity = 1.0;
	*rate = (burst < rpm / 60.0 ? burst : rpm / 60.0) * SINGLE_TOKEN_MARGIN;
}

/*
 * Adds the tokens earned between the last update and now. Nothing is earned
 * during a Retry-After pause, and a lowered rate ends at slowed_until.
 */
static void
refill(RateLimiter *rl, double now)
{
	double		from = rl->updated_at > rl->paused_until ? rl->updated_at : rl->paused_until;

	if (now <= from)
		return;

	if (rl->rate < rl->full_rate && now >= rl->slowed_until)
	{
		if (rl->slowed_until > from)
		{
			rl->tokens += (rl->slowed_until - from) * rl->rate;
			from = rl->slowed_until;
		}
		rl->rate = rl->full_rate;
	}

	rl->tokens += (now - from) * rl->rate;
	if (rl->tokens > rl->capacity)
		rl->tokens = rl->capacity;
	rl->updated_at = now;
}

/* Starts with a full bucket: a fresh worker may send a burst at once. */
void
ratelimit_init(RateLimiter *rl, int per_minute, int burst_per_second, double now)
{
	bucket_size(per_minute, burst_per_second, &rl->capacity, &rl->full_rate);
	rl->rate = rl->full_rate;
	rl->tokens = rl->capacity;
	rl->updated_at = now;
	rl->paused_until = now;
	rl->slowed_until = now;
}

/* Resizes the bucket for new limits, keeping any 429 slowdown in proportion. */
void
ratelimit_configure(RateLimiter *rl, int per_minute, int burst_per_second, double now)
{
	double		slowdown;

	refill(rl, now);
	slowdown = rl->rate / rl->full_rate;
	bucket_size(per_minute, burst_per_second, &rl->capacity, &rl->full_rate);
	rl->rate = rl->full_rate * slowdown;
	if (rl->tokens > rl->capacity)
		rl->tokens = rl->capacity;
}

/* Takes a token unless paused or empty. */
bool
ratelimit_try_take(RateLimiter *rl, double now)
{
	refill(rl, now);
	if (now < rl->paused_until || rl->tokens < 1.0 - TOKEN_EPSILON)
		return false;
	rl->tokens -= 1.0;
	return true;
}

/*
 * The time from `start` until one token has been earned, crossing the end of
 * a 429 slowdown if there is one.
 */
static double
seconds_to_one_token(const RateLimiter *rl, double start)
{
	double		needed = 1.0 - rl->tokens;
	double		slow_span;

	if (needed <= 0.0)
		return 0.0;
	if (rl->rate >= rl->full_rate || start >= rl->slowed_until)
		return needed / rl->rate;

	slow_span = rl->slowed_until - start;
	if (slow_span * rl->rate >= needed)
		return needed / rl->rate;
	return slow_span + (needed - slow_span * rl->rate) / rl->full_rate;
}

/* How long until try_take can succeed, so the caller sleeps instead of polling. */
double
ratelimit_wait_seconds(RateLimiter *rl, double now)
{
	double		start;

	refill(rl, now);
	start = now > rl->paused_until ? now : rl->paused_until;
	return (start - now) + seconds_to_one_token(rl, start);
}

/* Reacts to a 429: empty bucket, halved rate for THROTTLE_SECONDS, and the Retry-After pause. */
void
ratelimit_throttled(RateLimiter *rl, double now, double retry_after)
{
	double		floor_rate = rl->full_rate * MIN_RATE_FRACTION;

	refill(rl, now);
	rl->tokens = 0.0;
	rl->rate = rl->rate / 2.0 > floor_rate ? rl->rate / 2.0 : floor_rate;
	rl->slowed_until = now + THROTTLE_SECONDS;

	if (retry_after > MAX_RETRY_AFTER)
		retry_after = MAX_RETRY_AFTER;
	if (retry_after > 0.0 && now + retry_after > rl->paused_until)
		rl->paused_until = now + retry_after;
}
