/*
 * tap.h
 *		The few helpers the plain-C unit tests share: numbered "ok N - name"
 *		lines and a closing "N passed, M failed" summary.
 */
#ifndef NEON_PLATFORM_TAP_H
#define NEON_PLATFORM_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int	tap_passed;
static int	tap_failed;

static inline bool ok(bool condition, const char *fmt,...) __attribute__((format(printf, 2, 3)));

/* Reports one check; returns the condition so callers can skip dependent checks. */
static inline bool
ok(bool condition, const char *fmt,...)
{
	va_list		args;

	printf("%sok %d - ", condition ? "" : "not ", tap_passed + tap_failed + 1);
	va_start(args, fmt);
	vprintf(fmt, args);
	va_end(args);
	printf("\n");
	fflush(stdout);
	if (condition)
		tap_passed++;
	else
		tap_failed++;
	return condition;
}

/* Prints the summary line and returns the process exit status. */
static inline int
done_testing(void)
{
	printf("%d passed, %d failed\n", tap_passed, tap_failed);
	return tap_failed == 0 ? 0 : 1;
}

#endif							/* NEON_PLATFORM_TAP_H */
