#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli/client.h"
#include "core/json.h"

/* A reply bigger than this is not something berthd sends as one JSON body. */
#define MAX_REPLY (64u << 20)
/* Of an error answer to a stream, keep this much (it is one JSON object). */
#define MAX_ERROR_BODY (1u << 20)

struct client {
	CURL *h;
	CURLSH *share;	   /* the connection cache, so that a request driven on a
			      multi handle (client_async) reuses the connection */
	char *socket_path; /* Unix socket, or NULL for TCP */
	char *base;	   /* URL prefix the request path is appended to */
	char *display;	   /* the address without credentials, for messages */
	char *auth_header; /* "Authorization: Bearer ..." over TCP, else NULL */
	long timeout_ms;   /* per request; 0: none */
	char errbuf[CURL_ERROR_SIZE];
};

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* `scheme://user:pass@host/x` → `scheme://host/x`: never show credentials. */
static char *strip_userinfo(const char *url)
{
	const char *auth = strstr(url, "://");
	if (!auth)
		return xstrdup(url);
	auth += 3;
	size_t authlen = strcspn(auth, "/?#");
	const char *at = memchr(auth, '@', authlen);
	if (!at)
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(auth - url), url, at + 1);
}

/* Replace control characters so that a message from the daemon stays one
 * harmless line on a terminal. */
static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

struct client *client_new(const char *address, const char *token, long timeout_s, err_t *err)
{
	if (!address || !*address) {
		make_error(err, E_INVALID_ARGUMENT, 0, "empty daemon address");
		return NULL;
	}
	struct client *c = xzalloc(sizeof(*c));
	c->display = strip_userinfo(address);
	if (has_prefix(address, "unix://")) {
		c->socket_path = xstrdup(address + strlen("unix://"));
	} else if (has_prefix(address, "http://") || has_prefix(address, "https://")) {
		size_t n = strlen(address);
		while (n > 0 && address[n - 1] == '/')
			n--;
		c->base = xstrndup(address, n);
	} else if (strstr(address, "://")) {
		make_error(err, E_INVALID_ARGUMENT, 0,
			   "unsupported daemon address `%s`: use a socket path or an http:// URL",
			   c->display);
		client_free(c);
		return NULL;
	} else {
		c->socket_path = xstrdup(address);
	}
	if (c->socket_path) {
		if (!*c->socket_path) {
			make_error(err, E_INVALID_ARGUMENT, 0, "empty daemon socket path");
			client_free(c);
			return NULL;
		}
		/* The host part is not used on a Unix socket; it only fills the Host header. */
		c->base = xstrdup("http://localhost");
	}
	if (token && *token && !c->socket_path)
		c->auth_header = xasprintf("Authorization: Bearer %s", token);
	c->timeout_ms = timeout_s * 1000;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(c->h = curl_easy_init()) ||
	    !(c->share = curl_share_init()) ||
	    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK) {
		make_error(err, E_INTERNAL, 0, "cannot initialise libcurl");
		client_free(c);
		return NULL;
	}
	/* set once: curl_easy_reset() keeps the share */
	curl_easy_setopt(c->h, CURLOPT_SHARE, c->share);
	return c;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	if (c->h) {
		curl_easy_cleanup(c->h);
		if (c->share)
			curl_share_cleanup(c->share);
		curl_global_cleanup();
	}
	if (c->auth_header) {
		explicit_bzero(c->auth_header, strlen(c->auth_header));
		free(c->auth_header);
	}
	free(c->socket_path);
	free(c->base);
	free(c->display);
	free(c);
}

const char *client_address(const struct client *c)
{
	return c->display;
}

bool client_is_tcp(const struct client *c)
{
	return c->socket_path == NULL;
}

char *client_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b = BUF_INIT;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			buf_add(&b, p, 1);
		} else {
			char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
			buf_add(&b, e, 3);
		}
	}
	return buf_detach(&b, NULL);
}

void client_query_add(struct buf *path, const char *key, const char *value)
{
	cleanup_free char *v = client_escape(value);
	buf_addf(path, "%c%s=%s", path->data && strchr(path->data, '?') ? '&' : '?', key, v);
}

/* Set up the handle for one request; the caller owns and frees *headers.
 * With expect, a body waits for berthd's `100 Continue`, so that an answer
 * berthd gives before reading it (the blob is already there, an error)
 * ends the request without the body being sent. */
