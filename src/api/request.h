/*
 * request: one HTTP request as the handlers see it, and the ways to answer.
 *
 * A handler (route_handler) gets a struct request and either answers before
 * it returns (reply_json, reply_error, ...) or keeps the request and answers
 * later from another loop callback: the connection is then suspended and
 * resumed by the reply. If the client goes away or the server shuts down
 * first, the request's on_abort callback runs and the request must not be
 * used after it. Streaming answers (SSE, NDJSON progress) use reply_stream():
 * the stream pulls data through its fill callback whenever the socket can
 * take more, and http_stream_wake() tells it that more may be ready.
 *
 * Request bodies are JSON, collected whole (up to max_json_body) before the
 * handler runs, except on routes flagged ROUTE_STREAM_BODY (blob uploads):
 * their handler runs as soon as the headers are in and takes the body
 * piece by piece with request_stream_body() (see there).
 *
 * Requests and streams are owned by api/server.c and freed when MHD is done
 * with them. Nothing here blocks.
 */
#ifndef BERTH_API_REQUEST_H
#define BERTH_API_REQUEST_H

#include <microhttpd.h>

#include "api/router.h"
#include "core/daemon.h"
#include "core/json.h"

struct http_listener;

/* Where a request is in its life; memcached's conn_states in spirit. */
enum request_state {
	REQ_NEW = 0,    /* URI seen, headers not yet handled */
	REQ_BODY,       /* receiving the body */
	REQ_DISPATCHED, /* inside the handler */
	REQ_PENDING,    /* handler returned without answering: connection suspended */
	REQ_QUEUED,     /* a response was queued on the connection */
};

/* Watches a suspended connection's socket for the peer hanging up: MHD does
 * not poll suspended connections, so a client that went away would only be
 * noticed at the next write (for an idle SSE stream, the next heartbeat). */
struct peer_watch {
	struct event *ev;
	void (*gone)(void *data);
	void *data;
};

struct request;
/* A piece of a streamed body; return < 0 with *err set to stop taking it. */
typedef int (*request_body_cb)(struct request *r, const char *data, size_t len, void *arg,
			       err_t *err);
/* The streamed body is complete (*err NULL), or its delivery stopped (*err
 * set: on_body failed, or the body went over the limit). Answers now or
 * later, as a handler does; reply_error(r, err) takes the error. */
typedef void (*request_body_end_cb)(struct request *r, void *arg, err_t *err);

struct query_arg {
	char *key;
	char *value;
};

struct request {
	struct daemon *d;
	struct http_listener *listener;
	struct MHD_Connection *conn;
	enum request_state state;
	enum http_method method;
	char *raw_uri;
	char *path; /* raw (still percent-encoded) path */
	struct query_arg *query;
	size_t nquery, query_alloc;
	struct route_match match;
	struct buf body;
	uint64_t body_limit;
	bool body_too_large; /* over the limit: the rest is discarded, 413 at the end */
	/* ROUTE_STREAM_BODY: set by request_stream_body() */
	request_body_cb on_body;
	request_body_end_cb on_body_end;
	void *body_arg;
	uint64_t body_received; /* bytes of a streamed body so far */
	bool body_ended;        /* on_body_end has run: the rest of the body is dropped */
	int64_t start_ns;

	/* the answer, once decided */
	struct MHD_Response *response;
	int status;
	bool suspended;
	bool peer_gone; /* the client hung up while the request was pending */
	struct peer_watch watch;

	/* set by a handler that answers later */
	void (*on_abort)(struct request *r, void *data);
	void *abort_data;

	struct request *prev, *next; /* the server's in-flight list */
};

/* Path parameter by name ("ns"), decoded; NULL if the route has none. */
const char *request_param(const struct request *r, const char *name);
/* First query value for key, decoded; NULL if absent. */
const char *request_query(const struct request *r, const char *key);
/* Every value of key (?filter=a&filter=b); returns the count, fills out
 * (a new array the caller frees, strings owned by the request). */
