#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include <event2/buffer.h>

#include "core/err.h"
#include "shim/shim.h"

/* Bytes held for a slow reader before the container's writes block. */
#define IO_MAX (64 * 1024)

/* One direction of copying: in (a pipe from the container, or the client's
 * stdin FIFO) to out (the client's FIFO, or the container's stdin pipe)
 * and, for output, the log file. */
struct io_copy {
	struct shim *s;
	int in, out;
	int log;                /* its proc_io's log_fd, not owned */
	bool output;            /* stdout or stderr */
	bool eof, done;
	struct evbuffer *buf;
	struct event *rev, *wev;
	io_done_fn on_done;     /* called once finished, if set */
	void *on_done_arg;
};

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void write_all_fd(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void finish(struct io_copy *io)
{
	if (io->done)
		return;
	io->done = true;
	if (io->out >= 0)
		close(io->out);
	io->out = -1;
	if (io->on_done)
		io->on_done(io, io->on_done_arg);
	if (io->output)
		task_output_done(io->s);
}

static void drop_out(struct io_copy *io)
{
	if (io->wev)
		event_del(io->wev);
	evbuffer_drain(io->buf, evbuffer_get_length(io->buf));
	close(io->out);
	io->out = -1;
}

/* Write what is buffered; arm the write event on EAGAIN; read again only
 * while there is room (backpressure on the container). */
static void flush(struct io_copy *io)
{
	while (io->out >= 0 && evbuffer_get_length(io->buf) > 0) {
		int n = evbuffer_write(io->buf, io->out);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(io->wev, NULL);
			break;
		}
		if (n <= 0)
			drop_out(io); /* the reader is gone for good (EPIPE) */
	}
	if (io->out >= 0 && evbuffer_get_length(io->buf) == 0)
		event_del(io->wev);
	if (io->eof) {
		if (io->out < 0 || evbuffer_get_length(io->buf) == 0)
			finish(io);
		return;
	}
	if (evbuffer_get_length(io->buf) >= IO_MAX)
		event_del(io->rev);
	else
		event_add(io->rev, NULL);
}

static void read_cb(evutil_socket_t fd, short what UNUSED, void *arg)
{
	struct io_copy *io = arg;
	char chunk[8192];
	ssize_t n = read(fd, chunk, sizeof(chunk));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		io->eof = true;
		event_del(io->rev);
		close(io->in);
		io->in = -1;
	} else {
		if (io->log >= 0)
			write_all_fd(io->log, chunk, (size_t)n);
		if (io->out >= 0)
			evbuffer_add(io->buf, chunk, (size_t)n);
	}
	flush(io);
}

static void write_cb(evutil_socket_t fd UNUSED, short what UNUSED, void *arg)
{
	flush(arg);
}

struct io_copy *io_copy_new(struct shim *s, int in, int out, int log, bool output)
{
	struct io_copy *io = xzalloc(sizeof(*io));
	io->s = s;
	io->in = in;
	io->out = out;
	io->log = log;
	io->output = output;
	set_nonblock(in);
	if (out >= 0)
		set_nonblock(out);
	return io;
}

static struct io_copy *copy_new(struct shim *s, struct proc_io *pio, int in, int out,
			       bool output)
{
	return io_copy_new(s, in, out, output ? pio->log_fd : -1, output);
}

void io_copy_on_done(struct io_copy *io, io_done_fn fn, void *arg)
{
	io->on_done = fn;
	io->on_done_arg = arg;
}

void io_copy_start(struct io_copy *io)
{
	struct shim *s = io->s;
	io->buf = evbuffer_new();
	io->rev = event_new(s->base, io->in, EV_READ | EV_PERSIST, read_cb, io);
	if (io->out >= 0)
		io->wev = event_new(s->base, io->out, EV_WRITE | EV_PERSIST, write_cb, io);
	event_add(io->rev, NULL);
}

void io_copy_close_input(struct io_copy *io)
{
	if (io->eof || io->done)
		return;
	io->eof = true;
	if (io->rev)
		event_del(io->rev);
	close(io->in);
	io->in = -1;
	if (io->buf)
		flush(io);
	else
		finish(io);
}

bool io_copy_done(const struct io_copy *io)
{
	return io->done;
}

