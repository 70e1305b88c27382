#include "config.h"

#include <string.h>

#include <jansson.h>

#include "core/log.h"
#include "remotes/internal.h"

/* Largest token server answer kept. */
#define TOKEN_BODY_MAX (1u << 20)

/* One token per (host, realm, service, scopes, credentials): fetched once
 * for every operation that needs it at the same time. */
struct token_entry {
	struct remotes *r;
	char *key;
	char *host;	    /* the registry endpoint's host, for messages */
	char *token;	    /* NULL until fetched */
	int64_t expires_ns; /* monotonic */
	bool have_creds;
	CURL *easy; /* the fetch in flight, or NULL */
	struct curl_slist *hdrs;
	char *post; /* form body (a secret) */
	struct buf body;
	struct remote_op *waiters;
	struct token_entry *next;
};

static void scope_of(const struct remote_op *op, char **s1, char **s2)
{
	*s1 = xasprintf("repository:%s:pull", op->repo);
	*s2 = op->chal_scope && strcmp(op->chal_scope, *s1) != 0 ? xstrdup(op->chal_scope) : NULL;
}

/* Which credentials a token was fetched with, without the secret itself. */
static char *cred_id(const struct cred *c)
{
	char d[DIGEST_STRLEN + 1];
	if (c->identity_token) {
		digest_buffer(c->identity_token, strlen(c->identity_token), d);
		return xasprintf("i:%.23s", d);
	}
	if (c->user) {
		struct buf b = BUF_INIT;
		buf_adds(&b, c->user);
		buf_add(&b, "", 1);
		buf_adds(&b, c->pass ? c->pass : "");
		digest_buffer(b.data, b.len, d);
		explicit_bzero(b.data, b.len);
		buf_release(&b);
		return xasprintf("u:%.23s", d);
	}
	return xstrdup("anon");
}

static char *token_key(struct remote_op *op, struct host_state *hs, const struct cred *c)
{
	cleanup_free char *s1 = NULL, *s2 = NULL, *id = cred_id(c);
	scope_of(op, &s1, &s2);
	return xasprintf("%s\n%s\n%s\n%s %s\n%s", hs->host, hs->realm,
			 hs->service ? hs->service : "", s1, s2 ? s2 : "", id);
}

static struct token_entry *find(struct remotes *r, const char *key)
{
	for (struct token_entry *e = r->tokens; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void unlink_entry(struct remotes *r, struct token_entry *e)
{
	for (struct token_entry **pp = &r->tokens; *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			return;
		}
	}
}

static void entry_stop(struct token_entry *e)
{
	if (e->easy) {
		curl_loop_remove(e->r->cl, e->easy);
		curl_easy_cleanup(e->easy);
		e->easy = NULL;
	}
	curl_slist_free_secret(e->hdrs);
	e->hdrs = NULL;
	secret_free(e->post);
	e->post = NULL;
	if (e->body.data)
		explicit_bzero(e->body.data, e->body.len);
	buf_release(&e->body);
}

static void entry_free(struct token_entry *e)
{
	entry_stop(e);
	free(e->key);
	free(e->host);
	secret_free(e->token);
	free(e);
}

static void add_waiter(struct token_entry *e, struct remote_op *op)
{
	op->state = OP_TOKEN;
	op->twait = e;
	op->tnext = NULL;
	struct remote_op **pp = &e->waiters;
	while (*pp)
		pp = &(*pp)->tnext;
	*pp = op;
}

void token_unwait(struct remote_op *op)
{
	struct token_entry *e = op->twait;
	if (!e)
		return;
	for (struct remote_op **pp = &e->waiters; *pp; pp = &(*pp)->tnext) {
		if (*pp == op) {
			*pp = op->tnext;
			break;
		}
	}
	op->twait = NULL;
	op->tnext = NULL;
}

static size_t body_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct token_entry *e = arg;
	size_t n = size * nmemb;
	if (e->body.len + n > TOKEN_BODY_MAX)
		return 0;
	buf_add(&e->body, ptr, n);
	return n;
}

enum outcome { OUT_OK, OUT_RETRY, OUT_FAIL };

