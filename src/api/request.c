#include "config.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "api/request.h"
#include "api/server.h"
#include "core/filter.h"
#include "core/log.h"

static void peer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct peer_watch *w = arg;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	event_del(w->ev);
	if (n > 0)
		return; /* the client sent more: MHD reads it once resumed */
	w->gone(w->data);
}

static void peer_watch_start(struct peer_watch *w, struct daemon *d, struct MHD_Connection *conn,
			     void (*gone)(void *), void *data)
{
	if (!w->ev) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!ci)
			return;
		w->ev = event_new(d->base, ci->connect_fd, EV_READ | EV_PERSIST, peer_cb, w);
		w->gone = gone;
		w->data = data;
	}
	event_add(w->ev, NULL);
}

static void peer_watch_stop(struct peer_watch *w)
{
	if (w->ev)
		event_del(w->ev);
}

static void peer_watch_release(struct peer_watch *w)
{
	if (w->ev)
		event_free(w->ev);
	w->ev = NULL;
}

struct request *request_new(struct daemon *d, struct http_listener *l, const char *uri)
{
	struct request *r = xzalloc(sizeof(*r));
	r->d = d;
	r->listener = l;
	r->raw_uri = xstrdup(uri ? uri : "/");
	r->start_ns = time_mono_ns();
	r->match.index = -1;
	return r;
}

void request_free(struct request *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nquery; i++) {
		free(r->query[i].key);
		free(r->query[i].value);
	}
	free(r->query);
	peer_watch_release(&r->watch);
	route_match_release(&r->match);
	if (r->response)
		MHD_destroy_response(r->response);
	buf_release(&r->body);
	free(r->path);
	free(r->raw_uri);
	free(r);
}

int request_parse_uri(struct request *r, err_t *err)
{
	const char *q = strchr(r->raw_uri, '?');
	const char *end = q ? q : r->raw_uri + strlen(r->raw_uri);
	const char *hash = memchr(r->raw_uri, '#', (size_t)(end - r->raw_uri));
	if (hash)
		end = hash;
	r->path = xstrndup(r->raw_uri, (size_t)(end - r->raw_uri));
	if (!q)
		return 0;
	const char *p = q + 1;
	while (*p && *p != '#') {
		size_t len = strcspn(p, "&#");
		if (len) {
			const char *eq = memchr(p, '=', len);
			size_t klen = eq ? (size_t)(eq - p) : len;
			char *k = url_decode(p, klen, true, err);
			if (!k)
				return error_wrap(err, "query string");
			char *v = eq ? url_decode(eq + 1, len - klen - 1, true, err) : xstrdup("");
			if (!v) {
				error_wrap(err, "query parameter `%s`", k);
				free(k);
				return -1;
			}
			if (r->nquery >= 64) {
				free(k);
				free(v);
				return make_error(err, E_INVALID_ARGUMENT, 0,
						  "more than 64 query parameters");
			}
			ALLOC_GROW(r->query, r->nquery + 1, r->query_alloc);
			r->query[r->nquery++] = (struct query_arg){ k, v };
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return 0;
}

const char *request_param(const struct request *r, const char *name)
{
	for (size_t i = 0; i < r->match.nparams; i++)
		if (strcmp(r->match.names[i], name) == 0)
			return r->match.values[i];
	return NULL;
}

const char *request_query(const struct request *r, const char *key)
{
	for (size_t i = 0; i < r->nquery; i++)
		if (strcmp(r->query[i].key, key) == 0)
			return r->query[i].value;
	return NULL;
}

size_t request_query_all(const struct request *r, const char *key, const char ***out)
{
	size_t n = 0;
	const char **v = xcalloc(r->nquery + 1, sizeof(*v));
	for (size_t i = 0; i < r->nquery; i++)
		if (strcmp(r->query[i].key, key) == 0)
			v[n++] = r->query[i].value;
	*out = v;
	return n;
}

int request_check_query(const struct request *r, const char *const *allowed, err_t *err)
{
	for (size_t i = 0; i < r->nquery; i++) {
		const char *const *a = allowed;
		while (*a && strcmp(*a, r->query[i].key) != 0)
			a++;
		if (!*a)
			return make_error(err, E_INVALID_ARGUMENT, 0, "unknown query parameter `%s`",
					  r->query[i].key);
	}
	return 0;
}

int request_filter(const struct request *r, struct filter **out, err_t *err)
{
	*out = NULL;
	cleanup_free const char **exprs = NULL;
	size_t n = request_query_all(r, "filter", &exprs);
	if (n == 0)
		return 0;
	return filter_parse(out, exprs, n, err);
}

int request_query_bool(const struct request *r, const char *key, bool def, bool *out, err_t *err)
{
	const char *v = request_query(r, key);
	if (!v) {
		*out = def;
		return 0;
	}
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || *v == '\0')
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = false;
	else
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "query parameter `%s` must be true or false, got `%s`", key, v);
	return 0;
}

