/*
 * remotes: the registry client (containerd's remotes/docker), on libcurl's
 * multi API driven by the loop (core/curl.h) — many transfers at once, none
 * blocking.
 *
 * - Host settings per registry (mirrors tried in order, plain HTTP,
 *   skip-verify, CA file, client certificate) from the `registries` config
 *   file or directory; docker.io maps to registry-1.docker.io. Registries on
 *   loopback (localhost, 127.0.0.0/8, [::1]) fall back to plain HTTP when
 *   HTTPS fails, as Docker does.
 * - Auth: the Bearer token flow from WWW-Authenticate (realm, service,
 *   scope; tokens cached per registry and scope), Basic, credentials from a
 *   Docker-style config.json (`auths`, base64 `auth`) or per request.
 *   Credentials and tokens never appear in logs or error messages.
 * - Manifests: Accept for OCI index/manifest and Docker manifest
 *   list/schema2; schema1 is E_NOT_IMPLEMENTED with a clear message.
 * - Blobs: streamed to a sink; a transfer that breaks resumes with Range
 *   from what the sink holds; retries with backoff on 5xx and network
 *   errors (bounded); a transfer that stalls times out; a global limit of
 *   concurrent blob transfers queues the rest.
 *
 * Errors: 404 → E_NOT_FOUND, 401 → E_UNAUTHENTICATED, 403 →
 * E_PERMISSION_DENIED, timeouts/refused/5xx/408/429 after retries →
 * E_UNAVAILABLE, other 4xx and malformed answers → E_INVALID_ARGUMENT (the
 * registry lied: wrong digest, size, a manifest over REMOTE_MANIFEST_MAX).
 * A failing mirror hands over to the next endpoint; the error reported is
 * the registry's own. In callbacks, *err is NULL on success; it is freed
 * after the callback returns (take it with steal_ptr to keep it).
 *
 * Callbacks always run from the loop, never inside the call that started
 * the operation. Stall timeout, retries and the blob limit come from the
 * config (registry_timeout, registry_retries, max_concurrent_downloads);
 * retries back off 250 ms, 500 ms, ... 8 s (±25%), or as Retry-After says
 * (at most 10 s); a retry of a blob transfer that moved bytes resumes at
 * once, and one that moved a MiB or more does not count.
 */
#ifndef BERTH_REMOTES_REMOTES_H
#define BERTH_REMOTES_REMOTES_H

#include "core/daemon.h"
#include "remotes/reference.h"

struct remotes;
struct remote_op;

/* Largest manifest or index accepted (as containerd). */
#define REMOTE_MANIFEST_MAX (4u << 20)

int remotes_new(struct daemon *d, struct remotes **out, err_t *err);
void remotes_free(struct remotes *r);

/* Per-request options (copied: the caller may free them after the call).
 * Credentials given here win over config.json's and are sent to the
 * registry itself only, never to its mirrors. */
struct remote_opts {
	bool plain_http;      /* talk HTTP to this registry (request override) */
	const char *username; /* basic credentials, or NULL */
	const char *password;
	const char *token; /* a bearer token for the registry, sent as is, or NULL */
};

/* A manifest or index as fetched: bytes verified against digest (the one
 * asked for, or the Docker-Content-Digest, or computed). */
struct remote_manifest {
	char *media_type;
	char digest[72];
	char *data;
	size_t len;
};
void remote_manifest_free(struct remote_manifest *m);

/* ref (tag or digest) → its manifest/index; cb gets ownership of m.
 * digest, when not NULL, is fetched instead of ref's tag or digest (an
 * index's child). At most REMOTE_MANIFEST_MAX bytes (4 MiB: larger is
 * E_INVALID_ARGUMENT); schema1 is E_NOT_IMPLEMENTED. */
typedef void (*remote_manifest_cb)(void *data, struct remote_manifest *m, err_t *err);
struct remote_op *remotes_get_manifest(struct remotes *r, const struct reference *ref,
				       const char *digest, const struct remote_opts *o,
				       remote_manifest_cb cb, void *data);

/* What a tag or digest resolves to, from a HEAD when the registry says
 * enough (Docker-Content-Digest, Content-Type, Content-Length), else from a
 * GET of the manifest (then verified). */
struct remote_descriptor {
	char *media_type;
	char digest[72];
	uint64_t size;
};
void remote_descriptor_free(struct remote_descriptor *desc);

/* ref (its digest if it has one, else its tag) → descriptor; cb gets
 * ownership of desc. */
typedef void (*remote_resolve_cb)(void *data, struct remote_descriptor *desc, err_t *err);
struct remote_op *remotes_resolve(struct remotes *r, const struct reference *ref,
				  const struct remote_opts *o, remote_resolve_cb cb, void *data);

/* Where blob bytes go. start: the transfer begins at offset (the sink's
 * own offset when the registry honoured Range, 0 when it did not: then the
 * sink starts over); it may run again, after a retry. write: the next
 * bytes. pause: return 1 from write (the bytes are taken all the same) to
 * have the transfer paused until remote_op_resume (backpressure). Return < 0
 * from either to abort the transfer with that error (no retry). */
struct remote_blob_sink {
	int (*start)(void *data, uint64_t offset, err_t *err);
	int (*write)(void *data, const void *buf, size_t len, err_t *err);
	uint64_t (*offset)(void *data); /* bytes the sink holds now */
};

/* Fetch blob `digest` of `size` bytes from ref's repository into sink; cb
 * runs once at the end (err NULL on success; the caller then commits the
 * sink, which verifies the digest). */
typedef void (*remote_done_cb)(void *data, err_t *err);
struct remote_op *remotes_fetch_blob(struct remotes *r, const struct reference *ref,
				     const char *digest, uint64_t size, const struct remote_opts *o,
				     const struct remote_blob_sink *sink, void *sink_data,
				     remote_done_cb cb, void *data);

/* Stop an operation; its callback does not run. Safe from sink callbacks.
 * Not on an operation whose callback has started (it is freed after). */
void remote_op_cancel(struct remote_op *op);
/* Continue a transfer paused by sink->write returning 1; sink->write may
 * run before this returns. */
void remote_op_resume(struct remote_op *op);

/* Exposed for tests: blob transfers running and waiting for a slot. */
size_t remotes_blobs_active(const struct remotes *r);
size_t remotes_blobs_queued(const struct remotes *r);

#endif
