#include "config.h"

#include <ctype.h>
#include <string.h>

#include <jansson.h>

#include "core/json.h"
#include "remotes/auth.h"

void secret_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* ---- WWW-Authenticate -------------------------------------------------- */

/* RFC 7230 tchar */
static bool is_tchar(int c)
{
	return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* RFC 7235 token68 characters (without the trailing '=') */
static bool is_t68char(int c)
{
	return isalnum(c) || (c && strchr("-._~+/", c));
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static char *lower_dup(const char *s, size_t n)
{
	char *r = xstrndup(s, n);
	for (char *q = r; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return r;
}

/* A quoted-string at p (on the opening quote): its unescaped value, p moved
 * past the closing quote; NULL if unterminated. */
static char *parse_quoted(const char **pp)
{
	const char *p = *pp + 1;
	struct buf b = BUF_INIT;
	buf_grow(&b, 16);
	for (;;) {
		if (*p == '\0') {
			buf_release(&b);
			return NULL;
		}
		if (*p == '"')
			break;
		if (*p == '\\') {
			p++;
			if (*p == '\0') {
				buf_release(&b);
				return NULL;
			}
		}
		buf_add(&b, p, 1);
		p++;
	}
	*pp = p + 1;
	return buf_detach(&b, NULL);
}

/* Does an auth-param ("name =") start at p? */
static bool param_starts(const char *p)
{
	const char *q = p;
	while (is_tchar((unsigned char)*q))
		q++;
	if (q == p)
		return false;
	q = skip_ws(q);
	if (*q != '=')
		return false;
	/* "abc==" at the end is a token68, not a param named abc */
	q++;
	q = skip_ws(q);
	return *q != '=' && *q != ',' && *q != '\0';
}

static void add_param(struct www_challenge *c, char *name, char *value)
{
	c->params = xrealloc(c->params, (c->nparams + 1) * sizeof(*c->params));
	c->params[c->nparams++] = (struct www_param){name, value};
}

int www_auth_parse(const char *value, struct www_challenge **list, size_t *n, err_t *err)
{
	const char *p = value;
	size_t start_n = *n;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return 0;
		const char *s = p;
		while (is_tchar((unsigned char)*p))
			p++;
		if (p == s)
			goto bad;
		*list = xrealloc(*list, (*n + 1) * sizeof(**list));
		struct www_challenge *c = &(*list)[(*n)++];
		memset(c, 0, sizeof(*c));
		c->scheme = lower_dup(s, (size_t)(p - s));
		if (*p != '\0' && *p != ' ' && *p != '\t' && *p != ',')
			goto bad;
		p = skip_ws(p);
		/* a token68 right after the scheme */
		if (*p && *p != ',' && !param_starts(p)) {
			const char *t = p;
			while (is_t68char((unsigned char)*p))
				p++;
			while (*p == '=')
				p++;
			if (p == t)
				goto bad;
			c->token68 = xstrndup(t, (size_t)(p - t));
			p = skip_ws(p);
			if (*p != '\0' && *p != ',')
				goto bad;
			continue;
		}
		/* auth-params, comma-separated, until one that is a new scheme */
		for (;;) {
			const char *q = p;
			while (*q == ' ' || *q == '\t' || *q == ',')
				q++;
			if (*q == '\0' || !param_starts(q)) {
				p = q;
				break;
			}
			const char *ns = q;
			while (is_tchar((unsigned char)*q))
				q++;
			char *name = lower_dup(ns, (size_t)(q - ns));
			q = skip_ws(q);
			q = skip_ws(q + 1); /* the '=' */
			char *val;
			if (*q == '"') {
				val = parse_quoted(&q);
				if (!val) {
					free(name);
					goto bad;
				}
			} else {
				const char *vs = q;
				while (is_tchar((unsigned char)*q) || *q == '/' || *q == ':')
					q++;
				val = xstrndup(vs, (size_t)(q - vs));
			}
			add_param(c, name, val);
			q = skip_ws(q);
			if (*q != '\0' && *q != ',') {
				p = q;
				goto bad;
			}
			p = q;
		}
	}
bad:
	/* *list may still be NULL: a value bad from its first byte (t/fuzz) */
	if (*n > start_n)
		www_challenges_free(*list + start_n, *n - start_n);
	*n = start_n;
	if (start_n == 0) {
		free(*list);
		*list = NULL;
	}
	return make_error(err, E_INVALID_ARGUMENT, 0,
			  "malformed WWW-Authenticate header at offset %zu", (size_t)(p - value));
}

const char *www_challenge_param(const struct www_challenge *c, const char *name)
{
	for (size_t i = 0; i < c->nparams; i++)
		if (strcasecmp(c->params[i].name, name) == 0)
			return c->params[i].value;
	return NULL;
}

/* Frees the challenges' contents; the array itself when they are all of it
 * is the caller's (free(list)) — except through www_auth_parse's error path. */
void www_challenges_free(struct www_challenge *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(list[i].scheme);
		free(list[i].token68);
		for (size_t j = 0; j < list[i].nparams; j++) {
			free(list[i].params[j].name);
			free(list[i].params[j].value);
		}
		free(list[i].params);
	}
}

/* ---- base64 ---------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	char *out = xmalloc((len + 2) / 3 * 4 + 1);
	char *o = out;
	size_t i = 0;
	for (; i + 2 < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = b64[v & 63];
	}
	if (i < len) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < len ? (unsigned)in[i + 1] << 8 : 0);
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(int c)
{
	const char *p = c ? strchr(b64, c) : NULL;
	return p ? (int)(p - b64) : -1;
}

char *base64_decode(const char *s, size_t *len)
{
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == '=')
		n--;
	if (strlen(s) - n > 2 || n % 4 == 1)
		return NULL;
	char *out = xmalloc(n / 4 * 3 + 3);
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value((unsigned char)s[i]);
		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = acc << 6 | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	if (len)
		*len = o;
	return out;
}

/* ---- Docker config.json -------------------------------------------------- */

char *docker_config_host_key(const char *key)
{
	const char *p = key;
	if (strncasecmp(p, "https://", 8) == 0)
		p += 8;
	else if (strncasecmp(p, "http://", 7) == 0)
		p += 7;
	size_t n = strcspn(p, "/");
	char *h = lower_dup(p, n);
	if (strcmp(h, "index.docker.io") == 0 || strcmp(h, "registry-1.docker.io") == 0 ||
	    strcmp(h, "registry.hub.docker.com") == 0) {
		free(h);
		h = xstrdup("docker.io");
	}
	return h;
}

static void cred_release(struct docker_cred *c)
{
	free(c->host);
	secret_free(c->username);
	secret_free(c->password);
	secret_free(c->identity_token);
	secret_free(c->registry_token);
	memset(c, 0, sizeof(*c));
}

void docker_creds_release(struct docker_creds *c)
{
	for (size_t i = 0; i < c->n; i++)
		cred_release(&c->v[i]);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

static char *opt_string(json_t *entry, const char *field)
{
	const char *s = json_get_string(entry, field);
	return s && *s ? xstrdup(s) : NULL;
}

static int parse_entry(const char *key, json_t *entry, struct docker_cred *c, err_t *err)
{
	if (!json_is_object(entry))
		return make_error(err, E_INVALID_ARGUMENT, 0, "`auths.\"%s\"` must be an object",
				  key);
	const char *fields[] = {"auth", "username", "password", "identitytoken", "registrytoken"};
	for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
		json_t *v = json_object_get(entry, fields[i]);
		if (v && !json_is_string(v) && !json_is_null(v))
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "`auths.\"%s\".%s` must be a string", key, fields[i]);
	}
	c->host = docker_config_host_key(key);
	const char *auth = json_get_string(entry, "auth");
	if (auth && *auth) {
		size_t len;
		char *dec = base64_decode(auth, &len);
		char *colon = dec ? memchr(dec, ':', len) : NULL;
		if (!colon || strlen(dec) != len) {
			secret_free(dec);
			return make_error(err, E_INVALID_ARGUMENT, 0,
					  "`auths.\"%s\".auth` is not base64 of `user:password`",
					  key);
		}
		*colon = '\0';
		c->username = xstrdup(dec);
		c->password = xstrdup(colon + 1);
		explicit_bzero(dec, len);
		free(dec);
	} else {
		c->username = opt_string(entry, "username");
		c->password = opt_string(entry, "password");
	}
	c->identity_token = opt_string(entry, "identitytoken");
	c->registry_token = opt_string(entry, "registrytoken");
	return 0;
}

