/*
 * test_ratelimit.c
 *		The token bucket on a simulated clock: under continuous demand no
 *		1 s window holds more than the burst and no 60 s window more than the
 *		per-minute limit; 429s slow it down, Retry-After pauses it, and new
 *		limits apply at once.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>

#include "transport/ratelimit.h"
#include "tap.h"

/* Closed windows: a call exactly W seconds after another still counts; this allows for rounding. */
#define WINDOW_SLACK	1e-9

/* Times of the calls the limiter let through in a simulation. */
typedef struct Calls
{
	double	   *at;
	int			n;
	int			cap;
} Calls;

/* Records one call time. */
static void
calls_add(Calls *calls, double t)
{
	if (calls->n == calls->cap)
	{
		calls->cap = calls->cap ? calls->cap * 2 : 1024;
		calls->at = realloc(calls->at, calls->cap * sizeof(double));
	}
	calls->at[calls->n++] = t;
}

/* The most calls in any closed window of `width` seconds that starts at or after `from`. */
static int
max_in_window(const Calls *calls, double width, double from)
{
	int			best = 0;
	int			j = 0;

	for (int i = 0; i < calls->n; i++)
	{
		if (calls->at[i] < from)
			continue;
		if (j < i)
			j = i;
		while (j < calls->n && calls->at[j] - calls->at[i] <= width + WINDOW_SLACK)
			j++;
		if (j - i > best)
			best = j - i;
	}
	return best;
}

/*
 * Continuous demand, event driven: the caller takes a token whenever it can
 * and otherwise sleeps exactly ratelimit_wait_seconds(). Returns false if the
 * limiter ever told it to wait 0 s and then refused the token (a busy loop).
 */
static bool
simulate_greedy(RateLimiter *rl, double start, double end, Calls *calls)
{
	double		now = start;

	while (now < end)
	{
		double		wait;

		if (ratelimit_try_take(rl, now))
		{
			calls_add(calls, now);
			continue;
		}
		wait = ratelimit_wait_seconds(rl, now);
		if (wait <= 0)
			return false;
		now += wait;
	}
	return true;
}

/* Continuous demand polled on a 1 ms tick, as a worker with a millisecond timer would. */
static void
simulate_ticks(RateLimiter *rl, double start, double end, Calls *calls)
{
	for (long tick = 0; start + tick * 0.001 < end; tick++)
	{
		double		now = start + tick * 0.001;

		while (ratelimit_try_take(rl, now))
			calls_add(calls, now);
	}
}

/* Checks that a bucket's size satisfies both window limits and can work at all. */
static void
test_sizing(int rpm, int burst)
{
	RateLimiter rl;
	double		eff_rpm = rpm < 1 ? 1 : rpm;
	double		eff_burst = burst < 1 ? 1 : burst;
	bool		exact = eff_rpm > eff_burst && eff_rpm <= 60 * eff_burst - 59;

	ratelimit_init(&rl, rpm, burst, 0.0);
	ok(rl.capacity >= 1.0 && rl.full_rate > 0 && isfinite(rl.full_rate) && rl.tokens == rl.capacity,
	   "rpm %d burst %d: capacity %.3f >= 1, rate %.4f/s > 0", rpm, burst, rl.capacity, rl.full_rate);
	if (exact)
		ok(rl.capacity + rl.full_rate <= eff_burst + 1e-6 &&
		   rl.capacity + 60 * rl.full_rate <= eff_rpm + 1e-6 &&
		   rl.capacity + 60 * rl.full_rate >= eff_rpm - 1e-6,
		   "rpm %d burst %d: C + r <= burst and C + 60 r == rpm", rpm, burst);
	else
		ok(rl.capacity == 1.0 && rl.full_rate < eff_burst && 60 * rl.full_rate < eff_rpm &&
		   rl.full_rate > 0.999 * (eff_burst < eff_rpm / 60 ? eff_burst : eff_rpm / 60),
		   "rpm %d burst %d: single-token bucket just below both limits", rpm, burst);
}

/* Runs both simulations for some limits and checks every window. */
static void
test_windows(int rpm, int burst, double minutes)
{
	RateLimiter rl;
	Calls		greedy = {0};
	Calls		ticks = {0};
	double		end = minutes * 60.0;
	double		expected;
	bool		no_spin;

	ratelimit_init(&rl, rpm, burst, 0.0);
	expected = rl.capacity + rl.full_rate * end;
	no_spin = simulate_greedy(&rl, 0.0, end, &greedy);
	ratelimit_init(&rl, rpm, burst, 0.0);
	simulate_ticks(&rl, 0.0, end, &ticks);

	ok(no_spin, "rpm %d burst %d: a zero wait always yields a token", rpm, burst);
	ok(max_in_window(&greedy, 1.0, 0) <= burst && max_in_window(&ticks, 1.0, 0) <= burst,
	   "rpm %d burst %d: every 1 s window <= %d (saw %d, %d)", rpm, burst, burst,
	   max_in_window(&greedy, 1.0, 0), max_in_window(&ticks, 1.0, 0));
	ok(max_in_window(&greedy, 60.0, 0) <= rpm && max_in_window(&ticks, 60.0, 0) <= rpm,
	   "rpm %d burst %d: every 60 s window <= %d (saw %d, %d)", rpm, burst, rpm,
	   max_in_window(&greedy, 60.0, 0), max_in_window(&ticks, 60.0, 0));
	ok(greedy.n >= floor(expected) - 1 && ticks.n >= 0.97 * expected - 1,
	   "rpm %d burst %d: throughput as sized (%d and %d calls in %.0f min, expected %.0f)",
	   rpm, burst, greedy.n, ticks.n, minutes, expected);
	free(greedy.at);
	free(ticks.at);
}

