/*
 * internal: what the files of src/remotes share (not for other services).
 *
 *   remotes.c   the service: settings, credentials, the public operations,
 *               the queue of blob transfers, what each kind does with a
 *               finished answer
 *   transfer.c  one operation's HTTP attempts: endpoints in order, auth
 *               headers, the libcurl handle and its callbacks, retries with
 *               backoff, the loopback HTTPS → HTTP fallback
 *   token.c     the Bearer token flow and the token cache
 *   auth.c      WWW-Authenticate, base64, config.json (pure)
 *   hosts.c     host settings and endpoints (pure)
 *
 * Ownership: every operation is on r->ops until it ends; it is freed by
 * op_finish (after its callback) or op_free (cancel, remotes_free). A
 * libcurl handle belongs to the operation (or token fetch) that made it.
 * Nothing is freed while libcurl runs one of its callbacks: cancel then
 * only marks the operation and a zero timer does the rest.
 */
#ifndef BERTH_REMOTES_INTERNAL_H
#define BERTH_REMOTES_INTERNAL_H

#include <curl/curl.h>
#include <event2/event.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/curl.h"
#include "core/digest.h"
#include "remotes/auth.h"
#include "remotes/hosts.h"
#include "remotes/remotes.h"

/* Largest error body or token answer kept. */
#define REMOTE_SMALL_BODY_MAX (64u << 10)

enum auth_scheme {
	AUTH_NONE = 0, /* no challenge seen from this host yet */
	AUTH_BASIC,
	AUTH_BEARER,
};

/* What we learnt about one endpoint host. */
struct host_state {
	char *host;
	enum auth_scheme scheme;
	char *realm, *service; /* Bearer */
	bool http_fallback;    /* loopback host that does not speak TLS */
	struct host_state *next;
};

struct token_entry;

struct remotes {
	struct daemon *d;
	struct curl_loop *cl;
	struct hosts hosts;
	char *docker_config; /* path, or NULL */
	struct docker_creds creds;
	struct stat creds_st; /* of the file parsed into creds */
	bool creds_loaded;
	struct host_state *hstates;
	struct token_entry *tokens;
	struct remote_op *ops;	 /* every operation not yet ended */
	struct remote_op *queue; /* blob operations waiting for a slot, FIFO */
	size_t active_blobs;
	size_t max_blobs;
	unsigned retries;
	double timeout; /* seconds a transfer may stall */
	int resuming;	/* > 0 while curl_easy_pause may run callbacks */
	bool closing;	/* remotes_free runs */
	/* Blob bytes taken in this turn of the loop: past REMOTES_TURN_BUDGET a
	 * transfer pauses until the next turn, so that libcurl, which reads a
	 * loopback socket as long as it has data, cannot keep the loop (and the
	 * API) waiting for tens of milliseconds. */
	uint64_t turn_bytes;
	struct event *turn; /* the next turn: reset turn_bytes, resume */
};

#define REMOTES_TURN_BUDGET (1024 * 1024)

enum op_kind {
	OP_MANIFEST, /* GET a manifest or index */
	OP_RESOLVE,  /* HEAD (then GET if needed): its descriptor */
	OP_BLOB,     /* GET a blob into a sink */
};

enum op_state {
	OP_QUEUED,  /* waiting for a blob slot */
	OP_WAIT,    /* its timer runs: start soon, or back off before a retry */
	OP_TOKEN,   /* waiting for a token */
	OP_RUNNING, /* an HTTP request is in flight */
	OP_ENDED,   /* its callback runs or ran */
};

/* Why a libcurl callback stopped a transfer, and what follows. */
enum abort_how {
	ABORT_NONE = 0,
	ABORT_FATAL,	/* the sink failed: end the operation */
	ABORT_ENDPOINT, /* the endpoint lied (size): the next mirror may not */
	ABORT_RETRY,	/* worth another try (a botched Range answer) */
};

/* The headers of the last response (redirects reset them). */
struct resp {
	long status;
	char **www_auth;
	size_t nwww_auth;
	char *content_type;
	char *docker_digest;
	char *content_range;
	int64_t content_length; /* -1: not given */
	int64_t retry_after;	/* seconds, -1: not given */
};

struct remote_op {
	struct remotes *r;
	enum op_kind kind;
	enum op_state state;
	char *domain;  /* reference domain: "docker.io" */
	char *repo;    /* "library/redis" */
	char *object;  /* tag or digest in the URL */
	char *refname; /* for messages: "localhost:5000/app:v1" */
	char *want;    /* digest the bytes must have, or NULL */
	uint64_t size; /* blob */
	bool plain_http;
	char *user, *pass, *token; /* per-request credentials (secrets) */

