#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "core/digest.h"
#include "core/json.h"
#include "core/log.h"
#include "core/loop.h"
#include "diff/internal.h"

#define STDERR_KEEP 2048 /* the tail of the worker's stderr kept for errors */

struct diff_job {
	struct daemon *d;
	pid_t pid;
	diff_done_cb done;
	diff_space_cb space;
	void *data;
	char *what; /* "apply layer" or "apply `<media type>` layer", for messages */
	int64_t start_ns;

	/* input (push mode): a ring buffer drained into the worker's stdin */
	int in_fd; /* -1 in src_fd mode, after close or failure */
	struct event *in_ev;
	char *ring;
	size_t head, len;
	bool push, input_closed, input_failed, space_armed;

	/* output: the status line and stderr */
	int status_fd, err_fd;
	struct event *status_ev, *err_ev;
	struct buf status, errtail;
	bool exited;
	int wstatus;
};

static const char *const media_types[] = {
	"application/vnd.oci.image.layer.v1.tar",
	"application/vnd.oci.image.layer.v1.tar+gzip",
	"application/vnd.oci.image.layer.v1.tar+zstd",
	"application/vnd.oci.image.layer.nondistributable.v1.tar",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
	"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
	"application/vnd.docker.image.rootfs.diff.tar",
	"application/vnd.docker.image.rootfs.diff.tar.gzip",
	"application/vnd.docker.image.rootfs.diff.tar.zstd",
	"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
};

bool diff_media_type_supported(const char *media_type)
{
	for (size_t i = 0; i < ARRAY_SIZE(media_types); i++)
		if (strcmp(media_type, media_types[i]) == 0)
			return true;
	return false;
}

pid_t diff_job_pid(const struct diff_job *j)
{
	return j->pid;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void job_free(struct diff_job *j)
{
	struct event *evs[] = { j->in_ev, j->status_ev, j->err_ev };
	for (size_t i = 0; i < ARRAY_SIZE(evs); i++)
		if (evs[i])
			event_free(evs[i]);
	close_fd(&j->in_fd);
	close_fd(&j->status_fd);
	close_fd(&j->err_fd);
	buf_release(&j->status);
	buf_release(&j->errtail);
	free(j->ring);
	free(j->what);
	free(j);
}

static enum err_kind kind_from_code(const char *code)
{
	for (int k = 0; k < E_KIND_MAX; k++)
		if (code && strcmp(err_kind_code((enum err_kind)k), code) == 0)
			return (enum err_kind)k;
	return E_INTERNAL;
}

/* The worker's stderr as one line, for error messages. */
static void add_stderr(struct diff_job *j, err_t *err)
{
	struct buf *b = &j->errtail;
	while (b->len && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == ' '))
		b->data[--b->len] = '\0';
	if (!b->len)
		return;
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] == '\n')
			b->data[i] = ' ';
	struct buf m = BUF_INIT;
	buf_addf(&m, "%s (worker stderr: %s)", (*err)->msg, b->data);
	free((*err)->msg);
	(*err)->msg = buf_detach(&m, NULL);
}

static int parse_status(struct diff_job *j, struct diff_result *res, err_t *err)
{
	char *nl = j->status.len ? memchr(j->status.data, '\n', j->status.len) : NULL;
	cleanup_json json_t *st =
	    nl ? json_loadb(j->status.data, (size_t)(nl - j->status.data), 0, NULL) : NULL;
	const char *msg = st ? json_string_value(json_object_get(st, "error")) : NULL;
	if (msg) {
		make_error(err, kind_from_code(json_string_value(json_object_get(st, "kind"))), 0,
			   "%s", msg);
		if (kind_from_code(json_string_value(json_object_get(st, "kind"))) == E_INTERNAL)
			add_stderr(j, err);
		return -1;
	}
	int ws = j->wstatus;
	if (WIFSIGNALED(ws)) {
		make_error(err, E_INTERNAL, 0, "unpack worker %d killed by signal %d (%s)",
			   (int)j->pid, WTERMSIG(ws), strsignal(WTERMSIG(ws)));
		add_stderr(j, err);
		return -1;
	}
	const char *id = st ? json_string_value(json_object_get(st, "diff_id")) : NULL;
	json_t *size = st ? json_object_get(st, "tar_size") : NULL;
	json_t *entries = st ? json_object_get(st, "entries") : NULL;
	if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0 || !id || strlen(id) >= sizeof(res->diff_id) ||
	    !json_is_integer(size) || !json_is_integer(entries)) {
		make_error(err, E_INTERNAL, 0,
			   "unpack worker %d exited with status %d without a result", (int)j->pid,
			   WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
		add_stderr(j, err);
		return -1;
	}
	snprintf(res->diff_id, sizeof(res->diff_id), "%s", id);
	res->tar_size = (uint64_t)json_integer_value(size);
	res->entries = (uint64_t)json_integer_value(entries);
	res->seconds = (double)(time_mono_ns() - j->start_ns) / 1e9;
	return 0;
}

