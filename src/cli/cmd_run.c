/* berth run: create a container from an image, run its task and, in the
 * foreground, copy its output and return its exit status, as `ctr run`
 * (and the parts of `docker run` that fit berth's API).
 *
 * Foreground, the requests are: POST containers, POST task (with the paths
 * of FIFOs made here, as containerd's cio does), POST start, POST wait,
 * DELETE task and, with --rm, DELETE container?cleanup=snapshot, all on one
 * kept-alive connection. The wait runs on a libcurl multi handle in the
 * same poll as the FIFOs and a signalfd, so the client needs no thread and
 * no polling interval: the container's output is copied as it comes and
 * the exit is seen the moment berthd answers.
 *
 * Signals: SIGINT, SIGTERM, SIGHUP and SIGQUIT received by berth are sent
 * to the task (POST kill, on a second connection since the first one is
 * waiting). Every SIGINT after the first is sent as SIGKILL: a
 * container's init ignores the signals it has no handler for (a plain
 * `sleep` as pid 1 ignores Ctrl-C), so pressing Ctrl-C twice stops any
 * container. No time window: two signals sent at once may arrive as one
 * (standard signals do not queue), and a slow machine must not turn the
 * second press into a mere SIGINT. ctr and docker forward every signal as
 * it is; this is berth's one departure.
 *
 * Exit status, as docker's: the container's (128+N when signal N killed
 * it); 125 when berth fails before the container ran (bad flags included);
 * 126 and 127 when the runtime cannot run the command (not executable, not
 * found). Nothing is left behind on failure: the FIFO directory is removed,
 * a task that could not start is deleted, and with --rm so is the
 * container.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/container_opts.h"
#include "cli/tty.h"
#include "cli/util.h"
#include "core/json.h"
#include "remotes/reference.h"

enum { OPT_RM = 256 };

/* Exit statuses of `berth run` before or instead of the container's. */
enum {
	RUN_FAILED = 125,	 /* berth's own failure */
	RUN_CANNOT_INVOKE = 126, /* the command is not executable */
	RUN_NOT_FOUND = 127,	 /* the command is not in the image */
};

enum { OUT = CIO_OUT, ERR = CIO_ERR }; /* the output streams */

struct run {
	struct cli *cli;
	struct client *c;
	struct client *killer; /* a second connection for kill during the wait */
	const char *id;
	bool rm;
	struct cio io;	      /* FIFOs: stdout, stdin with -i, stderr without -t */
	bool interactive;     /* -i: our stdin goes to the container */
	bool tty;	      /* -t: the container gets a terminal (stdout only) */
	bool keep_fifos;      /* -d -t: they outlive us (`berth tasks attach`) */
	bool in_eof;	      /* our stdin has ended: close the FIFO once inbuf is out */
	struct buf inbuf;     /* read from our stdin, not yet taken by the FIFO */
	int sigfd;
	bool interrupted; /* a SIGINT was forwarded: the next one is SIGKILL */
};

static char *container_path(const struct run *r, const char *rest)
{
	cleanup_free char *e = client_escape(r->id);
	return cli_ns_path(r->cli, "/containers/%s%s", e, rest);
}

/* Delete the task (*reply, when not NULL, gets berthd's answer); a failure
 * is printed, and the exit status stays the container's. */
static void remove_task(struct run *r, json_t **reply)
{
	cleanup_free char *path = container_path(r, "/task");
	err_t err = NULL;
	if (client_call(r->c, "DELETE", path, NULL, reply, &err) != CLIENT_OK)
		cli_fail(&err, CLI_ERROR);
}

/* With --rm, delete the container and its snapshot; false (printed) when
 * that failed. */
static bool remove_container(struct run *r)
{
	if (!r->rm)
		return true;
	cleanup_free char *path = container_path(r, "?cleanup=snapshot");
	err_t err = NULL;
	if (client_call(r->c, "DELETE", path, NULL, NULL, &err) != CLIENT_OK) {
		cli_fail(&err, CLI_ERROR);
		return false;
	}
	return true;
}

static void remove_fifos(struct run *r)
{
	cio_release(&r->io, r->keep_fifos); /* kept: `berth tasks rm` removes them */
	buf_release(&r->inbuf);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return; /* our own stdout is gone: keep draining the FIFO */
		p += w;
		n -= (size_t)w;
	}
}

/* Copy what stream i holds to our stdout or stderr; at EOF close it.
 * Returns whether data came. */
