/*
 * router: the static route table (tmux's cmd_table): method + path pattern
 * + handler. Each service's http.c defines a `const struct route x_routes[]`
 * (terminated by an entry with a NULL pattern); api/routes.c lists the
 * tables. Patterns are literal segments and `{name}` captures of one
 * percent-decoded segment ("/v1/namespaces/{ns}"). A decoded capture may
 * contain '/' (image names are sent percent-encoded).
 *
 * Matching never allocates on failure paths it cannot report: it returns
 * the route, or E_NOT_FOUND, or E_METHOD_NOT_ALLOWED with the allowed
 * methods, or E_INVALID_ARGUMENT for a malformed path.
 */
#ifndef BERTH_API_ROUTER_H
#define BERTH_API_ROUTER_H

#include "core/err.h"

enum http_method {
	M_GET = 0,
	M_HEAD,
	M_POST,
	M_PUT,
	M_PATCH,
	M_DELETE,
	M_OPTIONS,
	M_OTHER,
	M_MAX,
};

enum http_method http_method_parse(const char *s);
const char *http_method_name(enum http_method m);

struct request;
typedef void (*route_handler)(struct request *r);

/* Route flags. */
/* The handler runs before the body and takes it as it arrives, up to
 * max_blob_upload bytes (request_stream_body() in api/request.h). */
#define ROUTE_STREAM_BODY 1u

struct route {
	enum http_method method;
	const char *pattern;
	route_handler handler;
	unsigned flags;
};

#define ROUTE_MAX_PARAMS 4

struct route_match {
	const struct route *route;
	int index; /* position in the router, for metrics; -1 when unmatched */
	size_t nparams;
	const char *names[ROUTE_MAX_PARAMS]; /* point into the router */
	char *values[ROUTE_MAX_PARAMS];      /* decoded, owned by the match */
	unsigned allowed;                    /* E_METHOD_NOT_ALLOWED: bit per method */
};

struct router;

/* Build a router from NULL-terminated list of route tables. */
struct router *router_new(const struct route *const *tables);
void router_free(struct router *rt);
size_t router_count(const struct router *rt);
const struct route *router_at(const struct router *rt, size_t i);

int router_match(const struct router *rt, enum http_method m, const char *raw_path,
		 struct route_match *out, err_t *err);
void route_match_release(struct route_match *mt);
/* "GET, HEAD, PUT" from an allowed-methods mask. */
void router_allow_header(unsigned allowed, char *out, size_t size);

/* Percent-decode s[0..len) into a new string; plus_is_space for query
 * strings. NULL (with err) on a bad escape or an embedded NUL. */
char *url_decode(const char *s, size_t len, bool plus_is_space, err_t *err);

#endif
