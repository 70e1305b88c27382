/*
 * diff-apply: apply layers with src/diff on a loop of its own, as berthd
 * would, for t/t3101-diff-apply.sh.
 *
 *   diff-apply [options] DIR FILE [DIR FILE...]   apply each FILE into its DIR,
 *                                                all at once (src_fd mode)
 *   diff-apply --stdin [options] DIR             push stdin with diff_job_write()
 *
 *   --delete             DIFF_WHITEOUTS_DELETE (default: overlay whiteouts)
 *   --expect DIGEST      expected diffID
 *   --media-type TYPE    layer media type
 *   --chunk N            --stdin: bytes per diff_job_write() (default 4096)
 *   --stop-worker        --stdin: SIGSTOP the worker until diff_job_space()
 *                        drops to 0, then SIGCONT it (backpressure, deterministically)
 *   --print-pid          print "pid N" on stderr when a worker started
 *   --cancel             cancel every job right after starting it, then run the
 *                        loop until the workers were reaped (done must not fire)
 *
 * Prints one line per job on stdout: the result as JSON ({"dir", "diff_id",
 * "tar_size", "entries", "space_waits"}) or "error KIND MESSAGE". Exits 0
 * when every job worked, 1 on an error, 2 on bad usage.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <event2/event.h>
#include <jansson.h>

#include "core/daemon.h"
#include "core/json.h"
#include "core/log.h"
#include "core/loop.h"
#include "diff/diff.h"

struct job {
	struct ctx *c;
	const char *dir;
	struct diff_job *j;
	int fd;
};

struct ctx {
	struct daemon d;
	size_t pending;
	int failed;
	/* --stdin */
	struct job *in;
	struct event *pump_ev;
	size_t chunk;
	char *buf;
	bool eof, stop_worker, stopped, waiting;
	unsigned space_waits;
};

static void done_cb(void *data, const struct diff_result *res, err_t *err)
{
	struct job *jb = data;
	struct ctx *c = jb->c;
	if (res) {
		cleanup_json json_t *j =
		    json_pack("{s:s,s:s,s:I,s:I,s:i}", "dir", jb->dir, "diff_id", res->diff_id,
			      "tar_size", (json_int_t)res->tar_size, "entries",
			      (json_int_t)res->entries, "space_waits", (int)c->space_waits);
		char *s = json_dump_compact(j, NULL);
		printf("%s\n", s);
		free(s);
	} else {
		printf("error %s %s\n", err_kind_code((*err)->kind), (*err)->msg);
		c->failed = 1;
	}
	fflush(stdout);
	jb->j = NULL;
	if (--c->pending == 0)
		event_base_loopbreak(c->d.base);
}

static void pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ctx *c = arg;
	struct diff_job *j = c->in->j;
	for (int round = 0; j && !c->eof; round++) {
		size_t space = diff_job_space(j);
		if (space == 0) {
			c->waiting = true;
			if (c->stopped) {
				fprintf(stderr, "buffer full, continuing the worker\n");
				kill(diff_job_pid(j), SIGCONT);
				c->stopped = false;
			}
			return;
		}
		if (round == 16) { /* let the loop drain the buffer too */
			event_active(c->pump_ev, 0, 0);
			return;
		}
		size_t want = space < c->chunk ? space : c->chunk;
		ssize_t n = read(0, c->buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				perror("diff-apply: read stdin");
			c->eof = true;
			diff_job_close_input(j);
			if (c->stopped) { /* all of it fitted: the worker never blocked us */
				kill(diff_job_pid(j), SIGCONT);
				c->stopped = false;
			}
			return;
		}
		err_t err = NULL;
		if (diff_job_write(j, c->buf, (size_t)n, &err) < 0) {
			fprintf(stderr, "diff-apply: %s\n", err->msg);
			err_free(&err);
			c->eof = true; /* done reports why */
			return;
		}
	}
}

static void space_cb(void *data)
{
	struct job *jb = data;
	struct ctx *c = jb->c;
	if (c->waiting) {
		c->waiting = false;
		c->space_waits++;
	}
	event_active(c->pump_ev, 0, 0);
}

static void chld_cb(evutil_socket_t sig, short what, void *arg)
{
	struct ctx *c = arg;
	child_reap_all(&c->d);
	if (c->pending == 0)
		event_base_loopbreak(c->d.base);
}