static void prepare(struct client *c, const char *method, const char *path, const char *accept,
		    const char *content_type, bool expect, struct curl_slist **headers)
{
	CURL *h = c->h;
	/* reset keeps the connection cache: the next request reuses the socket */
	curl_easy_reset(h);
	cleanup_free char *url = xasprintf("%s%s", c->base, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (c->socket_path) {
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
		curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	}
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	c->errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "berth/" PACKAGE_VERSION);
	if (c->timeout_ms > 0)
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms);
	if (strcmp(method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);

	struct curl_slist *l = NULL;
	cleanup_free char *accept_h = xasprintf("Accept: %s", accept);
	l = curl_slist_append(l, accept_h);
	if (content_type) {
		cleanup_free char *ct = xasprintf("Content-Type: %s", content_type);
		l = curl_slist_append(l, ct);
		l = curl_slist_append(l, expect ? "Expect: 100-continue" : "Expect:");
	}
	if (c->auth_header)
		l = curl_slist_append(l, c->auth_header);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
	*headers = l;
}

/* Free a header list that may hold the token, wiping it first. */
static void headers_free(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

/* Classify a failed transfer: never connected (exit 3) or broke later (1). */
static enum client_status transport_error(struct client *c, CURLcode rc, const char *method,
					  const char *path, err_t *err)
{
	long os_errno = 0;
	curl_off_t sent = 0;
	curl_easy_getinfo(c->h, CURLINFO_OS_ERRNO, &os_errno);
	curl_easy_getinfo(c->h, CURLINFO_REQUEST_SIZE, &sent);
	bool connect_failed = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
			      rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_SSL_CONNECT_ERROR ||
			      (rc == CURLE_OPERATION_TIMEDOUT && sent == 0);
	const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
	if (connect_failed) {
		const char *reason = detail, *hint = "";
		if (rc == CURLE_OPERATION_TIMEDOUT)
			reason = "timed out";
		else if (os_errno)
			reason = strerror((int)os_errno);
		if (os_errno == ENOENT || os_errno == ECONNREFUSED)
			hint = " (is berthd running?)";
		else if (os_errno == EACCES || os_errno == EPERM)
			hint = " (does your user have access to the socket?)";
		make_error(err, E_UNAVAILABLE, 0, "cannot connect to berthd at %s: %s%s",
			   c->display, reason, hint);
		return CLIENT_UNREACHABLE;
	}
	if (rc == CURLE_OPERATION_TIMEDOUT)
		make_error(err, E_UNAVAILABLE, 0, "%s %s: no answer from berthd within %lds",
			   method, path, c->timeout_ms / 1000);
	else if (rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
		 rc == CURLE_SEND_ERROR)
		make_error(err, E_UNAVAILABLE, 0, "%s %s: lost the connection to berthd: %s",
			   method, path, detail);
	else
		make_error(err, E_UNAVAILABLE, 0, "%s %s: %s", method, path, detail);
	one_line((*err)->msg);
	return CLIENT_FAILED;
}

static enum err_kind kind_from_code(const char *code)
{
	for (int k = 0; code && k < E_KIND_MAX; k++)
		if (strcmp(err_kind_code(k), code) == 0)
			return k;
	return E_INTERNAL;
}

/* A non-2xx answer: the daemon's `error.message`, or the bare status. */
static enum client_status daemon_error(long status, const struct buf *body, err_t *err)
{
	cleanup_json json_t *j = body->len ? json_loadb(body->data, body->len, 0, NULL) : NULL;
	json_t *e = json_object_get(j, "error");
	const char *msg = json_string_value(json_object_get(e, "message"));
	if (msg && *msg)
		make_error(err, kind_from_code(json_string_value(json_object_get(e, "code"))), 0,
			   "%s", msg);
	else
		make_error(err, E_INTERNAL, 0, "unexpected answer from berthd: HTTP %ld", status);
	one_line((*err)->msg);
	return CLIENT_FAILED;
}

struct reply_ctx {
	struct buf body;
	bool too_big;
};

static size_t reply_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct reply_ctx *r = arg;
	size_t n = size * nmemb;
	if (r->body.len + n > MAX_REPLY) {
		r->too_big = true;
		return 0;
	}
	buf_add(&r->body, data, n);
	return n;
}

