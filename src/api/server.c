#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/event.h>
#include <microhttpd.h>

#include "api/metrics.h"
#include "api/request.h"
#include "api/server.h"
#include "core/log.h"

struct http_listener {
	struct http_server *srv;
	struct MHD_Daemon *mhd;
	struct event *io;    /* MHD's epoll fd is readable */
	struct event *timer; /* MHD_get_timeout */
	bool tcp;            /* requires the bearer token */
	char *desc;
};

struct http_server {
	struct daemon *d;
	struct router *router;
	struct http_listener listeners[2];
	size_t nlisteners;
	struct request *inflight; /* every live request */
	size_t ninflight;
	char *token; /* the TCP listener's bearer token, NULL without one */
	size_t token_len;
	char *unix_path;
	struct event *kick;
	int bound_fd[2]; /* listening, not yet served: Unix, TCP (-1: none) */
};

static void run_listener(struct http_listener *l);

/* ---- request lifecycle -------------------------------------------------- */

static void *uri_log_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_listener *l = cls;
	struct http_server *srv = l->srv;
	struct request *r = request_new(srv->d, l, uri);
	r->conn = conn;
	r->next = srv->inflight;
	if (srv->inflight)
		srv->inflight->prev = r;
	srv->inflight = r;
	srv->ninflight++;
	return r;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_listener *l = cls;
	struct http_server *srv = l->srv;
	struct request *r = *con_cls;
	if (!r)
		return;
	*con_cls = NULL;
	if (r->on_abort) {
		void (*cb)(struct request *, void *) = r->on_abort;
		r->on_abort = NULL;
		cb(r, r->abort_data);
	}
	double secs = (double)(time_mono_ns() - r->start_ns) / 1e9;
	if (r->state == REQ_QUEUED)
		metrics_http_observe(srv->d->metrics, r->match.index, r->method, r->status, secs);
	if (log_current_level >= LOG_DEBUG)
		log_debug("request", "method=%s path=%s status=%d duration_ms=%.3f end=%d",
			  http_method_name(r->method), r->path ? r->path : r->raw_uri, r->status,
			  secs * 1000, (int)toe);
	if (r->prev)
		r->prev->next = r->next;
	else
		srv->inflight = r->next;
	if (r->next)
		r->next->prev = r->prev;
	srv->ninflight--;
	request_free(r);
}

