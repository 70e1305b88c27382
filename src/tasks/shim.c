#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "core/log.h"
#include "core/loop.h"
#include "core/util.h"
#include "tasks/internal.h"

/* ---- spawning --------------------------------------------------------------- */

struct spawn {
	int fd; /* read end of P1's stdout */
	shim_spawn_cb cb;
	void *data;
	char *dir;
};

static void spawn_exit_cb(pid_t pid, int status, void *arg)
{
	struct spawn *s = arg;
	struct buf out = BUF_INIT;
	char tmp[4096];
	for (;;) {
		ssize_t n = read(s->fd, tmp, sizeof(tmp));
		if (n > 0) {
			if (out.len < 64 * 1024)
				buf_add(&out, tmp, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	close(s->fd);
	err_t err = NULL;
	pid_t init_pid = 0;
	cleanup_json json_t *j = NULL;
	if (out.len) {
		json_error_t jerr;
		j = json_loadb(out.data, out.len, JSON_DISABLE_EOF_CHECK, &jerr);
	}
	json_t *e = j ? json_object_get(j, "error") : NULL;
	if (e) {
		const char *code = json_get_string(e, "code");
		const char *msg = json_get_string(e, "message");
		make_error(&err, err_kind_from_code(code), 0, "%s",
			   msg ? msg : "the shim failed");
	} else if (j && json_is_integer(json_object_get(j, "pid")) &&
		   WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		init_pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
	} else {
		char how[64];
		if (WIFSIGNALED(status))
			snprintf(how, sizeof(how), "was killed by signal %d", WTERMSIG(status));
		else
			snprintf(how, sizeof(how), "exited with status %d", WEXITSTATUS(status));
		make_error(&err, E_INTERNAL, 0, "berth-shim for `%s` %s without reporting%s%.*s",
			   s->dir, how, out.len ? ": " : "", (int)(out.len > 512 ? 512 : out.len),
			   out.data ? out.data : "");
	}
	buf_release(&out);
	s->cb(s->data, init_pid, err ? &err : NULL);
	err_free(&err);
	free(s->dir);
	free(s);
}

int shim_spawn(struct daemon *d, const char *shim_bin, const char *dir, shim_spawn_cb cb,
	       void *data, err_t *err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return make_error(err, E_INTERNAL, errno, "pipe");
	char *argv[] = { (char *)"berth-shim", (char *)dir, NULL };
	pid_t pid;
	int rc = task_spawn(shim_bin, argv, p[1], &pid);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		return make_error(err, E_FAILED_PRECONDITION, rc, "cannot start `%s`", shim_bin);
	}
	struct spawn *s = xzalloc(sizeof(*s));
	s->fd = p[0];
	s->cb = cb;
	s->data = data;
	s->dir = xstrdup(dir);
	child_watch(d, pid, spawn_exit_cb, s);
	return 0;
}

/* ---- the control connection ------------------------------------------------- */

struct call {
	int64_t id;
	shim_reply_cb cb;
	void *data;
	struct call *next;
};

struct shim_conn {
	struct bufferevent *bev;
	const struct shim_conn_ops *ops;
	void *data;
	int64_t next_id;
	struct call *calls, **calls_tail;
	int busy;     /* inside a callback: freeing is deferred */
	bool doomed;  /* shim_conn_free() ran while busy */
	bool closed;  /* hung up: closed() ran or must not */
};

static void conn_release(struct shim_conn *c)
{
	if (c->bev)
		bufferevent_free(c->bev);
	c->bev = NULL;
}

/* Answer every waiting call with an error (the connection is gone). */
static void fail_calls(struct shim_conn *c, const char *why)
{
	while (c->calls) {
		struct call *k = c->calls;
		c->calls = k->next;
		if (!c->calls)
			c->calls_tail = &c->calls;
		err_t err = NULL;
		make_error(&err, E_UNAVAILABLE, 0, "%s", why);
		c->busy++;
		k->cb(k->data, NULL, &err);
		c->busy--;
		err_free(&err);
		free(k);
	}
}

static void conn_destroy(struct shim_conn *c)
{
	conn_release(c);
	free(c);
}

static void hangup(struct shim_conn *c, const char *why)
{
	if (c->closed)
		return;
	c->closed = true;
	conn_release(c);
	fail_calls(c, why);
	if (!c->doomed && c->ops->closed) {
		c->busy++;
		c->ops->closed(c->data);
		c->busy--;
	}
}

static void dispatch(struct shim_conn *c, const char *line, size_t len)
{
	json_error_t jerr;
	cleanup_json json_t *j = json_loadb(line, len, 0, &jerr);
	if (!j || !json_is_object(j)) {
		log_warn("unreadable line from a shim", "error=%s", j ? "not an object" : jerr.text);
		return;
	}
	const char *ev = json_get_string(j, "event");
	if (ev) {
		if (c->ops->event)
			c->ops->event(c->data, ev, json_object_get(j, "params"));
		return;
	}
	json_t *id = json_object_get(j, "id");
	struct call *k = c->calls;
	if (!k || !json_is_integer(id) || json_integer_value(id) != k->id) {
		log_warn("unexpected answer from a shim", "id=%lld",
			 json_is_integer(id) ? (long long)json_integer_value(id) : -1LL);
		return;
	}
	c->calls = k->next;
	if (!c->calls)
		c->calls_tail = &c->calls;
	json_t *e = json_object_get(j, "error");
	if (e) {
		err_t err = NULL;
		const char *code = json_get_string(e, "code");
		const char *msg = json_get_string(e, "message");
		make_error(&err, err_kind_from_code(code), 0, "%s",
			   msg ? msg : "the shim failed");
		k->cb(k->data, NULL, &err);
		err_free(&err);
	} else {
		json_t *res = json_object_get(j, "result");
		cleanup_json json_t *empty = json_object();
		k->cb(k->data, res ? res : empty, NULL);
	}
	free(k);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct shim_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	c->busy++;
	while (!c->doomed && !c->closed) {
		size_t n;
		char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF);
		if (!line) {
			if (evbuffer_get_length(in) > 4 * 1024 * 1024)
				hangup(c, "the shim sent a line over 4 MiB");
			break;
		}
		dispatch(c, line, n);
		free(line);
	}
	c->busy--;
	if (c->doomed && !c->busy)
		conn_destroy(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct shim_conn *c = arg;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	/* answers still buffered come first */
	read_cb(bev, arg);
	if (c->doomed || c->closed)
		return;
	c->busy++;
	hangup(c, "the shim closed its connection");
	c->busy--;
	if (c->doomed && !c->busy)
		conn_destroy(c);
}

struct shim_conn *shim_connect(struct daemon *d, const char *sock, const struct shim_conn_ops *ops,
			       void *data, err_t *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(sock) >= sizeof(sa.sun_path)) {
		make_error(err, E_INTERNAL, 0, "shim socket path `%s` is too long", sock);
		return NULL;
	}
	strcpy(sa.sun_path, sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		make_error(err, E_INTERNAL, errno, "socket");
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		make_error(err, E_UNAVAILABLE, errno, "cannot connect to the shim at `%s`", sock);
		close(fd);
		return NULL;
	}
	struct shim_conn *c = xzalloc(sizeof(*c));
	c->ops = ops;
	c->data = data;
	c->calls_tail = &c->calls;
	c->next_id = 1;
	c->bev = bufferevent_socket_new(d->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return c;
}

void shim_call(struct shim_conn *c, const char *method, json_t *params, shim_reply_cb cb,
	       void *data)
{
	struct call *k = xzalloc(sizeof(*k));
	k->id = c->next_id++;
	k->cb = cb;
	k->data = data;
	if (c->closed) {
		json_decref(params);
		err_t err = NULL;
		make_error(&err, E_UNAVAILABLE, 0, "the shim is not connected");
		c->busy++;
		cb(data, NULL, &err);
		c->busy--;
		err_free(&err);
		free(k);
		if (c->doomed && !c->busy)
			conn_destroy(c);
		return;
	}
	*c->calls_tail = k;
	c->calls_tail = &k->next;
	cleanup_json json_t *req = json_pack("{s:I,s:s}", "id", (json_int_t)k->id, "method", method);
	if (params)
		json_object_set_new(req, "params", params);
	char *s = json_dumps(req, JSON_COMPACT);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_add(out, s, strlen(s));
	evbuffer_add(out, "\n", 1);
	free(s);
}

void shim_conn_free(struct shim_conn *c)
{
	if (!c || c->doomed)
		return;
	c->doomed = true;
	c->busy++;
	if (!c->closed) {
		c->closed = true;
		conn_release(c);
		fail_calls(c, "the connection to the shim was closed");
	}
	c->busy--;
	if (!c->busy)
		conn_destroy(c);
}
