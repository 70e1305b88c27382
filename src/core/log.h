/*
 * log: structured logs as logfmt lines on stderr.
 *
 *   log_info("listening", "socket=%s tcp=%s", path, addr);
 *   -> time=2026-11-23T13:00:00.123Z level=info msg=listening socket=/run/b.sock tcp=...
 *
 * msg is a fixed text; the fields format is printf-like, and every %s value
 * is quoted and escaped by logfmt rules when it needs it, so callers never
 * quote by hand. The level is checked before anything is formatted. Secrets
 * (tokens, passwords) are never passed here. Writing is one write(2) per line
 * to stderr; it does not block the loop in practice (a pipe or journal).
 */
#ifndef BERTH_CORE_LOG_H
#define BERTH_CORE_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG_TRACE,
};

extern enum log_level log_current_level;

/* "error", "warn", "info", "debug", "trace" (also "warning"); -1 if unknown. */
int log_level_parse(const char *s);
const char *log_level_name(enum log_level level);
void log_set_level(enum log_level level);

void log_write(enum log_level level, const char *msg, const char *fields, ...)
	__attribute__((format(printf, 3, 4)));

#define log_at(lvl, ...)                                                                  \
	do {                                                                              \
		if ((lvl) <= log_current_level)                                           \
			log_write((lvl), __VA_ARGS__);                                    \
	} while (0)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)
#define log_trace(...) log_at(LOG_TRACE, __VA_ARGS__)

/* Append s to out quoted by logfmt rules when it holds spaces, quotes, '=' or
 * control characters; as-is otherwise. */
struct buf;
void logfmt_value(struct buf *out, const char *s);

#endif