enum client_status client_call(struct client *c, const char *method, const char *path,
			       const json_t *body, json_t **reply, err_t *err)
{
	if (reply)
		*reply = NULL;
	struct curl_slist *headers = NULL;
	prepare(c, method, path, "application/json", body ? "application/json" : NULL, false,
		&headers);
	cleanup_free char *payload = NULL;
	if (body) {
		size_t len;
		payload = json_dump_compact(body, &len);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, payload);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (c->timeout_ms > 0)
		curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	struct reply_ctx r = {BUF_INIT, false};
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, reply_write_cb);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &r);

	CURLcode rc = curl_easy_perform(c->h);
	headers_free(headers);
	enum client_status st = CLIENT_OK;
	long status = 0;
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	if (r.too_big) {
		make_error(err, E_INTERNAL, 0, "%s %s: reply from berthd larger than %u MiB",
			   method, path, MAX_REPLY >> 20);
		st = CLIENT_FAILED;
	} else if (rc != CURLE_OK) {
		st = transport_error(c, rc, method, path, err);
	} else if (status < 200 || status > 299) {
		st = daemon_error(status, &r.body, err);
	} else if (r.body.len > 0 && reply) {
		json_error_t jerr;
		*reply = json_loadb(r.body.data, r.body.len, 0, &jerr);
		if (!*reply) {
			make_error(err, E_INTERNAL, 0, "%s %s: malformed reply from berthd: %s",
				   method, path, jerr.text);
			one_line((*err)->msg);
			st = CLIENT_FAILED;
		}
	}
	buf_release(&r.body);
	return st;
}

struct stream_ctx {
	struct client *c;
	const struct client_request *rq;
	bool checked; /* the status code has been looked at */
	bool ok;      /* a 2xx answer: data goes to cb */
	bool stopped; /* ended on purpose: by *stop or by cb */
	struct buf errbody;
};

static bool stop_requested(const struct client_request *rq)
{
	return rq->stop && *rq->stop;
}

static size_t stream_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct stream_ctx *s = arg;
	size_t n = size * nmemb;
	if (!s->checked) {
		long status = 0;
		curl_easy_getinfo(s->c->h, CURLINFO_RESPONSE_CODE, &status);
		s->ok = status >= 200 && status <= 299;
		s->checked = true;
	}
	if (!s->ok) {
		if (s->errbody.len + n <= MAX_ERROR_BODY)
			buf_add(&s->errbody, data, n);
		return n;
	}
	if (stop_requested(s->rq) || !s->rq->data_cb(data, n, s->rq->arg)) {
		s->stopped = true;
		return 0;
	}
	return n;
}

/* libcurl calls this often, and about once a second while the stream is idle. */
static int stream_progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			      curl_off_t ulnow)
{
	struct stream_ctx *s = arg;
	if (stop_requested(s->rq)) {
		s->stopped = true;
		return 1;
	}
	if (s->rq->tick_cb)
		s->rq->tick_cb(s->rq->arg);
	return 0;
}

enum client_status client_request_stream(struct client *c, const struct client_request *rq,
					 err_t *err)
{
	const char *method = rq->method ? rq->method : "GET";
	struct curl_slist *headers = NULL;
	prepare(c, method, rq->path, rq->accept, rq->body ? "application/json" : NULL, false,
		&headers);
	cleanup_free char *payload = NULL;
	size_t len = 0;
	if (rq->body) {
		payload = json_dump_compact(rq->body, &len);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, payload);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (c->timeout_ms <= 0)
		curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
	curl_easy_setopt(c->h, CURLOPT_TCP_KEEPALIVE, 1L);
	struct stream_ctx s = {.c = c, .rq = rq};
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, stream_write_cb);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, stream_progress_cb);
	curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, &s);

	CURLcode rc = curl_easy_perform(c->h);
	headers_free(headers);
	if (payload) /* it may hold registry credentials (a pull's `auth`) */
		explicit_bzero(payload, len);
	enum client_status st = CLIENT_OK;
	long status = 0;
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	if (s.stopped)
		st = CLIENT_OK;
	else if (rc != CURLE_OK)
		st = transport_error(c, rc, method, rq->path, err);
	else if (status < 200 || status > 299)
		st = daemon_error(status, &s.errbody, err);
	buf_release(&s.errbody);
	return st;
}

enum client_status client_stream(struct client *c, const char *path, const char *accept,
				 client_data_cb cb, void *arg, volatile sig_atomic_t *stop,
				 err_t *err)
{
	struct client_request rq = {
	    .path = path, .accept = accept, .data_cb = cb, .arg = arg, .stop = stop};
	return client_request_stream(c, &rq, err);
}

struct upload_ctx {
	const struct client_upload *up;
	uint64_t sent;
	int read_errno; /* a read error on the file */
	bool shrank;	/* the file ended before up->size bytes */
	bool stopped;	/* *stop was set */
	struct reply_ctx reply;
};