/* Done once the worker was reaped and both of its pipes reached EOF. */
static void maybe_finish(struct diff_job *j)
{
	if (!j->exited || j->status_fd >= 0 || j->err_fd >= 0)
		return;
	struct diff_result res = { 0 };
	cleanup_err err_t err = NULL;
	if (parse_status(j, &res, &err) < 0) {
		error_wrap(&err, "%s", j->what);
		j->done(j->data, NULL, &err);
	} else {
		j->done(j->data, &res, NULL);
	}
	job_free(j);
}

/* Read what is there; false at EOF (or a read error, which ends it too). */
static bool read_some(int fd, struct buf *b, size_t keep)
{
	char chunk[4096];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		buf_add(b, chunk, (size_t)n);
		if (keep && b->len > keep * 2)
			buf_consume(b, b->len - keep);
		else if (!keep && b->len > 64 * 1024) /* a status line is short */
			buf_consume(b, b->len - 64 * 1024);
	}
}

static void status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct diff_job *j = arg;
	if (read_some(j->status_fd, &j->status, 0))
		return;
	event_del(j->status_ev);
	close_fd(&j->status_fd);
	maybe_finish(j);
}

static void err_cb(evutil_socket_t fd, short what, void *arg)
{
	struct diff_job *j = arg;
	if (read_some(j->err_fd, &j->errtail, STDERR_KEEP))
		return;
	event_del(j->err_ev);
	close_fd(&j->err_fd);
	maybe_finish(j);
}

static void exit_cb(pid_t pid, int status, void *data)
{
	struct diff_job *j = data;
	j->exited = true;
	j->wstatus = status;
	/* the worker is gone: its stdin has no reader any more */
	if (j->in_ev)
		event_del(j->in_ev);
	close_fd(&j->in_fd);
	j->len = 0;
	maybe_finish(j);
}

static void flush(struct diff_job *j)
{
	while (j->len && j->in_fd >= 0) {
		struct iovec iov[2];
		size_t first =
		    DIFF_JOB_BUFFER - j->head < j->len ? DIFF_JOB_BUFFER - j->head : j->len;
		iov[0] = (struct iovec){ j->ring + j->head, first };
		iov[1] = (struct iovec){ j->ring, j->len - first };
		ssize_t n = writev(j->in_fd, iov, iov[1].iov_len ? 2 : 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			/* EPIPE: the worker stopped reading, it failed; its
			 * status says why */
			j->input_failed = true;
			j->len = 0;
			close_fd(&j->in_fd);
			break;
		}
		j->head = (j->head + (size_t)n) % DIFF_JOB_BUFFER;
		j->len -= (size_t)n;
	}
	if (j->len == 0)
		j->head = 0;
	if (j->len && j->in_fd >= 0)
		event_add(j->in_ev, NULL);
	else
		event_del(j->in_ev);
	if (j->len == 0 && j->input_closed)
		close_fd(&j->in_fd);
}

static void in_cb(evutil_socket_t fd, short what, void *arg)
{
	struct diff_job *j = arg;
	flush(j);
	if (j->space_armed && j->len < DIFF_JOB_BUFFER / 2 && !j->input_closed) {
		j->space_armed = false;
		if (j->space)
			j->space(j->data);
	}
}

size_t diff_job_space(struct diff_job *j)
{
	if (!j->push || j->input_closed || j->input_failed || j->exited)
		return 0;
	return DIFF_JOB_BUFFER - j->len;
}

