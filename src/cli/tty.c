/* cli/tty: raw mode and the attach loop of terminal tasks (see tty.h). */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "cli/tty.h"
#include "core/json.h"

#define CTRL_P 0x10
#define CTRL_Q 0x11
#define IN_MAX (64 * 1024) /* typed ahead before we stop reading stdin */

static struct termios saved;
static int saved_fd = -1;

void tty_restore(void)
{
	if (saved_fd < 0)
		return;
	tcsetattr(saved_fd, TCSADRAIN, &saved);
	saved_fd = -1;
}

int tty_raw(int fd, err_t *err)
{
	static bool registered;
	if (saved_fd >= 0)
		return 0;
	if (tcgetattr(fd, &saved) < 0)
		return make_error(err, E_FAILED_PRECONDITION, errno,
				  "the input device is not a TTY");
	struct termios raw = saved;
	cfmakeraw(&raw);
	if (!registered) {
		atexit(tty_restore);
		registered = true;
	}
	saved_fd = fd;
	if (tcsetattr(fd, TCSADRAIN, &raw) < 0) {
		saved_fd = -1;
		return make_error(err, E_INTERNAL, errno, "cannot put the terminal in raw mode");
	}
	return 0;
}

static char *resize_path(struct cli *cli, const char *id)
{
	cleanup_free char *e = client_escape(id);
	return cli_ns_path(cli, "/containers/%s/task/resize", e);
}

enum client_status tty_send_size(struct cli *cli, struct client *c, const char *id,
				 const char *exec_id, int fd, err_t *err)
{
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0 || ws.ws_row == 0)
		return CLIENT_OK; /* not a terminal, or one without a size: nothing to say */
	cleanup_free char *path = resize_path(cli, id);
	cleanup_json json_t *body =
	    json_pack("{s:i,s:i}", "width", (int)ws.ws_col, "height", (int)ws.ws_row);
	if (exec_id)
		json_object_set_new(body, "exec_id", json_string(exec_id));
	return client_call(c, "POST", path, body, NULL, err);
}

static void send_size(struct tty_attach *a)
{
	err_t err = NULL;
	if (!a->ctl) {
		a->ctl = client_new(a->cli->address, a->cli->token, a->cli->timeout, &err);
		if (!a->ctl) {
			err_free(&err);
			return;
		}
	}
	/* a resize that fails (the process has just exited) changes nothing */
	if (tty_send_size(a->cli, a->ctl, a->id, a->exec_id, STDIN_FILENO, &err) != CLIENT_OK)
		err_free(&err);
}

struct loop {
	struct tty_attach *a;
	struct buf in; /* typed, not yet taken by the FIFO */
	bool held_p;   /* a Ctrl-P waits for what follows it */
	bool detached;
	bool in_eof;
};

static void close_in(struct tty_attach *a)
{
	if (a->in_fd >= 0)
		close(a->in_fd);
	a->in_fd = -1;
}

/* Our stdin → in; Ctrl-P Ctrl-Q detaches when asked for. */
static void take_input(struct loop *l)
{
	char chunk[4096];
	ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		l->in_eof = true;
		if (!l->in.len)
			close_in(l->a);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		char ch = chunk[i];
		if (l->a->detach_keys) {
			if (l->held_p) {
				l->held_p = false;
				if (ch == CTRL_Q) {
					l->detached = true;
					return;
				}
				char p = CTRL_P;
				buf_add(&l->in, &p, 1);
				if (ch == CTRL_P) {
					l->held_p = true;
					continue;
				}
			} else if (ch == CTRL_P) {
				l->held_p = true;
				continue;
			}
		}
		buf_add(&l->in, &ch, 1);
	}
}

static void give_input(struct loop *l)
{
	ssize_t n = write(l->a->in_fd, l->in.data, l->in.len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n < 0) { /* nobody reads the FIFO any more (the shim is gone) */
		close_in(l->a);
		buf_reset(&l->in);
		return;
	}
	memmove(l->in.data, l->in.data + n, l->in.len - (size_t)n);
	l->in.len -= (size_t)n;
	if (!l->in.len && l->in_eof)
		close_in(l->a);
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = {.fd = fd, .events = POLLOUT};
			poll(&pf, 1, 1000);
			continue;
		}
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

/* An output FIFO → our fd; false at its end. */
static bool copy_output(int from, int to)
{
	char buf[16384];
	for (;;) {
		ssize_t n = read(from, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			write_all(to, buf, (size_t)n);
			continue;
		}
		return n != 0; /* EAGAIN: all taken; 0: the end */
	}
}

