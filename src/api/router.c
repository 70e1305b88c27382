#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/router.h"

static const char *const method_names[M_MAX] = {
	[M_GET] = "GET",     [M_HEAD] = "HEAD",       [M_POST] = "POST",
	[M_PUT] = "PUT",     [M_PATCH] = "PATCH",     [M_DELETE] = "DELETE",
	[M_OPTIONS] = "OPTIONS", [M_OTHER] = "OTHER",
};

enum http_method http_method_parse(const char *s)
{
	for (int m = 0; m < M_OTHER; m++)
		if (strcmp(s, method_names[m]) == 0)
			return (enum http_method)m;
	return M_OTHER;
}

const char *http_method_name(enum http_method m)
{
	return m < M_MAX ? method_names[m] : "OTHER";
}

#define MAX_SEGMENTS 16

struct compiled {
	const struct route *route;
	size_t nseg;
	struct {
		char *text; /* literal, or the capture's name */
		bool capture;
	} seg[MAX_SEGMENTS];
};

struct router {
	struct compiled *v;
	size_t n;
};

struct router *router_new(const struct route *const *tables)
{
	struct router *rt = xzalloc(sizeof(*rt));
	size_t alloc = 0;
	for (const struct route *const *t = tables; *t; t++) {
		for (const struct route *r = *t; r->pattern; r++) {
			ALLOC_GROW(rt->v, rt->n + 1, alloc);
			struct compiled *c = &rt->v[rt->n++];
			memset(c, 0, sizeof(*c));
			c->route = r;
			const char *p = r->pattern;
			while (*p == '/' && c->nseg < MAX_SEGMENTS) {
				p++;
				size_t len = strcspn(p, "/");
				bool cap = len >= 2 && p[0] == '{' && p[len - 1] == '}';
				c->seg[c->nseg].capture = cap;
				c->seg[c->nseg].text =
					cap ? xstrndup(p + 1, len - 2) : xstrndup(p, len);
				c->nseg++;
				p += len;
			}
		}
	}
	return rt;
}

void router_free(struct router *rt)
{
	if (!rt)
		return;
	for (size_t i = 0; i < rt->n; i++)
		for (size_t s = 0; s < rt->v[i].nseg; s++)
			free(rt->v[i].seg[s].text);
	free(rt->v);
	free(rt);
}

size_t router_count(const struct router *rt)
{
	return rt->n;
}

const struct route *router_at(const struct router *rt, size_t i)
{
	return i < rt->n ? rt->v[i].route : NULL;
}

char *url_decode(const char *s, size_t len, bool plus_is_space, err_t *err)
{
	char *out = xmalloc(len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '%') {
			int hi = i + 1 < len ? hex_digit_value(s[i + 1]) : -1;
			int lo = i + 2 < len ? hex_digit_value(s[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				free(out);
				make_error(err, E_INVALID_ARGUMENT, 0,
					   "bad percent-encoding in `%.*s`",
					   (int)(len > 200 ? 200 : len), s);
				return NULL;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		if (c == '\0') {
			free(out);
			make_error(err, E_INVALID_ARGUMENT, 0, "URL holds a NUL byte");
			return NULL;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return out;
}

void route_match_release(struct route_match *mt)
{
	for (size_t i = 0; i < mt->nparams; i++)
		free(mt->values[i]);
	mt->nparams = 0;
}

int router_match(const struct router *rt, enum http_method m, const char *raw_path,
		 struct route_match *out, err_t *err)
{
	memset(out, 0, sizeof(*out));
	out->index = -1;
	/* split the raw path into raw segments */
	const char *seg[MAX_SEGMENTS];
	size_t seglen[MAX_SEGMENTS];
	size_t nseg = 0;
	const char *p = raw_path;
	if (*p != '/')
		return make_error(err, E_INVALID_ARGUMENT, 0, "request path must start with `/`");
	while (*p == '/') {
		p++;
		if (nseg == MAX_SEGMENTS)
			return make_error(err, E_NOT_FOUND, 0, "no route for path `%.200s`",
					  raw_path);
		size_t len = strcspn(p, "/");
		seg[nseg] = p;
		seglen[nseg] = len;
		nseg++;
		p += len;
	}
	/* "/v1/namespaces/" → the trailing empty segment only matches nothing */
	enum http_method want = m == M_HEAD ? M_GET : m;
	unsigned allowed = 0;
	for (size_t i = 0; i < rt->n; i++) {
		const struct compiled *c = &rt->v[i];
		if (c->nseg != nseg)
			continue;
		bool ok = true;
		for (size_t s = 0; s < nseg && ok; s++) {
			if (c->seg[s].capture)
				ok = seglen[s] > 0;
			else
				ok = strlen(c->seg[s].text) == seglen[s] &&
				     memcmp(c->seg[s].text, seg[s], seglen[s]) == 0;
		}
		if (!ok)
			continue;
		if (c->route->method != want) {
			allowed |= 1u << c->route->method;
			if (c->route->method == M_GET)
				allowed |= 1u << M_HEAD;
			continue;
		}
		out->route = c->route;
		out->index = (int)i;
		for (size_t s = 0; s < nseg; s++) {
			if (!c->seg[s].capture)
				continue;
			char *v = url_decode(seg[s], seglen[s], false, err);
			if (!v) {
				route_match_release(out);
				out->route = NULL;
				out->index = -1;
				return -1;
			}
			out->names[out->nparams] = c->seg[s].text;
			out->values[out->nparams++] = v;
		}
		return 0;
	}
	if (allowed) {
		out->allowed = allowed;
		return make_error(err, E_METHOD_NOT_ALLOWED, 0, "method %s is not allowed on `%.200s`",
				  http_method_name(m), raw_path);
	}
	return make_error(err, E_NOT_FOUND, 0, "no route for %s `%.200s`", http_method_name(m),
			  raw_path);
}

void router_allow_header(unsigned allowed, char *out, size_t size)
{
	size_t o = 0;
	out[0] = '\0';
	for (int m = 0; m < M_OTHER; m++) {
		if (!(allowed & (1u << m)))
			continue;
		int n = snprintf(out + o, size - o, "%s%s", o ? ", " : "", method_names[m]);
		if (n < 0 || (size_t)n >= size - o)
			break;
		o += (size_t)n;
	}
}