int diff_job_write(struct diff_job *j, const void *buf, size_t len, err_t *err)
{
	if (!j->push)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "%s: the worker reads a file, not a stream", j->what);
	if (j->input_closed)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "%s: write after the end of the stream", j->what);
	if (j->input_failed || j->exited)
		return make_error(err, E_INTERNAL, 0, "%s: the unpack worker failed", j->what);
	if (len > DIFF_JOB_BUFFER - j->len)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "%s: write of %zu bytes with %zu of space", j->what, len,
				  DIFF_JOB_BUFFER - j->len);
	if (!j->ring)
		j->ring = xmalloc(DIFF_JOB_BUFFER);
	size_t tail = (j->head + j->len) % DIFF_JOB_BUFFER;
	size_t first = DIFF_JOB_BUFFER - tail < len ? DIFF_JOB_BUFFER - tail : len;
	memcpy(j->ring + tail, buf, first);
	memcpy(j->ring, (const char *)buf + first, len - first);
	j->len += len;
	flush(j);
	if (j->len >= DIFF_JOB_BUFFER / 2)
		j->space_armed = true;
	return 0;
}

void diff_job_close_input(struct diff_job *j)
{
	if (!j->push || j->input_closed)
		return;
	j->input_closed = true;
	flush(j);
}

void diff_job_cancel(struct diff_job *j)
{
	if (!j)
		return;
	if (!j->exited) {
		child_unwatch(j->d, j->pid);
		kill(j->pid, SIGKILL); /* reaped by the SIGCHLD handler */
	}
	job_free(j);
}

/* Move fd to at least 10 (clear of 0..3, which the child rebuilds). */
static int high_fd(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, 10);
}

/* In the child, never returns: rebuild fds 0..3, close every other one,
 * reset signals, then confine and extract. */
/* In the forked child: descriptors as WORKER_FD_*, then berth-worker. An
 * exec failure is reported on the status pipe as the worker would. */
__attribute__((noreturn)) static void child(char *const argv[], pid_t parent, int in, int status,
					    int err, int root)
{
	/* berthd gone (even before this line ran): so is the worker */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(125);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	int fds[4] = { high_fd(in), high_fd(status), high_fd(err), high_fd(root) };
	for (int i = 0; i < 4; i++)
		if (fds[i] < 0 || dup2(fds[i], i) < 0)
			_exit(125);
	if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0)
		for (int fd = 4; fd < 65536; fd++)
			close(fd);
	execv(argv[0], argv);
	char msg[PATH_MAX + 128];
	snprintf(msg, sizeof(msg), "start the unpack worker `%s`: %s", argv[0], strerror(errno));
	json_t *j = json_pack("{s:s,s:s}", "error", msg, "kind", "internal");
	char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (line)
		dprintf(WORKER_FD_STATUS, "%s\n", line);
	_exit(125);
}

static int make_pipe(int p[2], err_t *err)
{
	if (pipe2(p, O_CLOEXEC) < 0)
		return make_error(err, E_INTERNAL, errno, "create a pipe");
	return 0;
}