void io_copy_free(struct io_copy *io)
{
	if (!io)
		return;
	if (io->rev)
		event_free(io->rev);
	if (io->wev)
		event_free(io->wev);
	if (io->buf)
		evbuffer_free(io->buf);
	if (io->in >= 0)
		close(io->in);
	if (io->out >= 0)
		close(io->out);
	free(io);
}

static int open_fifo(const char *what, const char *path, int flags, int *fd, err_t *err)
{
	*fd = open(path, flags | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0)
		return make_error(err, E_INVALID_ARGUMENT, errno, "open %s `%s`", what, path);
	return 0;
}

void proc_io_init(struct proc_io *pio)
{
	memset(pio, 0, sizeof(*pio));
	pio->child_fds[0] = pio->child_fds[1] = pio->child_fds[2] = -1;
	pio->log_fd = -1;
}

int io_setup(struct shim *s, struct proc_io *pio, const struct io_paths *paths, err_t *err)
{
	int p[2];
	if (paths->log) {
		pio->log_fd = open(paths->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (pio->log_fd < 0)
			return make_error(err, E_INTERNAL, errno, "open `%s`", paths->log);
	}
	if (paths->terminal) {
		pio->console = console_new(s, paths->in, paths->out, pio->log_fd, err);
		if (!pio->console)
			return -1;
	}
	if (paths->in && !paths->terminal) {
		int fifo;
		if (open_fifo("stdin", paths->in, O_RDONLY, &fifo, err) < 0)
			return -1;
		if (pipe2(p, O_CLOEXEC) < 0) {
			close(fifo);
			return make_error(err, E_INTERNAL, errno, "pipe");
		}
		pio->child_fds[0] = p[0];
		pio->io[0] = copy_new(s, pio, fifo, p[1], false);
	}
	const char *outs[3] = { NULL, paths->out, paths->err };
	for (int i = 1; i < 3; i++) {
		int out = -1;
		/* stderr is always a pipe: it carries the runtime's own errors */
		if (!outs[i] && pio->log_fd < 0 && i == 1)
			continue;
		if (paths->terminal && i == 1)
			continue; /* the terminal's output: the console's */
		if (paths->terminal)
			outs[i] = NULL; /* the runtime's own stderr, to nowhere */
		if (outs[i] && open_fifo(i == 1 ? "stdout" : "stderr", outs[i], O_RDWR, &out,
					 err) < 0)
			return -1;
		if (pipe2(p, O_CLOEXEC) < 0) {
			if (out >= 0)
				close(out);
			return make_error(err, E_INTERNAL, errno, "pipe");
		}
		pio->child_fds[i] = p[1];
		pio->io[i] = copy_new(s, pio, p[0], out, true);
	}
	return 0;
}

void io_start(struct shim *s, struct proc_io *pio)
{
	for (int i = 0; i < 3; i++) {
		if (pio->child_fds[i] >= 0)
			close(pio->child_fds[i]);
		pio->child_fds[i] = -1;
		if (pio->io[i])
			io_copy_start(pio->io[i]);
	}
	if (pio->console)
		console_start(pio->console);
}

char *io_take_stderr(struct proc_io *pio)
{
	struct buf b = BUF_INIT;
	char chunk[512];
	struct io_copy *io = pio->io[2];
	ssize_t n;
	while (io && io->in >= 0 && b.len < 4096 && (n = read(io->in, chunk, sizeof(chunk))) > 0)
		buf_add(&b, chunk, (size_t)n);
	return buf_detach(&b, NULL);
}

bool io_output_done(const struct proc_io *pio)
{
	for (int i = 1; i < 3; i++)
		if (pio->io[i] && !pio->io[i]->done)
			return false;
	return !pio->console || console_output_done(pio->console);
}

void io_close_stdin(struct proc_io *pio)
{
	if (pio->console)
		console_close_stdin(pio->console);
	else if (pio->io[0])
		io_copy_close_input(pio->io[0]);
}

void io_release(struct proc_io *pio)
{
	for (int i = 0; i < 3; i++) {
		struct io_copy *io = pio->io[i];
		if (pio->child_fds[i] >= 0)
			close(pio->child_fds[i]);
		pio->child_fds[i] = -1;
		io_copy_free(io);
		pio->io[i] = NULL;
	}
	console_free(pio->console);
	pio->console = NULL;
	if (pio->log_fd >= 0)
		close(pio->log_fd);
	pio->log_fd = -1;
}