size_t request_query_all(const struct request *r, const char *key, const char ***out);
/* Reject query parameters not in the NULL-terminated list. */
int request_check_query(const struct request *r, const char *const *allowed, err_t *err);
/* Parse every ?filter= parameter (OR of them) with core/filter; *out is
 * NULL when there is none. The one way list endpoints read filters. */
struct filter;
int request_filter(const struct request *r, struct filter **out, err_t *err);
/* Boolean query parameter: absent → def; "true"/"1" / "false"/"0"; else error. */
int request_query_bool(const struct request *r, const char *key, bool def, bool *out, err_t *err);
const char *request_header(const struct request *r, const char *name);
/* The body as a validated JSON object (see json_parse_body). */
json_t *request_json(const struct request *r, err_t *err);

/* Answers. Each takes ownership of what it is given. */
void reply_json(struct request *r, int status, json_t *body);
void reply_error(struct request *r, err_t *err); /* frees *err */
void reply_errorf(struct request *r, enum err_kind kind, const char *fmt, ...) PRINTF_LIKE(3, 4);
void reply_empty(struct request *r, int status);
void reply_data(struct request *r, int status, const char *content_type, char *data,
		size_t len);
/* Answer with a ready MHD response (its reference is taken). */
void reply_response(struct request *r, int status, struct MHD_Response *resp);
/* Mark the request as answered later; on_abort runs if it dies first. */
void request_defer(struct request *r, void (*on_abort)(struct request *, void *), void *data);

/* Streamed request bodies, for routes flagged ROUTE_STREAM_BODY (blob
 * uploads). Their handler runs when the headers are in, before any of the
 * body is read, and the body may be up to max_blob_upload bytes (a larger
 * Content-Length is 413 before the handler runs). The handler either
 * answers at once — the body is then not taken: a client that sent
 * `Expect: 100-continue` gets the answer instead of 100 Continue and sends
 * none, any other client's body is read and dropped and the answer sent at
 * its end (sent before, it would break the client's send) — or calls
 * request_stream_body() and
 * returns: each piece of the body then goes to on_body as it arrives, and
 * on_end runs once, when the body is complete or when on_body failed or the
 * body went over the limit (the rest is then read and dropped, and the
 * answer is sent at its end). A client that leaves before on_end runs
 * triggers the request's on_abort (request_defer) instead. */
void request_stream_body(struct request *r, request_body_cb on_body, request_body_end_cb on_end,
			 void *arg);

struct http_stream;
struct http_stream_ops {
	/* Append what is ready to out. Return 0 when more may come later,
	 * 1 when the stream is finished (after what was appended), -1 to cut
	 * the connection. Called only when out is empty. */
	int (*fill)(struct http_stream *s, struct buf *out, void *data);
	/* MHD is done with the stream (client gone, finished, shutdown); the
	 * stream is freed after this returns. */
	void (*closed)(struct http_stream *s, void *data);
};

/* Answer with a stream of unknown length (chunked). headers: NULL or a
 * NULL-terminated list of name, value pairs. Returns the stream; it is
 * valid until ops->closed runs. */
struct http_stream *reply_stream(struct request *r, int status, const char *content_type,
				 const char *const *headers, const struct http_stream_ops *ops,
				 void *data);
/* More data may be ready: resume the connection if it is waiting. */
void http_stream_wake(struct http_stream *s);
/* Give up on a peer that does not read: close after `seconds` without progress. */
void http_stream_set_timeout(struct http_stream *s, unsigned seconds);

/* Used by api/server.c. */
struct request *request_new(struct daemon *d, struct http_listener *l, const char *uri);
/* The handler returned without answering: park the connection until a
 * reply_*() resumes it, watching for the client to hang up meanwhile. */
void request_suspend(struct request *r);
void request_free(struct request *r);
int request_parse_uri(struct request *r, err_t *err);
struct MHD_Response *response_json(json_t *body);
struct MHD_Response *response_error(const struct err *e, unsigned allowed);

#endif