static size_t upload_read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct upload_ctx *u = arg;
	size_t want = size * nitems;
	if (u->up->size - u->sent < want)
		want = (size_t)(u->up->size - u->sent);
	if (want == 0)
		return 0;
	for (;;) {
		ssize_t n = read(u->up->fd, buf, want);
		if (n < 0 && errno == EINTR && !(u->up->stop && *u->up->stop))
			continue;
		if (n < 0) {
			u->read_errno = errno;
			return CURL_READFUNC_ABORT;
		}
		if (n == 0) {
			u->shrank = true;
			return CURL_READFUNC_ABORT;
		}
		u->sent += (uint64_t)n;
		return (size_t)n;
	}
}

static int upload_progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			      curl_off_t ulnow)
{
	struct upload_ctx *u = arg;
	if (u->up->stop && *u->up->stop) {
		u->stopped = true;
		return 1;
	}
	if (u->up->progress_cb)
		u->up->progress_cb((uint64_t)ulnow, u->up->size, u->up->arg);
	return 0;
}

enum client_status client_upload(struct client *c, const struct client_upload *up, json_t **reply,
				 err_t *err)
{
	if (reply)
		*reply = NULL;
	struct curl_slist *headers = NULL;
	prepare(c, up->method, up->path, "application/json",
		up->content_type ? up->content_type : "application/octet-stream", true, &headers);
	if (c->timeout_ms <= 0)
		curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
	struct upload_ctx u = {.up = up, .reply = {BUF_INIT, false}};
	curl_easy_setopt(c->h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up->size);
	curl_easy_setopt(c->h, CURLOPT_READFUNCTION, upload_read_cb);
	curl_easy_setopt(c->h, CURLOPT_READDATA, &u);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, reply_write_cb);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &u.reply);
	curl_easy_setopt(c->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->h, CURLOPT_XFERINFOFUNCTION, upload_progress_cb);
	curl_easy_setopt(c->h, CURLOPT_XFERINFODATA, &u);

	CURLcode rc = curl_easy_perform(c->h);
	headers_free(headers);
	enum client_status st = CLIENT_OK;
	long status = 0;
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	if (u.stopped) {
		make_error(err, E_UNAVAILABLE, 0, "interrupted");
		st = CLIENT_FAILED;
	} else if (u.read_errno) {
		make_error(err, E_INTERNAL, u.read_errno, "cannot read `%s`",
			   up->source ? up->source : "the body");
		st = CLIENT_FAILED;
	} else if (u.shrank) {
		make_error(err, E_INTERNAL, 0,
			   "`%s` ended after %llu of %llu bytes: did it change while being sent?",
			   up->source ? up->source : "the body", (unsigned long long)u.sent,
			   (unsigned long long)up->size);
		st = CLIENT_FAILED;
	} else if (u.reply.too_big) {
		make_error(err, E_INTERNAL, 0, "%s %s: reply from berthd larger than %u MiB",
			   up->method, up->path, MAX_REPLY >> 20);
		st = CLIENT_FAILED;
	} else if (status >= 300 && u.reply.body.len > 0) {
		/* berthd may answer (a digest mismatch, a bad name) and close before
		 * reading the whole body: its answer says more than the broken send */
		st = daemon_error(status, &u.reply.body, err);
	} else if (rc != CURLE_OK) {
		st = transport_error(c, rc, up->method, up->path, err);
	} else if (status < 200 || status > 299) {
		st = daemon_error(status, &u.reply.body, err);
	} else if (u.reply.body.len > 0 && reply) {
		json_error_t jerr;
		*reply = json_loadb(u.reply.body.data, u.reply.body.len, 0, &jerr);
		if (!*reply) {
			make_error(err, E_INTERNAL, 0, "%s %s: malformed reply from berthd: %s",
				   up->method, up->path, jerr.text);
			one_line((*err)->msg);
			st = CLIENT_FAILED;
		}
	}
	buf_release(&u.reply.body);
	return st;
}

struct client_async {
	struct client *c;
	CURLM *m;
	struct curl_slist *headers;
	char *payload;
	char *method, *path;
	struct reply_ctx r;
	bool done;
	CURLcode rc;
};

/* Let libcurl work; note when the transfer is over. */
static void async_perform(struct client_async *a)
{
	int running;
	curl_multi_perform(a->m, &running);
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(a->m, &left))) {
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == a->c->h) {
			a->rc = msg->data.result;
			a->done = true;
		}
	}
}

