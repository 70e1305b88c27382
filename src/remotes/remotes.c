#include "config.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/log.h"
#include "remotes/internal.h"

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_V2 "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_V1 "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_V1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"

/* ---- credentials ------------------------------------------------------------ */

static char *default_docker_config(void)
{
	const char *dir = getenv("DOCKER_CONFIG");
	if (dir && *dir)
		return xasprintf("%s/config.json", dir);
	const char *home = getenv("HOME");
	if (home && *home)
		return xasprintf("%s/.docker/config.json", home);
	return NULL;
}

/* Re-read config.json when it changed (a `docker login` while berthd runs). */
static int creds_refresh(struct remotes *r, err_t *err)
{
	struct stat st;
	if (!r->docker_config || stat(r->docker_config, &st) < 0) {
		docker_creds_release(&r->creds);
		r->creds_loaded = false;
		return 0;
	}
	if (r->creds_loaded && st.st_ino == r->creds_st.st_ino &&
	    st.st_size == r->creds_st.st_size && st.st_mtim.tv_sec == r->creds_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == r->creds_st.st_mtim.tv_nsec)
		return 0;
	size_t len;
	char *text = read_file(r->docker_config, &len);
	if (!text)
		return make_error(err, E_INVALID_ARGUMENT, errno, "docker config `%s`",
				  r->docker_config);
	int rc = docker_config_parse(text, len, &r->creds, err);
	explicit_bzero(text, len);
	free(text);
	if (rc < 0)
		return error_wrap(err, "docker config `%s`", r->docker_config);
	r->creds_st = st;
	r->creds_loaded = true;
	return 0;
}

void remotes_cred_for(struct remotes *r, struct remote_op *op, const struct endpoint *ep,
		      struct cred *c)
{
	memset(c, 0, sizeof(*c));
	if (!ep->mirror && (op->user || op->token)) {
		c->user = op->user;
		c->pass = op->pass;
		c->registry_token = op->token;
		return;
	}
	err_t err = NULL;
	if (creds_refresh(r, &err) < 0) {
		/* keep what was read before */
		log_warn("cannot read registry credentials", "err=%s", err->msg);
		err_free(&err);
		r->creds_st.st_ino = 0;
	}
	const struct docker_cred *dc =
	    docker_creds_find(&r->creds, ep->mirror ? ep->host : op->domain);
	if (!dc && !ep->mirror)
		dc = docker_creds_find(&r->creds, ep->host);
	if (!dc)
		return;
	c->user = dc->username;
	c->pass = dc->password;
	c->identity_token = dc->identity_token;
	c->registry_token = dc->registry_token;
}

struct host_state *remotes_host_state(struct remotes *r, const char *host)
{
	for (struct host_state *h = r->hstates; h; h = h->next)
		if (strcmp(h->host, host) == 0)
			return h;
	struct host_state *h = xzalloc(sizeof(*h));
	h->host = xstrdup(host);
	h->next = r->hstates;
	r->hstates = h;
	return h;
}

/* ---- the service ------------------------------------------------------------ */

/* A new turn of the loop: the budget is whole again; resume the transfers it
 * paused (those their sink paused stay paused). */
static void turn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct remotes *r = arg;
	r->turn_bytes = 0;
	for (struct remote_op *op = r->ops, *next; op; op = next) {
		next = op->next;
		if (!op->budget_paused)
			continue;
		op->budget_paused = false;
		if (op->pause_wanted || !op->paused || !op->easy || op->cancelled)
			continue;
		op->paused = false;
		r->resuming++;
		curl_easy_pause(op->easy, CURLPAUSE_CONT);
		r->resuming--;
	}
}

void remotes_turn_count(struct remotes *r, size_t len)
{
	/* a timer, not event_active: it runs after the loop has polled again,
	 * so the API's sockets are served in between */
	static const struct timeval zero = { 0, 0 };
	if (r->turn_bytes == 0 && r->turn && !evtimer_pending(r->turn, NULL))
		evtimer_add(r->turn, &zero);
	r->turn_bytes += len;
}

