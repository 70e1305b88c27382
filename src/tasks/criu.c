/* tasks/criu: is CRIU usable on this machine? (see internal.h) `criu check`
 * runs as a child process whose exit the loop sees; its output goes to a
 * file in the state directory, read once it has exited. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/util.h"
#include "tasks/internal.h"

extern char **environ;

/* `criu check` takes well under a second; BERTH_CRIU_CHECK_TIMEOUT
 * (seconds) overrides, for tests */
#define CHECK_TIMEOUT_SEC 30

static int check_timeout(void)
{
	const char *t = getenv("BERTH_CRIU_CHECK_TIMEOUT");
	uint64_t secs;
	return t && parse_u64(t, &secs) && secs > 0 && secs < 3600 ? (int)secs : CHECK_TIMEOUT_SEC;
}

struct criu_waiter {
	criu_check_cb cb;
	void *data;
	err_t err; /* answered later with this (NULL: usable) */
	struct criu_waiter *next;
};

static void answer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct criu_waiter *w = arg;
	w->cb(w->data, w->err ? &w->err : NULL);
	err_free(&w->err);
	free(w);
}

/* cb from the loop, never before the caller returns. */
static void answer_later(struct tasks *ts, struct criu_waiter *w)
{
	event_base_once(ts->d->base, -1, EV_TIMEOUT, answer_cb, w, NULL);
}

/* BERTH_CRIU (tests, unusual installs), else `criu` in PATH, else NULL. */
static char *criu_find(void)
{
	const char *env = getenv("BERTH_CRIU");
	if (env && *env)
		return access(env, X_OK) == 0 ? xstrdup(env) : NULL;
	const char *path = getenv("PATH");
	cleanup_free char *copy = xstrdup(path && *path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
	char *save = NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char *cand = xasprintf("%s/criu", dir);
		if (access(cand, X_OK) == 0)
			return cand;
		free(cand);
	}
	return NULL;
}

/* CRIU's own reason: its `Error (file:line): msg` lines as "msg; msg", else
 * its last line, else how it ended. */
char *criu_reason(const char *out, int status)
{
	struct buf b = BUF_INIT;
	const char *last = NULL;
	size_t last_len = 0;
	for (const char *p = out; p && *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len && (p[len - 1] == '\r' || p[len - 1] == ' '))
			len--;
		if (len) {
			last = p;
			last_len = len;
		}
		if (len > 7 && !strncmp(p, "Error (", 7)) {
			const char *msg = memchr(p, ')', len);
			if (msg && msg + 1 < p + len && msg[1] == ':') {
				msg += 2;
				while (msg < p + len && *msg == ' ')
					msg++;
				if (b.len)
					buf_add(&b, "; ", 2);
				buf_add(&b, msg, (size_t)(p + len - msg));
			}
		}
		p = end ? end + 1 : p + len;
	}
	if (b.len)
		return buf_detach(&b, NULL);
	buf_release(&b);
	if (last)
		return xstrndup(last, last_len);
	if (WIFSIGNALED(status))
		return xasprintf("killed by signal %d", WTERMSIG(status));
	return xasprintf("exit status %d", WEXITSTATUS(status));
}

static void check_exit_cb(pid_t pid, int status, void *arg)
{
	struct tasks *ts = arg;
	ts->criu_pid = 0;
	if (ts->criu_timer)
		evtimer_del(ts->criu_timer);
	bool timed_out = ts->criu_timed_out;
	ts->criu_timed_out = false;
	cleanup_free char *out = read_file(ts->criu_log, NULL);
	unlink(ts->criu_log);
	err_t err = NULL;
	if (timed_out) {
		make_error(&err, E_FAILED_PRECONDITION, 0, "criu check: timed out after %d s",
			   check_timeout());
		log_warn("criu check timed out", "criu=%s", ts->criu_bin);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		ts->criu_ok = true;
		log_info("criu check passed: checkpoint and restore are available", "criu=%s",
			 ts->criu_bin);
	} else {
		cleanup_free char *why = criu_reason(out, status);
		make_error(&err, E_FAILED_PRECONDITION, 0, "criu check: %s", why);
		log_info("criu check failed", "criu=%s error=%s", ts->criu_bin, err->msg);
	}
	struct criu_waiter *w = ts->criu_waiters;
	ts->criu_waiters = NULL;
	while (w) {
		struct criu_waiter *next = w->next;
		if (err)
			make_error(&w->err, err->kind, 0, "%s", err->msg);
		answer_later(ts, w);
		w = next;
	}
	err_free(&err);
}

