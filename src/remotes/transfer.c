#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/log.h"
#include "remotes/internal.h"

#define USER_AGENT "berth/" PACKAGE_VERSION

static const char manifest_accept[] =
    "Accept: application/vnd.oci.image.index.v1+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json, */*;q=0.1";

unsigned remotes_backoff_ms(unsigned attempt)
{
	if (attempt == 0)
		return 0;
	if (attempt > 6)
		return 8000;
	return 250u << (attempt - 1);
}

unsigned remotes_retry_delay_ms(unsigned attempt, double rnd, int64_t retry_after)
{
	if (retry_after >= 0)
		return retry_after > 10 ? 10000 : (unsigned)retry_after * 1000;
	unsigned base = remotes_backoff_ms(attempt);
	return (unsigned)(base * 0.75 + base * 0.5 * rnd);
}

void curl_slist_free_secret(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p; p = p->next)
		if (strncasecmp(p->data, "Authorization:", 14) == 0)
			explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

static void resp_release(struct resp *rs)
{
	for (size_t i = 0; i < rs->nwww_auth; i++)
		free(rs->www_auth[i]);
	free(rs->www_auth);
	free(rs->content_type);
	free(rs->docker_digest);
	free(rs->content_range);
	memset(rs, 0, sizeof(*rs));
	rs->content_length = -1;
	rs->retry_after = -1;
}

void op_reset_transfer(struct remote_op *op)
{
	if (op->stall)
		evtimer_del(op->stall);
	if (op->easy) {
		curl_loop_remove(op->r->cl, op->easy);
		curl_easy_cleanup(op->easy);
		op->easy = NULL;
	}
	curl_slist_free_secret(op->hdrs);
	op->hdrs = NULL;
	resp_release(&op->resp);
	buf_release(&op->body);
	err_free(&op->abort_err);
	op->abort_how = ABORT_NONE;
	op->received = 0;
	op->started = false;
	op->pause_wanted = false;
	op->paused = false;
	op->budget_paused = false;
}

char *endpoint_base(struct remotes *r, const struct endpoint *ep)
{
	const char *scheme = ep->scheme;
	if (ep->loopback && strcmp(scheme, "https") == 0 &&
	    remotes_host_state(r, ep->host)->http_fallback)
		scheme = "http";
	return xasprintf("%s://%s%s", scheme, ep->host, ep->root);
}