static void take_signals(struct loop *l)
{
	struct signalfd_siginfo si;
	while (read(l->a->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int sig = (int)si.ssi_signo;
		if (sig == SIGWINCH)
			send_size(l->a);
		else if (l->a->on_signal)
			l->a->on_signal(l->a->arg, sig);
		else
			l->detached = true;
	}
}

int tty_attach_run(struct tty_attach *a, err_t *err)
{
	cleanup_free char *e = client_escape(a->id);
	cleanup_free char *x = a->exec_id ? client_escape(a->exec_id) : NULL;
	cleanup_free char *path = x ? cli_ns_path(a->cli, "/containers/%s/task/exec/%s/wait", e, x)
				    : cli_ns_path(a->cli, "/containers/%s/task/wait", e);
	struct client_async *as = client_async_new(a->c, "POST", path, NULL);
	struct loop l = {.a = a, .in = BUF_INIT};
	enum { SIGNALS, STDIN, FIFO_IN, FIFO_OUT, FIFO_ERR };
	struct pollfd fds[5];
	int map[5];
	bool out_open = a->out_fd >= 0, err_open = a->err_fd >= 0, done = false;
	send_size(a); /* the size may have changed since the task was made */
	while (!done && !l.detached) {
		unsigned n = 0;
		fds[n] = (struct pollfd){.fd = a->sigfd, .events = POLLIN};
		map[n++] = SIGNALS;
		if (a->in_fd >= 0 && !l.in_eof && l.in.len < IN_MAX) {
			fds[n] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
			map[n++] = STDIN;
		}
		if (a->in_fd >= 0 && l.in.len) {
			fds[n] = (struct pollfd){.fd = a->in_fd, .events = POLLOUT};
			map[n++] = FIFO_IN;
		}
		if (out_open) {
			fds[n] = (struct pollfd){.fd = a->out_fd, .events = POLLIN};
			map[n++] = FIFO_OUT;
		}
		if (err_open) {
			fds[n] = (struct pollfd){.fd = a->err_fd, .events = POLLIN};
			map[n++] = FIFO_ERR;
		}
		done = client_async_poll(as, fds, n, -1);
		for (unsigned k = 0; k < n; k++) {
			if (!fds[k].revents)
				continue;
			switch (map[k]) {
			case SIGNALS:
				take_signals(&l);
				break;
			case STDIN:
				take_input(&l);
				break;
			case FIFO_IN:
				if (a->in_fd >= 0)
					give_input(&l);
				break;
			case FIFO_OUT:
				out_open = copy_output(a->out_fd, STDOUT_FILENO);
				break;
			case FIFO_ERR:
				err_open = copy_output(a->err_fd, STDERR_FILENO);
				break;
			}
		}
	}
	buf_release(&l.in);
	if (l.detached) {
		json_t *ignored = NULL;
		err_t werr = NULL;
		/* the wait is not over: dropping it leaves the task as it is */
		client_async_finish(as, &ignored, &werr);
		json_decref(ignored);
		err_free(&werr);
		return TTY_DETACHED;
	}
	if (a->in_fd >= 0)
		close(a->in_fd);
	a->in_fd = -1;
	cleanup_json json_t *reply = NULL;
	if (client_async_finish(as, &reply, err) != CLIENT_OK)
		return TTY_FAILED;
	/* the rest of its output: up to the end, or a second of silence */
	while (out_open || err_open) {
		struct pollfd p[2];
		unsigned n = 0;
		if (out_open)
			p[n++] = (struct pollfd){.fd = a->out_fd, .events = POLLIN};
		if (err_open)
			p[n++] = (struct pollfd){.fd = a->err_fd, .events = POLLIN};
		int r = poll(p, n, 1000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (unsigned k = 0; k < n; k++) {
			if (!p[k].revents)
				continue;
			if (p[k].fd == a->out_fd)
				out_open = copy_output(a->out_fd, STDOUT_FILENO);
			else
				err_open = copy_output(a->err_fd, STDERR_FILENO);
		}
	}
	json_t *st = json_object_get(reply, "exit_status");
	if (!json_is_integer(st)) {
		make_error(err, E_INTERNAL, 0, "the wait answered no exit status");
		return TTY_FAILED;
	}
	return (int)(json_integer_value(st) & 0xff);
}

void tty_attach_release(struct tty_attach *a)
{
	client_free(a->ctl);
	a->ctl = NULL;
}