int remotes_new(struct daemon *d, struct remotes **out, err_t *err)
{
	if (!d->curl)
		return make_error(err, E_INTERNAL, 0, "remotes: the curl loop is not running");
	struct remotes *r = xzalloc(sizeof(*r));
	r->d = d;
	r->cl = d->curl;
	r->max_blobs = d->cfg.max_concurrent_downloads ? d->cfg.max_concurrent_downloads : 1;
	r->retries = (unsigned)d->cfg.registry_retries;
	r->timeout = d->cfg.registry_timeout > 0 ? d->cfg.registry_timeout : 30;
	if (hosts_load(d->cfg.registries, &r->hosts, err) < 0) {
		free(r);
		return -1;
	}
	r->docker_config =
	    d->cfg.docker_config ? xstrdup(d->cfg.docker_config) : default_docker_config();
	/* a config.json that cannot be read at start-up is a configuration
	 * error when it was named; a default one only earns a warning */
	if (creds_refresh(r, err) < 0) {
		if (d->cfg.docker_config) {
			hosts_release(&r->hosts);
			free(r->docker_config);
			free(r);
			return -1;
		}
		log_warn("cannot read registry credentials", "err=%s", (*err)->msg);
		err_free(err);
	}
	log_debug("registry client ready", "hosts=%zu docker_config=%s credentials=%zu", r->hosts.n,
		  r->docker_config ? r->docker_config : "", r->creds.n);
	r->turn = evtimer_new(d->base, turn_cb, r);
	*out = r;
	return 0;
}

void remotes_free(struct remotes *r)
{
	if (!r)
		return;
	r->closing = true;
	while (r->ops)
		op_free(r->ops);
	tokens_free(r);
	while (r->hstates) {
		struct host_state *h = r->hstates;
		r->hstates = h->next;
		free(h->host);
		free(h->realm);
		free(h->service);
		free(h);
	}
	hosts_release(&r->hosts);
	docker_creds_release(&r->creds);
	free(r->docker_config);
	if (r->turn)
		event_free(r->turn);
	free(r);
}

size_t remotes_blobs_active(const struct remotes *r)
{
	return r->active_blobs;
}

size_t remotes_blobs_queued(const struct remotes *r)
{
	size_t n = 0;
	for (const struct remote_op *op = r->queue; op; op = op->qnext)
		n++;
	return n;
}

/* ---- the queue of blob transfers -------------------------------------------- */

static void pump(struct remotes *r)
{
	while (!r->closing && r->queue && r->active_blobs < r->max_blobs) {
		struct remote_op *op = r->queue;
		r->queue = op->qnext;
		op->qnext = NULL;
		op->has_slot = true;
		r->active_blobs++;
		op_schedule(op, 0);
	}
}

static void enqueue(struct remotes *r, struct remote_op *op)
{
	op->state = OP_QUEUED;
	struct remote_op **pp = &r->queue;
	while (*pp)
		pp = &(*pp)->qnext;
	*pp = op;
	pump(r);
}

/* Leave the queue, the slot and any token wait (not r->ops). */
static void detach(struct remote_op *op)
{
	struct remotes *r = op->r;
	if (op->state == OP_QUEUED) {
		for (struct remote_op **pp = &r->queue; *pp; pp = &(*pp)->qnext) {
			if (*pp == op) {
				*pp = op->qnext;
				break;
			}
		}
	}
	token_unwait(op);
	if (op->has_slot) {
		op->has_slot = false;
		r->active_blobs--;
		pump(r);
	}
}

static void op_release(struct remote_op *op)
{
	struct remotes *r = op->r;
	if (op->prev)
		op->prev->next = op->next;
	else if (r->ops == op)
		r->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	op_reset_transfer(op);
	if (op->timer)
		event_free(op->timer);
	if (op->stall)
		event_free(op->stall);
	endpoints_free(op->eps, op->neps);
	err_free(&op->last_err);
	err_free(&op->start_err);
	free(op->domain);
	free(op->repo);
	free(op->object);
	free(op->refname);
	free(op->want);
	free(op->chal_scope);
	secret_free(op->user);
	secret_free(op->pass);
	secret_free(op->token);
	free(op);
}

void op_free(struct remote_op *op)
{
	detach(op);
	op_release(op);
}

static void deliver(struct remote_op *op, err_t *err, struct remote_manifest *m,
		    struct remote_descriptor *desc)
{
	detach(op);
	op->state = OP_ENDED;
	op_reset_transfer(op);
	if (op->timer)
		evtimer_del(op->timer);
	if (*err)
		log_debug("registry operation failed", "repo=%s object=%s err=%s", op->repo,
			  op->object, (*err)->msg);
	switch (op->kind) {
	case OP_MANIFEST:
		op->cb.manifest(op->data, m, err);
		break;
	case OP_RESOLVE:
		op->cb.resolve(op->data, desc, err);
		break;
	case OP_BLOB:
		op->cb.done(op->data, err);
		break;
	}
	err_free(err);
	op_release(op);
}

void op_finish(struct remote_op *op, err_t *err)
{
	deliver(op, err, NULL, NULL);
}

/* ---- manifests ---------------------------------------------------------------- */

static bool generic_type(const char *t)
{
	return !t || !*t || strcmp(t, "application/json") == 0 || strcmp(t, "text/plain") == 0 ||
	       strcmp(t, "application/octet-stream") == 0 || strcmp(t, "binary/octet-stream") == 0;
}