int docker_config_parse(const char *text, size_t len, struct docker_creds *out, err_t *err)
{
	json_error_t je;
	cleanup_json json_t *root = json_loadb(text, len, 0, &je);
	if (!root)
		return make_error(err, E_INVALID_ARGUMENT, 0, "invalid JSON at line %d: %s",
				  je.line, je.text);
	if (!json_is_object(root))
		return make_error(err, E_INVALID_ARGUMENT, 0, "the top level must be an object");
	json_t *auths = json_object_get(root, "auths");
	if (!auths || json_is_null(auths))
		return 0;
	if (!json_is_object(auths))
		return make_error(err, E_INVALID_ARGUMENT, 0, "`auths` must be an object");
	const char *key;
	json_t *entry;
	struct docker_creds tmp = {0};
	json_object_foreach(auths, key, entry) {
		tmp.v = xrealloc(tmp.v, (tmp.n + 1) * sizeof(*tmp.v));
		memset(&tmp.v[tmp.n], 0, sizeof(*tmp.v));
		tmp.n++;
		if (parse_entry(key, entry, &tmp.v[tmp.n - 1], err) < 0) {
			docker_creds_release(&tmp);
			return -1;
		}
	}
	docker_creds_release(out);
	*out = tmp;
	return 0;
}

const struct docker_cred *docker_creds_find(const struct docker_creds *c, const char *host)
{
	cleanup_free char *k = docker_config_host_key(host);
	const struct docker_cred *found = NULL;
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->v[i].host, k) != 0)
			continue;
		/* several keys can name one host ("https://index.docker.io/v1/"
		 * and "docker.io"): the one with something usable wins */
		if (c->v[i].username || c->v[i].identity_token || c->v[i].registry_token)
			return &c->v[i];
		found = &c->v[i];
	}
	return found;
}