static enum MHD_Result queue(struct request *r)
{
	struct MHD_Response *resp = r->response;
	r->response = NULL;
	r->state = REQ_QUEUED;
	enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result queue_error(struct request *r, err_t *err)
{
	reply_error(r, err);
	return queue(r);
}

/* Is the Authorization header the listener's token? Compared in constant
 * time: the time depends on the token's length only, not on its contents. */
static bool token_ok(struct http_server *srv, const char *auth)
{
	if (!srv->token || !auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	const char *tok = auth + 7;
	while (*tok == ' ')
		tok++;
	return secret_equal(tok, strlen(tok), srv->token, srv->token_len);
}

/* Headers are in: authenticate, route, check the body size. */
static int begin_request(struct request *r, const char *method, err_t *err)
{
	struct http_server *srv = r->d->http;
	r->method = http_method_parse(method);
	if (r->listener->tcp &&
	    !token_ok(srv, MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_AUTHORIZATION)))
		return make_error(err, E_UNAUTHENTICATED, 0,
				  "missing or invalid bearer token (Authorization: Bearer <token>)");
	if (request_parse_uri(r, err) < 0)
		return -1;
	if (router_match(srv->router, r->method, r->path, &r->match, err) < 0)
		return -1;
	r->body_limit = (r->match.route->flags & ROUTE_STREAM_BODY) ? r->d->cfg.max_blob_upload
								    : r->d->cfg.max_json_body;
	const char *cl =
		MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	uint64_t n;
	if (cl && parse_u64(cl, &n) && n > r->body_limit)
		return make_error(err, E_PAYLOAD_TOO_LARGE, 0,
				  "request body of %llu bytes is over the limit of %llu bytes",
				  (unsigned long long)n, (unsigned long long)r->body_limit);
	return 0;
}

/* ROUTE_STREAM_BODY: the handler runs before the body; it answers at once
 * or asks for the body with request_stream_body(). An answer at once goes
 * out at once only to a client waiting for `100 Continue`, which then
 * sends no body; any other client is sending its body already, and an
 * answer now would close the connection under its writes (a broken pipe
 * on its side, the answer lost): its body is read and dropped first, and
 * stream_body() queues the answer at its end. */
static enum MHD_Result begin_stream(struct request *r)
{
	err_t err = NULL;
	r->state = REQ_DISPATCHED;
	r->match.route->handler(r);
	if (r->response) {
		const char *expect = request_header(r, MHD_HTTP_HEADER_EXPECT);
		if (expect && strcasecmp(expect, "100-continue") == 0)
			return queue(r);
		r->state = REQ_BODY;
		r->body_ended = true;
		return MHD_YES;
	}
	r->state = REQ_BODY;
	if (!r->on_body || !r->on_body_end) {
		r->on_abort = NULL;
		make_error(&err, E_INTERNAL, 0, "handler neither answered nor took the body");
		return queue_error(r, &err);
	}
	return MHD_YES;
}

/* Stop handing the body to the handler: on_body_end gets *err (NULL when
 * the body is complete) and answers now or later. */
static void end_stream(struct request *r, err_t *err)
{
	r->body_ended = true;
	r->on_body_end(r, r->body_arg, err);
	err_free(err);
}

static enum MHD_Result stream_body(struct request *r, const char *data, size_t *size)
{
	err_t err = NULL;
	if (*size) {
		size_t n = *size;
		*size = 0;
		if (r->body_ended)
			return MHD_YES; /* dropped: the answer waits for the body's end */
		r->body_received += n;
		if (r->body_received > r->body_limit)
			make_error(&err, E_PAYLOAD_TOO_LARGE, 0,
				   "request body is over the limit of %llu bytes",
				   (unsigned long long)r->body_limit);
		else if (r->on_body(r, data, n, r->body_arg, &err) < 0 && !err)
			make_error(&err, E_INTERNAL, 0, "request body handler failed");
		if (err)
			end_stream(r, &err);
		return MHD_YES;
	}
	if (!r->body_ended)
		end_stream(r, &err);
	r->state = REQ_DISPATCHED;
	if (r->response)
		return queue(r);
	request_suspend(r);
	return MHD_YES;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
				 const char *method, const char *version, const char *upload_data,
				 size_t *upload_data_size, void **con_cls)
{
	struct request *r = *con_cls;
	err_t err = NULL;
	if (!r)
		return MHD_NO; /* cannot happen: uri_log_cb always runs first */
	r->conn = conn;

	switch (r->state) {
	case REQ_NEW:
		r->state = REQ_BODY;
		if (r->d->shutting_down) {
			make_error(&err, E_UNAVAILABLE, 0, "berthd is shutting down");
			return queue_error(r, &err);
		}
		if (begin_request(r, method, &err) < 0)
			return queue_error(r, &err);
		if (r->match.route->flags & ROUTE_STREAM_BODY)
			return begin_stream(r);
		return MHD_YES;
	case REQ_BODY:
		if (r->on_body_end || r->body_ended)
			return stream_body(r, upload_data, upload_data_size);
		if (*upload_data_size) {
			/* MHD only takes a response before or after the body: past the
			 * limit, discard the rest and answer 413 at its end */
			if (!r->body_too_large &&
			    r->body.len + *upload_data_size > r->body_limit) {
				r->body_too_large = true;
				buf_release(&r->body);
			}
			if (!r->body_too_large)
				buf_add(&r->body, upload_data, *upload_data_size);
			*upload_data_size = 0;
			return MHD_YES;
		}
		if (r->body_too_large) {
			make_error(&err, E_PAYLOAD_TOO_LARGE, 0,
				   "request body is over the limit of %llu bytes",
				   (unsigned long long)r->body_limit);
			return queue_error(r, &err);
		}
		r->state = REQ_DISPATCHED;
		r->match.route->handler(r);
		if (r->response)
			return queue(r);
		/* answered later: park the connection until the reply resumes it */
		request_suspend(r);
		return MHD_YES;
	case REQ_PENDING:
		if (r->peer_gone)
			return MHD_NO; /* the client left: close */
		if (r->response)
			return queue(r);
		return MHD_YES;
	case REQ_DISPATCHED:
	case REQ_QUEUED:
		break;
	}
	*upload_data_size = 0;
	return MHD_YES;
}

/* ---- the loop glue ------------------------------------------------------- */

static void arm_timer(struct http_listener *l)
{
	MHD_UNSIGNED_LONG_LONG ms;
	if (MHD_get_timeout(l->mhd, &ms) == MHD_YES) {
		struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };
		evtimer_add(l->timer, &tv);
	} else {
		evtimer_del(l->timer);
	}
}

static void run_listener(struct http_listener *l)
{
	MHD_run(l->mhd);
	arm_timer(l);
}