const char *request_header(const struct request *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

json_t *request_json(const struct request *r, err_t *err)
{
	return json_parse_body(r->body.data, r->body.len, err);
}

struct MHD_Response *response_json(json_t *body)
{
	size_t len;
	char *text = json_dump_compact(body, &len);
	/* a trailing newline makes curl output readable */
	text = xrealloc(text, len + 2);
	text[len++] = '\n';
	text[len] = '\0';
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	return resp;
}

struct MHD_Response *response_error(const struct err *e, unsigned allowed)
{
	/* the message may quote what the client sent, valid UTF-8 or not */
	json_t *body = json_pack("{s:{s:s,s:o}}", "error", "code", err_kind_code(e->kind),
				 "message", json_string_lossy(e->msg ? e->msg : ""));
	struct MHD_Response *resp = response_json(body);
	json_decref(body);
	if (e->kind == E_METHOD_NOT_ALLOWED && allowed) {
		char allow[128];
		router_allow_header(allowed, allow, sizeof(allow));
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	}
	if (e->kind == E_UNAUTHENTICATED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"berth\"");
	return resp;
}

void reply_response(struct request *r, int status, struct MHD_Response *resp)
{
	if (r->response || r->state == REQ_QUEUED) {
		/* a handler answered twice: keep the first answer */
		log_error("request answered twice", "path=%s status=%d", r->path, status);
		MHD_destroy_response(resp);
		return;
	}
	r->response = resp;
	r->status = status;
	r->on_abort = NULL;
	r->abort_data = NULL;
	if (r->state == REQ_PENDING && r->suspended) {
		r->suspended = false;
		peer_watch_stop(&r->watch);
		MHD_resume_connection(r->conn);
		http_server_kick(r->d);
	}
}

/* The client of a pending request hung up: let the service forget the
 * request, then resume the connection so that MHD closes it. */
static void request_peer_gone(void *data)
{
	struct request *r = data;
	if (!r->suspended)
		return;
	r->peer_gone = true;
	if (r->on_abort) {
		void (*cb)(struct request *, void *) = r->on_abort;
		r->on_abort = NULL;
		cb(r, r->abort_data);
	}
	r->suspended = false;
	MHD_resume_connection(r->conn);
	http_server_kick(r->d);
}

void request_suspend(struct request *r)
{
	r->state = REQ_PENDING;
	r->suspended = true;
	MHD_suspend_connection(r->conn);
	peer_watch_start(&r->watch, r->d, r->conn, request_peer_gone, r);
}

void reply_json(struct request *r, int status, json_t *body)
{
	reply_response(r, status, response_json(body));
	json_decref(body);
}

void reply_error(struct request *r, err_t *err)
{
	if (!err || !*err) {
		reply_errorf(r, E_INTERNAL, "unknown error");
		return;
	}
	if ((*err)->kind == E_INTERNAL)
		log_error("internal error", "method=%s path=%s err=%s",
			  http_method_name(r->method), r->path, (*err)->msg);
	reply_response(r, err_kind_http_status((*err)->kind),
		       response_error(*err, r->match.allowed));
	err_free(err);
}

void reply_errorf(struct request *r, enum err_kind kind, const char *fmt, ...)
{
	err_t e = NULL;
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	make_error(&e, kind, 0, "%s", b.data ? b.data : "");
	buf_release(&b);
	reply_error(r, &e);
}

void reply_empty(struct request *r, int status)
{
	reply_response(r, status,
		       MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT));
}

