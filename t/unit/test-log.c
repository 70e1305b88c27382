/* Unit tests for core/log.c: logfmt quoting, the line format, levels. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "tap.h"

static const char *quoted(const char *s)
{
	static char out[256];
	struct buf b = BUF_INIT;
	logfmt_value(&b, s);
	snprintf(out, sizeof(out), "%s", b.data ? b.data : "(nothing)");
	buf_release(&b);
	return out;
}

/* stderr goes to a temporary file while capturing. */
static int saved_stderr = -1;
static char capture_path[] = "/tmp/berth-test-log.XXXXXX";

static void capture_start(void)
{
	int fd = mkstemp(capture_path);
	saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/* What was written since capture_start() (the caller frees). */
static char *capture_end(void)
{
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	size_t len;
	char *s = read_file(capture_path, &len);
	unlink(capture_path);
	memcpy(capture_path + strlen(capture_path) - 6, "XXXXXX", 6);
	return s ? s : xstrdup("(read failed)");
}

/* ok() that s matches the extended regular expression re; shows s on failure. */
static void like(const char *s, const char *re, const char *title)
{
	regex_t r;
	bool m = false;
	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) == 0) {
		m = regexec(&r, s, 0, NULL, 0) == 0;
		regfree(&r);
	}
	if (!ok(m, "%s", title)) {
		diag("got:  %s", s);
		diag("want: /%s/", re);
	}
}

static void test_logfmt_value(void)
{
	is_str(quoted("plain"), "plain", "plain value as-is");
	is_str(quoted("/run/berth.sock"), "/run/berth.sock", "a path as-is");
	is_str(quoted("caf\xc3\xa9"), "caf\xc3\xa9", "UTF-8 as-is");
	is_str(quoted("a b"), "\"a b\"", "space quotes");
	is_str(quoted("a\"b"), "\"a\\\"b\"", "double quote is escaped");
	is_str(quoted("a\\b"), "\"a\\\\b\"", "backslash is escaped");
	is_str(quoted("a\nb"), "\"a\\nb\"", "newline is escaped");
	is_str(quoted("a\tb\r"), "\"a\\tb\\r\"", "tab and carriage return are escaped");
	is_str(quoted("k=v"), "\"k=v\"", "equals sign quotes");
	is_str(quoted(""), "\"\"", "empty string is \"\"");
	is_str(quoted(NULL), "\"\"", "NULL is \"\"");
	is_str(quoted("\x01x\x1f"), "\"\\u0001x\\u001f\"", "control characters as \\u");
	is_str(quoted("\x7f"), "\"\\u007f\"", "DEL as \\u");
}

static void test_log_write(void)
{
	log_set_level(LOG_INFO);
	capture_start();
	errno = EAGAIN;
	log_write(LOG_INFO, "hello world", "key=%s n=%d", "a b", 5);
	int saved = errno;
	char *out = capture_end();
	like(out,
	     "^time=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
	     "level=info msg=\"hello world\" key=\"a b\" n=5\n$",
	     "one logfmt line");
	is_int(saved, EAGAIN, "log_write keeps errno");
	free(out);

	capture_start();
	const char *null = getenv("BERTH_TEST_UNSET_VARIABLE"); /* NULL the compiler cannot see */
	log_write(LOG_ERROR, "plain", "size=%zu big=%lld hex=%x pct=100%% f=%.2f empty=%s nul=%s",
		  (size_t)7, -5LL, 255u, 1.5, "", null);
	out = capture_end();
	like(out,
	     " level=error msg=plain size=7 big=-5 hex=ff pct=100% f=1.50 "
	     "empty=\"\" nul=\"\"\n$",
	     "conversions");
	free(out);

	capture_start();
	log_write(LOG_WARN, "first", "a=%d", 1);
	log_write(LOG_DEBUG, "second", "v=%s", "x\ny");
	out = capture_end();
	like(out,
	     "^time=[^ ]+ level=warn msg=first a=1\n"
	     "time=[^ ]+ level=debug msg=second v=\"x\\\\ny\"\n$",
	     "one line per call; a newline inside a value stays escaped on its line");
	free(out);
}

static void test_levels(void)
{
	is_int(log_level_parse("error"), LOG_ERROR, "parse error");
	is_int(log_level_parse("warn"), LOG_WARN, "parse warn");
	is_int(log_level_parse("warning"), LOG_WARN, "parse warning");
	is_int(log_level_parse("info"), LOG_INFO, "parse info");
	is_int(log_level_parse("debug"), LOG_DEBUG, "parse debug");
	is_int(log_level_parse("trace"), LOG_TRACE, "parse trace");
	is_int(log_level_parse("verbose"), -1, "unknown level");
	is_int(log_level_parse(""), -1, "empty level");
	is_int(log_level_parse(NULL), -1, "NULL level");
	is_str(log_level_name(LOG_DEBUG), "debug", "level name");
	is_str(log_level_name((enum log_level)42), "info", "out of range level name");

	int evaluated = 0;
	log_set_level(LOG_INFO);
	capture_start();
	log_debug("hidden", "n=%d", ++evaluated);
	log_trace("hidden", "n=%d", ++evaluated);
	char *out = capture_end();
	is_str(out, "", "debug and trace write nothing at info");
	is_int(evaluated, 0, "arguments are not evaluated below the level");
	free(out);

	capture_start();
	log_info("shown", "n=%d", ++evaluated);
	log_error("shown too", "n=%d", ++evaluated);
	out = capture_end();
	like(out, "level=info msg=shown n=1\n.*level=error msg=\"shown too\" n=2\n$",
	     "info and error write at info");
	free(out);

	log_set_level(LOG_ERROR);
	capture_start();
	log_warn("hidden", "%s", "x");
	log_info("hidden", "%s", "x");
	log_error("kept", "%s", "x");
	out = capture_end();
	like(out, "^time=[^ ]+ level=error msg=kept x\n$", "only errors at error");
	free(out);
	log_set_level(LOG_INFO);
}

int main(void)
{
	plan_lazy();
	test_logfmt_value();
	test_log_write();
	test_levels();
	return done_testing();
}
