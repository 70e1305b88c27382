#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "core/err.h"
#include "shim/shim.h"

#define ERR_CAP 4096 /* bytes of a runtime's stderr kept for its message */

static void drain_err(struct rt_cmd *c)
{
	char chunk[512];
	for (;;) {
		ssize_t n = read(c->err_fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		if (c->err.len < ERR_CAP)
			buf_add(&c->err, chunk, (size_t)n < ERR_CAP - c->err.len ? (size_t)n
									   : ERR_CAP - c->err.len);
	}
}

static void timeout_cb(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
	struct rt_cmd *c = arg;
	c->timed_out = true;
	kill(c->pid, SIGKILL); /* reaped as usual, then reported as timed out */
}

static void err_cb(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
	struct rt_cmd *c = arg;
	drain_err(c);
}

/* In the child: default signal dispositions (the shim ignores some, and
 * ignored signals survive exec into the container), stdio, exec. */
__attribute__((noreturn)) static void exec_child(char **args, const int fds[3])
{
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int i = 1; i < NSIG; i++)
		signal(i, SIG_DFL);
	for (int i = 0; i < 3; i++) {
		int fd = fds[i];
		if (fd < 0)
			fd = open("/dev/null", O_RDWR);
		if (fd < 0 || (fd != i && dup2(fd, i) < 0))
			_exit(127);
		if (fd == i)
			fcntl(fd, F_SETFD, 0);
	}
	execv(args[0], args);
	dprintf(2, "exec `%s`: %s\n", args[0], strerror(errno));
	_exit(127);
}

int runtime_run(struct shim *s, const char *verb, const char *const *argv, const int *stdio,
		rt_done_fn done, void *data, err_t *err)
{
	struct shim_opts *o = &s->opts;
	size_t n = 0, argc = 0;
	while (argv[argc])
		argc++;
	char **args = xcalloc(o->n_runtime_args + argc + 10, sizeof(*args));
	cleanup_free char *log = shim_path(s, "runtime.log");
	args[n++] = o->runtime;
	args[n++] = "--root";
	args[n++] = o->runtime_root;
	for (size_t i = 0; i < o->n_runtime_args; i++)
		args[n++] = o->runtime_args[i];
	args[n++] = "--log";
	args[n++] = log;
	args[n++] = "--log-format";
	args[n++] = "json";
	args[n++] = (char *)verb;
	for (size_t i = 0; i < argc; i++)
		args[n++] = (char *)argv[i];

	int errp[2] = { -1, -1 };
	bool capture = !stdio || stdio[2] == RT_CAPTURE;
	if (capture && pipe2(errp, O_CLOEXEC) < 0) {
		free(args);
		return make_error(err, E_INTERNAL, errno, "pipe");
	}
	struct stat st;
	off_t log_off = stat(log, &st) == 0 ? st.st_size : 0;
	pid_t pid = fork();
	if (pid == 0) {
		int fds[3] = { -1, -1, errp[1] };
		if (stdio) {
			fds[0] = stdio[0];
			fds[1] = stdio[1];
			fds[2] = capture ? errp[1] : stdio[2];
		}
		exec_child(args, fds);
	}
	int saved = errno;
	free(args);
	if (errp[1] >= 0)
		close(errp[1]);
	if (pid < 0) {
		if (errp[0] >= 0)
			close(errp[0]);
		return make_error(err, E_INTERNAL, saved, "fork");
	}
	struct rt_cmd *c = xzalloc(sizeof(*c));
	c->pid = pid;
	c->verb = xstrdup(verb);
	c->err_fd = errp[0];
	c->log_off = log_off;
	c->done = done;
	c->data = data;
	if (c->err_fd >= 0) {
		fcntl(c->err_fd, F_SETFL, O_NONBLOCK);
		c->err_ev = event_new(s->base, c->err_fd, EV_READ | EV_PERSIST, err_cb, c);
		event_add(c->err_ev, NULL);
	}
	c->timer = evtimer_new(s->base, timeout_cb, c);
	struct timeval tv = { s->runtime_timeout, 0 };
	evtimer_add(c->timer, &tv);
	s->rt = c;
	return 0;
}

static void cmd_free(struct rt_cmd *c)
{
	if (c->timer)
		event_free(c->timer);
	if (c->err_ev)
		event_free(c->err_ev);
	if (c->err_fd >= 0)
		close(c->err_fd);
	buf_release(&c->err);
	free(c->verb);
	free(c);
}

void runtime_reaped(struct shim *s, int status)
{
	struct rt_cmd *c = s->rt;
	if (c->err_fd >= 0)
		drain_err(c);
	s->rt = NULL;
	c->done(s, c, status);
	cmd_free(c);
}

/* The runtime's words: its json log since the command started, else its
 * stderr, else how it ended. */
static char *runtime_words(struct shim *s, struct rt_cmd *c, int status)
{
	if (c->timed_out)
		return xasprintf("timed out after %d s", s->runtime_timeout);
	cleanup_free char *log = shim_path(s, "runtime.log");
	int fd = open(log, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		struct buf b = BUF_INIT;
		char chunk[1024];
		ssize_t n;
		if (lseek(fd, c->log_off, SEEK_SET) >= 0)
			while ((n = read(fd, chunk, sizeof(chunk))) > 0 && b.len < (1 << 20))
				buf_add(&b, chunk, (size_t)n);
		close(fd);
		char *msg = b.len ? proto_runtime_log_error(b.data, b.len) : NULL;
		buf_release(&b);
		if (msg)
			return msg;
	}
	char *text = c->err_fd < 0 ? io_take_stderr(c->stdio ? c->stdio : &s->pio) : xstrndup(c->err.data ? c->err.data : "",
								       c->err.len);
	/* trim, keep the last non-empty line */
	size_t len = strlen(text);
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = '\0';
	char *line = strrchr(text, '\n');
	if (len) {
		char *r = xstrdup(line ? line + 1 : text);
		free(text);
		return r;
	}
	free(text);
	if (WIFSIGNALED(status))
		return xasprintf("killed by signal %d", WTERMSIG(status));
	return xasprintf("exit status %d", WEXITSTATUS(status));
}

char *runtime_error(struct shim *s, struct rt_cmd *c, int status)
{
	cleanup_free char *words = runtime_words(s, c, status);
	const char *base = strrchr(s->opts.runtime, '/');
	return xasprintf("%s %s: %s", base ? base + 1 : s->opts.runtime, c->verb, words);
}

void runtime_release(struct shim *s)
{
	if (s->rt) {
		cmd_free(s->rt);
		s->rt = NULL;
	}
}