static void io_cb(evutil_socket_t fd, short what, void *arg)
{
	run_listener(arg);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *srv = arg;
	for (size_t i = 0; i < srv->nlisteners; i++)
		run_listener(&srv->listeners[i]);
}

void http_server_kick(struct daemon *d)
{
	struct http_server *srv = d->http;
	if (srv && srv->kick)
		event_active(srv->kick, EV_TIMEOUT, 0);
}

static void mhd_log_cb(void *cls, const char *fmt, va_list ap)
{
	if (log_current_level < LOG_DEBUG)
		return;
	struct buf b = BUF_INIT;
	buf_vaddf(&b, fmt, ap);
	while (b.len && (b.data[b.len - 1] == '\n'))
		b.data[--b.len] = '\0';
	log_debug("libmicrohttpd", "detail=%s", b.data);
	buf_release(&b);
}

static int start_listener(struct http_server *srv, int fd, bool tcp, const char *desc,
			  err_t *err)
{
	struct daemon *d = srv->d;
	struct http_listener *l = &srv->listeners[srv->nlisteners];
	memset(l, 0, sizeof(*l));
	l->srv = srv;
	l->tcp = tcp;
	l->desc = xstrdup(desc);
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	l->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, access_cb, l, MHD_OPTION_EXTERNAL_LOGGER, mhd_log_cb, NULL,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_URI_LOG_CALLBACK, uri_log_cb, l, MHD_OPTION_NOTIFY_COMPLETED,
		completed_cb, l, MHD_OPTION_CONNECTION_LIMIT, (unsigned)d->cfg.http_max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)d->cfg.http_idle_timeout,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32 * 1024, MHD_OPTION_END);
	if (!l->mhd) {
		close(fd);
		return make_error(err, E_INTERNAL, 0, "start HTTP server on %s", desc);
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		MHD_stop_daemon(l->mhd);
		return make_error(err, E_INTERNAL, 0, "libmicrohttpd has no epoll fd");
	}
	l->io = event_new(d->base, info->epoll_fd, EV_READ | EV_PERSIST, io_cb, l);
	l->timer = evtimer_new(d->base, io_cb, l);
	event_add(l->io, NULL);
	srv->nlisteners++;
	arm_timer(l);
	return 0;
}

/* Create the unix socket: refuse when a live berthd answers there, replace
 * a stale file, mode 0660, group from the config. */
static int open_unix(struct daemon *d, err_t *err)
{
	const char *path = d->cfg.socket;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return make_error(err, E_INVALID_ARGUMENT, 0, "socket path `%s` is too long", path);
	strcpy(sa.sun_path, path);
	cleanup_free char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir_p(dir, 0711) < 0)
			return make_error(err, E_INVALID_ARGUMENT, errno,
					  "create socket directory `%s`", dir);
	}
	/* the group first: a refused start leaves no socket behind */
	gid_t gid = (gid_t)-1;
	if (d->cfg.socket_group) {
		struct group *g = getgrnam(d->cfg.socket_group);
		uint64_t n;
		if (g)
			gid = g->gr_gid;
		else if (parse_u64(d->cfg.socket_group, &n) && n < (gid_t)-1)
			gid = (gid_t)n; /* a number, as containerd's grpc.gid */
		else
			return make_error(err, E_INVALID_ARGUMENT, 0, "socket group `%s` not found",
					  d->cfg.socket_group);
	}
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		bool live = connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(probe);
		if (live)
			return make_error(err, E_FAILED_PRECONDITION, 0,
					  "socket `%s` is in use by another server", path);
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return make_error(err, E_INVALID_ARGUMENT, errno, "remove stale socket `%s`", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return make_error(err, E_INTERNAL, errno, "socket");
	mode_t old = umask(0117);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0) {
		int e = errno;
		close(fd);
		return make_error(err, E_INVALID_ARGUMENT, e, "bind `%s`", path);
	}
	if (chmod(path, 0660) < 0 || (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) < 0) ||
	    listen(fd, 511) < 0) {
		int e = errno;
		close(fd);
		unlink(path);
		return make_error(err, E_INTERNAL, e, "set up socket `%s`", path);
	}
	d->http->unix_path = xstrdup(path);
	return fd;
}

static int open_tcp(struct daemon *d, err_t *err)
{
	cleanup_free char *spec = xstrdup(d->cfg.listen);
	char *host = spec, *port = strrchr(spec, ':');
	if (!port || port == spec)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "listen address `%s` must be HOST:PORT", d->cfg.listen);
	*port++ = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		host++;
		host[strlen(host) - 1] = '\0';
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc)
		return make_error(err, E_INVALID_ARGUMENT, 0, "listen address `%s`: %s",
				  d->cfg.listen, gai_strerror(rc));
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 511) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return make_error(err, E_INVALID_ARGUMENT, e, "listen on `%s`", d->cfg.listen);
	}
	freeaddrinfo(res);
	return fd;
}