static bool copy_stream(struct run *r, int i)
{
	char buf[65536];
	bool got = false;
	for (;;) {
		ssize_t n = read(r->io.fd[i], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			write_all(i == OUT ? STDOUT_FILENO : STDERR_FILENO, buf, (size_t)n);
			got = true;
			if ((size_t)n < sizeof(buf))
				return got;
			continue;
		}
		if (n == 0) { /* poll said ready, and no writer remains: the end */
			close(r->io.fd[i]);
			r->io.fd[i] = -1;
		}
		return got; /* EAGAIN: all taken */
	}
}

/* Send a signal berth received to the task. */
static void forward_signal(struct run *r, int sig)
{
	if (sig == SIGINT && r->interrupted)
		sig = SIGKILL;
	else if (sig == SIGINT)
		r->interrupted = true;
	err_t err = NULL;
	if (!r->killer) {
		r->killer = client_new(r->cli->address, r->cli->token, r->cli->timeout, &err);
		if (!r->killer) {
			cli_fail(&err, CLI_ERROR);
			return;
		}
	}
	cleanup_free char *path = container_path(r, "/task/kill");
	cleanup_json json_t *body = json_pack("{s:i}", "signal", sig);
	if (client_call(r->killer, "POST", path, body, NULL, &err) != CLIENT_OK) {
		if (err->kind == E_NOT_FOUND) /* it has just exited */
			err_free(&err);
		else
			cli_fail(&err, CLI_ERROR);
	}
}

static void close_stdin(struct run *r)
{
	if (r->io.fd[CIO_IN] >= 0)
		close(r->io.fd[CIO_IN]);
	r->io.fd[CIO_IN] = -1;
	buf_reset(&r->inbuf);
}

/* -i: take what our stdin holds; at its end, close the container's once
 * everything read has gone out. */
static void read_stdin(struct run *r)
{
	char chunk[65536];
	ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		r->in_eof = true;
		if (!r->inbuf.len)
			close_stdin(r);
		return;
	}
	buf_add(&r->inbuf, chunk, (size_t)n);
}

/* -i: hand the FIFO what it takes of inbuf. */
static void write_stdin(struct run *r)
{
	ssize_t n = write(r->io.fd[CIO_IN], r->inbuf.data, r->inbuf.len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0) { /* EPIPE: nobody reads the container's stdin any more */
		close_stdin(r);
		return;
	}
	memmove(r->inbuf.data, r->inbuf.data + n, r->inbuf.len - (size_t)n);
	r->inbuf.len -= (size_t)n;
	r->inbuf.data[r->inbuf.len] = '\0';
	if (!r->inbuf.len && r->in_eof)
		close_stdin(r);
}

