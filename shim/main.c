/*
 * berth-shim <task dir>: the start-up handshake (P1 forks P2 and relays its
 * one-line report), then P2's life: create the container, serve shim.sock,
 * reap, until a `delete` (shim/PROTOCOL.md).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "core/err.h"
#include "core/json.h"
#include "shim/shim.h"

#define QUIT_GRACE_SEC 2 /* how long answers to the last clients may take to drain */
/* How long one runtime command may take; BERTH_SHIM_RUNTIME_TIMEOUT (seconds) overrides. */
#define RUNTIME_TIMEOUT_SEC 120

char *shim_path(struct shim *s, const char *name)
{
	return xasprintf("%s/%s", s->dir, name);
}

static void null_fd(int target)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0 && fd != target) {
		dup2(fd, target);
		close(fd);
	}
}

void shim_report(struct shim *s, err_t e)
{
	if (s->handshake_fd < 0)
		return;
	json_t *j = e ? json_pack("{s:{s:s,s:s}}", "error", "code", err_kind_code(e->kind),
				  "message", e->msg)
		      : json_pack("{s:i}", "pid", (int)s->init_pid);
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (text) {
		dprintf(s->handshake_fd, "%s\n", text);
		free(text);
	}
	close(s->handshake_fd);
	s->handshake_fd = -1;
	null_fd(2); /* P2 outlives berthd: its stderr must not hold berthd's */
	if (e && s->base) {
		s->rc = 1;
		event_base_loopexit(s->base, NULL);
	}
}

static void quit_cb(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
	struct shim *s = arg;
	event_base_loopexit(s->base, NULL);
}

void shim_quit(struct shim *s)
{
	s->exiting = true;
	if (ctl_flush_close(s)) {
		event_base_loopexit(s->base, NULL);
		return;
	}
	s->quit_timer = evtimer_new(s->base, quit_cb, s);
	struct timeval tv = { QUIT_GRACE_SEC, 0 };
	evtimer_add(s->quit_timer, &tv);
}

static void sigchld_cb(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
	struct shim *s = arg;
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (s->rt && pid == s->rt->pid)
			runtime_reaped(s, status);
		else
			task_reaped(s, pid, status);
	}
}

static void remove_files(struct shim *s)
{
	static const char *const files[] = { "shim.pid", "init.pid", "runtime.log" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		cleanup_free char *p = shim_path(s, files[i]);
		unlink(p);
	}
}

/* Undo start-up after a failure: everything but the task directory. */
static void undo(struct shim *s)
{
	ctl_unlisten(s);
	rootfs_unmount(s);
	io_release(&s->pio);
	remove_files(s);
}

static void undo_report_cb(struct shim *s, struct rt_cmd *c UNUSED, int status UNUSED)
{
	undo(s);
	shim_report(s, s->failure);
	err_free(&s->failure);
}

/* Something failed after `runtime create` ran: delete it, then undo. */
static void undo_created(struct shim *s, err_t *e)
{
	s->failure = steal_ptr(e);
	const char *argv[] = { "--force", s->opts.id, NULL };
	cleanup_err err_t err = NULL;
	if (runtime_run(s, "delete", argv, NULL, undo_report_cb, NULL, &err) < 0)
		undo_report_cb(s, NULL, 0);
}

int shim_read_init_pid(struct shim *s, err_t *err)
{
	cleanup_free char *pidfile = shim_path(s, "init.pid");
	cleanup_free char *text = read_file(pidfile, NULL);
	uint64_t pid = 0;
	if (text)
		text[strcspn(text, " \n")] = '\0'; /* runc writes none, others a newline */
	if (!text || !parse_u64(text, &pid) || pid == 0 || pid > INT_MAX)
		return make_error(err, E_INTERNAL, text ? 0 : errno, "read `%s`", pidfile);
	s->init_pid = (pid_t)pid;
	return 0;
}

/* A task restored from a checkpoint has no container until `start` runs
 * `runtime restore` (containerd's createdCheckpointState): serve the socket
 * as a created task without a process. */