static int load_token(struct http_server *srv, const char *path, err_t *err)
{
	size_t len;
	cleanup_free char *tok = read_file(path, &len);
	if (!tok)
		return make_error(err, E_INVALID_ARGUMENT, errno, "token file `%s`", path);
	while (len && (tok[len - 1] == '\n' || tok[len - 1] == '\r' || tok[len - 1] == ' '))
		tok[--len] = '\0';
	if (len < 16)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "token file `%s` must hold a token of at least 16 characters", path);
	srv->token = steal_ptr(&tok);
	srv->token_len = len;
	return 0;
}

int http_server_bind(struct daemon *d, err_t *err)
{
	struct http_server *srv = xzalloc(sizeof(*srv));
	srv->d = d;
	srv->router = router_new(api_route_tables);
	srv->kick = event_new(d->base, -1, 0, kick_cb, srv);
	srv->bound_fd[0] = srv->bound_fd[1] = -1;
	d->http = srv;

	if (d->cfg.listen && load_token(srv, d->cfg.token_file, err) < 0)
		return -1;
	if ((srv->bound_fd[0] = open_unix(d, err)) < 0)
		return -1;
	if (d->cfg.listen && (srv->bound_fd[1] = open_tcp(d, err)) < 0)
		return -1;
	return 0;
}

int http_server_start(struct daemon *d, err_t *err)
{
	if (!d->http && http_server_bind(d, err) < 0)
		return -1;
	struct http_server *srv = d->http;
	int fd = steal_fd(&srv->bound_fd[0]);
	if (start_listener(srv, fd, false, d->cfg.socket, err) < 0)
		return -1;
	if (srv->bound_fd[1] >= 0) {
		fd = steal_fd(&srv->bound_fd[1]);
		if (start_listener(srv, fd, true, d->cfg.listen, err) < 0)
			return -1;
	}
	return 0;
}

void http_server_unbind(struct daemon *d)
{
	struct http_server *srv = d->http;
	if (!srv)
		return;
	for (int i = 0; i < 2; i++)
		if (srv->bound_fd[i] >= 0)
			close(steal_fd(&srv->bound_fd[i]));
	if (srv->unix_path)
		unlink(srv->unix_path);
}

void http_server_quiesce(struct daemon *d)
{
	struct http_server *srv = d->http;
	if (!srv)
		return;
	for (size_t i = 0; i < srv->nlisteners; i++) {
		MHD_socket s = MHD_quiesce_daemon(srv->listeners[i].mhd);
		if (s != MHD_INVALID_SOCKET)
			close(s);
	}
	if (srv->unix_path) {
		unlink(srv->unix_path);
		free(srv->unix_path);
		srv->unix_path = NULL;
	}
}

size_t http_server_inflight(struct daemon *d)
{
	return d->http ? d->http->ninflight : 0;
}

void http_server_abort_pending(struct daemon *d)
{
	struct http_server *srv = d->http;
	if (!srv)
		return;
	for (struct request *r = srv->inflight; r; r = r->next) {
		if (r->state != REQ_PENDING || r->response)
			continue;
		if (r->on_abort) {
			void (*cb)(struct request *, void *) = r->on_abort;
			r->on_abort = NULL;
			cb(r, r->abort_data);
		}
		reply_errorf(r, E_UNAVAILABLE, "berthd is shutting down");
	}
}

void http_server_stop(struct daemon *d)
{
	struct http_server *srv = d->http;
	if (!srv)
		return;
	for (size_t i = 0; i < srv->nlisteners; i++) {
		struct http_listener *l = &srv->listeners[i];
		event_free(l->io);
		event_free(l->timer);
		MHD_stop_daemon(l->mhd);
		free(l->desc);
	}
	for (int i = 0; i < 2; i++)
		if (srv->bound_fd[i] >= 0)
			close(srv->bound_fd[i]);
	if (srv->unix_path) {
		unlink(srv->unix_path);
		free(srv->unix_path);
	}
	event_free(srv->kick);
	router_free(srv->router);
	if (srv->token) {
		explicit_bzero(srv->token, srv->token_len);
		free(srv->token);
	}
	free(srv);
	d->http = NULL;
}

const struct router *http_server_router(struct daemon *d)
{
	return d->http->router;
}