struct diff_job *diff_apply_start(struct daemon *d, const struct diff_apply_opts *o,
				  diff_done_cb done, diff_space_cb space, void *data, err_t *err)
{
	if (!o->dir || !*o->dir) {
		make_error(err, E_INVALID_ARGUMENT, 0, "apply layer: no target directory");
		return NULL;
	}
	if (!d->worker_bin) {
		make_error(err, E_FAILED_PRECONDITION, 0,
			   "apply layer: berth-worker is not installed beside berthd nor in PATH");
		return NULL;
	}
	if (o->whiteouts != DIFF_WHITEOUTS_OVERLAY && o->whiteouts != DIFF_WHITEOUTS_DELETE) {
		make_error(err, E_INVALID_ARGUMENT, 0, "apply layer: unknown whiteout mode %d",
			   (int)o->whiteouts);
		return NULL;
	}
	if (o->media_type && !diff_media_type_supported(o->media_type)) {
		make_error(err, E_INVALID_ARGUMENT, 0, "apply layer: unsupported media type `%s`",
			   o->media_type);
		return NULL;
	}
	if (o->expected_diff_id && digest_validate(o->expected_diff_id, err) < 0) {
		error_wrap(err, "apply layer: expected diffID");
		return NULL;
	}
	cleanup_close int root = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		make_error(err, errno == ENOENT ? E_NOT_FOUND : E_INVALID_ARGUMENT, errno,
			   "apply layer: directory `%s`", o->dir);
		return NULL;
	}
	int in[2] = { -1, -1 }, st[2] = { -1, -1 }, se[2] = { -1, -1 };
	if (o->src_fd >= 0) {
		struct stat sb;
		if (fstat(o->src_fd, &sb) < 0) {
			make_error(err, E_INVALID_ARGUMENT, errno, "apply layer: the source fd");
			return NULL;
		}
		if (!S_ISREG(sb.st_mode)) {
			make_error(err, E_INVALID_ARGUMENT, 0, "apply layer: the source is not a file");
			return NULL;
		}
		in[0] = fcntl(o->src_fd, F_DUPFD_CLOEXEC, 0);
		if (in[0] < 0) {
			make_error(err, E_INTERNAL, errno, "apply layer: dup the source");
			return NULL;
		}
	} else if (make_pipe(in, err) < 0) {
		return NULL;
	}
	if (make_pipe(st, err) < 0 || make_pipe(se, err) < 0) {
		int *all[] = { &in[0], &in[1], &st[0], &st[1], &se[0], &se[1] };
		for (size_t i = 0; i < ARRAY_SIZE(all); i++)
			close_fd(all[i]);
		error_wrap(err, "apply layer");
		return NULL;
	}
	if (in[1] >= 0)
		fcntl(in[1], F_SETPIPE_SZ, DIFF_JOB_BUFFER); /* fewer wake-ups; best effort */

	char *argv[8];
	int argc = 0;
	argv[argc++] = (char *)d->worker_bin;
	argv[argc++] = "apply";
	argv[argc++] = "--whiteouts";
	argv[argc++] = o->whiteouts == DIFF_WHITEOUTS_DELETE ? "delete" : "overlay";
	if (o->expected_diff_id) {
		argv[argc++] = "--diff-id";
		argv[argc++] = (char *)o->expected_diff_id;
	}
	if (o->src_fd >= 0)
		argv[argc++] = "--input-file";
	argv[argc] = NULL;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0)
		child(argv, parent, in[0], st[1], se[1], root);
	int fork_errno = errno;
	close_fd(&in[0]);
	close_fd(&st[1]);
	close_fd(&se[1]);
	if (pid < 0) {
		close_fd(&in[1]);
		close_fd(&st[0]);
		close_fd(&se[0]);
		make_error(err, E_INTERNAL, fork_errno, "apply layer: start the unpack worker");
		return NULL;
	}

	struct diff_job *j = xzalloc(sizeof(*j));
	j->d = d;
	j->pid = pid;
	j->done = done;
	j->space = space;
	j->data = data;
	j->what =
	    o->media_type ? xasprintf("apply `%s` layer", o->media_type) : xstrdup("apply layer");
	j->start_ns = time_mono_ns();
	j->push = o->src_fd < 0;
	j->in_fd = in[1];
	j->status_fd = st[0];
	j->err_fd = se[0];
	int nb[] = { j->in_fd, j->status_fd, j->err_fd };
	for (size_t i = 0; i < ARRAY_SIZE(nb); i++)
		if (nb[i] >= 0)
			fcntl(nb[i], F_SETFL, fcntl(nb[i], F_GETFL) | O_NONBLOCK);
	if (j->push)
		j->in_ev = event_new(d->base, j->in_fd, EV_WRITE | EV_PERSIST, in_cb, j);
	j->status_ev = event_new(d->base, j->status_fd, EV_READ | EV_PERSIST, status_cb, j);
	j->err_ev = event_new(d->base, j->err_fd, EV_READ | EV_PERSIST, err_cb, j);
	event_add(j->status_ev, NULL);
	event_add(j->err_ev, NULL);
	child_watch(d, pid, exit_cb, j);
	log_debug("unpack worker started", "pid=%d dir=%s whiteouts=%s", (int)pid, o->dir,
		  o->whiteouts == DIFF_WHITEOUTS_OVERLAY ? "overlay" : "delete");
	return j;
}