static int launch_restore(struct shim *s, err_t *err)
{
	struct stat st;
	int e = stat(s->opts.checkpoint, &st) < 0 ? errno : S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
	if (e)
		return make_error(err, E_INVALID_ARGUMENT, e, "checkpoint `%s`",
				  s->opts.checkpoint);
	if (ctl_listen(s, err) < 0)
		return -1;
	s->status = TASK_CREATED;
	s->restore_pending = true;
	shim_report(s, NULL);
	return 0;
}

static void create_done(struct shim *s, struct rt_cmd *c, int status)
{
	cleanup_err err_t err = NULL;
	if (status != 0) {
		/* the runtime refused the container (a process not in the image,
		 * cgroups it cannot use...): not berth's failure, so not internal */
		cleanup_free char *msg = runtime_error(s, c, status);
		make_error(&err, E_FAILED_PRECONDITION, 0, "%s", msg);
		undo_created(s, &err);
		return;
	}
	if (shim_read_init_pid(s, &err) < 0) {
		undo_created(s, &err);
		return;
	}
	s->status = s->opts.start ? TASK_RUNNING : TASK_CREATED;
	if ((s->pio.console && console_receive(s->pio.console, &err) < 0) ||
	    ctl_listen(s, &err) < 0) {
		undo_created(s, &err);
		return;
	}
	io_start(s, &s->pio);
	task_init_known(s);
	shim_report(s, NULL);
	malloc_trim(0);
}

/* Another shim answers on shim.sock: this one must not take its place. */
static bool shim_running(struct shim *s)
{
	cleanup_free char *path = shim_path(s, "shim.sock");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return false;
	strcpy(sa.sun_path, path);
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
}

/* Read shim.json, write shim.pid, check the runtime. */
static int setup(struct shim *s, const char *dir, err_t *err)
{
	char real[PATH_MAX];
	if (!realpath(dir, real))
		return make_error(err, E_INVALID_ARGUMENT, errno, "task directory `%s`", dir);
	s->dir = xstrdup(real);
	const char *t = getenv("BERTH_SHIM_RUNTIME_TIMEOUT");
	uint64_t secs;
	s->runtime_timeout = t && parse_u64(t, &secs) && secs > 0 && secs < 86400
				     ? (int)secs
				     : RUNTIME_TIMEOUT_SEC;
	s->rootfs = shim_path(s, "rootfs");
	if (chdir("/") < 0)
		return make_error(err, E_INTERNAL, errno, "chdir /");
	cleanup_free char *optpath = shim_path(s, "shim.json");
	size_t len;
	cleanup_free char *text = read_file(optpath, &len);
	if (!text)
		return make_error(err, E_INVALID_ARGUMENT, errno, "read `%s`", optpath);
	if (proto_parse_opts(text, len, &s->opts, err) < 0)
		return -1;
	if (shim_running(s))
		return make_error(err, E_ALREADY_EXISTS, 0, "a shim already serves `%s`", s->dir);
	if (access(s->opts.runtime, X_OK) < 0)
		return make_error(err, E_FAILED_PRECONDITION, errno, "runtime `%s`",
				  s->opts.runtime);
	cleanup_free char *pidpath = shim_path(s, "shim.pid");
	char pidtext[32];
	int n = snprintf(pidtext, sizeof(pidtext), "%ld\n", (long)getpid());
	/* runtime data on the state tmpfs: no fsync, only a whole file */
	cleanup_free char *tmp = xasprintf("%s.tmp", pidpath);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, pidtext, (size_t)n) != n || close(fd) < 0 ||
	    rename(tmp, pidpath) < 0)
		return make_error(err, E_INTERNAL, errno, "write `%s`", pidpath);
	return 0;
}

/* Mount, open the stdio, start `runtime create` (or `run --detach` with
 * `start`; create_done goes on). */