/* A 429 empties the bucket and halves the rate for about 30 s. */
static void
test_throttled(void)
{
	RateLimiter rl;
	Calls		calls = {0};
	double		rate;
	int			slowed = 0;
	int			restored = 0;

	ratelimit_init(&rl, 700, 40, 0.0);
	rate = rl.full_rate;
	ratelimit_throttled(&rl, 10.0, -1);
	ok(!ratelimit_try_take(&rl, 10.0), "429: the bucket is empty at once");
	ok(fabs(ratelimit_wait_seconds(&rl, 10.0) - 2.0 / rate) < 1e-6,
	   "429: the next token comes at half the rate (%.4f s)", ratelimit_wait_seconds(&rl, 10.0));

	simulate_greedy(&rl, 10.0, 100.0, &calls);
	for (int i = 0; i < calls.n; i++)
	{
		if (calls.at[i] < 40.0)
			slowed++;
		else if (calls.at[i] >= 40.0 + 1.0 / rate && calls.at[i] < 100.0)
			restored++;
	}
	ok(slowed <= rate / 2 * 30 + 1 && slowed >= rate / 2 * 30 - 1,
	   "429: %d calls in the 30 s after it (half rate: %.1f)", slowed, rate / 2 * 30);
	ok(restored >= rate * 59 - 2, "429: full rate afterwards (%d calls in the next 59 s)", restored);
	free(calls.at);

	ratelimit_init(&rl, 700, 40, 0.0);
	for (int i = 0; i < 20; i++)
		ratelimit_throttled(&rl, 1.0, -1);
	ok(rl.rate > 0 && rl.rate >= rl.full_rate / 16 - 1e-12,
	   "429 storm: the rate bottoms out above zero (%.4f/s)", rl.rate);
	ok(rl.paused_until <= 1.0, "429 without Retry-After does not pause");
}

/* Retry-After pauses every call and earns no tokens meanwhile; absurd values are capped. */
static void
test_retry_after(void)
{
	RateLimiter rl;
	double		wait;

	ratelimit_init(&rl, 700, 40, 0.0);
	ratelimit_throttled(&rl, 5.0, 7.0);
	ok(!ratelimit_try_take(&rl, 11.9), "Retry-After 7: no call before it has passed");
	wait = ratelimit_wait_seconds(&rl, 5.0);
	ok(wait >= 7.0 && wait <= 7.0 + 2.0 / rl.full_rate + 1e-6,
	   "Retry-After 7: wait is 7 s plus one slowed token (%.3f s)", wait);
	ok(!ratelimit_try_take(&rl, 12.0 + 1.0 / rl.full_rate),
	   "Retry-After 7: no tokens were earned during the pause");
	ok(ratelimit_try_take(&rl, 5.0 + wait), "Retry-After 7: a call goes once the wait is over");

	ratelimit_init(&rl, 700, 40, 0.0);
	ratelimit_throttled(&rl, 0.0, 1e9);
	ok(rl.paused_until <= 600.0 + 1e-9, "Retry-After 1e9: pause capped at 600 s");
	ratelimit_throttled(&rl, 1.0, 2.0);
	ok(rl.paused_until > 500.0, "a shorter Retry-After does not shorten a longer pause");
}

/* New limits: tokens kept up to the new capacity, windows hold under the new limits. */
static void
test_configure(void)
{
	RateLimiter rl;
	Calls		calls = {0};
	double		tokens;

	ratelimit_init(&rl, 700, 40, 0.0);
	for (int i = 0; i < 10; i++)
		ratelimit_try_take(&rl, 0.0);
	tokens = rl.tokens;
	ratelimit_configure(&rl, 1400, 80, 0.0);
	ok(fabs(rl.tokens - tokens) < 1e-9, "raising limits keeps the tokens earned (%.2f)", rl.tokens);
	ratelimit_configure(&rl, 120, 5, 0.0);
	ok(rl.tokens <= rl.capacity, "lowering limits caps tokens at the new capacity (%.2f)", rl.tokens);

	simulate_greedy(&rl, 0.0, 180.0, &calls);
	ok(max_in_window(&calls, 1.0, 0) <= 5 && max_in_window(&calls, 60.0, 0) <= 120,
	   "after reconfiguring to 120/min, 5/s: windows hold (%d per 1 s, %d per 60 s)",
	   max_in_window(&calls, 1.0, 0), max_in_window(&calls, 60.0, 0));
	free(calls.at);

	ratelimit_init(&rl, 700, 40, 0.0);
	ratelimit_throttled(&rl, 0.0, -1);
	ratelimit_configure(&rl, 1400, 80, 1.0);
	ok(fabs(rl.rate - rl.full_rate / 2) < 1e-9, "reconfiguring keeps a 429 slowdown");
}

/* Runs every test on the simulated clock. */
int
main(void)
{
	static const int limits[][2] = {
		{700, 40}, {60, 1}, {1, 1}, {1, 40}, {30, 40}, {41, 40}, {100000, 10},
		{2400, 40}, {2341, 40}, {0, 0}, {-5, 3}, {INT_MAX, INT_MAX}, {INT_MAX, 1},
	};

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		test_sizing(limits[i][0], limits[i][1]);
	test_windows(700, 40, 10);
	test_windows(60, 5, 5);
	test_windows(100, 40, 5);
	test_windows(30, 40, 5);
	test_windows(6000, 10, 3);
	test_windows(1, 1, 5);
	test_throttled();
	test_retry_after();
	test_configure();
	return done_testing();
}
