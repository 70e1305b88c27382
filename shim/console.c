/*
 * console: a process's terminal (shim.h). The runtime allocates the pty in
 * the container and sends its master over the console socket (SCM_RIGHTS);
 * the shim keeps it and copies client stdin FIFO → master and master →
 * client stdout FIFO (and the log), through io.c's bounded copies. Nothing
 * here is tied to the init task: an exec process gets its own console.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "core/err.h"
#include "shim/shim.h"

struct console {
	struct shim *s;
	int listen_fd;          /* the console socket until the master came */
	char *dir;              /* its private directory */
	char *path;             /* <dir>/pty.sock */
	int master;             /* the pty master, -1 before console_receive */
	int in_fifo, out_fifo;  /* client FIFOs until console_start, -1: none */
	int log_fd;             /* borrowed, -1: none */
	struct io_copy *in;     /* in_fifo → master */
	struct io_copy *out;    /* master → out_fifo and log */
	bool stdin_closed;      /* closeio: VEOF sent or due */
};

static void remove_socket(struct console *c)
{
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	c->listen_fd = -1;
	if (c->path)
		unlink(c->path);
	if (c->dir)
		rmdir(c->dir);
	free(c->path);
	free(c->dir);
	c->path = c->dir = NULL;
}

/* A client FIFO, read-write so that neither end ever sees the other go. */
static int open_fifo(const char *what, const char *path, int *fd, err_t *err)
{
	*fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0)
		return make_error(err, E_INVALID_ARGUMENT, errno, "open %s `%s`", what, path);
	return 0;
}

/* The socket lives in a private directory in /tmp, as containerd's: the
 * task directory may be deeper than sun_path's 108 bytes. */
static int make_socket(struct console *c, err_t *err)
{
	c->dir = xstrdup("/tmp/berth-pty-XXXXXX");
	if (!mkdtemp(c->dir)) {
		int e = errno;
		free(c->dir);
		c->dir = NULL;
		return make_error(err, E_INTERNAL, e, "mkdtemp /tmp/berth-pty-XXXXXX");
	}
	c->path = xasprintf("%s/pty.sock", c->dir);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(c->path) >= sizeof(sa.sun_path))
		return make_error(err, E_INTERNAL, 0, "console socket path `%s` is too long",
				  c->path);
	strcpy(sa.sun_path, c->path);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(c->listen_fd, 1) < 0)
		return make_error(err, E_INTERNAL, errno, "console socket `%s`", c->path);
	return 0;
}

struct console *console_new(struct shim *s, const char *stdin_path, const char *stdout_path,
			    int log_fd, err_t *err)
{
	struct console *c = xzalloc(sizeof(*c));
	c->s = s;
	c->listen_fd = c->master = c->in_fifo = c->out_fifo = -1;
	c->log_fd = log_fd;
	if ((stdin_path && open_fifo("stdin", stdin_path, &c->in_fifo, err) < 0) ||
	    (stdout_path && open_fifo("stdout", stdout_path, &c->out_fifo, err) < 0) ||
	    make_socket(c, err) < 0) {
		console_free(c);
		return NULL;
	}
	return c;
}

const char *console_socket(const struct console *c)
{
	return c->path;
}

/* One message with the master: runc sends the pty's name as data and the
 * fd as SCM_RIGHTS. */
static int recv_fd(int sock, err_t *err)
{
	char name[4096];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = name, .iov_len = sizeof(name) };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	ssize_t n;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return make_error(err, E_INTERNAL, errno, "receive the terminal from the runtime");
	int fd = -1;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int fds[4];
		if (nfds > ARRAY_SIZE(fds))
			nfds = ARRAY_SIZE(fds);
		memcpy(fds, CMSG_DATA(cm), nfds * sizeof(int));
		for (size_t i = 0; i < nfds; i++) {
			if (fd < 0)
				fd = fds[i];
			else
				close(fds[i]);
		}
	}
	if (fd < 0)
		return make_error(err, E_INTERNAL, 0,
				  "the runtime sent no terminal on the console socket%s",
				  msg.msg_flags & MSG_CTRUNC ? " (truncated)" : "");
	return fd;
}

int console_receive(struct console *c, err_t *err)
{
	int conn;
	do
		conn = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	while (conn < 0 && errno == EINTR);
	if (conn < 0) {
		int e = errno;
		remove_socket(c);
		if (e == EAGAIN || e == EWOULDBLOCK)
			return make_error(err, E_INTERNAL, 0,
					  "the runtime did not connect to the console socket");
		return make_error(err, E_INTERNAL, e, "accept on the console socket");
	}
	int fd = recv_fd(conn, err);
	close(conn);
	remove_socket(c);
	if (fd < 0)
		return -1;
	c->master = fd;
	return 0;
}

/* closeio: the stdin copy has written what it held. */
static void send_eof(struct io_copy *io UNUSED, void *arg)
{
	struct console *c = arg;
	struct termios t;
	char eof = 4; /* ^D, VEOF's default */
	if (c->master < 0 || !c->stdin_closed)
		return;
	if (tcgetattr(c->master, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE)
		eof = (char)t.c_cc[VEOF];
	if (write(c->master, &eof, 1) < 0) {
		/* the process is gone or its input is full: nothing more to do */
	}
}

void console_start(struct console *c)
{
	if (c->master < 0)
		return;
	int out = dup(c->master);
	int in = c->in_fifo >= 0 ? dup(c->master) : -1;
	if (out >= 0) {
		fcntl(out, F_SETFD, FD_CLOEXEC);
		c->out = io_copy_new(c->s, out, c->out_fifo, c->log_fd, true);
		c->out_fifo = -1;
		io_copy_start(c->out);
	}
	if (in >= 0) {
		fcntl(in, F_SETFD, FD_CLOEXEC);
		c->in = io_copy_new(c->s, c->in_fifo, in, -1, false);
		c->in_fifo = -1;
		io_copy_on_done(c->in, send_eof, c);
		io_copy_start(c->in);
	}
}

int console_resize(struct console *c, unsigned width, unsigned height, err_t *err)
{
	if (c->master < 0)
		return make_error(err, E_FAILED_PRECONDITION, 0, "the terminal is not ready");
	struct winsize ws = { .ws_row = (unsigned short)height, .ws_col = (unsigned short)width };
	if (ioctl(c->master, TIOCSWINSZ, &ws) < 0)
		return make_error(err, E_INTERNAL, errno, "resize the terminal");
	return 0;
}

void console_close_stdin(struct console *c)
{
	if (c->stdin_closed)
		return;
	c->stdin_closed = true;
	if (c->in && !io_copy_done(c->in))
		io_copy_close_input(c->in); /* send_eof once its buffer is out */
	else
		send_eof(NULL, c);
}

bool console_output_done(const struct console *c)
{
	return !c->out || io_copy_done(c->out);
}

void console_free(struct console *c)
{
	if (!c)
		return;
	remove_socket(c);
	io_copy_free(c->in);
	io_copy_free(c->out);
	if (c->master >= 0)
		close(c->master);
	if (c->in_fifo >= 0)
		close(c->in_fifo);
	if (c->out_fifo >= 0)
		close(c->out_fifo);
	free(c);
}