static const char usage[] =
    "usage: diff-apply [--delete] [--expect DIGEST] [--media-type TYPE] [--print-pid] "
    "[--cancel] DIR FILE [DIR FILE...]\n"
    "       diff-apply --stdin [--chunk N] [--stop-worker] [...] DIR\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "delete", no_argument, NULL, 'D' },
		{ "expect", required_argument, NULL, 'e' },
		{ "media-type", required_argument, NULL, 'm' },
		{ "stdin", no_argument, NULL, 'i' },
		{ "chunk", required_argument, NULL, 'C' },
		{ "stop-worker", no_argument, NULL, 'S' },
		{ "print-pid", no_argument, NULL, 'p' },
		{ "cancel", no_argument, NULL, 'X' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctx c = { .chunk = 4096 };
	struct diff_apply_opts o = { .whiteouts = DIFF_WHITEOUTS_OVERLAY, .src_fd = -1 };
	bool from_stdin = false, print_pid = false, cancel = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "l:", opts, NULL)) != -1) {
		switch (opt) {
		case 'D':
			o.whiteouts = DIFF_WHITEOUTS_DELETE;
			break;
		case 'e':
			o.expected_diff_id = optarg;
			break;
		case 'm':
			o.media_type = optarg;
			break;
		case 'i':
			from_stdin = true;
			break;
		case 'C':
			c.chunk = strtoul(optarg, NULL, 10);
			break;
		case 'S':
			c.stop_worker = true;
			break;
		case 'p':
			print_pid = true;
			break;
		case 'X':
			cancel = true;
			break;
		case 'l':
			log_set_level(log_level_parse(optarg));
			break;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	int nargs = argc - optind;
	if (c.chunk == 0 || (from_stdin ? nargs != 1 : (nargs < 2 || nargs % 2))) {
		fputs(usage, stderr);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	c.d.base = event_base_new();
	c.d.children = child_table_new();
	c.d.worker_bin = find_helper("berth-worker"); /* the tests put the build in PATH */
	struct event *sigchld = evsignal_new(c.d.base, SIGCHLD, chld_cb, &c);
	event_add(sigchld, NULL);
	c.pump_ev = event_new(c.d.base, -1, 0, pump_cb, &c);
	c.buf = xmalloc(c.chunk);

	size_t njobs = from_stdin ? 1 : (size_t)nargs / 2;
	struct job *jobs = xcalloc(njobs, sizeof(*jobs));
	for (size_t i = 0; i < njobs; i++) {
		struct job *jb = &jobs[i];
		jb->c = &c;
		jb->dir = argv[optind + (from_stdin ? 0 : 2 * i)];
		jb->fd = -1;
		if (!from_stdin) {
			const char *file = argv[optind + 2 * i + 1];
			jb->fd = open(file, O_RDONLY | O_CLOEXEC);
			if (jb->fd < 0) {
				fprintf(stderr, "diff-apply: %s: %s\n", file, strerror(errno));
				return 2;
			}
		}
		o.dir = jb->dir;
		o.src_fd = jb->fd;
		err_t err = NULL;
		jb->j = diff_apply_start(&c.d, &o, done_cb, space_cb, jb, &err);
		if (!jb->j) {
			printf("error %s %s\n", err_kind_code(err->kind), err->msg);
			err_free(&err);
			c.failed = 1;
			continue;
		}
		c.pending++;
		if (print_pid)
			fprintf(stderr, "pid %d\n", (int)diff_job_pid(jb->j));
		if (from_stdin) {
			c.in = jb;
			if (c.stop_worker) {
				kill(diff_job_pid(jb->j), SIGSTOP);
				c.stopped = true;
			}
			event_active(c.pump_ev, 0, 0);
		}
	}
	if (cancel) {
		for (size_t i = 0; i < njobs; i++) {
			if (!jobs[i].j)
				continue;
			pid_t pid = diff_job_pid(jobs[i].j);
			diff_job_cancel(jobs[i].j);
			jobs[i].j = NULL;
			c.pending--;
			int st;
			if (waitpid(pid, &st, 0) == pid && WIFSIGNALED(st))
				printf("cancelled %d signal %d\n", (int)pid, WTERMSIG(st));
		}
		/* a done callback now would be a bug: done_cb prints it */
		event_base_loop(c.d.base, EVLOOP_NONBLOCK);
		fflush(stdout);
	} else if (c.pending) {
		event_base_dispatch(c.d.base);
	}
	for (size_t i = 0; i < njobs; i++)
		if (jobs[i].fd >= 0)
			close(jobs[i].fd);
	free(jobs);
	free(c.buf);
	event_free(c.pump_ev);
	event_free(sigchld);
	child_table_free(c.d.children);
	event_base_free(c.d.base);
	free(c.d.worker_bin);
	return c.failed;
}