static int launch(struct shim *s, err_t *err)
{
	s->base = event_base_new();
	if (!s->base)
		return make_error(err, E_INTERNAL, 0, "event_base_new failed");
	s->sigchld_ev = evsignal_new(s->base, SIGCHLD, sigchld_cb, s);
	event_add(s->sigchld_ev, NULL);
	cleanup_free char *log = s->opts.log ? shim_path(s, "log") : NULL;
	struct io_paths paths = { s->opts.stdin_path, s->opts.stdout_path, s->opts.stderr_path,
				  log, s->opts.terminal };
	if (rootfs_mount(s, err) < 0 || io_setup(s, &s->pio, &paths, err) < 0)
		return -1;
	if (s->opts.checkpoint)
		return launch_restore(s, err);
	cleanup_free char *pidfile = shim_path(s, "init.pid");
	/* with `start`, `run --detach`: one runtime process instead of create
	 * and start (the init may then exit before create_done: it is kept
	 * among the early exits) */
	const char *argv[9] = { NULL };
	size_t n = 0;
	if (s->opts.start)
		argv[n++] = "--detach";
	argv[n++] = "--bundle";
	argv[n++] = s->dir;
	argv[n++] = "--pid-file";
	argv[n++] = pidfile;
	if (s->pio.console) { /* the runtime sends the pty master there */
		argv[n++] = "--console-socket";
		argv[n++] = console_socket(s->pio.console);
	}
	argv[n++] = s->opts.id;
	return runtime_run(s, s->opts.start ? "run" : "create", argv, s->pio.child_fds, create_done,
			   NULL, err);
}

/* Set up and run the shim; returns the process exit code. */
static int shim_main(struct shim *s, const char *dir)
{
	cleanup_err err_t err = NULL;
	if (setup(s, dir, &err) < 0) {
		shim_report(s, err);
		return 1;
	}
	if (launch(s, &err) < 0) {
		undo(s);
		shim_report(s, err);
		return 1;
	}
	event_base_dispatch(s->base);
	return s->rc;
}

static void shim_release(struct shim *s)
{
	ctl_release(s);
	task_release(s);
	runtime_release(s);
	exec_release_all(s);
	io_release(&s->pio);
	if (s->quit_timer)
		event_free(s->quit_timer);
	if (s->sigchld_ev)
		event_free(s->sigchld_ev);
	if (s->base)
		event_base_free(s->base);
	shim_opts_release(&s->opts);
	free(s->rootfs);
	free(s->dir);
	err_free(&s->failure);
}

/* The shim outlives its starter: keep none of its descriptors. The raw
 * syscall, as sanitizer runtimes swallow close_range(3). */
static void close_inherited(void)
{
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
		return;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	int fds[256], n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < (int)ARRAY_SIZE(fds)) {
		int fd = atoi(e->d_name);
		if (fd > 2 && fd != dirfd(d))
			fds[n++] = fd;
	}
	closedir(d);
	while (n > 0)
		close(fds[--n]);
}

/* P1: relay P2's report line; 0 when it carries a pid. */
static int relay(int fd, pid_t p2)
{
	struct buf b = BUF_INIT;
	char chunk[512];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		buf_add(&b, chunk, (size_t)n);
	}
	close(fd);
	json_t *j = b.len ? json_loadb(b.data, b.len, 0, NULL) : NULL;
	int rc = json_is_integer(json_object_get(j, "pid")) ? 0 : 1;
	if (j) {
		fputs(b.data, stdout);
	} else {
		int status = 0;
		waitpid(p2, &status, WNOHANG);
		json_t *e = json_pack("{s:{s:s,s:s}}", "error", "code", "internal", "message",
				      "berth-shim exited during start-up");
		char *t = json_dumps(e, JSON_COMPACT);
		printf("%s\n", t);
		free(t);
		json_decref(e);
	}
	json_decref(j);
	buf_release(&b);
	fflush(stdout);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: berth-shim <task directory>\n");
		return 2;
	}
	close_inherited();
	int hs[2];
	if (pipe2(hs, O_CLOEXEC) < 0) {
		perror("berth-shim: pipe");
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("berth-shim: fork");
		return 1;
	}
	if (pid > 0) {
		close(hs[1]);
		return relay(hs[0], pid);
	}
	close(hs[0]);
	null_fd(1);
	setsid();
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	struct shim s = {
		.handshake_fd = hs[1],
		.listen_fd = -1,
	};
	proc_io_init(&s.pio);
	s.queue_tail = &s.queue;
	int rc = shim_main(&s, argv[1]);
	shim_release(&s);
	return rc;
}