static void take_signals(struct run *r)
{
	struct signalfd_siginfo si;
	while (read(r->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		forward_signal(r, (int)si.ssi_signo);
}

/* Wait for the exit while copying the output and forwarding signals; then
 * drain the FIFOs until their writers close them, or until they stay
 * silent for a second (a writer that lingers). */
static enum client_status wait_exit(struct run *r, json_t **reply, err_t *err)
{
	cleanup_free char *path = container_path(r, "/task/wait");
	struct client_async *a = client_async_new(r->c, "POST", path, NULL);
	enum { SIGNALS = -1, STDIN = -2, STDIN_FIFO = -3 };
	struct pollfd fds[2 + CIO_N];
	int map[2 + CIO_N];
	bool done = false;
	while (!done) {
		unsigned n = 0;
		fds[n] = (struct pollfd){.fd = r->sigfd, .events = POLLIN};
		map[n++] = SIGNALS;
		if (r->io.fd[CIO_IN] >= 0 && r->inbuf.len) {
			fds[n] = (struct pollfd){.fd = r->io.fd[CIO_IN], .events = POLLOUT};
			map[n++] = STDIN_FIFO;
		} else if (r->io.fd[CIO_IN] >= 0 && !r->in_eof) {
			fds[n] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
			map[n++] = STDIN;
		}
		for (int i = OUT; i <= ERR; i++) {
			if (r->io.fd[i] >= 0) {
				fds[n] = (struct pollfd){.fd = r->io.fd[i], .events = POLLIN};
				map[n++] = i;
			}
		}
		done = client_async_poll(a, fds, n, -1);
		for (unsigned k = 0; k < n; k++) {
			if (!fds[k].revents)
				continue;
			if (map[k] == SIGNALS)
				take_signals(r);
			else if (map[k] == STDIN)
				read_stdin(r);
			else if (map[k] == STDIN_FIFO)
				write_stdin(r);
			else if (r->io.fd[map[k]] >= 0)
				copy_stream(r, map[k]);
		}
	}
	close_stdin(r); /* the container has exited */
	enum client_status st = client_async_finish(a, reply, err);
	for (;;) {
		unsigned n = 0;
		for (int i = OUT; i <= ERR; i++) {
			if (r->io.fd[i] >= 0) {
				fds[n] = (struct pollfd){.fd = r->io.fd[i], .events = POLLIN};
				map[n++] = i;
			}
		}
		if (n == 0)
			break;
		int ready = poll(fds, n, 1000);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0)
			break;
		for (unsigned k = 0; k < n; k++)
			if (fds[k].revents)
				copy_stream(r, map[k]);
	}
	return st;
}

/* POST the container; a name Docker would accept in short form (`busybox`)
 * that names no image is tried again normalised, as `berth images` does. */
static enum client_status create_container(struct run *r, json_t *body, err_t *err)
{
	cleanup_free char *path = cli_ns_path(r->cli, "/containers");
	enum client_status st = client_call(r->c, "POST", path, body, NULL, err);
	if (st != CLIENT_FAILED || (*err)->kind != E_NOT_FOUND)
		return st;
	const char *image = json_get_string(body, "image");
	struct reference ref = {0};
	err_t perr = NULL;
	if (!image || reference_parse(image, &ref, &perr) < 0) {
		err_free(&perr);
		return st;
	}
	cleanup_free char *norm = reference_string(&ref);
	reference_release(&ref);
	if (strcmp(norm, image) == 0)
		return st;
	json_object_set_new(body, "image", json_string(norm));
	err_t err2 = NULL;
	enum client_status st2 = client_call(r->c, "POST", path, body, NULL, &err2);
	if (st2 == CLIENT_FAILED && err2->kind == E_NOT_FOUND) {
		err_free(&err2); /* say what the user asked for */
		return st;
	}
	err_free(err);
	*err = err2;
	return st2;
}

static int exit_status_of(const json_t *reply)
{
	json_t *v = json_object_get(reply, "exit_status");
	if (!json_is_integer(v))
		return -1;
	return (int)(json_integer_value(v) & 0xff);
}

static int run_detached(struct run *r)
{
	err_t err = NULL;
	cleanup_free char *task = container_path(r, "/task");
	/* without a terminal, created and started in one call (one runtime
	 * process instead of two) */
	cleanup_json json_t *tbody = json_pack("{s:b,s:b}", "log", 1, "start", 1);
	if (r->tty) {
		/* FIFOs the shim keeps open: `berth tasks attach` opens them again */
		if (cio_make(&r->io, "berth-run", r->interactive, !r->tty, &err) < 0)
			return cli_fail(&err, RUN_FAILED);
		json_decref(tbody);
		tbody = json_pack("{s:b,s:s,s:s}", "terminal", 1, "stdout", r->io.path[OUT], "stdin",
				  r->io.path[CIO_IN]);
	}
	if (client_call(r->c, "POST", task, tbody, NULL, &err) != CLIENT_OK)
		return cli_fail(&err, start_failure_status(err));
	cleanup_free char *start = container_path(r, "/task/start");
	if (r->tty && client_call(r->c, "POST", start, NULL, NULL, &err) != CLIENT_OK) {
		int st = start_failure_status(err);
		cli_fail(&err, st);
		remove_task(r, NULL);
		return st;
	}
	r->keep_fifos = r->tty;
	printf("%s\n", r->id);
	return CLI_OK;
}

static void forward_cb(void *arg, int sig)
{
	forward_signal(arg, sig);
}

/* -t, started: raw mode (with -i) while attached, restored before anything
 * is printed; the exit status as without -t. */
static int run_terminal(struct run *r)
{
	err_t err = NULL;
	/* stdin is a terminal (checked before): should raw mode fail, the
	 * session still works, with local echo */
	if (r->interactive && tty_raw(STDIN_FILENO, &err) < 0)
		cli_fail(&err, CLI_OK);
	struct tty_attach a = {
	    .cli = r->cli,
	    .c = r->c,
	    .id = r->id,
	    .in_fd = r->io.fd[CIO_IN],
	    .out_fd = r->io.fd[OUT],
	    .err_fd = -1,
	    .sigfd = r->sigfd,
	    .on_signal = forward_cb,
	    .arg = r,
	};
	r->io.fd[CIO_IN] = -1; /* tty_attach_run closes it */
	int status = tty_attach_run(&a, &err);
	tty_restore();
	tty_attach_release(&a);
	if (a.in_fd >= 0)
		close(a.in_fd);
	if (status < 0)
		return cli_fail(&err, RUN_FAILED);
	cleanup_json json_t *deleted = NULL;
	remove_task(r, &deleted);
	return status;
}

static int run_foreground(struct run *r)
{
	err_t err = NULL;
	if (cio_make(&r->io, "berth-run", r->interactive, !r->tty, &err) < 0)
		return cli_fail(&err, RUN_FAILED);
	cleanup_free char *task = container_path(r, "/task");
	cleanup_json json_t *tbody =
	    r->tty ? json_pack("{s:s,s:b}", "stdout", r->io.path[OUT], "terminal", 1)
		   : json_pack("{s:s,s:s}", "stdout", r->io.path[OUT], "stderr", r->io.path[ERR]);
	if (r->io.path[CIO_IN])
		json_object_set_new(tbody, "stdin", json_string(r->io.path[CIO_IN]));
	/* a terminal gets its size before its start (a shell reads it once);
	 * without one, created and started in one call (one runtime process
	 * instead of two) */
	if (!r->tty)
		json_object_set_new(tbody, "start", json_true());
	if (client_call(r->c, "POST", task, tbody, NULL, &err) != CLIENT_OK)
		return cli_fail(&err, start_failure_status(err));
	/* its size before it starts: a shell reads it once at start */
	if (r->tty && tty_send_size(r->cli, r->c, r->id, NULL, STDIN_FILENO, &err) != CLIENT_OK) {
		cli_fail(&err, RUN_FAILED);
		remove_task(r, NULL);
		return RUN_FAILED;
	}
	cleanup_free char *start = container_path(r, "/task/start");
	if (r->tty && client_call(r->c, "POST", start, NULL, NULL, &err) != CLIENT_OK) {
		int st = start_failure_status(err);
		cli_fail(&err, st);
		remove_task(r, NULL);
		return st;
	}
	if (r->tty)
		return run_terminal(r);
	cleanup_json json_t *waited = NULL;
	enum client_status ws = wait_exit(r, &waited, &err);
	fflush(stdout);
	if (ws != CLIENT_OK)
		return cli_fail(&err, RUN_FAILED);
	int status = exit_status_of(waited);
	cleanup_json json_t *deleted = NULL;
	remove_task(r, &deleted);
	if (status < 0)
		status = exit_status_of(deleted);
	return status < 0 ? RUN_FAILED : status;
}

static int run_run(struct cli *cli, int argc, char **argv)
{
	static const struct option own[] = {
	    {"rm", no_argument, NULL, OPT_RM},
	    {"detach", no_argument, NULL, 'd'},
	    {"interactive", no_argument, NULL, 'i'},
	    {"tty", no_argument, NULL, 't'},
	    CLI_OPT_HELP,
	    {NULL, 0, NULL, 0},
	};
	cleanup_free struct option *longopts = container_opts_merge(own);
	struct container_opts o = CONTAINER_OPTS_INIT;
	struct run r = {.cli = cli, .io = CIO_INIT, .inbuf = BUF_INIT, .sigfd = -1};
	bool detach = false;
	int c;
	while ((c = cli_getopt(cli, argc, argv, "+dith", longopts)) != -1) {
		int h = container_opts_handle(cli, &o, c, optarg);
		if (h == 1)
			continue;
		if (h == 0 && c == OPT_RM) {
			r.rm = true;
			continue;
		}
		if (h == 0 && c == 'd') {
			detach = true;
			continue;
		}
		if (h == 0 && c == 'i') {
			r.interactive = true;
			continue;
		}
		if (h == 0 && c == 't') {
			r.tty = true;
			continue;
		}
		container_opts_release(&o);
		if (h == 0 && c == 'h')
			return cli_getopt_other(cli, c);
		return RUN_FAILED;
	}
	if (argc - optind < 2) {
		container_opts_release(&o);
		cli_usage_error(cli, optind < argc ? "missing the container ID"
						   : "missing the IMAGE and the container ID");
		return RUN_FAILED;
	}
	if (detach && r.interactive && !r.tty) {
		container_opts_release(&o);
		cli_usage_error(cli,
				"-i and -d do not go together: a detached container has no stdin");
		return RUN_FAILED;
	}
	if (detach && r.rm) {
		container_opts_release(&o);
		cli_usage_error(cli, "--rm and -d do not go together: a detached container "
				     "stays until `berth tasks rm` and `berth containers rm`");
		return RUN_FAILED;
	}
	if (r.tty && !detach && !isatty(STDIN_FILENO)) {
		container_opts_release(&o);
		fprintf(stderr, "berth: the input device is not a TTY\n");
		return RUN_FAILED;
	}
	if (r.tty && detach)
		r.interactive = true; /* a stdin FIFO to attach to later */
	r.id = argv[optind + 1];
	cleanup_json json_t *body = NULL;
	container_opts_body(&o, argv[optind], r.id, argc - optind - 2, argv + optind + 2, &body);
	container_opts_release(&o);
	if (r.tty) {
		json_t *process = json_object_get(body, "process");
		if (!process) {
			process = json_object();
			json_object_set_new(body, "process", process);
		}
		json_object_set_new(process, "terminal", json_true());
	}

	int st;
	if (!(r.c = cli_client(cli, &st)))
		return RUN_FAILED;
	/* a reader of our stdout that goes away (`| head`) must not kill us
	 * before the container is cleaned up: its output is then drained */
	signal(SIGPIPE, SIG_IGN);
	/* signals wait in the signalfd until the task runs, then go to it */
	sigset_t old;
	if (!detach && (r.sigfd = cli_signalfd(r.tty, &old)) < 0)
		return RUN_FAILED;

	err_t err = NULL;
	if (create_container(&r, body, &err) != CLIENT_OK) {
		st = cli_fail(&err, RUN_FAILED);
	} else {
		st = detach ? run_detached(&r) : run_foreground(&r);
		if (!remove_container(&r) && st == CLI_OK)
			st = CLI_ERROR;
	}
	remove_fifos(&r);
	client_free(r.killer);
	if (r.sigfd >= 0) /* a signal that came after the exit is dropped */
		cli_signalfd_close(r.sigfd, &old);
	return st;
}

const struct cli_command cmd_run = {
    .name = "run",
    .summary = "run a container",
    .synopsis = "[--rm] [-d | -i] [-t] [OPTIONS] IMAGE ID [CMD [ARGS...]]",
    .help = "Create the container ID from IMAGE, start its task and, in the foreground,\n"
	    "copy its stdout and stderr (through FIFOs) until it exits, then delete the\n"
	    "task and exit with the container's exit status (128+N if signal N ended\n"
	    "it). CMD and ARGS replace the image's entrypoint and command. The image must\n"
	    "have been pulled (`berth pull`); a short name (`busybox`) is also tried in its\n"
	    "normalised form (`docker.io/library/busybox:latest`).\n"
	    "\n"
	    "SIGINT, SIGTERM, SIGHUP and SIGQUIT are passed to the container; every SIGINT\n"
	    "(Ctrl-C) after the first is sent as SIGKILL, since a container's pid 1 ignores\n"
	    "the signals it does not handle. Without -i, the container's stdin is empty.\n"
	    "\n"
	    "Exit status: the container's; 125 when berth fails (bad flags, daemon or\n"
	    "API errors) before the container runs; 126 when its command cannot be run,\n"
	    "127 when it is not found.\n"
	    "\n"
	    "Options:\n"
	    "      --rm                 remove the container and its snapshot at the end\n"
	    "                           (also when its task cannot be created or started)\n"
	    "  -d, --detach             start it and print ID; its output goes to the task's\n"
	    "                           log (`berth tasks logs ID`)\n"
	    "  -i, --interactive        copy berth's stdin to the container's (through a\n"
	    "                           FIFO); its end closes the container's stdin\n"
	    "  -t, --tty                give the container a terminal (process.terminal);\n"
	    "                           with -i berth's terminal is in raw mode until the\n"
	    "                           container exits and its size follows berth's; stdin\n"
	    "                           must be a terminal. With -d: keep its FIFOs for\n"
	    "                           `berth tasks attach ID`\n" CONTAINER_OPTS_HELP "  -h, --help               show this help\n",
    .run = run_run,
};