/* "application/x+json; charset=utf-8" → "application/x+json" */
static char *media_type_of(const char *content_type)
{
	if (!content_type)
		return NULL;
	size_t n = strcspn(content_type, "; \t");
	char *t = xstrndup(content_type, n);
	for (char *p = t; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return t;
}

static bool is_schema1(const char *t)
{
	return t && (strcmp(t, MT_DOCKER_V1) == 0 || strcmp(t, MT_DOCKER_V1_SIGNED) == 0);
}

/* Verify a manifest's bytes and name its type: digest against the one
 * asked for and the registry's Docker-Content-Digest; schema1 refused. */
static int check_manifest(struct remote_op *op, char **media, char digest[DIGEST_STRLEN + 1],
			  err_t *err)
{
	const char *data = op->body.data ? op->body.data : "";
	size_t len = op->body.len;
	digest_buffer(data, len, digest);
	if (op->want && strcmp(op->want, digest) != 0)
		return make_error(err, E_INVALID_ARGUMENT, 0,
				  "manifest `%s`: the registry sent bytes of digest `%s`",
				  op->refname, digest);
	const char *dcd = op->resp.docker_digest;
	if (dcd && strncmp(dcd, DIGEST_SHA256_PREFIX, 7) == 0 && strcmp(dcd, digest) != 0)
		return make_error(
		    err, E_INVALID_ARGUMENT, 0,
		    "manifest `%s`: Docker-Content-Digest `%s` does not match the bytes (`%s`)",
		    op->refname, dcd, digest);
	cleanup_json json_t *j = json_loadb(data, len, 0, NULL);
	if (!json_is_object(j))
		return make_error(err, E_INVALID_ARGUMENT, 0, "manifest `%s` is not a JSON object",
				  op->refname);
	cleanup_free char *ct = media_type_of(op->resp.content_type);
	const char *field = json_get_string(j, "mediaType");
	json_t *sv = json_object_get(j, "schemaVersion");
	if (is_schema1(ct) || is_schema1(field) ||
	    (json_is_integer(sv) && json_integer_value(sv) == 1))
		return make_error(err, E_NOT_IMPLEMENTED, 0,
				  "manifest `%s`: schema1 manifests are not supported (push the "
				  "image again with a current client)",
				  op->refname);
	if (field && *field)
		*media = xstrdup(field);
	else if (!generic_type(ct))
		*media = xstrdup(ct);
	else if (json_object_get(j, "manifests"))
		*media = xstrdup(MT_OCI_INDEX);
	else if (json_object_get(j, "config") && json_object_get(j, "layers"))
		*media = xstrdup(MT_OCI_MANIFEST);
	else
		return make_error(err, E_INVALID_ARGUMENT, 0, "manifest `%s` has no media type",
				  op->refname);
	return 0;
}

/* HEAD said enough to resolve? Then the descriptor, else NULL (GET next). */
static struct remote_descriptor *head_descriptor(struct remote_op *op)
{
	const char *dcd = op->resp.docker_digest;
	cleanup_free char *ct = media_type_of(op->resp.content_type);
	err_t e = NULL;
	if (!dcd || digest_validate(dcd, &e) < 0 || generic_type(ct) || is_schema1(ct) ||
	    op->resp.content_length < 0) {
		err_free(&e);
		return NULL;
	}
	struct remote_descriptor *d = xzalloc(sizeof(*d));
	d->media_type = steal_ptr(&ct);
	snprintf(d->digest, sizeof(d->digest), "%s", dcd);
	d->size = (uint64_t)op->resp.content_length;
	return d;
}

void op_complete(struct remote_op *op)
{
	err_t err = NULL;
	if (op->kind == OP_BLOB) {
		op_finish(op, &err);
		return;
	}
	if (op->kind == OP_RESOLVE && !op->head_failed) {
		struct remote_descriptor *d = head_descriptor(op);
		if (!d) {
			op->head_failed = true;
			op_attempt(op);
			return;
		}
		if (op->want && strcmp(op->want, d->digest) != 0) {
			make_error(&err, E_INVALID_ARGUMENT, 0,
				   "manifest `%s`: the registry resolved it to `%s`", op->refname,
				   d->digest);
			remote_descriptor_free(d);
			op_fail(op, &err);
			return;
		}
		deliver(op, &err, NULL, d);
		return;
	}
	char *media = NULL;
	char digest[DIGEST_STRLEN + 1];
	if (check_manifest(op, &media, digest, &err) < 0) {
		if (err->kind == E_NOT_IMPLEMENTED)
			op_finish(op, &err);
		else
			op_fail(op, &err);
		return;
	}
	if (op->kind == OP_RESOLVE) {
		struct remote_descriptor *d = xzalloc(sizeof(*d));
		d->media_type = media;
		snprintf(d->digest, sizeof(d->digest), "%s", digest);
		d->size = op->body.len;
		deliver(op, &err, NULL, d);
		return;
	}
	struct remote_manifest *m = xzalloc(sizeof(*m));
	m->media_type = media;
	snprintf(m->digest, sizeof(m->digest), "%s", digest);
	m->len = op->body.len;
	m->data = buf_detach(&op->body, NULL);
	deliver(op, &err, m, NULL);
}

void remote_manifest_free(struct remote_manifest *m)
{
	if (!m)
		return;
	free(m->media_type);
	free(m->data);
	free(m);
}

void remote_descriptor_free(struct remote_descriptor *d)
{
	if (!d)
		return;
	free(d->media_type);
	free(d);
}

/* ---- operations ------------------------------------------------------------------ */

static struct remote_op *op_new(struct remotes *r, enum op_kind kind, const struct reference *ref,
				const char *digest, const struct remote_opts *o, void *data)
{
	struct remote_op *op = xzalloc(sizeof(*op));
	op->r = r;
	op->kind = kind;
	op->data = data;
	op->domain = xstrdup(ref->domain);
	op->repo = xstrdup(ref->path);
	if (digest)
		op->want = xstrdup(digest);
	else if (ref->digest)
		op->want = xstrdup(ref->digest);
	op->object = xstrdup(op->want ? op->want : ref->tag ? ref->tag : "latest");
	if (op->want && kind != OP_BLOB)
		op->refname = xasprintf("%s/%s@%s", ref->domain, ref->path, op->want);
	else
		op->refname =
		    xasprintf("%s/%s:%s", ref->domain, ref->path, ref->tag ? ref->tag : "latest");
	op->resp.content_length = -1;
	op->resp.retry_after = -1;
	if (o) {
		op->plain_http = o->plain_http;
		op->user = o->username ? xstrdup(o->username) : NULL;
		op->pass = o->password ? xstrdup(o->password) : NULL;
		op->token = o->token && *o->token ? xstrdup(o->token) : NULL;
	}
	if (op->want && digest_validate(op->want, &op->start_err) < 0)
		error_wrap(&op->start_err, "`%s`", op->refname);
	else if (hosts_endpoints(&r->hosts, op->domain, op->plain_http, true, &op->eps, &op->neps,
				 &op->start_err) < 0)
		error_wrap(&op->start_err, "registry `%s`", op->domain);
	op->next = r->ops;
	if (r->ops)
		r->ops->prev = op;
	r->ops = op;
	return op;
}

/* Start from the loop (never call back before the caller has the op). */
static void op_start(struct remote_op *op)
{
	/* an early error (start_err) is reported from the loop too */
	if (op->kind == OP_BLOB && !op->start_err)
		enqueue(op->r, op);
	else
		op_schedule(op, 0);
}

struct remote_op *remotes_get_manifest(struct remotes *r, const struct reference *ref,
				       const char *digest, const struct remote_opts *o,
				       remote_manifest_cb cb, void *data)
{
	struct remote_op *op = op_new(r, OP_MANIFEST, ref, digest, o, data);
	op->cb.manifest = cb;
	op_start(op);
	return op;
}

struct remote_op *remotes_resolve(struct remotes *r, const struct reference *ref,
				  const struct remote_opts *o, remote_resolve_cb cb, void *data)
{
	struct remote_op *op = op_new(r, OP_RESOLVE, ref, NULL, o, data);
	op->cb.resolve = cb;
	op_start(op);
	return op;
}

struct remote_op *remotes_fetch_blob(struct remotes *r, const struct reference *ref,
				     const char *digest, uint64_t size, const struct remote_opts *o,
				     const struct remote_blob_sink *sink, void *sink_data,
				     remote_done_cb cb, void *data)
{
	struct remote_op *op = op_new(r, OP_BLOB, ref, digest, o, data);
	op->cb.done = cb;
	op->size = size;
	op->sink = sink;
	op->sink_data = sink_data;
	op_start(op);
	return op;
}

void remote_op_cancel(struct remote_op *op)
{
	if (!op || op->cancelled || op->state == OP_ENDED)
		return;
	struct remotes *r = op->r;
	op->cancelled = true;
	detach(op);
	if (op->busy || r->resuming || curl_loop_in_callback(r->cl)) {
		/* libcurl is running one of our callbacks: free from the loop */
		op_schedule(op, 0);
		return;
	}
	op_free(op);
}

void remote_op_resume(struct remote_op *op)
{
	if (!op || op->cancelled || op->state == OP_ENDED)
		return;
	op->pause_wanted = false;
	if (!op->paused || !op->easy)
		return;
	op->paused = false;
	op->last_progress_ns = time_mono_ns();
	struct remotes *r = op->r;
	r->resuming++;
	curl_easy_pause(op->easy, CURLPAUSE_CONT);
	r->resuming--;
}
