#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "core/err.h"
#include "shim/shim.h"

#define LINE_MAX_BYTES (64 * 1024) /* a request line longer than this closes the connection */
#define OUT_MAX_BYTES (4 << 20)    /* a client that reads nothing is dropped past this */

/* One client of shim.sock; its requests are answered in order. */
struct conn {
	struct conn *next;
	struct shim *s;
	struct bufferevent *bev;
	struct req *head, **tail; /* requests not yet sent an answer */
	bool eof;                 /* the client shut its side: close once answered */
};

static void conn_close(struct conn *c)
{
	struct shim *s = c->s;
	for (struct conn **p = &s->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	struct req *r = c->head;
	while (r) {
		struct req *next = r->next;
		if (r->answer) {
			req_free(r);
		} else {
			r->conn = NULL; /* queued: task.c frees it when it is done */
		}
		r = next;
	}
	bufferevent_free(c->bev);
	free(c);
	if (s->exiting && !s->conns)
		event_base_loopexit(s->base, NULL);
}

/* Close c if it has nothing more to say and either side is done. */
static bool maybe_close(struct conn *c)
{
	if ((c->eof || c->s->exiting) && !c->head &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_close(c);
		return true;
	}
	return false;
}

static void send_line(struct conn *c, const char *line)
{
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > OUT_MAX_BYTES)
		return;
	bufferevent_write(c->bev, line, strlen(line));
}

void ctl_answer(struct shim *s UNUSED, struct req *r, char *line)
{
	struct conn *c = r->conn;
	r->answer = line;
	if (!c) {
		req_free(r);
		return;
	}
	while (c->head && c->head->answer) {
		struct req *h = c->head;
		c->head = h->next;
		if (!c->head)
			c->tail = &c->head;
		send_line(c, h->answer);
		req_free(h);
	}
}

void ctl_broadcast(struct shim *s, const char *line)
{
	for (struct conn *c = s->conns; c; c = c->next)
		send_line(c, line);
}

static void handle_line(struct conn *c, const char *line, size_t len)
{
	struct shim *s = c->s;
	struct req *r = xzalloc(sizeof(*r));
	r->conn = c;
	*c->tail = r;
	c->tail = &r->next;
	cleanup_err err_t err = NULL;
	if (proto_parse_request(line, len, &r->rq, &err) < 0) {
		ctl_answer(s, r, proto_answer_error(r->rq.has_id, r->rq.id, err->kind, err->msg));
		return;
	}
	if (s->exiting) {
		ctl_answer(s, r, proto_answer_error(true, r->rq.id, E_UNAVAILABLE,
						    "the task is deleted, the shim is exiting"));
		return;
	}
	task_request(s, c, r);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;
	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF))) {
		while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
			len--;
		if (len)
			handle_line(c, line, len);
		free(line);
	}
	if (evbuffer_get_length(in) > LINE_MAX_BYTES)
		conn_close(c);
}

static void write_cb(struct bufferevent *bev UNUSED, void *arg)
{
	maybe_close(arg);
}

static void event_cb(struct bufferevent *bev UNUSED, short what, void *arg)
{
	struct conn *c = arg;
	if (what & BEV_EVENT_ERROR) {
		conn_close(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->eof = true;
		bufferevent_disable(c->bev, EV_READ);
		maybe_close(c);
	}
}

static void accept_cb(evutil_socket_t lfd, short what UNUSED, void *arg)
{
	struct shim *s = arg;
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return; /* EAGAIN, or a transient error: the next event retries */
		struct conn *c = xzalloc(sizeof(*c));
		c->s = s;
		c->tail = &c->head;
		c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
		bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
		bufferevent_enable(c->bev, EV_READ);
		c->next = s->conns;
		s->conns = c;
	}
}

int ctl_listen(struct shim *s, err_t *err)
{
	cleanup_free char *path = shim_path(s, "shim.sock");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return make_error(err, E_INVALID_ARGUMENT, 0, "socket path `%s` is too long", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return make_error(err, E_INTERNAL, errno, "socket");
	unlink(path);
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, 16) < 0) {
		int saved = errno;
		close(fd);
		return make_error(err, E_INTERNAL, saved, "listen on `%s`", path);
	}
	s->listen_fd = fd;
	s->listen_ev = event_new(s->base, fd, EV_READ | EV_PERSIST, accept_cb, s);
	event_add(s->listen_ev, NULL);
	return 0;
}

void ctl_unlisten(struct shim *s)
{
	if (s->listen_ev)
		event_free(s->listen_ev);
	s->listen_ev = NULL;
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		cleanup_free char *path = shim_path(s, "shim.sock");
		unlink(path);
	}
	s->listen_fd = -1;
}

bool ctl_flush_close(struct shim *s)
{
	struct conn *c = s->conns;
	while (c) {
		struct conn *next = c->next;
		maybe_close(c);
		c = next;
	}
	return !s->conns;
}

void ctl_release(struct shim *s)
{
	ctl_unlisten(s);
	while (s->conns)
		conn_close(s->conns);
}