static void check_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tasks *ts = arg;
	if (!ts->criu_pid)
		return;
	ts->criu_timed_out = true;
	kill(ts->criu_pid, SIGKILL); /* reaped as usual, answered as timed out */
}

static int spawn_check(struct tasks *ts, err_t *err)
{
	free(ts->criu_bin);
	ts->criu_bin = criu_find();
	const char *env = getenv("BERTH_CRIU");
	if (!ts->criu_bin && env && *env)
		return make_error(err, E_FAILED_PRECONDITION, 0,
				  "criu check: `%s` (BERTH_CRIU) is not an executable: checkpoint "
				  "and restore need CRIU",
				  env);
	if (!ts->criu_bin)
		return make_error(err, E_FAILED_PRECONDITION, 0,
				  "criu check: `criu` is not installed (not found in PATH): "
				  "checkpoint and restore need CRIU");
	int fd = open(ts->criu_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return make_error(err, E_INTERNAL, errno, "create `%s`", ts->criu_log);
	char *argv[] = {ts->criu_bin, (char *)"check", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	posix_spawn_file_actions_adddup2(&fa, fd, 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	int rc = posix_spawn(&pid, ts->criu_bin, &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(fd);
	if (rc != 0)
		return make_error(err, E_FAILED_PRECONDITION, rc, "criu check: cannot run `%s`",
				  ts->criu_bin);
	ts->criu_pid = pid;
	child_watch(ts->d, pid, check_exit_cb, ts);
	if (!ts->criu_timer)
		ts->criu_timer = evtimer_new(ts->d->base, check_timeout_cb, ts);
	struct timeval tv = {check_timeout(), 0};
	evtimer_add(ts->criu_timer, &tv);
	return 0;
}

void criu_check(struct tasks *ts, criu_check_cb cb, void *data)
{
	struct criu_waiter *w = xzalloc(sizeof(*w));
	w->cb = cb;
	w->data = data;
	if (ts->criu_ok)
		return answer_later(ts, w);
	if (!ts->criu_log)
		ts->criu_log = xasprintf("%s/criu-check.log", ts->d->cfg.state);
	if (!ts->criu_pid && spawn_check(ts, &w->err) < 0)
		return answer_later(ts, w);
	/* a check in flight answers every caller that came meanwhile */
	w->next = ts->criu_waiters;
	ts->criu_waiters = w;
}

void criu_release(struct tasks *ts)
{
	if (ts->criu_pid) {
		child_unwatch(ts->d, ts->criu_pid);
		kill(ts->criu_pid, SIGKILL);
		ts->criu_pid = 0;
	}
	struct criu_waiter *w = ts->criu_waiters;
	ts->criu_waiters = NULL;
	while (w) {
		struct criu_waiter *next = w->next;
		err_t err = NULL;
		make_error(&err, E_UNAVAILABLE, 0, "berthd is shutting down");
		w->cb(w->data, &err);
		err_free(&err);
		free(w);
		w = next;
	}
	if (ts->criu_timer)
		event_free(ts->criu_timer);
	ts->criu_timer = NULL;
	if (ts->criu_log)
		unlink(ts->criu_log);
	free(ts->criu_log);
	free(ts->criu_bin);
}