void reply_data(struct request *r, int status, const char *content_type, char *data, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	reply_response(r, status, resp);
}

void request_defer(struct request *r, void (*on_abort)(struct request *, void *), void *data)
{
	r->on_abort = on_abort;
	r->abort_data = data;
}

void request_stream_body(struct request *r, request_body_cb on_body, request_body_end_cb on_end,
			 void *arg)
{
	r->on_body = on_body;
	r->on_body_end = on_end;
	r->body_arg = arg;
}

/* ---- streams ---------------------------------------------------------- */

struct http_stream {
	struct daemon *d;
	struct MHD_Connection *conn;
	const struct http_stream_ops *ops;
	void *data;
	struct buf out;
	size_t off; /* bytes of out already handed to MHD */
	bool suspended;
	bool finished;
	bool peer_gone; /* the client hung up while the stream was idle */
	struct peer_watch watch;
};

static void stream_peer_gone(void *data)
{
	struct http_stream *s = data;
	s->peer_gone = true;
	http_stream_wake(s);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_stream *s = cls;
	if (s->peer_gone)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (s->off == s->out.len && !s->finished) {
		buf_reset(&s->out);
		s->off = 0;
		int r = s->ops->fill(s, &s->out, s->data);
		if (r < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (r > 0)
			s->finished = true;
	}
	size_t avail = s->out.len - s->off;
	if (avail) {
		size_t n = avail < max ? avail : max;
		memcpy(buf, s->out.data + s->off, n);
		s->off += n;
		return (ssize_t)n;
	}
	if (s->finished)
		return MHD_CONTENT_READER_END_OF_STREAM;
	/* nothing to send: park the connection until http_stream_wake() */
	s->suspended = true;
	MHD_suspend_connection(s->conn);
	peer_watch_start(&s->watch, s->d, s->conn, stream_peer_gone, s);
	return 0;
}

static void stream_free_cb(void *cls)
{
	struct http_stream *s = cls;
	if (s->ops->closed)
		s->ops->closed(s, s->data);
	peer_watch_release(&s->watch);
	buf_release(&s->out);
	free(s);
}

struct http_stream *reply_stream(struct request *r, int status, const char *content_type,
				 const char *const *headers, const struct http_stream_ops *ops,
				 void *data)
{
	struct http_stream *s = xzalloc(sizeof(*s));
	s->d = r->d;
	s->conn = r->conn;
	s->ops = ops;
	s->data = data;
	struct MHD_Response *resp = MHD_create_response_from_callback(
		MHD_SIZE_UNKNOWN, 16 * 1024, stream_reader, s, stream_free_cb);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	for (const char *const *h = headers; h && h[0]; h += 2)
		MHD_add_response_header(resp, h[0], h[1]);
	reply_response(r, status, resp);
	return s;
}

void http_stream_wake(struct http_stream *s)
{
	if (!s->suspended)
		return;
	s->suspended = false;
	peer_watch_stop(&s->watch);
	MHD_resume_connection(s->conn);
	http_server_kick(s->d);
}

void http_stream_set_timeout(struct http_stream *s, unsigned seconds)
{
	MHD_set_connection_option(s->conn, MHD_CONNECTION_OPTION_TIMEOUT, seconds);
}
