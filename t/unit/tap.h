/*
 * tap.h: a tiny TAP producer for berth's C unit tests (header only).
 *
 *   int main(void) { plan_lazy(); ok(1 + 1 == 2, "adds"); return done_testing(); }
 *
 * ok() prints "ok N - title" or "not ok N - title" with the failing
 * expression and location as a TAP diagnostic; is_str()/is_int() print the
 * values on failure. done_testing() prints the plan and returns the exit
 * status (non-zero when any test failed).
 */
#ifndef BERTH_T_TAP_H
#define BERTH_T_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_run_, tap_failed_;

static inline void plan_lazy(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
}

static inline int tap_ok_(int cond, const char *expr, const char *file, int line,
			  const char *fmt, ...)
{
	va_list ap;
	tap_run_++;
	printf("%sok %d - ", cond ? "" : "not ", tap_run_);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond) {
		tap_failed_++;
		printf("#   failed: %s\n#   at %s:%d\n", expr, file, line);
	}
	return cond;
}

#define ok(cond, ...) tap_ok_(!!(cond), #cond, __FILE__, __LINE__, __VA_ARGS__)

#define is_str(got, want, ...)                                                            \
	do {                                                                              \
		const char *g_ = (got), *w_ = (want);                                     \
		int c_ = (g_ == NULL && w_ == NULL) ||                                    \
			 (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0);               \
		if (!tap_ok_(c_, #got " == " #want, __FILE__, __LINE__, __VA_ARGS__))     \
			printf("#   got:  '%s'\n#   want: '%s'\n", g_ ? g_ : "(null)",        \
			       w_ ? w_ : "(null)");                                       \
	} while (0)

#define is_int(got, want, ...)                                                            \
	do {                                                                              \
		long long g_ = (long long)(got), w_ = (long long)(want);                  \
		if (!tap_ok_(g_ == w_, #got " == " #want, __FILE__, __LINE__, __VA_ARGS__)) \
			printf("#   got:  %lld\n#   want: %lld\n", g_, w_);                   \
	} while (0)

static inline void diag(const char *fmt, ...)
{
	va_list ap;
	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static inline int done_testing(void)
{
	printf("1..%d\n", tap_run_);
	return tap_failed_ ? 1 : 0;
}

#endif