void transfer_setopts(struct remotes *r, CURL *easy, const struct endpoint *ep)
{
	long stall = (long)r->timeout;
	if ((double)stall < r->timeout)
		stall++;
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)(r->timeout * 1000));
	/* a transfer that moves no byte for `registry_timeout` fails (paused
	 * transfers are exempt: that is backpressure, not a stall) */
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, stall < 1 ? 1L : stall);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	/* registries redirect blobs to storage; libcurl sends our
	 * Authorization header to the original host only */
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(easy, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(easy, CURLOPT_UNRESTRICTED_AUTH, 0L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 128L * 1024);
	if (ep->skip_verify) {
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (ep->ca_file)
		curl_easy_setopt(easy, CURLOPT_CAINFO, ep->ca_file);
	if (ep->client_cert) {
		curl_easy_setopt(easy, CURLOPT_SSLCERT, ep->client_cert);
		curl_easy_setopt(easy, CURLOPT_SSLKEY, ep->client_key);
	}
}

char *registry_error_text(const char *body, size_t len)
{
	if (!body || !len)
		return NULL;
	cleanup_json json_t *j = json_loadb(body, len, 0, NULL);
	json_t *errs = j ? json_object_get(j, "errors") : NULL;
	json_t *e0 = json_is_array(errs) ? json_array_get(errs, 0) : NULL;
	if (!json_is_object(e0))
		return NULL;
	const char *code = json_get_string(e0, "code");
	const char *msg = json_get_string(e0, "message");
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s%s%s", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
	if (b.len > 200) {
		b.len = 200;
		b.data[200] = '\0';
	}
	for (size_t i = 0; i < b.len; i++)
		if (!isprint((unsigned char)b.data[i]))
			b.data[i] = '?';
	if (b.len == 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

/* ---- libcurl callbacks -------------------------------------------------- */

static char *trimmed(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return xstrndup(s, n);
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *arg)
{
	struct remote_op *op = arg;
	size_t n = size * nitems;
	if (op->cancelled)
		return 0;
	op->last_progress_ns = time_mono_ns();
	if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* a new response (after a redirect or a 100): forget the last */
		resp_release(&op->resp);
		const char *sp = memchr(buf, ' ', n);
		op->resp.status = sp ? strtol(sp + 1, NULL, 10) : 0;
		return n;
	}
	const char *colon = memchr(buf, ':', n);
	if (!colon)
		return n;
	size_t nl = (size_t)(colon - buf);
	const char *v = colon + 1;
	size_t vl = n - nl - 1;
	struct resp *rs = &op->resp;
#define IS(name) (nl == sizeof(name) - 1 && strncasecmp(buf, name, nl) == 0)
	if (IS("WWW-Authenticate")) {
		rs->www_auth = xrealloc(rs->www_auth, (rs->nwww_auth + 1) * sizeof(char *));
		rs->www_auth[rs->nwww_auth++] = trimmed(v, vl);
	} else if (IS("Content-Type")) {
		free(rs->content_type);
		rs->content_type = trimmed(v, vl);
	} else if (IS("Docker-Content-Digest")) {
		free(rs->docker_digest);
		rs->docker_digest = trimmed(v, vl);
	} else if (IS("Content-Range")) {
		free(rs->content_range);
		rs->content_range = trimmed(v, vl);
	} else if (IS("Content-Length") || IS("Retry-After")) {
		cleanup_free char *t = trimmed(v, vl);
		uint64_t x;
		if (parse_u64(t, &x) && x < INT64_MAX) {
			if (IS("Content-Length"))
				rs->content_length = (int64_t)x;
			else
				rs->retry_after = (int64_t)x;
		}
	}
#undef IS
	return n;
}

static void abort_with(struct remote_op *op, enum abort_how how, err_t *err)
{
	err_free(&op->abort_err);
	op->abort_err = steal_ptr(err);
	op->abort_how = how;
}

/* "bytes START-END/TOTAL" → START */
static bool content_range_start(const char *cr, uint64_t *start)
{
	if (!cr || strncasecmp(cr, "bytes ", 6) != 0)
		return false;
	char *end;
	unsigned long long v = strtoull(cr + 6, &end, 10);
	if (end == cr + 6 || *end != '-')
		return false;
	*start = v;
	return true;
}

/* The first body bytes of a 200/206 blob answer: tell the sink where. */
static int blob_start(struct remote_op *op)
{
	err_t err = NULL;
	uint64_t at = 0;
	if (op->resp.status == 206) {
		uint64_t s;
		if (!content_range_start(op->resp.content_range, &s) || s != op->offset) {
			op->no_range = true;
			make_error(&err, E_UNAVAILABLE, 0,
				   "blob `%s`: the registry answered another range than asked",
				   op->want);
			abort_with(op, ABORT_RETRY, &err);
			return -1;
		}
		at = op->offset;
	}
	op->offset = at;
	if (op->resp.content_length >= 0 && at + (uint64_t)op->resp.content_length != op->size) {
		make_error(&err, E_INVALID_ARGUMENT, 0,
			   "blob `%s`: the registry announced %" PRIu64
			   " bytes, its descriptor %" PRIu64,
			   op->want, at + (uint64_t)op->resp.content_length, op->size);
		abort_with(op, ABORT_ENDPOINT, &err);
		return -1;
	}
	op->busy++;
	int rc = op->sink->start(op->sink_data, at, &err);
	op->busy--;
	if (op->cancelled) {
		err_free(&err);
		return -1;
	}
	if (rc < 0) {
		if (!err)
			make_error(&err, E_INTERNAL, 0, "blob `%s`: the sink refused to start",
				   op->want);
		abort_with(op, ABORT_FATAL, &err);
		return -1;
	}
	op->started = true;
	return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct remote_op *op = arg;
	size_t len = size * nmemb;
	long st = op->resp.status;
	err_t err = NULL;
	if (op->cancelled)
		return 0;
	op->last_progress_ns = time_mono_ns();
	if (st != 200 && st != 206) {
		/* an error answer: keep its start for the message */
		if (op->body.len < REMOTE_SMALL_BODY_MAX)
			buf_add(&op->body, ptr,
				len < REMOTE_SMALL_BODY_MAX - op->body.len
				    ? len
				    : REMOTE_SMALL_BODY_MAX - op->body.len);
		return len;
	}
	if (op->kind != OP_BLOB) {
		if (op->body.len + len > REMOTE_MANIFEST_MAX) {
			make_error(&err, E_INVALID_ARGUMENT, 0,
				   "manifest `%s` is larger than %u bytes", op->refname,
				   REMOTE_MANIFEST_MAX);
			abort_with(op, ABORT_ENDPOINT, &err);
			return 0;
		}
		buf_add(&op->body, ptr, len);
		return len;
	}
	if (op->pause_wanted) {
		/* libcurl keeps these bytes and gives them again on resume */
		op->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (op->r->turn_bytes >= REMOTES_TURN_BUDGET) {
		op->budget_paused = true;
		op->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (!op->started && blob_start(op) < 0)
		return 0;
	if (op->offset + op->received + len > op->size) {
		make_error(&err, E_INVALID_ARGUMENT, 0,
			   "blob `%s`: the registry sent more than its %" PRIu64 " bytes", op->want,
			   op->size);
		abort_with(op, ABORT_ENDPOINT, &err);
		return 0;
	}
	op->busy++;
	int rc = op->sink->write(op->sink_data, ptr, len, &err);
	op->busy--;
	if (op->cancelled) {
		err_free(&err);
		return 0;
	}
	if (rc < 0) {
		if (!err)
			make_error(&err, E_INTERNAL, 0, "blob `%s`: the sink refused the bytes",
				   op->want);
		abort_with(op, ABORT_FATAL, &err);
		return 0;
	}
	op->received += len;
	remotes_turn_count(op->r, len);
	if (rc == 1)
		op->pause_wanted = true;
	return len;
}

/* ---- attempts -------------------------------------------------------------- */

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct remote_op *op = arg;
	if (op->cancelled) {
		op_free(op);
		return;
	}
	op_attempt(op);
}

static void arm_stall(struct remote_op *op, int64_t after_ns)
{
	struct timeval tv = {(time_t)(after_ns / 1000000000), (after_ns % 1000000000) / 1000};
	evtimer_add(op->stall, &tv);
}

/* libcurl's low-speed check averages over seconds, so a burst of bytes
 * hides a stall that follows: the registry_timeout is kept here instead. */
static void stall_cb(evutil_socket_t fd, short what, void *arg)
{
	struct remote_op *op = arg;
	struct remotes *r = op->r;
	if (op->cancelled || op->state != OP_RUNNING || !op->easy)
		return;
	int64_t limit = (int64_t)(r->timeout * 1e9);
	int64_t idle = time_mono_ns() - op->last_progress_ns;
	if (op->paused || idle < limit) {
		/* a paused transfer waits for its sink, not for the registry */
		arm_stall(op, op->paused ? limit : limit - idle);
		return;
	}
	err_t err = NULL;
	bool progress = op->kind == OP_BLOB && op->received > 0;
	make_error(&err, E_UNAVAILABLE, 0, "%s `%s`: `%s`: timeout: no data for %g s",
		   op->kind == OP_BLOB ? "blob" : "manifest",
		   op->kind == OP_BLOB ? op->want : op->refname, op->eps[op->ep].host, r->timeout);
	op_retry(op, &err, progress, -1);
}

void op_schedule(struct remote_op *op, unsigned delay_ms)
{
	if (!op->timer)
		op->timer = evtimer_new(op->r->d->base, timer_cb, op);
	op->state = OP_WAIT;
	struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
	evtimer_add(op->timer, &tv);
}

static void move_on(struct remote_op *op, err_t *err)
{
	const struct endpoint *ep = &op->eps[op->ep];
	log_info("registry endpoint failed, trying the next", "host=%s repo=%s err=%s", ep->host,
		 op->repo, (*err)->msg);
	err_free(&op->last_err);
	op->last_err = steal_ptr(err);
	op->ep++;
	op->failures = 0;
	op->auth_retried = false;
	op->no_range = false;
	op_reset_transfer(op);
	op_attempt(op);
}

void op_fail(struct remote_op *op, err_t *err)
{
	if (op->ep + 1 < op->neps) {
		move_on(op, err);
		return;
	}
	op_finish(op, err);
}

void op_retry(struct remote_op *op, err_t *err, bool progress, int64_t retry_after)
{
	struct remotes *r = op->r;
	if (op->ep + 1 < op->neps) {
		move_on(op, err);
		return;
	}
	/* a resumed transfer that moved a MiB is not a failure that counts:
	 * bounded all the same, by the blob's size */
	bool counts = !(progress && op->received >= (1u << 20));
	if (counts && op->failures >= r->retries) {
		if (r->retries)
			error_wrap(err, "after %u retries", r->retries);
		op_finish(op, err);
		return;
	}
	if (counts)
		op->failures++;
	unsigned delay =
	    progress
		? 0
		: remotes_retry_delay_ms(op->failures, (double)random() / RAND_MAX, retry_after);
	log_info("registry request failed, retrying",
		 "host=%s repo=%s object=%s retry=%u delay_ms=%u err=%s", op->eps[op->ep].host,
		 op->repo, op->object, op->failures, delay, (*err)->msg);
	err_free(err);
	op_reset_transfer(op);
	op_schedule(op, delay);
}

static bool tls_failure(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_USE_SSL_FAILED:
		return true;
	default:
		return false;
	}
}

static void fail_status(struct remote_op *op, long st)
{
	const struct endpoint *ep = &op->eps[op->ep];
	cleanup_free char *why = registry_error_text(op->body.data, op->body.len);
	err_t err = NULL;
	const char *what = op->kind == OP_BLOB ? "blob" : "manifest";
	const char *name = op->kind == OP_BLOB ? op->want : op->refname;
	if (st == 404) {
		if (op->kind == OP_BLOB)
			make_error(&err, E_NOT_FOUND, 0, "blob `%s` not found in `%s/%s`", op->want,
				   op->domain, op->repo);
		else
			make_error(&err, E_NOT_FOUND, 0, "manifest `%s` not found", op->refname);
		op_fail(op, &err);
		return;
	}
	if (st == 403) {
		make_error(&err, E_PERMISSION_DENIED, 0, "%s `%s`: `%s` denied access%s%s", what,
			   name, ep->host, why ? ": " : "", why ? why : "");
		op_fail(op, &err);
		return;
	}
	if (st == 408 || st == 429 || st >= 500) {
		make_error(&err, E_UNAVAILABLE, 0, "%s `%s`: `%s` answered %ld%s%s", what, name,
			   ep->host, st, why ? ": " : "", why ? why : "");
		op_retry(op, &err, false, op->resp.retry_after);
		return;
	}
	make_error(&err, E_INVALID_ARGUMENT, 0, "%s `%s`: `%s` answered %ld%s%s", what, name,
		   ep->host, st, why ? ": " : "", why ? why : "");
	op_fail(op, &err);
}

/* A 401: learn the host's scheme from its challenges, retry once with
 * fresh credentials or a fresh token. */
static void unauthorized(struct remote_op *op)
{
	struct remotes *r = op->r;
	const struct endpoint *ep = &op->eps[op->ep];
	struct host_state *hs = remotes_host_state(r, ep->host);
	struct cred c;
	remotes_cred_for(r, op, ep, &c);
	bool have = c.user || c.identity_token || c.registry_token;
	err_t err = NULL;

	struct www_challenge *ch = NULL;
	size_t nch = 0;
	for (size_t i = 0; i < op->resp.nwww_auth; i++) {
		err_t perr = NULL;
		if (www_auth_parse(op->resp.www_auth[i], &ch, &nch, &perr) < 0) {
			log_debug("ignoring a malformed challenge", "host=%s err=%s", ep->host,
				  perr->msg);
			err_free(&perr);
		}
	}
	const struct www_challenge *bearer = NULL, *basic = NULL;
	for (size_t i = 0; i < nch; i++) {
		if (!bearer && strcmp(ch[i].scheme, "bearer") == 0 &&
		    www_challenge_param(&ch[i], "realm"))
			bearer = &ch[i];
		if (!basic && strcmp(ch[i].scheme, "basic") == 0)
			basic = &ch[i];
	}
	/* Basic credentials the host just refused will not work a second time */
	bool basic_refused = !bearer && basic && op->sent_auth && hs->scheme == AUTH_BASIC;
	if (op->auth_retried || c.registry_token || (!bearer && !basic) ||
	    (!bearer && basic && !c.user) || basic_refused) {
		if (op->sent_auth && have)
			make_error(&err, E_UNAUTHENTICATED, 0,
				   "`%s` refused the credentials for `%s`", ep->host, op->repo);
		else
			make_error(&err, E_UNAUTHENTICATED, 0,
				   "`%s` requires authentication for `%s`", ep->host, op->repo);
		goto fail;
	}
	if (bearer) {
		if (op->sent_auth && hs->scheme == AUTH_BEARER)
			token_forget(r, op, hs);
		free(hs->realm);
		free(hs->service);
		hs->realm = xstrdup(www_challenge_param(bearer, "realm"));
		const char *svc = www_challenge_param(bearer, "service");
		hs->service = svc ? xstrdup(svc) : NULL;
		hs->scheme = AUTH_BEARER;
		const char *scope = www_challenge_param(bearer, "scope");
		free(op->chal_scope);
		op->chal_scope = scope ? xstrdup(scope) : NULL;
	} else {
		hs->scheme = AUTH_BASIC;
	}
	www_challenges_free(ch, nch);
	free(ch);
	op->auth_retried = true;
	op_reset_transfer(op);
	op_attempt(op);
	return;
fail:
	www_challenges_free(ch, nch);
	free(ch);
	op_fail(op, &err);
}

static void done_cb(CURL *easy, CURLcode rc, void *arg)
{
	struct remote_op *op = arg;
	struct remotes *r = op->r;
	const struct endpoint *ep = &op->eps[op->ep];
	err_t err = NULL;
	if (op->cancelled) {
		op_free(op);
		return;
	}
	if (op->abort_how != ABORT_NONE) {
		enum abort_how how = op->abort_how;
		err = steal_ptr(&op->abort_err);
		op->abort_how = ABORT_NONE;
		if (how == ABORT_FATAL)
			op_finish(op, &err);
		else if (how == ABORT_ENDPOINT)
			op_fail(op, &err);
		else
			op_retry(op, &err, op->received > 0, -1);
		return;
	}
	if (rc != CURLE_OK) {
		struct host_state *hs = remotes_host_state(r, ep->host);
		if (tls_failure(rc) && ep->loopback && !hs->http_fallback &&
		    strcmp(ep->scheme, "https") == 0) {
			log_info("TLS failed on a loopback registry, using plain HTTP",
				 "host=%s err=%s", ep->host, curl_easy_strerror(rc));
			hs->http_fallback = true;
			op_reset_transfer(op);
			op_attempt(op);
			return;
		}
		if (rc == CURLE_OPERATION_TIMEDOUT)
			make_error(&err, E_UNAVAILABLE, 0, "`%s`: timeout: no data for %g s",
				   ep->host, r->timeout);
		else
			make_error(&err, E_UNAVAILABLE, 0, "`%s`: %s", ep->host,
				   curl_easy_strerror(rc));
		bool progress = op->kind == OP_BLOB && op->received > 0;
		error_wrap(&err, "%s `%s`", op->kind == OP_BLOB ? "blob" : "manifest",
			   op->kind == OP_BLOB ? op->want : op->refname);
		op_retry(op, &err, progress, -1);
		return;
	}
	long st = 0;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &st);
	op->resp.status = st;
	log_debug("registry answered", "host=%s repo=%s object=%s status=%ld", ep->host, op->repo,
		  op->object, st);
	if (st != 401)
		op->auth_retried = false;
	if (st == 401) {
		unauthorized(op);
		return;
	}
	if (op->kind == OP_RESOLVE && !op->head_failed && (st == 405 || st == 501)) {
		op->head_failed = true;
		op_reset_transfer(op);
		op_attempt(op);
		return;
	}
	if (st == 200 || (st == 206 && op->kind == OP_BLOB)) {
		if (op->kind == OP_BLOB) {
			if (!op->started && blob_start(op) < 0) {
				done_cb(easy, CURLE_WRITE_ERROR, op);
				return;
			}
			if (op->offset + op->received != op->size) {
				bool progress = op->received > 0;
				make_error(&err, E_UNAVAILABLE, 0,
					   "blob `%s`: the transfer ended after %" PRIu64
					   " of %" PRIu64 " bytes",
					   op->want, op->offset + op->received, op->size);
				op_retry(op, &err, progress, -1);
				return;
			}
		}
		op_complete(op);
		return;
	}
	fail_status(op, st);
}

void op_attempt(struct remote_op *op)
{
	struct remotes *r = op->r;
	err_t err = NULL;
	if (op->start_err) {
		err = steal_ptr(&op->start_err);
		op_finish(op, &err);
		return;
	}
	op_reset_transfer(op);
	const struct endpoint *ep = &op->eps[op->ep];
	struct host_state *hs = remotes_host_state(r, ep->host);
	struct cred c;
	remotes_cred_for(r, op, ep, &c);

	char *authz = NULL;
	op->sent_auth = false;
	if (c.registry_token) {
		authz = xasprintf("Authorization: Bearer %s", c.registry_token);
	} else if (hs->scheme == AUTH_BEARER) {
		const char *t = token_get(r, op, hs);
		if (!t)
			return; /* op waits for the token, or has ended */
		if (*t)
			authz = xasprintf("Authorization: Bearer %s", t);
	} else if (hs->scheme == AUTH_BASIC && c.user) {
		cleanup_free char *up = xasprintf("%s:%s", c.user, c.pass ? c.pass : "");
		char *b = base64_encode(up, strlen(up));
		authz = xasprintf("Authorization: Basic %s", b);
		explicit_bzero(up, strlen(up));
		secret_free(b);
	}
	if (authz) {
		op->hdrs = curl_slist_append(op->hdrs, authz);
		op->sent_auth = true;
		secret_free(authz);
	}

	if (op->kind == OP_BLOB) {
		op->offset = op->no_range ? 0 : op->sink->offset(op->sink_data);
		if (op->offset > op->size)
			op->offset = 0;
		if (op->offset == op->size && op->size > 0) {
			/* the sink holds it all already: its commit verifies */
			op_complete(op);
			return;
		}
		if (op->offset > 0) {
			char range[64];
			snprintf(range, sizeof(range), "Range: bytes=%" PRIu64 "-", op->offset);
			op->hdrs = curl_slist_append(op->hdrs, range);
		}
	} else {
		op->hdrs = curl_slist_append(op->hdrs, manifest_accept);
	}

	cleanup_free char *base = endpoint_base(r, ep);
	cleanup_free char *url = xasprintf("%s/%s/%s/%s", base, op->repo,
					   op->kind == OP_BLOB ? "blobs" : "manifests", op->object);
	CURL *easy = curl_loop_easy_new(&err);
	if (!easy) {
		op_finish(op, &err);
		return;
	}
	op->easy = easy;
	transfer_setopts(r, easy, ep);
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, op->hdrs);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, op);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, op);
	if (op->kind == OP_RESOLVE && !op->head_failed)
		curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
	log_debug("registry request", "method=%s host=%s repo=%s object=%s offset=%" PRIu64,
		  op->kind == OP_RESOLVE && !op->head_failed ? "HEAD" : "GET", ep->host, op->repo,
		  op->object, op->kind == OP_BLOB ? op->offset : 0);
	op->state = OP_RUNNING;
	if (curl_loop_add(r->cl, easy, done_cb, op, &err) < 0) {
		op_finish(op, &err);
		return;
	}
	if (!op->stall)
		op->stall = evtimer_new(r->d->base, stall_cb, op);
	op->last_progress_ns = time_mono_ns();
	arm_stall(op, (int64_t)(r->timeout * 1e9));
}