/* What the token server said: the token, or why not. */
static enum outcome parse_answer(struct token_entry *e, CURLcode rc, long st, err_t *err)
{
	if (rc != CURLE_OK) {
		make_error(err, E_UNAVAILABLE, 0, "token server for `%s`: %s", e->host,
			   rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : curl_easy_strerror(rc));
		return OUT_RETRY;
	}
	if (st == 401 || st == 403) {
		if (e->have_creds)
			make_error(err, E_UNAUTHENTICATED, 0,
				   "the token server for `%s` refused the credentials", e->host);
		else
			make_error(err, E_UNAUTHENTICATED, 0,
				   "`%s` requires authentication (the token server refused an "
				   "anonymous token)",
				   e->host);
		return OUT_FAIL;
	}
	if (st == 408 || st == 429 || st >= 500) {
		make_error(err, E_UNAVAILABLE, 0, "token server for `%s` answered %ld", e->host,
			   st);
		return OUT_RETRY;
	}
	if (st != 200) {
		make_error(err, E_UNAVAILABLE, 0, "token server for `%s` answered %ld", e->host,
			   st);
		return OUT_FAIL;
	}
	cleanup_json json_t *j = json_loadb(e->body.data ? e->body.data : "", e->body.len, 0, NULL);
	const char *tok = j ? json_get_string(j, "token") : NULL;
	if (!tok || !*tok)
		tok = j ? json_get_string(j, "access_token") : NULL;
	if (!tok || !*tok) {
		make_error(err, E_INVALID_ARGUMENT, 0,
			   "token server for `%s` answered without a token", e->host);
		return OUT_FAIL;
	}
	json_t *ei = j ? json_object_get(j, "expires_in") : NULL;
	json_int_t secs = json_is_integer(ei) ? json_integer_value(ei) : 60;
	if (secs < 1)
		secs = 60;
	/* renew a little before the registry would refuse it */
	json_int_t keep = secs > 20 ? secs - 10 : secs;
	secret_free(e->token);
	e->token = xstrdup(tok);
	e->expires_ns = time_mono_ns() + (int64_t)keep * 1000000000;
	if (j) {
		/* the answer holds the token: wipe jansson's copies before freeing */
		json_t *t = json_object_get(j, "token");
		if (json_is_string(t))
			explicit_bzero((char *)json_string_value(t), strlen(json_string_value(t)));
		t = json_object_get(j, "access_token");
		if (json_is_string(t))
			explicit_bzero((char *)json_string_value(t), strlen(json_string_value(t)));
		t = json_object_get(j, "refresh_token");
		if (json_is_string(t))
			explicit_bzero((char *)json_string_value(t), strlen(json_string_value(t)));
	}
	return OUT_OK;
}

static void fetched_cb(CURL *easy, CURLcode rc, void *arg)
{
	struct token_entry *e = arg;
	struct remotes *r = e->r;
	long st = 0;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &st);
	err_t err = NULL;
	enum outcome out = parse_answer(e, rc, st, &err);
	entry_stop(e);
	log_debug("token server answered", "host=%s status=%ld ok=%d", e->host, st, out == OUT_OK);
	if (out != OUT_OK)
		unlink_entry(r, e); /* a later token_get starts afresh */
	/* one waiter at a time: a callback may cancel the others */
	struct remote_op *op;
	while ((op = e->waiters)) {
		e->waiters = op->tnext;
		op->twait = NULL;
		op->tnext = NULL;
		if (out == OUT_OK) {
			op_attempt(op);
			continue;
		}
		err_t mine = NULL;
		make_error(&mine, err->kind, 0, "%s", err->msg);
		if (out == OUT_RETRY)
			op_retry(op, &mine, false, -1);
		else
			op_fail(op, &mine);
	}
	err_free(&err);
	if (out != OUT_OK)
		entry_free(e);
}

static void append_param(struct buf *b, CURL *easy, const char *name, const char *value)
{
	char *esc = curl_easy_escape(easy, value, 0);
	buf_addf(b, "%s%s=%s", b->len ? "&" : "", name, esc);
	curl_free(esc);
}