	struct endpoint *eps;
	size_t neps, ep;
	unsigned failures; /* retried failures on the last endpoint */
	bool auth_retried; /* a 401 was answered with fresh auth already */
	bool sent_auth;	   /* this attempt carried credentials or a token */
	bool head_failed;  /* OP_RESOLVE: HEAD said too little, GET now */
	bool no_range;	   /* the registry botched a Range answer */
	err_t last_err;	   /* why the previous endpoint failed */

	CURL *easy;
	struct curl_slist *hdrs;
	struct event *timer;
	struct event *stall; /* no byte for `registry_timeout`: the attempt failed */
	int64_t last_progress_ns;
	struct resp resp;
	struct buf body; /* manifest, or error answer (bounded) */
	err_t abort_err; /* why a callback stopped the transfer */
	enum abort_how abort_how;
	err_t start_err;  /* found before the first attempt, reported from the loop */
	char *chal_scope; /* scope the registry's Bearer challenge asked for */
	bool has_slot;	  /* holds one of the global blob transfer slots */

	/* blobs */
	const struct remote_blob_sink *sink;
	void *sink_data;
	uint64_t offset;   /* where this attempt started */
	uint64_t received; /* bytes of this attempt given to the sink */
	bool started;	   /* sink->start ran for this attempt */
	bool pause_wanted, paused;
	bool budget_paused; /* paused by the per-turn budget, not by its sink */

	int busy; /* inside a sink callback */
	bool cancelled;

	union {
		remote_manifest_cb manifest;
		remote_resolve_cb resolve;
		remote_done_cb done;
	} cb;
	void *data;

	struct remote_op *next, *prev; /* r->ops */
	struct remote_op *qnext;       /* r->queue */
	struct remote_op *tnext;       /* waiters of a token fetch */
	struct token_entry *twait;
};

/* ---- remotes.c ---- */
/* Count blob bytes against the per-turn budget. */
void remotes_turn_count(struct remotes *r, size_t len);
/* The credentials for an endpoint: per request for the registry itself,
 * else config.json's for that host. Pointers stay valid until the next
 * call. */
struct cred {
	const char *user, *pass, *identity_token, *registry_token;
};
void remotes_cred_for(struct remotes *r, struct remote_op *op, const struct endpoint *ep,
		      struct cred *c);
struct host_state *remotes_host_state(struct remotes *r, const char *host);
/* A 2xx answer arrived complete: deliver or fail. */
void op_complete(struct remote_op *op);
/* End the operation: callback with *err (NULL: success; taken), free. */
void op_finish(struct remote_op *op, err_t *err);
void op_free(struct remote_op *op);

/* ---- transfer.c ---- */
/* Start (or restart) the current attempt at once. */
void op_attempt(struct remote_op *op);
/* Run op_attempt from the loop after delay_ms. */
void op_schedule(struct remote_op *op, unsigned delay_ms);
/* A failure that another endpoint or a later try may not have: move on,
 * back off and retry, or finish with err. progress: the attempt moved
 * bytes (a resumed retry is immediate). */
void op_retry(struct remote_op *op, err_t *err, bool progress, int64_t retry_after);
/* A failure that retrying the same endpoint cannot fix: the next mirror may
 * still answer; else finish with err. */
void op_fail(struct remote_op *op, err_t *err);
/* Drop the running libcurl handle and the last response. */
void op_reset_transfer(struct remote_op *op);
/* Set a libcurl handle's common options (timeouts, TLS per endpoint). */
void transfer_setopts(struct remotes *r, CURL *easy, const struct endpoint *ep);
/* The endpoint's base URL now ("http://127.0.0.1:5000/v2"), after any
 * loopback fallback. */
char *endpoint_base(struct remotes *r, const struct endpoint *ep);
/* Parse an OCI error body into "CODE: message" (bounded, printable), or NULL. */
char *registry_error_text(const char *body, size_t len);
void curl_slist_free_secret(struct curl_slist *l);
/* Base delay before retry number `attempt` (1, 2, ...) in ms, before
 * jitter: 250, 500, 1000, ..., at most 8000. */
unsigned remotes_backoff_ms(unsigned attempt);
/* The delay actually used: base with ±25% jitter from rnd in [0, 1),
 * or Retry-After seconds when given (at most 10 s). */
unsigned remotes_retry_delay_ms(unsigned attempt, double rnd, int64_t retry_after);

/* ---- token.c ---- */
/* A bearer token for op's current endpoint (host state hs): returns it at
 * once when cached (owned by the cache: copy it), or NULL: then op waits
 * (OP_TOKEN) and the fetch ends in op_attempt, op_retry or op_fail. */
const char *token_get(struct remotes *r, struct remote_op *op, struct host_state *hs);
/* Forget the cached token op would use (the registry refused it). */
void token_forget(struct remotes *r, struct remote_op *op, struct host_state *hs);
/* op no longer waits for a token (cancel). */
void token_unwait(struct remote_op *op);
void tokens_free(struct remotes *r);

#endif
