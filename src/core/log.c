#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

enum log_level log_current_level = LOG_INFO;

static const char *const names[] = { "error", "warn", "info", "debug", "trace" };

int log_level_parse(const char *s)
{
	if (!s)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	if (strcmp(s, "warning") == 0)
		return LOG_WARN;
	return -1;
}

const char *log_level_name(enum log_level level)
{
	return level < ARRAY_SIZE(names) ? names[level] : "info";
}

void log_set_level(enum log_level level)
{
	log_current_level = level;
}

void logfmt_value(struct buf *out, const char *s)
{
	if (!s) {
		buf_adds(out, "\"\"");
		return;
	}
	bool quote = *s == '\0';
	for (const unsigned char *p = (const unsigned char *)s; *p && !quote; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
			quote = true;
	if (!quote) {
		buf_adds(out, s);
		return;
	}
	buf_add(out, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			buf_adds(out, "\\\"");
			break;
		case '\\':
			buf_adds(out, "\\\\");
			break;
		case '\n':
			buf_adds(out, "\\n");
			break;
		case '\r':
			buf_adds(out, "\\r");
			break;
		case '\t':
			buf_adds(out, "\\t");
			break;
		default:
			if (*p < ' ' || *p == 0x7f)
				buf_addf(out, "\\u%04x", *p);
			else
				buf_add(out, p, 1);
		}
	}
	buf_add(out, "\"", 1);
}

/*
 * A printf for the fields part: conversions other than %s go to vsnprintf
 * one at a time, %s values are quoted with logfmt_value(). Supports the
 * flags, width, precision and length modifiers used in this code base.
 */
static void format_fields(struct buf *out, const char *fmt, va_list ap)
{
	const char *p = fmt;
	while (*p) {
		if (*p != '%') {
			const char *q = strchr(p, '%');
			size_t n = q ? (size_t)(q - p) : strlen(p);
			buf_add(out, p, n);
			p += n;
			continue;
		}
		if (p[1] == '%') {
			buf_add(out, "%", 1);
			p += 2;
			continue;
		}
		const char *start = p++;
		while (*p && strchr("-+ #0", *p))
			p++;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9')
				p++;
		}
		int lmod = 0; /* 1 l, 2 ll, 3 z, 4 h */
		if (*p == 'l') {
			lmod = 1;
			if (*++p == 'l') {
				lmod = 2;
				p++;
			}
		} else if (*p == 'z') {
			lmod = 3;
			p++;
		} else if (*p == 'h') {
			lmod = 4;
			p++;
			if (*p == 'h')
				p++;
		}
		char conv = *p;
		if (!conv)
			break;
		p++;
		char spec[32];
		size_t sl = (size_t)(p - start);
		if (sl >= sizeof(spec))
			sl = sizeof(spec) - 1;
		memcpy(spec, start, sl);
		spec[sl] = '\0';
		switch (conv) {
		case 's':
			logfmt_value(out, va_arg(ap, const char *));
			break;
		case 'd':
		case 'i':
			if (lmod == 1)
				buf_addf(out, spec, va_arg(ap, long));
			else if (lmod == 2)
				buf_addf(out, spec, va_arg(ap, long long));
			else if (lmod == 3)
				buf_addf(out, spec, va_arg(ap, ssize_t));
			else
				buf_addf(out, spec, va_arg(ap, int));
			break;
		case 'u':
		case 'x':
		case 'X':
		case 'o':
			if (lmod == 1)
				buf_addf(out, spec, va_arg(ap, unsigned long));
			else if (lmod == 2)
				buf_addf(out, spec, va_arg(ap, unsigned long long));
			else if (lmod == 3)
				buf_addf(out, spec, va_arg(ap, size_t));
			else
				buf_addf(out, spec, va_arg(ap, unsigned int));
			break;
		case 'f':
		case 'g':
		case 'e':
			buf_addf(out, spec, va_arg(ap, double));
			break;
		case 'c':
			buf_addf(out, spec, va_arg(ap, int));
			break;
		case 'p':
			buf_addf(out, spec, va_arg(ap, void *));
			break;
		default:
			buf_add(out, spec, sl);
		}
	}
}

void log_write(enum log_level level, const char *msg, const char *fields, ...)
{
	int saved = errno;
	struct buf b = BUF_INIT;
	char ts[40];
	time_format_rfc3339(time_now_ns(), ts);
	/* milliseconds are enough for logs: cut "…123456789Z" to "…123Z" */
	size_t tl = strlen(ts);
	if (tl > 7) {
		memmove(ts + tl - 7, "Z", 2);
	}
	buf_addf(&b, "time=%s level=%s msg=", ts, log_level_name(level));
	logfmt_value(&b, msg);
	if (fields && *fields) {
		buf_add(&b, " ", 1);
		va_list ap;
		va_start(ap, fields);
		format_fields(&b, fields, ap);
		va_end(ap);
	}
	buf_add(&b, "\n", 1);
	const char *p = b.data;
	size_t left = b.len;
	while (left) {
		ssize_t w = write(STDERR_FILENO, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		p += w;
		left -= (size_t)w;
	}
	buf_release(&b);
	errno = saved;
}