/* Ask the realm for a token (GET with Basic credentials or anonymous; POST
 * with the OAuth2 refresh token when config.json holds an identity token). */
static int start_fetch(struct remotes *r, struct token_entry *e, struct remote_op *op,
		       struct host_state *hs, const struct cred *c, err_t *err)
{
	const struct endpoint *ep = &op->eps[op->ep];
	CURL *easy = curl_loop_easy_new(err);
	if (!easy)
		return -1;
	e->easy = easy;
	cleanup_free char *s1 = NULL, *s2 = NULL;
	scope_of(op, &s1, &s2);
	struct buf q = BUF_INIT;
	if (hs->service)
		append_param(&q, easy, "service", hs->service);
	append_param(&q, easy, "scope", s1);
	if (s2)
		append_param(&q, easy, "scope", s2);
	e->have_creds = c->user || c->identity_token;
	if (c->identity_token) {
		struct buf f = BUF_INIT;
		buf_adds(&f, q.data);
		append_param(&f, easy, "grant_type", "refresh_token");
		append_param(&f, easy, "refresh_token", c->identity_token);
		append_param(&f, easy, "client_id", "berth");
		e->post = buf_detach(&f, NULL);
		curl_easy_setopt(easy, CURLOPT_URL, hs->realm);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, e->post);
	} else {
		cleanup_free char *url =
		    xasprintf("%s%c%s", hs->realm, strchr(hs->realm, '?') ? '&' : '?', q.data);
		curl_easy_setopt(easy, CURLOPT_URL, url);
		if (c->user) {
			cleanup_free char *up = xasprintf("%s:%s", c->user, c->pass ? c->pass : "");
			char *b = base64_encode(up, strlen(up));
			char *h = xasprintf("Authorization: Basic %s", b);
			e->hdrs = curl_slist_append(e->hdrs, h);
			explicit_bzero(up, strlen(up));
			secret_free(b);
			secret_free(h);
		}
	}
	buf_release(&q);
	/* the registry's TLS settings also serve its token server */
	transfer_setopts(r, easy, ep);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, e->hdrs);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, e);
	log_debug("token request", "host=%s scope=%s", ep->host, s1);
	if (curl_loop_add(r->cl, easy, fetched_cb, e, err) < 0) {
		entry_stop(e);
		return -1;
	}
	return 0;
}

const char *token_get(struct remotes *r, struct remote_op *op, struct host_state *hs)
{
	struct cred c;
	remotes_cred_for(r, op, &op->eps[op->ep], &c);
	cleanup_free char *key = token_key(op, hs, &c);
	struct token_entry *e = find(r, key);
	if (e && e->token && time_mono_ns() < e->expires_ns)
		return e->token;
	if (e && e->easy) {
		add_waiter(e, op);
		return NULL;
	}
	if (!e) {
		e = xzalloc(sizeof(*e));
		e->r = r;
		e->key = steal_ptr(&key);
		e->host = xstrdup(op->eps[op->ep].host);
		e->next = r->tokens;
		r->tokens = e;
	}
	secret_free(e->token);
	e->token = NULL;
	err_t err = NULL;
	if (start_fetch(r, e, op, hs, &c, &err) < 0) {
		unlink_entry(r, e);
		entry_free(e);
		op_fail(op, &err);
		return NULL;
	}
	add_waiter(e, op);
	return NULL;
}

void token_forget(struct remotes *r, struct remote_op *op, struct host_state *hs)
{
	struct cred c;
	remotes_cred_for(r, op, &op->eps[op->ep], &c);
	cleanup_free char *key = token_key(op, hs, &c);
	struct token_entry *e = find(r, key);
	if (e && !e->easy) {
		secret_free(e->token);
		e->token = NULL;
	}
}

void tokens_free(struct remotes *r)
{
	while (r->tokens) {
		struct token_entry *e = r->tokens;
		r->tokens = e->next;
		for (struct remote_op *op = e->waiters; op; op = op->tnext)
			op->twait = NULL;
		entry_free(e);
	}
}
