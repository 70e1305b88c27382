/*
 * client: the `berth` CLI's HTTP connection to berthd, one libcurl easy
 * handle reused for every request so that a command making several calls
 * (`berth namespaces rm a b c`) keeps one keep-alive connection.
 *
 * The address is a Unix socket path (`/run/berth/berthd.sock`, also written
 * `unix:///run/...`) or a TCP URL (`http://127.0.0.1:7070`, `https://...`).
 * Over TCP, a bearer token, when given, is sent as `Authorization: Bearer`;
 * it is never logged, printed or put into an error message, and the client
 * wipes its copy when freed. Userinfo in a TCP URL is likewise left out of
 * every message.
 *
 * Every call blocks (this is a command-line program, there is no loop).
 * Failures set *err with a one-line message ready to print after "berth: ":
 * the daemon's own `error.message` when it answered non-2xx, or a sentence
 * naming the address when it could not be reached. The return value says
 * which, and is the exit status the CLI gives that failure.
 */
#ifndef BERTH_CLI_CLIENT_H
#define BERTH_CLI_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"
#include "core/util.h"

/* How a request ended; the non-zero values are berth's exit statuses. */
enum client_status {
	CLIENT_OK = 0,		/* a 2xx answer (or a stream stopped on purpose) */
	CLIENT_FAILED = 1,	/* the daemon answered an error, or the exchange broke
				   after the connection was made (timeout, reset, junk) */
	CLIENT_UNREACHABLE = 3, /* no connection could be made to the daemon */
};

struct client;

/* Parse an address; NULL with *err (E_INVALID_ARGUMENT) if it is neither a
 * path nor an http(s)/unix URL. token may be NULL; it is copied. timeout_s
 * bounds each non-streaming request (0: none); it also bounds connecting. */
struct client *client_new(const char *address, const char *token, long timeout_s, err_t *err);
void client_free(struct client *c);

/* The address as it may be shown to a user (no credentials). */
const char *client_address(const struct client *c);
/* Whether the address is a TCP URL (and so a token is meaningful). */
bool client_is_tcp(const struct client *c);

/* Percent-encode one path segment or query value (all but RFC 3986's
 * unreserved characters); the caller frees. */
char *client_escape(const char *s);
/* Append `?key=value` or `&key=value` (value percent-encoded) to a path. */
void client_query_add(struct buf *path, const char *key, const char *value);

/* One JSON request: method and path (`/v1/...`, query included); body is
 * sent as application/json when not NULL. On a 2xx answer, *reply (when
 * reply is not NULL) gets the parsed body, or NULL for an empty one (204). */
enum client_status client_call(struct client *c, const char *method, const char *path,
			       const json_t *body, json_t **reply, err_t *err);

/* Called with each piece of a streaming 2xx body as it arrives; return false
 * to stop the transfer (client_stream then returns CLIENT_OK). */
typedef bool (*client_data_cb)(const char *data, size_t len, void *arg);

/* A streaming GET with no overall timeout (connecting is still bounded).
 * A non-2xx answer is read whole and reported as for client_call(). The
 * transfer stops with CLIENT_OK when *stop becomes non-zero (set it from a
 * signal handler; the check runs at least once a second). A stream the
 * server ends cleanly is CLIENT_OK; one that breaks is CLIENT_FAILED. */
enum client_status client_stream(struct client *c, const char *path, const char *accept,
				 client_data_cb cb, void *arg, volatile sig_atomic_t *stop,
				 err_t *err);

/* A streaming request of any method, as client_stream() otherwise. */
struct client_request {
	const char *method;	     /* NULL: GET */
	const char *path;	     /* `/v1/...`, query included */
	const char *accept;	     /* the Accept header */
	const json_t *body;	     /* sent as application/json when not NULL */
	client_data_cb data_cb;	     /* each piece of a 2xx body */
	void (*tick_cb)(void *arg);  /* NULL, or called often while data flows and
					about once a second while the stream is idle */
	void *arg;		     /* for both callbacks */
	volatile sig_atomic_t *stop; /* as for client_stream() */
};
enum client_status client_request_stream(struct client *c, const struct client_request *rq,
					 err_t *err);

/* An upload: size bytes read from fd (from its current offset) sent as the
 * body, streamed with no overall timeout (connecting is bounded); the
 * answer as for client_call(). A read error, a file that ends early, or
 * *stop becoming non-zero ("interrupted") fail with CLIENT_FAILED. */
struct client_upload {
	const char *method; /* "PUT" */
	const char *path;
	const char *content_type; /* NULL: application/octet-stream */
	int fd;
	uint64_t size;
	const char *source; /* names the data in messages (a file name) */
	/* NULL, or called often with the bytes sent so far */
	void (*progress_cb)(uint64_t sent, uint64_t total, void *arg);
	void *arg;
	volatile sig_atomic_t *stop;
};
enum client_status client_upload(struct client *c, const struct client_upload *up, json_t **reply,
				 err_t *err);

/* A JSON request left running while the caller watches its own file
 * descriptors too, in one poll, with no thread (`berth run` waits for the
 * container's exit while it copies the container's output). It runs on
 * c's connection, kept alive from the calls before it; c serves no other
 * request until client_async_finish(). No overall timeout (connecting is
 * bounded), as for a stream.
 *
 *   struct client_async *a = client_async_new(c, "POST", path, NULL);
 *   while (!client_async_poll(a, fds, nfds, -1))
 *           ...look at fds[i].revents...
 *   st = client_async_finish(a, &reply, &err);
 */
struct client_async;
struct pollfd;
struct client_async *client_async_new(struct client *c, const char *method, const char *path,
				      const json_t *body);
/* Wait up to timeout_ms (-1: no limit) for the request to move or for one
 * of fds (events set by the caller; revents set here) to be ready, then
 * let the request do its work. True once the request is over (answered or
 * failed): then it returns at once, without polling (revents all 0), and
 * the caller polls fds by itself. EINTR counts as a wake-up. */
bool client_async_poll(struct client_async *a, struct pollfd *fds, unsigned nfds, int timeout_ms);
/* The outcome as for client_call() ("interrupted" when it was not over),
 * and a is freed. */
enum client_status client_async_finish(struct client_async *a, json_t **reply, err_t *err);

#endif