struct client_async *client_async_new(struct client *c, const char *method, const char *path,
				      const json_t *body)
{
	struct client_async *a = xzalloc(sizeof(*a));
	a->c = c;
	a->method = xstrdup(method);
	a->path = xstrdup(path);
	a->r.body = (struct buf)BUF_INIT;
	prepare(c, method, path, "application/json", body ? "application/json" : NULL, false,
		&a->headers);
	if (body) {
		size_t len;
		a->payload = json_dump_compact(body, &len);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, a->payload);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (c->timeout_ms <= 0)
		curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, 30000L);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, reply_write_cb);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &a->r);
	a->m = curl_multi_init();
	if (!a->m || curl_multi_add_handle(a->m, c->h) != CURLM_OK) {
		a->rc = CURLE_OUT_OF_MEMORY;
		a->done = true;
		return a;
	}
	async_perform(a); /* send the request now */
	return a;
}

bool client_async_poll(struct client_async *a, struct pollfd *fds, unsigned nfds, int timeout_ms)
{
	if (a->done) { /* answered already (in client_async_new, maybe): no wait */
		for (unsigned i = 0; i < nfds; i++)
			fds[i].revents = 0;
		return true;
	}
	struct pollfd stack[64];
	struct pollfd *all = stack;
	unsigned n = nfds;
	long curl_timeout = -1;
	fd_set rd, wr, ex;
	int maxfd = -1;
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_ZERO(&ex);
	curl_multi_fdset(a->m, &rd, &wr, &ex, &maxfd);
	curl_multi_timeout(a->m, &curl_timeout);
	if (maxfd < 0 && curl_timeout < 0)
		curl_timeout = 10; /* libcurl holds no socket yet: look again soon */
	for (int fd = 0; fd <= maxfd; fd++)
		if (FD_ISSET(fd, &rd) || FD_ISSET(fd, &wr) || FD_ISSET(fd, &ex))
			n++;
	if (n > ARRAY_SIZE(stack))
		all = xcalloc(n, sizeof(*all));
	for (unsigned i = 0; i < nfds; i++) {
		all[i] = fds[i];
		all[i].revents = 0;
	}
	unsigned k = nfds;
	for (int fd = 0; fd <= maxfd; fd++) {
		short ev =
		    (short)((FD_ISSET(fd, &rd) ? POLLIN : 0) | (FD_ISSET(fd, &wr) ? POLLOUT : 0) |
			    (FD_ISSET(fd, &ex) ? POLLPRI : 0));
		if (ev)
			all[k++] = (struct pollfd){.fd = fd, .events = ev};
	}
	int t = timeout_ms;
	if (curl_timeout >= 0 && (t < 0 || curl_timeout < t))
		t = (int)curl_timeout;
	int r = poll(all, n, t);
	for (unsigned i = 0; i < nfds; i++)
		fds[i].revents = r > 0 ? all[i].revents : 0;
	if (all != stack)
		free(all);
	async_perform(a);
	return a->done;
}

enum client_status client_async_finish(struct client_async *a, json_t **reply, err_t *err)
{
	struct client *c = a->c;
	if (reply)
		*reply = NULL;
	enum client_status st = CLIENT_OK;
	long status = 0;
	if (a->m) {
		curl_multi_remove_handle(a->m, c->h);
		curl_multi_cleanup(a->m);
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	if (!a->done) {
		make_error(err, E_UNAVAILABLE, 0, "interrupted");
		st = CLIENT_FAILED;
	} else if (a->r.too_big) {
		make_error(err, E_INTERNAL, 0, "%s %s: reply from berthd larger than %u MiB",
			   a->method, a->path, MAX_REPLY >> 20);
		st = CLIENT_FAILED;
	} else if (a->rc != CURLE_OK) {
		st = transport_error(c, a->rc, a->method, a->path, err);
	} else if (status < 200 || status > 299) {
		st = daemon_error(status, &a->r.body, err);
	} else if (a->r.body.len > 0 && reply) {
		json_error_t jerr;
		*reply = json_loadb(a->r.body.data, a->r.body.len, 0, &jerr);
		if (!*reply) {
			make_error(err, E_INTERNAL, 0, "%s %s: malformed reply from berthd: %s",
				   a->method, a->path, jerr.text);
			one_line((*err)->msg);
			st = CLIENT_FAILED;
		}
	}
	headers_free(a->headers);
	buf_release(&a->r.body);
	free(a->payload);
	free(a->method);
	free(a->path);
	free(a);
	return st;
}
